"""tools/dist_train.sh and dist_test.sh (torchrun, two processes) on CPU: gloo, CPU DDP wrapper, results of
both ranks collected, and the same predictions as a single-process test."""
import pickle
import re
import socket

import numpy as np
import pytest
import torch

from conftest import data_options, run_tool

pytestmark = pytest.mark.slow  # end-to-end: `make test-quick` (pytest -m 'not slow') leaves it out

FI_TINY = 'configs/fi/rotated-faster-rcnn_fi_tiny_sample.py'
# an untrained model keeps 2000 boxes per patch: cap them so that testing takes seconds
TEST_CAPS = ['model.test_cfg.rpn.max_per_img=100', 'model.test_cfg.rcnn.max_per_img=100']


def _port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


@pytest.fixture(scope='module')
def dist_trained(sample_split, tmp_path_factory):
    work = tmp_path_factory.mktemp('dist')
    proc = run_tool('tools/dist_train.sh', FI_TINY, 2, '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=4',
                    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=4',
                    *data_options(sample_split), env=dict(PORT=_port(), OMP_NUM_THREADS='1'))
    return work, proc.stdout


def _by_patch(pkl):
    with open(pkl, 'rb') as f:
        return {r['img_id']: r['pred_instances'] for r in pickle.load(f)}


def _rows(pred):
    """(N, 7) rows (score, label, box) in lexicographic order."""
    rows = torch.cat([pred['scores'][:, None], pred['labels'][:, None].float(), pred['bboxes']], 1).double()
    for col in reversed(range(rows.shape[1])):  # stable sorts, last key first
        rows = rows[torch.sort(rows[:, col], stable=True).indices]
    return rows


def test_dist_train_runs_two_cpu_processes(dist_trained):
    work, log = dist_trained
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # world size 2
    losses = [float(v) for v in re.findall(r'Iter\(train\) \[\d/4\].*? loss: ([-0-9.naif]+)', log)]
    assert len(losses) == 4 and np.isfinite(losses).all(), log[-3000:]
    assert (work / 'iter_4.pth').exists()


def test_dist_test_collects_both_ranks_and_matches_single_process(dist_trained, sample_split):
    work, _ = dist_trained
    common = ['--work-dir', work, '--cfg-options', *TEST_CAPS, *data_options(sample_split)]
    proc = run_tool('tools/dist_test.sh', FI_TINY, work / 'iter_4.pth', 2, '--out', work / 'dist.pkl', *common,
                    env=dict(PORT=_port(), OMP_NUM_THREADS='1'))
    assert 'sodaa/AP:' in proc.stdout
    # one thread as each rank had: the same arithmetic, so the same boxes
    run_tool('tools/test.py', FI_TINY, work / 'iter_4.pth', '--out', work / 'single.pkl', *common,
             env=dict(OMP_NUM_THREADS='1'))
    dist, single = _by_patch(work / 'dist.pkl'), _by_patch(work / 'single.pkl')
    patches = {p.stem for p in (sample_split / 'Annotations').glob('*.json')}
    assert set(dist) == set(single) and len(dist) == len(patches)  # every patch once, from both ranks
    for img_id, pred in single.items():
        # the same detections; boxes of equal score may come in either order
        torch.testing.assert_close(_rows(dist[img_id]), _rows(pred), rtol=0, atol=1e-4)
