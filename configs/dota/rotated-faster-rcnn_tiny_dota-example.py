# Tiny CPU Rotated Faster R-CNN on real DOTA v1.0 images: the DOTA devkit's example images P0706 (ships, harbours)
# and P1888 (vehicles) with their real labels (tests/data/real/dota; licence notes there), split into 800 px
# patches by
#   python tools/data/sodaa_split.py --format dota --src tests/data/real/dota --dst data/dota_example_split
# A smoke-test model for the DOTA path (split -> train -> test -> SODA size-subset metrics), like the SODA-A
# tiny sample configs; the same model, data and schedule as configs/baselines/rotated-faster-rcnn_tiny_sample.py.
_base_ = ['../baselines/rotated-faster-rcnn_tiny_sample.py', '../_base_/datasets/dota.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes=15)))
trained_on = dict(data='real DOTA v1.0 images P0706 and P1888 (tests/data/real/dota)', synthetic=False)
train_dataloader = dict(
    dataset=dict(_delete_=True, type='DOTAPatchDataset', metainfo=dict(classes={{_base_.dota_classes}}),
                 data_root='data/dota_example_split/', ann_file='labelTxt/', data_prefix=dict(img_path='images/'),
                 img_suffix='png', filter_cfg=dict(filter_empty_gt=True),
                 pipeline={{_base_.sodaa_patch_train_pipeline}}))
test_dataloader = dict(
    dataset=dict(_delete_=True, type='DOTAPatchDataset', metainfo=dict(classes={{_base_.dota_classes}}),
                 data_root='data/dota_example_split/', ann_file='labelTxt/', data_prefix=dict(img_path='images/'),
                 img_suffix='png', test_mode=True, pipeline={{_base_.sodaa_patch_test_pipeline}}))
test_evaluator = dict(_delete_=True, type='SODAAMetric', ann_format='dota', classes={{_base_.dota_classes}},
                      ann_dir='tests/data/real/dota/labelTxt/')
