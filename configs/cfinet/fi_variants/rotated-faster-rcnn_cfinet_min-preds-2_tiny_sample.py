# Tiny CPU CFINet rotated-faster-rcnn with the Feature Imitation variant 'min-preds-2'
# (configs/fi/_base_/fi_variants.py: fi_min_preds_2); a measured option, not a reproduction config.
_base_ = ['../rotated-faster-rcnn_cfinet_tiny_sample.py', '../../fi/_base_/fi_variants.py']

model = dict(roi_head={{_base_.fi_min_preds_2}})
