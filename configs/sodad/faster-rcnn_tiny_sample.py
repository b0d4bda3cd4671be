# Tiny CPU Faster R-CNN on the embedded SODA-D sample (data/sample_sodad, split into data/sample_sodad_split by
# tools/data/sodad_split.py in train and test mode): random initialisation, ResNet-18 at 1/4 width, a 32-channel
# FPN, 800 px patches without resizing, 20 iterations of batch 1. A smoke-test and CI model; the other tiny
# SODA-D configs inherit from this one.
_base_ = ['./faster-rcnn_r50_fpn_1x_sodad.py', '../_base_/tiny.py']

model = {{_base_.tiny_model}}
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based training
    batch_sampler=None,
    dataset=dict(data_root='data/sample_sodad_split/', ann_file='Annotations/train.json',
                 data_prefix=dict(img='Images/train/'), pipeline={{_base_.sodad_patch_train_pipeline}}))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='data/sample_sodad_split/', ann_file='Annotations/test.json',
                 data_prefix=dict(img='Images/test/'), pipeline={{_base_.sodad_patch_test_pipeline}}))
test_evaluator = dict(ann_file='data/sample_sodad/Annotations/sample.json')
# no validation while training: tools/test.py evaluates the checkpoint
val_dataloader = None
val_evaluator = None
val_cfg = None
# 20 iterations, logs and checkpoint, gloo: configs/_base_/default_runtime.py (tiny_*)
train_cfg = {{_base_.tiny_train_cfg}}
param_scheduler = []
auto_scale_lr = {{_base_.tiny_auto_scale_lr}}  # lr 0.01 for the tiny configs' batch of 1, not scaled
default_hooks = {{_base_.tiny_default_hooks}}
log_processor = {{_base_.tiny_log_processor}}
env_cfg = {{_base_.tiny_env_cfg}}
