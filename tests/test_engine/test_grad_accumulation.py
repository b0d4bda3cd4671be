"""Gradient accumulation (``tools/train.py --accumulate``, ``cfinet_rotated.utils.apply_grad_accumulation``): one
optimizer step every K iterations, with MMEngine's auto_scale_lr counting the accumulated iterations."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from cfinet_rotated.utils import apply_grad_accumulation


def _cfg(**optim):
    return Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01), **optim),
                       auto_scale_lr=dict(enable=True, base_batch_size=4)))


def test_counts_set_and_base_batch_divided():
    cfg = _cfg()
    assert apply_grad_accumulation(cfg, 2) == 2
    assert cfg.optim_wrapper.accumulative_counts == 2 and cfg.auto_scale_lr.base_batch_size == 2


def test_config_counts_used_when_no_flag_and_one_is_a_no_op():
    cfg = _cfg(accumulative_counts=4)
    assert apply_grad_accumulation(cfg) == 4 and cfg.auto_scale_lr.base_batch_size == 1
    cfg = _cfg()
    assert apply_grad_accumulation(cfg) == 1 and cfg.auto_scale_lr.base_batch_size == 4
    assert 'accumulative_counts' not in cfg.optim_wrapper
    with pytest.raises(ValueError, match='>= 1'):
        apply_grad_accumulation(_cfg(), 0)


class _Points(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i + 1)]))


class _Line(BaseModel):
    """y = w x; loss = mean(w x) so that the gradient of w is the batch mean of x."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        return dict(loss=(self.w * x).mean())


def _train(tmp_path, name, batch_size, counts):
    cfg = _cfg()
    apply_grad_accumulation(cfg, counts)
    runner = Runner(model=_Line(), work_dir=str(tmp_path / name),
                    train_dataloader=dict(dataset=_Points(), batch_size=batch_size, num_workers=0,
                                          sampler=dict(type='DefaultSampler', shuffle=False),
                                          collate_fn=dict(type='default_collate')),
                    optim_wrapper=copy.deepcopy(cfg.optim_wrapper.to_dict()),
                    auto_scale_lr=cfg.auto_scale_lr.to_dict(),
                    train_cfg=dict(by_epoch=False, max_iters=8 // batch_size), default_hooks=dict(logger=None,
                                   checkpoint=None), default_scope='mmengine', experiment_name=name)
    runner.train()
    return runner.optim_wrapper.get_lr()['lr'][0], float(runner.model.w)


def test_two_half_batches_accumulated_equal_one_full_batch(tmp_path):
    # 4 images per step: batch 4 without accumulation, batch 2 accumulated over 2 iterations. Both see x = 1..4 then
    # 5..8: the lr (auto-scaled to 0.01) and the weights after the two optimizer steps must be the same
    lr_full, w_full = _train(tmp_path, 'full', 4, 1)
    lr_acc, w_acc = _train(tmp_path, 'acc', 2, 2)
    assert lr_full == pytest.approx(0.01) and lr_acc == pytest.approx(0.01)
    # hand value: step 1 grad mean(1..4) = 2.5, step 2 grad mean(5..8) = 6.5 -> w = -0.01 * (2.5 + 6.5) = -0.09
    assert w_full == pytest.approx(-0.09) and w_acc == pytest.approx(-0.09)
    # without the base-batch correction MMEngine would halve the lr of the accumulated run
    lr_plain, w_plain = _train(tmp_path, 'plain', 2, 1)
    assert lr_plain == pytest.approx(0.005)
