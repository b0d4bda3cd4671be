# Tiny CPU Faster R-CNN + CRPN (horizontal proposals) on the embedded SODA-D sample (data/sample_sodad_split).
_base_ = ['./faster-rcnn_tiny_sample.py', '../crpn/_base_/crpn.py']

model = {{_base_.crpn_hbox_sodad_tiny}}
