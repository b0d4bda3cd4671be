# CFINet on Oriented R-CNN, SODA-A (unpublished combination): oriented CRPN proposals, RoIAlignRotated, FI head.
_base_ = ['../crpn/oriented-rcnn_r50_fpn_crpn_1x_sodaa.py', '../fi/_base_/fi.py']

model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
