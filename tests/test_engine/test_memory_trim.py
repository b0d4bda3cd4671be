"""MemoryTrimHook: freed heap memory goes back to the system, the training scalar history is capped, and every
training config has the hook (README "Reliability"; measured with tools/analysis_tools/soak.py)."""
import glob
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.logging import MessageHub
from mmengine.registry import HOOKS
from mmengine.runner import get_priority

from cfinet_rotated.engine.hooks.memory_trim_hook import MemoryTrimHook, _libc_malloc_trim

from conftest import ROOT


def _rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS')


@pytest.mark.skipif(_libc_malloc_trim() is None, reason='glibc malloc_trim not available')
def test_trim_returns_memory_that_free_kept():
    # 96 MB in 4 KB blocks (below glibc's mmap threshold, so they come from the heap), then a small block above
    # them that stays alive: freeing the 96 MB leaves a hole below the heap top, which free() does not return
    blocks = [bytearray(4096) for _ in range(24 * 1024)]
    pin = [bytearray(4096) for _ in range(16)]
    for b in blocks:
        b[::512] = b'\x01' * 8  # touch every page
    del blocks
    before = _rss_mb()
    hook = MemoryTrimHook()
    hook.trim()
    after = _rss_mb()
    assert hook.num_trims == 1
    assert before - after > 48, (before, after)
    del pin


class _Runner(SimpleNamespace):
    pass


def _runner(window_size=10, custom_cfg=None):
    hub = MessageHub(f'trim_test_{id(object())}')
    return _Runner(iter=0, message_hub=hub,
                   log_processor=SimpleNamespace(window_size=window_size, custom_cfg=custom_cfg or []))


def test_trims_every_interval_after_the_checkpoint_save(monkeypatch):
    # runs after CheckpointHook in the same iteration, so the save's buffers are returned at once
    assert get_priority(MemoryTrimHook.priority) > get_priority(CheckpointHook.priority)
    hook = MemoryTrimHook(interval=3, max_history=None)
    calls = []
    monkeypatch.setattr(hook, '_trim', lambda pad: calls.append(pad))
    runner = _runner()
    hook.before_train(runner)
    for it in range(10):
        runner.iter = it
        hook.after_train_iter(runner, it)
    assert calls == [0, 0, 0]  # after iterations 3, 6, 9 (1-based)
    hook.after_val_epoch(runner)
    assert len(calls) == 4 and hook.num_trims == 4


def test_training_scalar_history_is_capped_and_others_are_not():
    hook = MemoryTrimHook(interval=1, max_history=20)
    runner = _runner(window_size=30)  # the cap is never below the log window
    hook.before_train(runner)
    hub = runner.message_hub
    for it in range(100):
        hub.update_scalar('train/loss', float(it))
        hub.update_scalar('val/time', float(it))
        runner.iter = it
        hook.after_train_iter(runner, it)
    log, _ = hub.get_scalar('train/loss').data
    assert len(log) == 30 and log[-1] == 99.0 and log[0] == 70.0
    assert len(hub.get_scalar('val/time').data[0]) == 100
    # the mean over the log window is what it was without the cap
    assert hub.get_scalar('train/loss').mean(30) == pytest.approx(sum(range(70, 100)) / 30)


@pytest.mark.parametrize('window', ['global', 'epoch'])
def test_no_cap_when_the_log_processor_reads_the_whole_history(window):
    hook = MemoryTrimHook(interval=1, max_history=5)
    runner = _runner(custom_cfg=[dict(data_src='loss', method_name='mean', window_size=window)])
    hook.before_train(runner)
    for it in range(20):
        runner.message_hub.update_scalar('train/loss', float(it))
        runner.iter = it
        hook.after_train_iter(runner, it)
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 20


@pytest.mark.parametrize('kwargs', [dict(interval=0), dict(max_history=0), dict(mmap_threshold=0),
                                    dict(mmap_threshold=64 << 20)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='MemoryTrimHook'):
        MemoryTrimHook(**kwargs)


def test_every_training_config_has_the_hook():
    configs = [p for p in glob.glob(f'{ROOT}/configs/**/*.py', recursive=True) if '/_base_/' not in p]
    assert len(configs) > 20
    for path in configs:
        cfg = Config.fromfile(path)
        hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] == 'MemoryTrimHook']
        assert len(hooks) == 1, path
        assert isinstance(HOOKS.build(hooks[0]), MemoryTrimHook)


_FREE_LARGE = r'''
import sys
sys.path.insert(0, {root!r})
from cfinet_rotated.engine import MemoryTrimHook

def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024

if {pin}:
    assert MemoryTrimHook().pin_mmap_threshold()
big = bytearray(24 << 20)  # glibc: mmap, and freeing it raises the dynamic threshold to 24 MiB
del big
big = bytearray(24 << 20)  # dynamic threshold: from the heap now
del big
pin = bytearray(1024)      # keeps the heap top from shrinking
print(rss())
'''


@pytest.mark.skipif(_libc_malloc_trim() is None, reason='glibc not available')
@pytest.mark.slow
def test_pinned_mmap_threshold_returns_freed_large_blocks_at_once():
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_')}
    out = {pin: float(subprocess.run([sys.executable, '-c', _FREE_LARGE.format(root=str(ROOT), pin=pin)], env=env,
                                     check=True, capture_output=True, text=True).stdout.split()[-1])
           for pin in (False, True)}
    assert out[False] - out[True] > 16, out  # glibc's dynamic threshold kept the 24 MiB; pinned, it went back


def test_mmap_threshold_is_left_to_the_user(monkeypatch):
    hook = MemoryTrimHook()
    calls = []
    monkeypatch.setattr(hook, '_mallopt', lambda *a: calls.append(a) or 1)
    monkeypatch.delenv('MALLOC_MMAP_THRESHOLD_', raising=False)
    assert hook.pin_mmap_threshold() and calls == [(-3, 131072)]
    monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '65536')
    assert not hook.pin_mmap_threshold() and len(calls) == 1
    assert not MemoryTrimHook(mmap_threshold=None).pin_mmap_threshold()
