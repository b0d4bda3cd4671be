# Tiny CPU Rotated Faster R-CNN on the embedded sample (data/sample, split into data/sample_split by
# tools/data/sodaa_split.py): random initialisation (no ImageNet weights), ResNet-18 at 1/4 width, a
# 32-channel FPN, 800 px patches without resizing, 20 iterations of batch 1 (about 15 s on 2 cores).
# A smoke-test and CI model; the other tiny configs inherit from this one.
_base_ = ['./rotated-faster-rcnn_r50_fpn_1x_sodaa.py', '../_base_/tiny.py']

model = {{_base_.tiny_model}}
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based training
    dataset=dict(
        data_root='data/sample_split/', ann_file='Annotations/', data_prefix=dict(img_path='Images/'),
        pipeline=[
            dict(type='mmdet.LoadImageFromFile'),
            dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
            dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
            dict(type='mmdet.RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='mmdet.PackDetInputs'),
        ]))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root='data/sample_split/', ann_file='Annotations/', data_prefix=dict(img_path='Images/'),
        pipeline=[
            dict(type='mmdet.LoadImageFromFile'),
            dict(type='mmdet.Resize', scale=(800, 800), keep_ratio=True),  # patches are 800 px: sets scale_factor
            dict(type='mmdet.PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'ori_id',
                            'x_start', 'y_start')),
        ]))
test_evaluator = dict(ann_dir='data/sample/Annotations/')
# no validation while training: tools/test.py evaluates the checkpoint
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20)
param_scheduler = []
auto_scale_lr = dict(enable=False)  # lr 0.01 for the tiny configs' batch of 1, not scaled
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(by_epoch=False, interval=20, max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=5)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
