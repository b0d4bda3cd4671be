# Tiny CPU CFINet (CRPN + FI) Oriented R-CNN on the embedded sample (data/sample_split).
_base_ = ['../crpn/oriented-rcnn_crpn_tiny_sample.py', '../fi/_base_/fi.py']

model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
