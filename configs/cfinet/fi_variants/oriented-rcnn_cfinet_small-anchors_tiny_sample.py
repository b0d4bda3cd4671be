# Tiny CPU CFINet oriented-rcnn with the Feature Imitation variant 'small-anchors'
# (configs/fi/_base_/fi_variants.py: fi_small_anchors); a measured option, not a reproduction config.
_base_ = ['../oriented-rcnn_cfinet_tiny_sample.py', '../../fi/_base_/fi_variants.py']

model = dict(roi_head={{_base_.fi_small_anchors}})
