# Tiny CPU CFINet (CRPN + FI) Rotated Faster R-CNN on the embedded sample (data/sample_split).
_base_ = ['../crpn/rotated-faster-rcnn_crpn_tiny_sample.py', '../fi/_base_/fi.py']

# 32-channel RoI features: Feat2Embed's GroupNorm with 8 groups (see fi_roi_head_tiny)
model = dict(roi_head={{_base_.fi_roi_head_tiny}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
