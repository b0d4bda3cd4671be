# Rotated Faster R-CNN (the baseline) on DIOR-R (20 classes, 800 x 800 images, no split; MMRotate's DIOR layout under
# data/DIOR or DIOR_ROOT:
# JPEGImages-trainval/, JPEGImages-test/, Annotations/Oriented Bounding Boxes/, ImageSets/Main/{trainval,test}.txt),
# scored by the SODA size subsets, difficult objects ignored. Images resized to 1024 px as the DOTA configs.
# Not trained by us (no GPU): a config for GPU users, checked by tests/test_configs/test_dota_configs.py.
_base_ = ['../baselines/rotated-faster-rcnn_r50_fpn_1x_sodaa.py', '../_base_/datasets/dota.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
train_dataloader = {{_base_.dior_train_dataloader}}
val_dataloader = {{_base_.dior_val_dataloader}}
test_dataloader = {{_base_.dior_test_dataloader}}
val_evaluator = {{_base_.dior_val_evaluator}}
test_evaluator = {{_base_.dior_test_evaluator}}
