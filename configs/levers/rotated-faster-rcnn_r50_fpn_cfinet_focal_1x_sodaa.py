# CFINet Rotated Faster R-CNN (R-50, 1x, SODA-A), with focal loss for the RPN and the RoI classifier (lever 1): a
# measured option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py', '../_base_/levers.py']

model = dict(rpn_head=dict(loss_cls={{_base_.lever_focal_rpn_loss}}),
             roi_head=dict(bbox_head=dict(loss_cls={{_base_.lever_focal_rcnn_loss}})))
