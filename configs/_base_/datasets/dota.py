# DOTA (v1.0 labelTxt; v1.5 / v2.0 by their class lists) and DIOR-R data settings, as configs/_base_/datasets/sodaa.py
# does for SODA-A: variables prefixed dota_ / dior_, used as  train_dataloader = {{_base_.dota_train_dataloader}}.
# DOTA: the raw images are split into 1024 px patches with 200 px overlap (MMRotate's DOTA setting) by
#   python tools/data/sodaa_split.py --format dota --src data/DOTA/train --dst data/DOTA/split_1024/train \
#       --size 1024 --gap 200 --classes dota1.0
# (and val); the patches are DOTA labelTxt (DOTAPatchDataset), predictions are merged per original image and
# scored against the raw val labels (SODAAMetric with ann_format='dota': the SODA size subsets, difficult objects
# ignored). DOTA lives in data/DOTA/ unless DOTA_ROOT says where; DIOR-R in data/DIOR/ unless DIOR_ROOT does.
dota_classes = ('plane', 'baseball-diamond', 'bridge', 'ground-track-field', 'small-vehicle', 'large-vehicle', 'ship',
                'tennis-court', 'basketball-court', 'storage-tank', 'soccer-ball-field', 'roundabout', 'harbor',
                'swimming-pool', 'helicopter')  # v1.0 (cfinet_rotated.datasets.formats.DOTA_CLASSES['1.0'])
dota_data_root = '{{$DOTA_ROOT:data/DOTA}}/'
dota_patch_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'ori_id', 'x_start',
                        'y_start')
_load = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
]
dota_train_pipeline = _load + [dict(type='mmdet.Resize', scale=(1024, 1024), keep_ratio=True),
                               dict(type='mmdet.RandomFlip', prob=0.5, direction='horizontal'),
                               dict(type='mmdet.PackDetInputs')]
dota_test_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='mmdet.PackDetInputs', meta_keys=dota_patch_meta_keys),
]
del _load
# 4 images per step at lr 0.01, as the SODA-A configs (auto_scale_lr scales it with the total batch)
dota_train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True), batch_sampler=None,
    dataset=dict(type='DOTAPatchDataset', metainfo=dict(classes=dota_classes), data_root=dota_data_root,
                 ann_file='split_1024/train/labelTxt/', data_prefix=dict(img_path='split_1024/train/images/'),
                 img_suffix='png', filter_cfg=dict(filter_empty_gt=True), pipeline=dota_train_pipeline))
dota_val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DOTAPatchDataset', metainfo=dict(classes=dota_classes), data_root=dota_data_root,
                 ann_file='split_1024/val/labelTxt/', data_prefix=dict(img_path='split_1024/val/images/'),
                 img_suffix='png', test_mode=True, pipeline=dota_test_pipeline))
dota_test_dataloader = dota_val_dataloader
dota_val_evaluator = dict(_delete_=True, type='SODAAMetric', ann_format='dota', classes=dota_classes,
                          ann_dir=dota_data_root + 'val/labelTxt/')
dota_test_evaluator = dota_val_evaluator

# DIOR-R: 800 x 800 images, no split; MMRotate's DIORDataset layout (ImageSets/Main/<split>.txt lists the ids)
dior_classes = ('airplane', 'airport', 'baseballfield', 'basketballcourt', 'bridge', 'chimney',
                'expressway-service-area', 'expressway-toll-station', 'dam', 'golffield', 'groundtrackfield',
                'harbor', 'overpass', 'ship', 'stadium', 'storagetank', 'tenniscourt', 'trainstation', 'vehicle',
                'windmill')
dior_data_root = '{{$DIOR_ROOT:data/DIOR}}/'
dior_train_dataloader = dict(
    dota_train_dataloader,
    dataset=dict(type='DIORRDataset', data_root=dior_data_root, ann_file='ImageSets/Main/trainval.txt',
                 ann_subdir='Annotations/Oriented Bounding Boxes/', data_prefix=dict(img_path='JPEGImages-trainval/'),
                 filter_cfg=dict(filter_empty_gt=True), pipeline=dota_train_pipeline))
dior_test_dataloader = dict(
    dota_val_dataloader,
    dataset=dict(type='DIORRDataset', data_root=dior_data_root, ann_file='ImageSets/Main/test.txt',
                 ann_subdir='Annotations/Oriented Bounding Boxes/', data_prefix=dict(img_path='JPEGImages-test/'),
                 test_mode=True, pipeline=dota_test_pipeline))
dior_val_dataloader = dior_test_dataloader
# the XML folder holds every split: the id list restricts the ground truth to the test images
dior_test_evaluator = dict(_delete_=True, type='SODAAMetric', ann_format='dior', classes=dior_classes,
                           ann_dir=dior_data_root + 'Annotations/Oriented Bounding Boxes/',
                           image_ids_file=dior_data_root + 'ImageSets/Main/test.txt')
dior_val_evaluator = dior_test_evaluator
