# Tiny CPU Faster R-CNN on the embedded SODA-D sample (data/sample_sodad, split into data/sample_sodad_split by
# tools/data/sodad_split.py in train and test mode): random initialisation, ResNet-18 at 1/4 width, a 32-channel
# FPN, 800 px patches without resizing, 20 iterations of batch 1. A smoke-test and CI model; the other tiny
# SODA-D configs inherit from this one.
_base_ = ['./faster-rcnn_r50_fpn_1x_sodad.py', '../_base_/tiny.py']

model = {{_base_.tiny_model}}
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based training
    batch_sampler=None,
    dataset=dict(
        data_root='data/sample_sodad_split/', ann_file='Annotations/train.json',
        data_prefix=dict(img='Images/train/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='PackDetInputs'),
        ]))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root='data/sample_sodad_split/', ann_file='Annotations/test.json',
        data_prefix=dict(img='Images/test/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(800, 800), keep_ratio=True),  # patches are 800 px: sets scale_factor
            dict(type='PackDetInputs', meta_keys={{_base_.patch_meta_keys}}),
        ]))
test_evaluator = dict(ann_file='data/sample_sodad/Annotations/sample.json')
# no validation while training: tools/test.py evaluates the checkpoint
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20)
param_scheduler = []
auto_scale_lr = dict(enable=False)  # lr 0.01 for the tiny configs' batch of 1, not scaled
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(by_epoch=False, interval=20, max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=5)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
