# Oriented R-CNN (le90, ResNet-50 FPN) on SODA-A: oriented proposals from the Oriented RPN (midpoint-offset
# coding) and RoIAlignRotated. Same data and schedule as the Rotated Faster R-CNN baseline.
_base_ = ['./rotated-faster-rcnn_r50_fpn_1x_sodaa.py', '../_base_/oriented_rcnn.py']
model = {{_base_.oriented_rcnn}}
