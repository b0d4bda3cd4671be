# CFINet = CRPN + FI on Rotated Faster R-CNN, SODA-A (the paper's Table 3 model): horizontal CRPN
# proposals, horizontal RoIs, rotated regression. ResNet-50 FPN (P2-P5), 1200 px, 12 epochs, SGD lr 0.01.
_base_ = ['../crpn/rotated-faster-rcnn_r50_fpn_crpn_1x_sodaa.py', '../fi/_base_/fi.py']

model = dict(roi_head={{_base_.fi_roi_head}}, train_cfg=dict(rcnn={{_base_.fi_rcnn_train_cfg}}))
optim_wrapper = dict(paramwise_cfg={{_base_.fi_paramwise_cfg}})
