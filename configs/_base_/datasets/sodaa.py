# SODA-A data settings, defined once: the patch pipelines, data loaders and evaluators of every SODA-A config.
# A mixin of variables (prefixed sodaa_, so that they do not collide with the keys of the mmrotate:: config a
# SODA-A config inherits beside it), used as
#     _base_ = ['mmrotate::<model config>', '../_base_/datasets/sodaa.py', ...]
#     train_dataloader = {{_base_.sodaa_train_dataloader}}
# The raw SODA-A images are split into 800 px patches (tools/data/sodaa_split.py) in the official divData layout;
# predictions are merged per original image and scored against the raw annotations.
#
# SODA-A lives in data/SODA-A/ (relative to the current folder) unless SODAA_ROOT says where, e.g.
#   SODAA_ROOT=/scratch/SODA-A python tools/train.py ...   (every path below follows; docs/get_started.md)
sodaa_dataset_type = 'SODAADataset'
sodaa_data_root = '{{$SODAA_ROOT:data/SODA-A}}/'
sodaa_img_scale = (1200, 1200)
# the patch origin travels with each prediction so that SODAAMetric can merge the patches per image
sodaa_patch_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'ori_id', 'x_start',
                         'y_start')
_load = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
]
_flip_pack = [dict(type='mmdet.RandomFlip', prob=0.5, direction='horizontal'), dict(type='mmdet.PackDetInputs')]
# full configs: 800 px patches resized to 1200 px (SODA-mmrotate's benchmark setting)
sodaa_train_pipeline = _load + [dict(type='mmdet.Resize', scale=sodaa_img_scale, keep_ratio=True)] + _flip_pack
sodaa_test_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=sodaa_img_scale, keep_ratio=True),
    dict(type='mmdet.PackDetInputs', meta_keys=sodaa_patch_meta_keys),
]
# tiny CPU configs: the 800 px patches as they are (the test Resize to 800 only sets scale_factor)
sodaa_patch_train_pipeline = _load + _flip_pack
sodaa_patch_test_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=(800, 800), keep_ratio=True),
    dict(type='mmdet.PackDetInputs', meta_keys=sodaa_patch_meta_keys),
]
# small-object lever 2 (issue 23, configs/_base_/levers.py): random-angle rotation before the flip; a patch with a
# storage tank (label 6) turns by multiples of 90 degrees; uncovered corners take the split's padding (B, G, R)
_rotate = [dict(type='RandomRotate', prob=0.5, angle_range=180, rect_obj_labels=[6], rotate_type='Rotate',
                img_border_value=(104, 116, 124))]
sodaa_rotate_train_pipeline = _load + _rotate + [dict(type='mmdet.Resize', scale=sodaa_img_scale, keep_ratio=True)] + \
    _flip_pack
sodaa_patch_rotate_train_pipeline = _load + _rotate + _flip_pack
del _load, _flip_pack, _rotate

sodaa_train_dataloader = dict(
    _delete_=True,
    batch_size=4,  # the paper: 4 images per step at lr 0.01 (per GPU; auto_scale_lr for more GPUs)
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=sodaa_dataset_type,
        data_root=sodaa_data_root,
        ann_file='divData/train/Annotations/',
        data_prefix=dict(img_path='divData/train/Images/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=sodaa_train_pipeline))
sodaa_val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=sodaa_dataset_type,
        data_root=sodaa_data_root,
        ann_file='divData/val/Annotations/',
        data_prefix=dict(img_path='divData/val/Images/'),
        test_mode=True,
        pipeline=sodaa_test_pipeline))
sodaa_test_dataloader = dict(
    sodaa_val_dataloader,
    dataset=dict(sodaa_val_dataloader['dataset'], ann_file='divData/test/Annotations/',
                 data_prefix=dict(img_path='divData/test/Images/')))
# patch predictions are merged per original image and scored against the raw (unsplit) annotations
sodaa_val_evaluator = dict(_delete_=True, type='SODAAMetric', ann_dir=sodaa_data_root + 'rawData/val/Annotations/')
sodaa_test_evaluator = dict(_delete_=True, type='SODAAMetric',
                            ann_dir=sodaa_data_root + 'rawData/test/Annotations/')
