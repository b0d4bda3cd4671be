# CFINet Rotated Faster R-CNN (R-50, 1x, SODA-A), with random-angle rotation of the training patches (lever 2): a
# measured option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py', '../_base_/levers.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.sodaa_rotate_train_pipeline}}))
