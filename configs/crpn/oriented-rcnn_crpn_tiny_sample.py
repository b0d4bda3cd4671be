# Tiny CPU Oriented R-CNN + CRPN (oriented proposals) on the embedded sample (data/sample_split).
_base_ = ['../baselines/oriented-rcnn_tiny_sample.py', './_base_/crpn.py']

model = {{_base_.crpn_rbox_tiny}}
