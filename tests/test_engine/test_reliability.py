"""Reliability: bit-identical resume after a SIGKILL, clear errors for unusable checkpoints, and the non-finite
loss/gradient guard (README "Reliability")."""
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.hooks import Hook

from conftest import PY, ROOT, data_options, load_tool, run_tool

TINY = 'configs/baselines/rotated-faster-rcnn_tiny_sample.py'
CFINET = 'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'
_names = itertools.count()


# ------------------------------------------------------------------------------------------ guard (in-process)
def _runner(work_dir, split, mode, max_iters=3, config=TINY):
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({
        'work_dir': str(work_dir), 'experiment_name': f'guard_{os.getpid()}_{next(_names)}',
        'train_cfg.max_iters': max_iters, 'default_hooks.checkpoint.interval': 1000,
        'default_hooks.logger.interval': 1, 'randomness': dict(seed=0),
        'train_dataloader.dataset.data_root': f'{split}/'})
    # the configs' own guard entry, switched to the mode under test
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'NonFiniteGuardHook']
    assert hooks == [dict(type='NonFiniteGuardHook', mode='stop')], cfg.custom_hooks
    hooks[0]['mode'] = mode
    return Runner.from_cfg(cfg)


class _Inject(Hook):
    """Test hook: at iteration ``at`` (1-based) make one loss term NaN or one parameter's gradient NaN; records the
    parameters and optimizer state before and after that iteration."""
    priority = 'VERY_HIGH'

    def __init__(self, at, where):
        self.at, self.where = at, where
        self.before = self.after = None
        self._handle = None

    def _snapshot(self, runner):
        params = {n: p.detach().clone() for n, p in runner.model.named_parameters()}
        opt = runner.optim_wrapper.optimizer.state_dict()['state']
        momentum = {k: v['momentum_buffer'].clone() for k, v in opt.items() if v.get('momentum_buffer') is not None}
        return params, momentum

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 != self.at:
            return
        self.before = self._snapshot(runner)
        model = runner.model
        if self.where == 'loss':
            original = type(model).loss.__get__(model)

            def nan_loss(*args, **kwargs):
                losses = original(*args, **kwargs)
                losses['loss_bbox'] = losses['loss_bbox'] * float('nan')
                return losses
            model.loss = nan_loss
        else:
            p = dict(model.named_parameters())['roi_head.bbox_head.fc_cls.weight']
            self._handle = p.register_hook(lambda g: torch.full_like(g, float('inf')))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 != self.at:
            return
        self.after = self._snapshot(runner)
        runner.model.__dict__.pop('loss', None)
        if self._handle is not None:
            self._handle.remove()


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('where', ['loss', 'grad'])
def test_guard_stops_before_the_weights_change(where, sample_split, tmp_path):
    from cfinet_rotated.engine import NonFiniteError
    runner = _runner(tmp_path, sample_split, 'stop')
    inject = _Inject(at=2, where=where)
    runner.register_hook(inject)
    with pytest.raises(NonFiniteError) as e:
        runner.train()
    msg = str(e.value)
    if where == 'loss':
        assert 'loss term(s) loss_bbox at iteration 2' in msg, msg
    else:
        assert 'gradient(s) of roi_head.bbox_head.fc_cls.weight at iteration 2' in msg, msg
    assert inject.before is not None and inject.after is None  # it stopped inside iteration 2
    params, momentum = inject.before
    assert _same(params, {n: p.detach() for n, p in runner.model.named_parameters()})
    opt = runner.optim_wrapper.optimizer.state_dict()['state']
    assert _same(momentum, {k: v['momentum_buffer'] for k, v in opt.items()
                            if v.get('momentum_buffer') is not None})


@pytest.mark.parametrize('where', ['loss', 'grad'])
def test_guard_skips_and_counts(where, sample_split, tmp_path):
    runner = _runner(tmp_path, sample_split, 'skip')
    inject = _Inject(at=2, where=where)
    runner.register_hook(inject)
    runner.train()
    assert runner.iter == 3  # the run went on to the end
    guard = next(h for h in runner.hooks if type(h).__name__ == 'NonFiniteGuardHook')
    assert guard.num_skipped == 1
    assert runner.message_hub.get_scalar('train/nonfinite_skips').current() == 1
    (p0, m0), (p1, m1) = inject.before, inject.after
    assert _same(p0, p1) and _same(m0, m1)  # the skipped step changed no weight and no optimizer state
    assert not _same(p1, {n: p.detach() for n, p in runner.model.named_parameters()})  # iteration 3 stepped
    for v in p1.values():
        assert torch.isfinite(v).all()
    # the classes are untouched after the run
    assert 'parse_losses' not in vars(runner.model) and 'step' not in vars(runner.optim_wrapper)


