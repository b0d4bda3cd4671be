# Oriented R-CNN + Coarse-to-fine RPN on SODA-A: CRPN's second stage predicts oriented proposals
# (midpoint-offset coding relative to the stage-1 boxes), RoIAlignRotated RoIs.
_base_ = ['../baselines/oriented-rcnn_r50_fpn_1x_sodaa.py', './_base_/crpn.py']

model = {{_base_.crpn_rbox}}
