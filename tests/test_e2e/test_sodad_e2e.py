"""End to end on the embedded SODA-D sample, as a user runs it: split (train and test mode) -> train the tiny
CFINet (CRPN + FI, horizontal boxes) a few iterations -> tools/test.py --out -> tools/analysis_tools/eval_sodad.py."""
import json
import math
import pickle

import pytest

from conftest import ROOT, load_tool, run_tool

pytestmark = pytest.mark.slow  # end-to-end: `make test-quick` (pytest -m 'not slow') leaves it out

TINY = 'configs/sodad/faster-rcnn_cfinet_tiny_sample.py'
SAMPLE = ROOT / 'data' / 'sample_sodad'
STATS = ('AP', 'AP50', 'AP75', 'AP_eS', 'AP_rS', 'AP_gS', 'AP_N', 'AR_100', 'AR_300', 'AR_1000', 'AR_eS', 'AR_rS',
         'AR_gS', 'AR_N')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Split, train 2 iterations, test; -> (split folder, work dir, test stdout)."""
    split = tmp_path_factory.mktemp('sodad') / 'split'
    for mode in ('train', 'test'):
        rc = load_tool('tools/data/sodad_split.py').main(
            ['--ann', str(SAMPLE / 'Annotations' / 'sample.json'), '--img-dir', str(SAMPLE / 'Images'), '--dst',
             str(split), '--mode', mode, '--workers', '1'])
        assert rc == 0
    work = tmp_path_factory.mktemp('sodad_e2e')
    with pytest.MonkeyPatch.context() as mp:
        # one intra-op thread: as fast on an idle 2-core machine, far faster when another process holds a core
        mp.setenv('OMP_NUM_THREADS', '1')
        run_tool('tools/train.py', TINY, '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=2',
                 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1', 'randomness.seed=0',
                 f'train_dataloader.dataset.data_root={split}/')
        proc = run_tool('tools/test.py', TINY, work / 'iter_2.pth', '--work-dir', work, '--out', work / 'results.pkl',
                        '--cfg-options', f'test_dataloader.dataset.data_root={split}/')
    return split, work, proc.stdout


def test_split_train_test_prints_the_14_statistics(run):
    split, work, stdout = run
    assert len(json.loads((split / 'Annotations' / 'test.json').read_text())['images']) == 11  # 6 + 4 + 1 patches
    scalars = sorted(work.glob('*/vis_data/scalars.json'))[0].read_text().splitlines()
    losses = [json.loads(line) for line in scalars if '"loss"' in line]
    assert len(losses) == 2 and all(math.isfinite(r['loss']) and 'loss_fi' in r and 's0.loss_rpn_reg' in r
                                    for r in losses)
    for key in STATS:
        assert f'sodad/{key}: ' in stdout, key
    assert 'maxDets= 1000 ]' in stdout


def test_saved_predictions_evaluate_to_finite_statistics(run, tmp_path, run_main):
    split, work, _ = run
    with open(work / 'results.pkl', 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 11
    r = results[0]
    assert {'img_id', 'ori_id', 'x_start', 'y_start', 'pred_instances'} <= set(r)
    assert r['pred_instances']['bboxes'].shape[-1] == 4  # horizontal boxes
    r = run_main('tools/analysis_tools/eval_sodad.py', '--ann', SAMPLE / 'Annotations' / 'sample.json', '--pred',
                 work / 'results.pkl', '--out', tmp_path / 'm.json', '--nproc', 1)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / 'm.json').read_text())
    assert m['num_images'] == 3 and m['num_gts'] == 340
    for key in STATS:  # every size subset has ground truth in the sample: no undefined statistic
        assert isinstance(m[key], float) and math.isfinite(m[key]) and 0 <= m[key] <= 1, key
