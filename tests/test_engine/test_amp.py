"""AMP (issue 24, part 3): tools/train.py --amp is MMDetection's switch to AmpOptimWrapper on a GPU; on CPU it stops
with a clear error, because CPU autocast is bfloat16 only and the ops below do not take it (pinned here, so that
this test fails, and says so, once mmcv / MMRotate support it and a CPU AMP path becomes possible)."""
import pytest
import torch
from mmengine.config import Config

from cfinet_rotated.utils import apply_amp

from conftest import ROOT, run_tool

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU-only behaviour')


def test_apply_amp_switches_the_wrapper_once_and_leaves_the_reconstruction_dict():
    """The one AMP switch of train.py --amp, benchmark_speed.py --amp and the device tests."""
    cfg = Config.fromfile(ROOT / 'configs/baselines/rotated-faster-rcnn_tiny_sample.py')
    optimizer = dict(cfg.optim_wrapper.optimizer)
    assert apply_amp(cfg) is True
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.loss_scale) == ('AmpOptimWrapper', 'dynamic')
    assert dict(cfg.optim_wrapper.optimizer) == optimizer
    assert apply_amp(cfg) is False  # already AMP: unchanged
    recon = Config.fromfile(ROOT / 'configs/reconstruction/rotated-faster-rcnn_recon_tiny_sample.py')
    before = recon.optim_wrapper.to_dict()
    assert apply_amp(recon) is False and recon.optim_wrapper.to_dict() == before


@CPU_ONLY
def test_train_amp_on_cpu_is_a_clear_error(tmp_path):
    proc = run_tool('tools/train.py', 'configs/baselines/rotated-faster-rcnn_tiny_sample.py', '--amp', '--work-dir',
                    tmp_path, check=False, timeout=300)
    assert proc.returncode != 0
    assert 'train.py: error: --amp needs a GPU' in proc.stdout and 'Traceback' not in proc.stdout


@CPU_ONLY
def test_bfloat16_is_not_taken_by_mmcv_cpu_roi_align_nor_mmrotate_box_conversion():
    from mmcv.ops import RoIAlign
    from mmrotate.structures.bbox import qbox2rbox
    feats = torch.randn(1, 2, 8, 8).bfloat16()
    rois = torch.tensor([[0., 1., 1., 5., 5.]]).bfloat16()
    with pytest.raises((NotImplementedError, RuntimeError), match='BFloat16'):
        RoIAlign(2, 1.0, 2)(feats, rois)
    with pytest.raises(TypeError, match='BFloat16'):
        qbox2rbox(torch.tensor([[0., 0., 4., 0., 4., 2., 0., 2.]]).bfloat16())
