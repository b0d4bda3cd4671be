# CFINet = CRPN + FI on SODA-D, the official configs/cfinet/faster_rcnn_r50_fpn_cfinet_1x.py: Faster R-CNN
# R-50 FPN (P2-P5), CRPN with horizontal proposals, FIRoIHead with Shared2FCBBoxHead, 1200 px, 4 images,
# SGD lr 0.01 (Feat2Embed's fc layers x 0.05), 12 epochs. Official but not here: fp16 (use --amp).
_base_ = ['./faster-rcnn_r50_fpn_crpn_1x_sodad.py', '../fi/_base_/fi.py']

model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
