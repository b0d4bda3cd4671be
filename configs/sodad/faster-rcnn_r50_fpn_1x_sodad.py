# Faster R-CNN (ResNet-50 FPN) on SODA-D: MMDetection's own config with what SODA-D needs, the setting of the
# official CFINet repository (configs/_base_/datasets/sodad.py, schedule of configs/cfinet/*_1x.py): 9 classes,
# 800 px patches resized to 1200 px (keep ratio, padded to /32), horizontal flip 0.5, SGD lr 0.01 for 4 images
# (official: 4 images on one GPU; its FI queue supports one GPU only), warm-up 500 iterations from 0.001,
# steps at epochs 8 and 11, 12 epochs, evaluation at the end. Horizontal boxes throughout.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '../_base_/datasets/sodad.py',
          '../_base_/default_runtime.py']

custom_imports = dict(imports=['cfinet_rotated'], allow_failed_imports=False)
# the project's scope (tools, hooks, wrappers); the model and data parts inherited from mmdet:: keep
# _scope_='mmdet', and cfinet_rotated registers its classes in both libraries' registries
default_scope = 'mmrotate'

# ImageNet weights are a local file (nothing is downloaded): put torchvision's resnet50 weights there or
# pass --cfg-options model.backbone.init_cfg.checkpoint=/path/to/resnet50.pth
# (CFINET_PRETRAINED=/path/to/resnet50-0676ba61.pth also sets it; tools/train.py checks that the file exists)
pretrained = '{{$CFINET_PRETRAINED:data/pretrained/resnet50-0676ba61.pth}}'
# HorizontalBoxes everywhere, as MMRotate keeps its box types: ground truth stays a box type through the data
# preprocessor and the RPN returns HorizontalBoxes proposals, so CRPN (whose proposals are box types) and the FI
# head plug in without conversions
# The settings of the official SODA-D benchmark config (CFINet configs/sodad-benchmarks/faster_rcnn_r50_fpn_1x.py),
# not MMDetection's COCO defaults (32-512 px anchors, unfair to tiny objects): RPN anchors scale 2 (8-128 px),
# ratios 0.5/1/2, strides 4-64; RoI strides 8/16/32/64, read from P3-P6 where those are the strides (the official
# config pairs them with P2-P5; docs/deviations.md); L1 losses in RPN and RoI head; 2000 proposals per level
# before NMS 0.7, 1000 kept; RoI sampler 512 at 0.25 with the gts added; test RPN 1000 before NMS 0.7, 1000
# kept; test RoI NMS 0.5, at most 200 per patch. The values MMDetection's config already has are restated.
model = dict(
    data_preprocessor=dict(boxtype2tensor=False),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(num_outs=5),
    rpn_head=dict(
        anchor_generator=dict(scales=[2], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(use_box_type=True),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        bbox_roi_extractor=dict(type='LevelOffsetRoIExtractor', start_level=1, featmap_strides=[8, 16, 32, 64]),
        bbox_head=dict(num_classes=9, loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7)),
        rcnn=dict(sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, add_gt_as_proposals=True))),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7)),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=200)))

# ----------------------------------------------------------------------------------------------- data
# SODA-D patches, pipelines, loaders and evaluators: configs/_base_/datasets/sodad.py
dataset_type = {{_base_.sodad_dataset_type}}
data_root = {{_base_.sodad_data_root}}
img_scale = {{_base_.sodad_img_scale}}
patch_meta_keys = {{_base_.sodad_patch_meta_keys}}
train_pipeline = {{_base_.sodad_train_pipeline}}
test_pipeline = {{_base_.sodad_test_pipeline}}
train_dataloader = {{_base_.sodad_train_dataloader}}
val_dataloader = {{_base_.sodad_val_dataloader}}
test_dataloader = {{_base_.sodad_test_dataloader}}
val_evaluator = {{_base_.sodad_val_evaluator}}
test_evaluator = {{_base_.sodad_test_evaluator}}

# ------------------------------------------------------------------------------------------- schedule
train_cfg = dict(max_epochs=12, val_interval=12)
optim_wrapper = dict(optimizer=dict(lr=0.01))
# lr 0.01 for 4 images (the official single-GPU setting); auto_scale_lr scales it on more GPUs
auto_scale_lr = {{_base_.cfinet_auto_scale_lr}}

# ------------------------------------------------------------------------------------------- runtime
# checkpoints, TensorBoard switch, reliability hooks: configs/_base_/default_runtime.py
default_hooks = {{_base_.cfinet_default_hooks}}
custom_hooks = {{_base_.cfinet_custom_hooks}}
