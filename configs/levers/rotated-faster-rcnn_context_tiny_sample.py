# The tiny Rotated Faster R-CNN on the embedded sample with RoIs pooled, with 1.5x context (lever 6): a measured
# option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', '../_base_/levers.py']

model = dict(roi_head=dict(bbox_roi_extractor=dict(type='ContextRoIExtractor',
                                                   context_factor={{_base_.lever_context_factor}})))
