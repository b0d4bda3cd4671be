# The tiny Rotated Faster R-CNN on the embedded sample, with random-angle rotation of the training patches (lever 2):
# a measured option of issue 23 (configs/levers/README.md), not a reproduction config.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', '../_base_/levers.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.sodaa_patch_rotate_train_pipeline}}))
