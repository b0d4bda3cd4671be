# Faster R-CNN + Coarse-to-fine RPN on SODA-D (CFINet Sec. 3.1): P2-P5, one 8/16/32/64 px anchor per location,
# horizontal proposals, the official CRPN settings (configs/crpn/_base_/crpn.py, the same parts as SODA-A's
# Rotated Faster R-CNN + CRPN).
_base_ = ['./faster-rcnn_r50_fpn_1x_sodad.py', '../crpn/_base_/crpn.py']

model = {{_base_.crpn_hbox_sodad}}
