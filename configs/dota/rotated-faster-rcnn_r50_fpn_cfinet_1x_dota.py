# CFINet (CRPN + FI) on Rotated Faster R-CNN on DOTA v1.0: the SODA-A model with DOTA's 15 classes and data
# (configs/_base_/datasets/dota.py: 1024 px
# patches with 200 px overlap made by tools/data/sodaa_split.py --format dota, scored on the raw val labels by the
# SODA size subsets, difficult objects ignored). For v1.5 / v2.0 set dota_classes and num_classes (16 / 18).
# Not trained by us (no GPU): a config for GPU users, checked by tests/test_configs/test_dota_configs.py.
_base_ = ['../cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py', '../_base_/datasets/dota.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes=15)))
train_dataloader = {{_base_.dota_train_dataloader}}
val_dataloader = {{_base_.dota_val_dataloader}}
test_dataloader = {{_base_.dota_test_dataloader}}
val_evaluator = {{_base_.dota_val_evaluator}}
test_evaluator = {{_base_.dota_test_evaluator}}
