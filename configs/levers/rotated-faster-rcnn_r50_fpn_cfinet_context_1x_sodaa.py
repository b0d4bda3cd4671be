# CFINet Rotated Faster R-CNN (R-50, 1x, SODA-A) with RoIs pooled, with 1.5x context (lever 6): a measured option of
# issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py', '../_base_/levers.py']

model = dict(roi_head=dict(bbox_roi_extractor=dict(type='ContextRoIExtractor',
                                                   context_factor={{_base_.lever_context_factor}})))
