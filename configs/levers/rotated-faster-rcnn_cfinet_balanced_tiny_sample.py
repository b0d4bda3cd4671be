# The tiny CFINet Rotated Faster R-CNN on the embedded sample, with class-balanced resampling of the training patches
# (lever 3): a measured option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py', '../_base_/levers.py']

train_dataloader = dict(dataset=dict(_delete_=True, type='mmdet.ClassBalancedDataset',
                                     oversample_thr={{_base_.lever_oversample_thr}},
                                     dataset={{_base_.train_dataloader.dataset}}))
