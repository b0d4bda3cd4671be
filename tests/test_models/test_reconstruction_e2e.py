"""End to end on the embedded sample with the reconstruction detector, as a user runs it: tools/train.py for a few
iterations (alternating D / G-detector updates through the Runner), resuming, tools/test.py -> metrics."""
import json

import pytest
import torch

from conftest import data_options, run_tool

pytestmark = pytest.mark.slow  # end-to-end subprocesses

CFG = 'configs/reconstruction/rotated-faster-rcnn_recon_tiny_sample.py'


def test_train_resume_and_test_on_the_sample(sample_split, tmp_path):
    run_tool('tools/train.py', CFG, '--work-dir', tmp_path, '--cfg-options', 'train_cfg.max_iters=2',
             'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2', 'randomness.seed=0',
             *data_options(sample_split))
    scalars = sorted(tmp_path.glob('*/vis_data/scalars.json'))[-1]
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    rows = [r for r in rows if 'loss' in r]
    assert len(rows) == 2
    for r in rows:  # both sides trained and logged, each wrapper's lr too
        assert {'loss_disc', 'loss_adv', 'loss_mse', 'loss_tv', 'loss_sr_cls', 'loss_sr_reg', 'recon_pairs'} <= set(r)
        assert 'detector.lr' in r and 'discriminator.lr' in r
    ckpt = tmp_path / 'iter_2.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert set(state['optimizer']) == {'detector', 'discriminator'}
    assert any(k.startswith('roi_head.discriminator.') for k in state['state_dict'])
    # resume: both optimizers' states come back, one more alternating step
    proc = run_tool('tools/train.py', CFG, '--work-dir', tmp_path / 'resumed', '--resume', ckpt, '--cfg-options',
                    'train_cfg.max_iters=3', 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=3',
                    *data_options(sample_split))
    assert 'resumed epoch: 0, iter: 2' in proc.stdout
    assert (tmp_path / 'resumed' / 'iter_3.pth').exists()
    # 300 proposals per patch instead of 2000: a 3-iteration detector scores everything about alike, and rotated
    # NMS over 2000 x 9 boxes per patch would take minutes on CPU for no more coverage
    proc = run_tool('tools/test.py', CFG, tmp_path / 'resumed' / 'iter_3.pth', '--work-dir', tmp_path,
                    '--cfg-options', 'model.test_cfg.rpn.max_per_img=300', *data_options(sample_split))
    for key in ('sodaa/AP', 'sodaa/AP_eS', 'sodaa/AR'):
        assert key in proc.stdout, proc.stdout[-3000:]
