"""AMP (issue 24, part 3): tools/train.py --amp is MMDetection's switch to AmpOptimWrapper on a GPU; on CPU it stops
with a clear error, because CPU autocast is bfloat16 only and the ops below do not take it (pinned here, so that
this test fails, and says so, once mmcv / MMRotate support it and a CPU AMP path becomes possible)."""
import pytest
import torch

from conftest import run_tool

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU-only behaviour')


def test_train_amp_on_cpu_is_a_clear_error(tmp_path):
    proc = run_tool('tools/train.py', 'configs/baselines/rotated-faster-rcnn_tiny_sample.py', '--amp', '--work-dir',
                    tmp_path, check=False, timeout=300)
    assert proc.returncode != 0
    assert 'train.py: error: --amp needs a GPU' in proc.stdout and 'Traceback' not in proc.stdout


def test_bfloat16_is_not_taken_by_mmcv_cpu_roi_align_nor_mmrotate_box_conversion():
    from mmcv.ops import RoIAlign
    from mmrotate.structures.bbox import qbox2rbox
    feats = torch.randn(1, 2, 8, 8).bfloat16()
    rois = torch.tensor([[0., 1., 1., 5., 5.]]).bfloat16()
    with pytest.raises((NotImplementedError, RuntimeError), match='BFloat16'):
        RoIAlign(2, 1.0, 2)(feats, rois)
    with pytest.raises(TypeError, match='BFloat16'):
        qbox2rbox(torch.tensor([[0., 0., 4., 0., 4., 2., 0., 2.]]).bfloat16())
