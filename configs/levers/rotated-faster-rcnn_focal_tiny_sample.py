# The tiny Rotated Faster R-CNN on the embedded sample, with focal loss for the RPN and the RoI classifier (lever 1):
# a measured option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', '../_base_/levers.py']

model = dict(rpn_head=dict(loss_cls={{_base_.lever_focal_rpn_loss}}),
             roi_head=dict(bbox_head=dict(loss_cls={{_base_.lever_focal_rcnn_loss}})))
