# Rotated Faster R-CNN + Coarse-to-fine RPN on SODA-A (the paper's SODA-A setting, Table 3): horizontal
# proposals from CRPN (P2-P5, one 8/16/32/64 px anchor per location), horizontal RoIs, rotated regression.
_base_ = ['../baselines/rotated-faster-rcnn_r50_fpn_1x_sodaa.py', './_base_/crpn.py']

model = {{_base_.crpn_hbox}}