def test_guard_rejects_unknown_mode():
    from cfinet_rotated.engine import NonFiniteGuardHook
    with pytest.raises(ValueError, match="'stop' or 'skip'"):
        NonFiniteGuardHook(mode='ignore')


# --------------------------------------------------------------------------------------- crash and resume
# the training patches resized to 400 px (4x fewer pixels): short runs for the resume tests
PATCHES_400 = """
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=(400, 400), keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmdet.PackDetInputs')]))
"""
CRASH_CFG = """
_base_ = [{base!r}]
# Instance Quality thresholds lowered to 0 ('official' form: any score): with the default T_hq = 0.65 a randomly
# initialised tiny model finds no exemplar in a few iterations, the FI exemplar set would stay empty and comparing
# it would prove nothing. Patches resized to 400 px (4x fewer pixels) to keep the three runs short.
model = dict(roi_head=dict(instance_quality=dict(mode='official', score_thr=0.0, low_thr=0.0, high_thr=0.0,
                                                 min_num_preds=1)))
{patches_400}train_cfg = dict(max_iters=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
    dict(type='MultiStepLR', milestones=[3], gamma=0.5, by_epoch=False, begin=0, end=4)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=5))
randomness = dict(seed=1234, deterministic=True)
"""


@pytest.fixture(scope='module')
def crash_runs(sample_split, tmp_path_factory):
    """An uninterrupted 4-iteration tiny-CFINet run; the same run SIGKILLed in iteration 3, after its first
    checkpoint is complete (``last_checkpoint`` written), and resumed with ``--resume`` (auto: that checkpoint)."""
    root = tmp_path_factory.mktemp('crash')
    cfg = root / 'crash_cfg.py'
    cfg.write_text(CRASH_CFG.format(base=str(ROOT / CFINET), patches_400=PATCHES_400))
    opts = ['--cfg-options', *data_options(sample_split)]
    env = {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    run_tool('tools/train.py', cfg, '--work-dir', root / 'full', *opts, env=env)

    crashed = root / 'crashed'
    proc = subprocess.Popen([PY, 'tools/train.py', str(cfg), '--work-dir', str(crashed), *opts], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (crashed / 'last_checkpoint').exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # no clean stop: whatever the process was doing
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = sorted(p.name for p in crashed.glob('iter_*.pth'))
    assert rc == -signal.SIGKILL and killed_at == ['iter_2.pth'], (rc, killed_at)
    resumed = run_tool('tools/train.py', cfg, '--work-dir', crashed, '--resume', *opts, env=env)
    return root, resumed.stdout, killed_at


def _load(path):
    from cfinet_rotated.utils import mmengine_checkpoint_globals
    with mmengine_checkpoint_globals():
        return torch.load(path, map_location='cpu')


def _assert_equal(a, b, where=''):
    """Exact equality of nested checkpoint content (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f'{where}: max |diff| {(a.double() - b.double()).abs().max()}'
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), (where, set(a) ^ set(b))
        for k in a:
            _assert_equal(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f'{where}[{i}]')
    else:
        assert a == b, (where, a, b)


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_identical(crash_runs):
    root, log, killed_at = crash_runs
    assert 'resumed epoch: 0, iter: 2' in log, log[-3000:]
    full, resumed = _load(root / 'full' / 'iter_4.pth'), _load(root / 'crashed' / 'iter_4.pth')
    # exact equality (deterministic CPU kernels, one thread, the same seed): weights and every buffer, including
    # the FI exemplar set (features, ring pointers, counts)
    _assert_equal(full['state_dict'], resumed['state_dict'], 'state_dict')
    count = full['state_dict']['roi_head.exemplar_set.count']
    assert count.sum() > 0, 'the exemplar set is empty: the comparison would not cover it'
    _assert_equal(full['optimizer'], resumed['optimizer'], 'optimizer')  # SGD momentum buffers and lr
    _assert_equal(full['param_schedulers'], resumed['param_schedulers'], 'param_schedulers')
    assert full['meta']['iter'] == resumed['meta']['iter'] == 4
    _assert_equal(full['rng_state'], resumed['rng_state'], 'rng_state')


def test_resume_without_the_generator_state_would_differ(crash_runs, tmp_path):
    """The control: the RNG state in the checkpoint is what makes the resume exact (MMEngine re-seeds at the
    state of iteration 0)."""
    root, _, _ = crash_runs
    ckpt = _load(root / 'full' / 'iter_2.pth')
    assert {'python', 'numpy', 'torch'} <= set(ckpt['rng_state'])
    from cfinet_rotated.engine import get_rng_state, set_rng_state
    saved = get_rng_state()
    try:
        set_rng_state(ckpt['rng_state'])
        after_restore = torch.rand(3)
        torch.manual_seed(1234)
        reseeded = torch.rand(3)
    finally:
        set_rng_state(saved)
    assert not torch.equal(after_restore, reseeded)


# ------------------------------------------------------------------------------------ unusable checkpoints
def _main(tool, argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [tool, *map(str, argv)])
    rc = load_tool(tool).main()
    return rc, capsys.readouterr().err


@pytest.fixture(scope='module')
def good_ckpt(crash_runs):
    return crash_runs[0] / 'full' / 'iter_2.pth'


@pytest.mark.parametrize('damage', ['truncated', 'corrupted', 'empty'])
def test_damaged_checkpoint_gives_a_clear_error(damage, good_ckpt, sample_split, tmp_path, monkeypatch, capsys):
    from cfinet_rotated.utils import CheckpointError, check_checkpoint, mmengine_checkpoint_globals
    data = good_ckpt.read_bytes()
    bad = tmp_path / f'{damage}.pth'
    if damage == 'truncated':
        bad.write_bytes(data[:len(data) // 2])
    elif damage == 'corrupted':
        bad.write_bytes(data[:1000] + bytes(b ^ 0x5A for b in data[1000:len(data) - 1000]) + data[-1000:])
    else:
        bad.write_bytes(b'')
    expected = 'empty' if damage == 'empty' else 'truncated or corrupted'
    with mmengine_checkpoint_globals():
        for purpose in ('load', 'resume', 'test'):
            with pytest.raises(CheckpointError) as e:
                check_checkpoint(bad, purpose=purpose)
            assert str(e.value).startswith(f'{bad}: ') and expected in str(e.value), e.value
    # through the entry points (one each): exit status 2 and one line, no traceback
    cfg = good_ckpt.parent.parent / 'crash_cfg.py'
    tool, argv = {'truncated': ('tools/train.py', [cfg, '--work-dir', tmp_path / 'w', '--resume', bad]),
                  'corrupted': ('tools/train.py', [cfg, '--work-dir', tmp_path / 'w', '--load-from', bad]),
                  'empty': ('tools/test.py', [cfg, bad, '--work-dir', tmp_path / 'w'])}[damage]
    rc, err = _main(tool, [*argv, '--cfg-options', *data_options(sample_split)], monkeypatch, capsys)
    assert rc == 2, (tool, err)
    assert str(bad) in err and expected in err and 'Traceback' not in err, err


@pytest.mark.slow
def test_resume_of_a_checkpoint_named_by_last_checkpoint_that_is_gone(good_ckpt, sample_split, tmp_path,
                                                                      monkeypatch, capsys):
    work = tmp_path / 'w'
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    cfg = good_ckpt.parent.parent / 'crash_cfg.py'
    rc, err = _main('tools/train.py', [cfg, '--work-dir', work, '--resume', '--cfg-options',
                                       *data_options(sample_split)], monkeypatch, capsys)
    assert rc == 2 and 'iter_4.pth' in err and 'does not exist' in err, err


def test_checkpoint_of_another_config_gives_a_clear_error(good_ckpt, sample_split, tmp_path, monkeypatch, capsys):
    # a tiny CFINet checkpoint used with the tiny baseline config (no CRPN, no FI head)
    opts = ['--cfg-options', *data_options(sample_split)]
    rc, err = _main('tools/test.py', [TINY, good_ckpt, '--work-dir', tmp_path / 'w', *opts], monkeypatch, capsys)
    assert rc == 2 and str(good_ckpt) in err and 'saved by another config' in err, err
    assert 'roi_head.exemplar_set' in err or 'unexpected' in err, err
    rc, err = _main('tools/train.py', [TINY, '--work-dir', tmp_path / 'w', '--resume', good_ckpt, *opts],
                    monkeypatch, capsys)
    assert rc == 2 and 'saved by another config' in err and 'Traceback' not in err, err


def test_weights_only_file_cannot_be_resumed(good_ckpt, tmp_path):
    from cfinet_rotated.utils import CheckpointError, check_checkpoint, mmengine_checkpoint_globals
    ckpt = _load(good_ckpt)
    weights = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=ckpt['state_dict']), weights)
    with mmengine_checkpoint_globals():
        assert check_checkpoint(weights, purpose='load') is not None
        with pytest.raises(CheckpointError, match='no training state to resume'):
            check_checkpoint(weights, purpose='resume')
        torch.save([1, 2], weights)
        with pytest.raises(CheckpointError, match='expected a checkpoint dict'):
            check_checkpoint(weights)
