# FI-only ablation: Oriented R-CNN baseline (oriented RPN, RoIAlignRotated) + Feature Imitation RoI head, SODA-A.
_base_ = ['../baselines/oriented-rcnn_r50_fpn_1x_sodaa.py', './_base_/fi.py']

model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
