# The runtime settings every config of this project adds to the MMRotate/MMDetection runtime it inherits, defined
# once. A mixin of variables (prefixed cfinet_, so that they do not collide with the inherited runtime's keys):
#     _base_ = ['mmrotate::<model config>', '../_base_/datasets/sodaa.py', '../_base_/default_runtime.py']
#     default_hooks = {{_base_.cfinet_default_hooks}}
#     custom_hooks = {{_base_.cfinet_custom_hooks}}
#     auto_scale_lr = {{_base_.cfinet_auto_scale_lr}}

# keep the last 3 epoch checkpoints (each carries the FI exemplar buffers, ~116 MB with the FI head);
# --cfg-options default_hooks.checkpoint.max_keep_ckpts=-1 keeps all
cfinet_default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
# True (or --cfg-options tensorboard=True) also logs to TensorBoard (requirements/optional.txt)
tensorboard = False

# A NaN/inf loss term or gradient stops the run before the optimizer step (mode='skip': skip such steps and count
# them); checkpoints carry the random generators' states so that --resume continues bit-identically; freed heap
# memory goes back to the system every 50 iterations and the logged-scalar history is capped (flat memory).
# docs/reliability.md.
cfinet_custom_hooks = [dict(type='NonFiniteGuardHook', mode='stop'), dict(type='RNGStateHook'),
                       dict(type='MemoryTrimHook', interval=50)]

# The paper's schedule (Sec. 4.1): 4 images per step at lr 0.01. The lr is for a total batch of 4; auto_scale_lr
# multiplies it by (GPUs x images per GPU) / 4 (e.g. lr 0.04 with tools/dist_train.sh ... 4).
cfinet_auto_scale_lr = dict(enable=True, base_batch_size=4)

# The tiny CPU configs (*_tiny_sample.py): iteration-based, 20 iterations of batch 1, no validation while
# training (tools/test.py evaluates the checkpoint), lr 0.01 not scaled, gloo for distributed runs on CPU.
tiny_train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20)
tiny_default_hooks = dict(logger=dict(interval=5), checkpoint=dict(by_epoch=False, interval=20, max_keep_ckpts=1))
tiny_log_processor = dict(by_epoch=False, window_size=5)
tiny_env_cfg = dict(dist_cfg=dict(backend='gloo'))
tiny_auto_scale_lr = dict(enable=False)
