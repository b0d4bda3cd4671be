# The tiny Rotated Faster R-CNN on the embedded sample, with RPN anchors fitted to the embedded sample's boxes by
# analyze_anchors.py --propose (lever 4): a measured option of issue 23 (configs/levers/README.md), not a reproduction
# config.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', '../_base_/levers.py', './_base_/anchors_sample.py']

model = dict(rpn_head=dict(anchor_generator={{_base_.fitted_anchor_generator}}))
