# Tiny CPU CFINet (CRPN + FI) Faster R-CNN on the embedded SODA-D sample (data/sample_sodad_split).
_base_ = ['./faster-rcnn_crpn_tiny_sample.py', '../fi/_base_/fi.py']

# 32-channel RoI features: Feat2Embed's GroupNorm with 8 groups (see fi_roi_head_tiny)
model = dict(roi_head={{_base_.fi_roi_head_tiny}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
