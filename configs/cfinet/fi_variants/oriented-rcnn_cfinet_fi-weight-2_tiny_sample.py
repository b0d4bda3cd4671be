# Tiny CPU CFINet oriented-rcnn with the Feature Imitation variant 'fi-weight-2'
# (configs/fi/_base_/fi_variants.py: fi_weight_2); a measured option, not a reproduction config.
_base_ = ['../oriented-rcnn_cfinet_tiny_sample.py', '../../fi/_base_/fi_variants.py']

model = dict(roi_head={{_base_.fi_weight_2}})
