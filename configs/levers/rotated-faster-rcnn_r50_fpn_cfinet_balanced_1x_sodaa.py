# CFINet Rotated Faster R-CNN (R-50, 1x, SODA-A), with class-balanced resampling of the training patches (lever 3): a
# measured option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py', '../_base_/levers.py']

train_dataloader = dict(dataset=dict(_delete_=True, type='mmdet.ClassBalancedDataset',
                                     oversample_thr={{_base_.lever_oversample_thr}},
                                     dataset={{_base_.train_dataloader.dataset}}))
