# Rotated Faster R-CNN (le90, ResNet-50 FPN) on SODA-A: the baseline of the paper's Table 3, in the
# SODA-mmrotate benchmark setting (1200 px input, 12 epochs, SGD lr 0.01), with num_classes fixed to 9.
# Horizontal anchors and proposals, RoIAlign on horizontal RoIs, rotated box regression.
_base_ = ['mmrotate::rotated_faster_rcnn/rotated-faster-rcnn-le90_r50_fpn_1x_dota.py']

custom_imports = dict(imports=['cfinet_rotated'], allow_failed_imports=False)

# ImageNet weights are a local file (nothing is downloaded): put torchvision's resnet50 weights there or
# pass --cfg-options model.backbone.init_cfg.checkpoint=/path/to/resnet50.pth
# (CFINET_PRETRAINED=/path/to/resnet50-0676ba61.pth also sets it; tools/train.py checks that the file exists)
pretrained = '{{$CFINET_PRETRAINED:data/pretrained/resnet50-0676ba61.pth}}'

model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # SODA-mmrotate's small anchors: scale 1 at strides 4..64 gives 4..64 px anchors (upstream DOTA: 32..512)
    rpn_head=dict(anchor_generator=dict(scales=[1])),
    roi_head=dict(bbox_head=dict(num_classes=9)))

# ----------------------------------------------------------------------------------------------- data
dataset_type = 'SODAADataset'
# SODA-A lives in data/SODA-A/ (relative to the current folder) unless SODAA_ROOT says where, e.g.
#   SODAA_ROOT=/scratch/SODA-A python tools/train.py ...   (every path below follows; README, "Data and weights")
data_root = '{{$SODAA_ROOT:data/SODA-A}}/'
img_scale = (1200, 1200)
patch_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'ori_id', 'x_start',
                   'y_start')
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmdet.PackDetInputs'),
]
test_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(type='mmdet.PackDetInputs', meta_keys=patch_meta_keys),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=4,  # the paper: 4 images per step at lr 0.01 (per GPU; auto_scale_lr below for more GPUs)
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='divData/train/Annotations/',
        data_prefix=dict(img_path='divData/train/Images/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='divData/val/Annotations/',
        data_prefix=dict(img_path='divData/val/Images/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='divData/test/Annotations/',
                 data_prefix=dict(img_path='divData/test/Images/')))
# patch predictions are merged per original image and scored against the raw (unsplit) annotations
val_evaluator = dict(_delete_=True, type='SODAAMetric', ann_dir=data_root + 'rawData/val/Annotations/')
test_evaluator = dict(_delete_=True, type='SODAAMetric', ann_dir=data_root + 'rawData/test/Annotations/')

# ------------------------------------------------------------------------------------------- schedule
# SODA-mmrotate: SGD lr 0.01, 12 epochs, steps at 8 and 11, warm-up 500 iterations, grad clip 35.
# The paper's schedule (Sec. 4.1, as on SODA-D): 4 images per step at lr 0.01. The lr is for a total batch of 4;
# auto_scale_lr multiplies it by (GPUs x 4) / 4 on more GPUs (e.g. lr 0.04 with tools/dist_train.sh ... 4).
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(enable=True, base_batch_size=4)

# ------------------------------------------------------------------------------------------- runtime
# keep the last 3 epoch checkpoints (each carries the FI exemplar buffers, ~116 MB with the FI head);
# --cfg-options default_hooks.checkpoint.max_keep_ckpts=-1 keeps all
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
# True (or --cfg-options tensorboard=True) also logs to TensorBoard (requirements/optional.txt)
tensorboard = False

# ---------------------------------------------------------------------------------------------- reliability
# A NaN/inf loss term or gradient stops the run before the optimizer step (mode='skip': skip such steps and count
# them); checkpoints carry the random generators' states so that --resume continues bit-identically; freed heap
# memory goes back to the system every 50 iterations and the logged-scalar history is capped (flat memory). README
# "Reliability".
custom_hooks = [dict(type='NonFiniteGuardHook', mode='stop'), dict(type='RNGStateHook'),
                dict(type='MemoryTrimHook', interval=50)]
