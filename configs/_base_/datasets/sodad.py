# SODA-D data settings, defined once: the patch pipelines, data loaders and evaluators of every SODA-D config
# (horizontal boxes; the setting of the official CFINet repository, configs/_base_/datasets/sodad.py there).
# A mixin of variables (prefixed sodad_, so that they do not collide with the keys of the mmdet:: config a SODA-D
# config inherits beside it), used as
#     _base_ = ['mmdet::<model config>', '../_base_/datasets/sodad.py', ...]
#     train_dataloader = {{_base_.sodad_train_dataloader}}
# data/SODA-D/rawData/{Images/, Annotations/{train,val,test}.json} as distributed, split into divData/ by
#   python tools/data/sodad_split.py --ann rawData/Annotations/<mode>.json --img-dir rawData/Images \
#       --dst divData --mode <mode>
# SODA-D lives in data/SODA-D/ (relative to the current folder) unless SODAD_ROOT says where, e.g.
#   SODAD_ROOT=/scratch/SODA-D python tools/train.py ...   (every path below follows; docs/get_started.md)
sodad_dataset_type = 'SODADDataset'
sodad_data_root = '{{$SODAD_ROOT:data/SODA-D}}/'
sodad_img_scale = (1200, 1200)
# the patch origin travels with each prediction so that SODADMetric can merge the patches per image
sodad_patch_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'ori_id', 'x_start',
                         'y_start')
_load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]
_flip_pack = [dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='PackDetInputs')]
# full configs: 800 px patches resized to 1200 px (keep ratio, padded to /32), horizontal flip 0.5
sodad_train_pipeline = _load + [dict(type='Resize', scale=sodad_img_scale, keep_ratio=True)] + _flip_pack
sodad_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=sodad_img_scale, keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=sodad_patch_meta_keys),
]
# tiny CPU configs: the 800 px patches as they are (the test Resize to 800 only sets scale_factor)
sodad_patch_train_pipeline = _load + _flip_pack
sodad_patch_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(800, 800), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=sodad_patch_meta_keys),
]
del _load, _flip_pack

sodad_train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        type=sodad_dataset_type,
        data_root=sodad_data_root,
        ann_file='divData/Annotations/train.json',
        data_prefix=dict(img='divData/Images/train/'),
        pipeline=sodad_train_pipeline))
sodad_val_dataloader = dict(
    dataset=dict(sodad_train_dataloader['dataset'], ann_file='divData/Annotations/val.json',
                 data_prefix=dict(img='divData/Images/val/'), pipeline=sodad_test_pipeline))
sodad_test_dataloader = dict(
    sodad_val_dataloader,
    dataset=dict(sodad_val_dataloader['dataset'], ann_file='divData/Annotations/test.json',
                 data_prefix=dict(img='divData/Images/test/')))
# patch predictions are merged per original image (class-wise NMS 0.5) and scored against the full-image
# annotations (category 10 excluded, so the official *_wo_ignore.json files give the same numbers)
sodad_val_evaluator = dict(_delete_=True, type='SODADMetric', ann_file=sodad_data_root + 'rawData/Annotations/val.json')
sodad_test_evaluator = dict(_delete_=True, type='SODADMetric',
                            ann_file=sodad_data_root + 'rawData/Annotations/test.json')
