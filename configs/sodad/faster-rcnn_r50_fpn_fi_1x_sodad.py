# FI-only ablation on SODA-D: the Faster R-CNN baseline RPN + the Feature Imitation RoI head (CFINet Sec. 3.2),
# horizontal RoIs, horizontal IoU in the Instance Quality of Eq. (3).
_base_ = ['./faster-rcnn_r50_fpn_1x_sodad.py', '../fi/_base_/fi.py']

model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
