# Tiny CPU Rotated Faster R-CNN on the embedded sample (data/sample, split into data/sample_split by
# tools/data/sodaa_split.py): random initialisation (no ImageNet weights), ResNet-18 at 1/4 width, a
# 32-channel FPN, 800 px patches without resizing, 20 iterations of batch 1 (about 15 s on 2 cores).
# A smoke-test and CI model; the other tiny configs inherit from this one.
_base_ = ['./rotated-faster-rcnn_r50_fpn_1x_sodaa.py', '../_base_/tiny.py']

model = {{_base_.tiny_model}}
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based training
    dataset=dict(data_root='data/sample_split/', ann_file='Annotations/', data_prefix=dict(img_path='Images/'),
                 pipeline={{_base_.sodaa_patch_train_pipeline}}))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='data/sample_split/', ann_file='Annotations/', data_prefix=dict(img_path='Images/'),
                 pipeline={{_base_.sodaa_patch_test_pipeline}}))
test_evaluator = dict(ann_dir='data/sample/Annotations/')
# no validation while training: tools/test.py evaluates the checkpoint
val_dataloader = None
val_evaluator = None
val_cfg = None
# 20 iterations, logs and checkpoint, gloo: configs/_base_/default_runtime.py (tiny_*)
train_cfg = {{_base_.tiny_train_cfg}}
param_scheduler = []
auto_scale_lr = {{_base_.tiny_auto_scale_lr}}  # lr 0.01 for the tiny configs' batch of 1, not scaled
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = {{_base_.tiny_default_hooks}}
log_processor = {{_base_.tiny_log_processor}}
env_cfg = {{_base_.tiny_env_cfg}}
