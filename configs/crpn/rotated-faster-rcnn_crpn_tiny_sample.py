# Tiny CPU Rotated Faster R-CNN + CRPN on the embedded sample (data/sample_split): the lead's tiny
# baseline with the Coarse-to-fine RPN of rotated-faster-rcnn_r50_fpn_crpn_1x_sodaa.py.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', './_base_/crpn.py']

model = {{_base_.crpn_hbox_tiny}}
