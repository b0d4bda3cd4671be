# The tiny CFINet of the shipped checkpoint (checkpoints/, sha256 in the README): the tiny CFINet sample config
# (R-18/4, 32-channel FPN, CRPN + FI, random initialisation) trained on a generated training set that is disjoint
# from data/sample (tools/data/make_sample.py --seed 1 --prefix train), with a linear warm-up and one lr step.
# Made by tools/misc/make_release_checkpoint.sh, which sets the iteration count and the step (train_cfg.max_iters,
# param_scheduler.1.milestones); tested on data/sample, which it never saw.
_base_ = ['./rotated-faster-rcnn_cfinet_tiny_sample.py']

train_dataloader = dict(dataset=dict(data_root='data/release_train_split/'))
train_cfg = dict(max_iters=2000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=2000, milestones=[1500], gamma=0.1),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=1))
log_processor = dict(window_size=50)
randomness = dict(seed=0)
