"""End to end on the embedded sample, as a user runs it: split -> train a few iterations -> test -> metrics,
and resuming a checkpoint under torch's weights_only default."""
import json
import pickle

import pytest

from conftest import data_options, run_tool

pytestmark = pytest.mark.slow  # end-to-end: `make test-quick` (pytest -m 'not slow') leaves it out

TINY = 'configs/baselines/rotated-faster-rcnn_tiny_sample.py'


def _losses(work_dir):
    scalars = sorted(work_dir.glob('*/vis_data/scalars.json'))[-1]
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    return [r['loss'] for r in rows if 'loss' in r]


@pytest.fixture(scope='module')
def trained(sample_split, tmp_path_factory):
    work = tmp_path_factory.mktemp('e2e')
    run_tool('tools/train.py', TINY, '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=12',
             'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=6',
             'default_hooks.checkpoint.max_keep_ckpts=2', 'randomness.seed=0', *data_options(sample_split))
    return work


def test_training_decreases_the_loss(trained):
    losses = _losses(trained)
    assert len(losses) == 12
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first, f'loss did not decrease: {losses}'
    assert (trained / 'iter_12.pth').exists()


def test_test_tool_prints_metrics_and_saves_predictions(trained, sample_split):
    out = trained / 'results.pkl'
    proc = run_tool('tools/test.py', TINY, trained / 'iter_12.pth', '--work-dir', trained, '--out', out,
                    '--cfg-options', *data_options(sample_split))
    for key in ('sodaa/AP', 'sodaa/AP_eS', 'sodaa/AP_N', 'sodaa/AR'):
        assert key in proc.stdout, proc.stdout[-3000:]
    with open(out, 'rb') as f:
        results = pickle.load(f)
    patches = sorted((sample_split / 'Annotations').glob('*.json'))
    assert len(results) == len(patches)
    r = results[0]
    assert {'img_id', 'ori_id', 'x_start', 'y_start', 'pred_instances'} <= set(r)
    assert r['pred_instances']['bboxes'].shape[-1] == 5  # rotated boxes (cx, cy, w, h, angle)


def test_test_tool_multi_scale_tta(trained, sample_split):
    """tools/test.py --tta 1 1.5 (small-object lever 5): the checkpoint loads into the detector inside
    RotatedTTAModel, both views run per patch, the merged predictions are rotated and evaluated."""
    out = trained / 'results_tta.pkl'
    proc = run_tool('tools/test.py', TINY, trained / 'iter_12.pth', '--work-dir', trained / 'tta', '--out', out,
                    '--tta', '1', '1.5', '--cfg-options', 'model.test_cfg.rpn.max_per_img=100',
                    'model.test_cfg.rcnn.max_per_img=100', *data_options(sample_split))
    assert 'sodaa/AP_eS' in proc.stdout, proc.stdout[-3000:]
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == len(sorted((sample_split / 'Annotations').glob('*.json')))
    assert results[0]['pred_instances']['bboxes'].shape[-1] == 5
    bad = run_tool('tools/test.py', TINY, trained / 'iter_12.pth', '--tta', '0', check=False)
    assert bad.returncode != 0 and 'scale factors must be > 0' in bad.stdout


def test_resume_under_weights_only_default(trained, sample_split):
    # iter_6.pth holds the message hub's HistoryBuffers and numpy scalars: torch >= 2.6 refuses them by
    # default; train.py allow-lists exactly those classes.
    proc = run_tool('tools/train.py', TINY, '--work-dir', trained / 'resumed', '--resume', trained / 'iter_6.pth',
                    '--cfg-options', 'train_cfg.max_iters=8', 'default_hooks.logger.interval=1',
                    *data_options(sample_split))
    assert 'resumed epoch: 0, iter: 6' in proc.stdout
    assert (trained / 'resumed' / 'iter_8.pth').exists()
