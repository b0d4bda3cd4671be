# Rotated Faster R-CNN (le90, ResNet-50 FPN) on SODA-A: the baseline of the paper's Table 3, in the
# SODA-mmrotate benchmark setting (1200 px input, 12 epochs, SGD lr 0.01), with num_classes fixed to 9.
# Horizontal anchors and proposals, RoIAlign on horizontal RoIs, rotated box regression.
_base_ = ['mmrotate::rotated_faster_rcnn/rotated-faster-rcnn-le90_r50_fpn_1x_dota.py', '../_base_/datasets/sodaa.py',
          '../_base_/default_runtime.py']

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
# SODA-A patches, pipelines, loaders and evaluators: configs/_base_/datasets/sodaa.py
dataset_type = {{_base_.sodaa_dataset_type}}
data_root = {{_base_.sodaa_data_root}}
img_scale = {{_base_.sodaa_img_scale}}
patch_meta_keys = {{_base_.sodaa_patch_meta_keys}}
train_pipeline = {{_base_.sodaa_train_pipeline}}
test_pipeline = {{_base_.sodaa_test_pipeline}}
train_dataloader = {{_base_.sodaa_train_dataloader}}
val_dataloader = {{_base_.sodaa_val_dataloader}}
test_dataloader = {{_base_.sodaa_test_dataloader}}
val_evaluator = {{_base_.sodaa_val_evaluator}}
test_evaluator = {{_base_.sodaa_test_evaluator}}

# ------------------------------------------------------------------------------------------- schedule
# SODA-mmrotate: SGD lr 0.01, 12 epochs, steps at 8 and 11, warm-up 500 iterations, grad clip 35; the paper's
# 4 images per step at lr 0.01, scaled with the total batch (configs/_base_/default_runtime.py).
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = {{_base_.cfinet_auto_scale_lr}}

# ------------------------------------------------------------------------------------------- runtime
# checkpoints, TensorBoard switch, reliability hooks: configs/_base_/default_runtime.py
default_hooks = {{_base_.cfinet_default_hooks}}
custom_hooks = {{_base_.cfinet_custom_hooks}}
