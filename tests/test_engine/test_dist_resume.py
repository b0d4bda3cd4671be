"""Distributed resume (issue 24, part 5): each rank gets its own generator state back. Two gloo ranks with
different seeds per rank (``randomness.diff_rank_seed``: their RoI sampling draws differ); a 4-iteration run and the
same run resumed from its iteration-2 checkpoint end with the same weights and per-rank states."""
import shutil

import pytest
import torch
from test_dist import _port
from test_reliability import PATCHES_400, _assert_equal, _load

from conftest import ROOT, data_options, run_tool

pytestmark = pytest.mark.slow

CFG = """
_base_ = [{base!r}]
{patches_400}train_cfg = dict(max_iters=4)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=5))
randomness = dict(seed=1234, deterministic=True, diff_rank_seed=True)
"""


def test_two_rank_resume_restores_each_rank_state(sample_split, tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CFG.format(base=str(ROOT / 'configs/baselines/rotated-faster-rcnn_tiny_sample.py'),
                              patches_400=PATCHES_400))
    env = dict(OMP_NUM_THREADS='1')
    opts = ['--cfg-options', *data_options(sample_split)]
    full = tmp_path / 'full'
    run_tool('tools/dist_train.sh', cfg, 2, '--work-dir', full, *opts, env=dict(env, PORT=_port()))
    mid = _load(full / 'iter_2.pth')
    per_rank = mid['rng_state_per_rank']
    assert len(per_rank) == 2 and not torch.equal(per_rank[0]['torch'], per_rank[1]['torch'])
    _assert_equal(mid['rng_state'], per_rank[0], 'rank 0')
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    shutil.copy(full / 'iter_2.pth', resumed / 'iter_2.pth')
    (resumed / 'last_checkpoint').write_text(str(resumed / 'iter_2.pth'))
    proc = run_tool('tools/dist_train.sh', cfg, 2, '--work-dir', resumed, '--resume', *opts,
                    env=dict(env, PORT=_port()))
    assert 'resumed epoch: 0, iter: 2' in proc.stdout and 'rank 0\'s state' not in proc.stdout
    a, b = _load(full / 'iter_4.pth'), _load(resumed / 'iter_4.pth')
    _assert_equal(a['state_dict'], b['state_dict'], 'state_dict')
    _assert_equal(a['rng_state_per_rank'], b['rng_state_per_rank'], 'rng_state_per_rank')
