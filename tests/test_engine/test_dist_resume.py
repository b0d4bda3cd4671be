"""Distributed resume (issue 24, part 5): each rank gets its own generator state back. Two gloo ranks with
different seeds per rank (``randomness.diff_rank_seed``: their RoI sampling draws differ); a 4-iteration run and the
same run resumed from its iteration-2 checkpoint end with the same weights and per-rank states. Elastic training
(part 4): under ``MAX_RESTARTS=1 dist_train.sh ... --resume`` rank 1 is killed (SIGKILL) after iteration 3; torchrun
restarts both workers, they resume from iteration 2, and the run ends with the weights of the unkilled run."""
import shutil
import textwrap

import pytest
import torch
from mmengine.config import Config
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


# a hook that kills its own worker (rank 1, once: a marker file) after a given iteration, as a crashed node would
KILL_HOOK = """
import os
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillOnceHook(Hook):
    def __init__(self, after_iter, marker):
        self.after_iter, self.marker = after_iter, marker

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.after_iter and get_rank() == 1 and not os.path.exists(self.marker):
            open(self.marker, 'w').close()
            os.kill(os.getpid(), signal.SIGKILL)
"""
ENV = dict(OMP_NUM_THREADS='1')


@pytest.fixture(scope='module')
def two_rank_run(sample_split, tmp_path_factory):
    """The unkilled 4-iteration 2-rank run (checkpoints at iterations 2 and 4): config, options, work dir."""
    tmp = tmp_path_factory.mktemp('dist_resume')
    cfg = tmp / 'cfg.py'
    cfg.write_text(CFG.format(base=str(ROOT / 'configs/baselines/rotated-faster-rcnn_tiny_sample.py'),
                              patches_400=PATCHES_400))
    opts = ['--cfg-options', *data_options(sample_split)]
    full = tmp / 'full'
    run_tool('tools/dist_train.sh', cfg, 2, '--work-dir', full, *opts, env=dict(ENV, PORT=_port()))
    return cfg, opts, full


def test_two_rank_resume_restores_each_rank_state(two_rank_run, tmp_path):
    cfg, opts, full = two_rank_run
    env = ENV
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


def test_elastic_restart_after_a_killed_worker_ends_as_the_unkilled_run(two_rank_run, tmp_path):
    cfg, opts, full = two_rank_run
    (tmp_path / 'elastic_kill.py').write_text(textwrap.dedent(KILL_HOOK))
    marker = tmp_path / 'killed'
    elastic = tmp_path / 'elastic.py'
    # custom_hooks replaces the base list: keep the base's hooks (RNGStateHook among them) in front of the killer
    hooks = [*Config.fromfile(str(cfg)).to_dict()['custom_hooks'],
             dict(type='KillOnceHook', after_iter=3, marker=str(marker))]
    elastic.write_text(f"_base_ = [{str(cfg)!r}]\ncustom_imports = dict(imports=['elastic_kill'])\n"
                       f"custom_hooks = {hooks!r}\n")
    work = tmp_path / 'work'
    proc = run_tool('tools/dist_train.sh', elastic, 2, '--work-dir', work, '--resume', *opts,
                    env=dict(ENV, PORT=_port(), MAX_RESTARTS='1', PYTHONPATH=str(tmp_path)))
    assert marker.exists(), 'the worker was never killed'
    # the first attempt logged iteration 3, was killed, and the restarted group resumed from iteration 2
    assert 'resumed epoch: 0, iter: 2' in proc.stdout, proc.stdout[-3000:]
    a, b = _load(full / 'iter_4.pth'), _load(work / 'iter_4.pth')
    _assert_equal(a['state_dict'], b['state_dict'], 'state_dict')
    _assert_equal(a['rng_state_per_rank'], b['rng_state_per_rank'], 'rng_state_per_rank')
