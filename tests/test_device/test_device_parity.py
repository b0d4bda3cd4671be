"""The models, the rotated ops we rely on and sliced inference on every device torch sees (issue 24, part 1).

Each test takes the ``device`` fixture (tests/conftest.py): it runs on the CPU everywhere and again on CUDA where a GPU
is visible (marked ``cuda``, skipped otherwise; ``tools/device_check.sh`` runs ``pytest -m cuda`` on a GPU machine).
The ``cuda_parity`` tests compare CUDA results with the CPU's on the same inputs and weights: mmcv's CUDA kernels
(``box_iou_rotated``, ``nms_rotated``, ``RoIAlignRotated``, ``DeformConv2d``) against its CPU ones, and our PyTorch
deformable convolution (``cfinet_rotated/models/deform_conv.py``, CRPN's CPU path) against mmcv's CUDA
``DeformConv2d``, forward and gradients. They need a GPU, so here (no GPU) they are skipped, not passed.
"""
import sys

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import cfinet_rotated  # noqa: F401
from cfinet_rotated.utils import apply_amp

from conftest import CUDA_ONLY, ROOT, load_tool

# one tiny model of each family: the baseline, CRPN + FI (CFINet) of both rotated pipelines, the reconstruction
# model, CFINet on the horizontal SODA-D path
CONFIGS = ['configs/baselines/rotated-faster-rcnn_tiny_sample.py',
           'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py',
           'configs/cfinet/oriented-rcnn_cfinet_tiny_sample.py',
           'configs/reconstruction/rotated-faster-rcnn_recon_tiny_sample.py',
           'configs/sodad/faster-rcnn_cfinet_tiny_sample.py']


def build(path, device, amp=False):
    from mmrotate.registry import MODELS
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    cfg.model.test_cfg.rpn.max_per_img = 200  # a random detector's NMS over thousands of boxes is slow on CPU
    init_default_scope(cfg.get('default_scope', 'mmrotate'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    if amp:
        apply_amp(cfg)
    return cfg, model, build_optim_wrapper(model, cfg.optim_wrapper)


def batch(path):
    # 256 px synthetic images, 8 objects of 6..34 px (small RoIs for FI and G, larger ones for the LR/HR pairs)
    speed = load_tool('tools/analysis_tools/benchmark_speed.py')
    return speed.synthetic_batch(1, 256, 8, horizontal='sodad' in path)


@pytest.mark.parametrize('path', CONFIGS)
def test_train_and_test_step_on_the_device(path, device):
    cfg, model, optim = build(path, device)
    assert {p.device.type for p in model.parameters()} == {device}
    model.train()
    log = model.train_step(batch(path), optim)
    assert log and all(torch.isfinite(v).all() for v in log.values()), log
    model.eval()
    with torch.no_grad():
        (pred, ) = model.test_step(batch(path))
    boxes = get_box_tensor(pred.pred_instances.bboxes)
    assert boxes.device.type == device and len(boxes) == len(pred.pred_instances.scores)
    assert boxes.shape[-1] == (4 if 'sodad' in path else 5) and torch.isfinite(boxes).all()


@CUDA_ONLY
@pytest.mark.parametrize('path', CONFIGS[1:3])
def test_amp_training_step_on_cuda(path):
    """tools/train.py --amp: MMEngine's AmpOptimWrapper (float16 autocast, loss scaling) with our heads."""
    _, model, optim = build(path, 'cuda', amp=True)
    assert type(optim).__name__ == 'AmpOptimWrapper'
    model.train()
    for _ in range(2):
        log = model.train_step(batch(path), optim)
    assert all(torch.isfinite(v).all() for v in log.values()), log


def test_sliced_inference_on_the_device(device):
    from cfinet_rotated.apis import detect_large_image, init_detector
    model = init_detector('configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py', None, device=device,
                          cfg_options={'model.test_cfg.rpn.max_per_img': 100})
    assert next(model.parameters()).device.type == device
    image = np.random.default_rng(0).integers(0, 255, (500, 700, 3), dtype=np.uint8)
    result = detect_large_image(model, image, patch=400, overlap=100, batch_size=2)
    assert result.metainfo['num_windows'] == 4  # 2 x 2 windows of 400 px with 100 px overlap
    assert result.pred_instances.bboxes.shape[-1] == 5


# ---- CUDA against CPU: the same inputs and weights ---------------------------------------------------------------

def _rboxes(n, seed, size=100.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * 20 + 2
    return torch.cat([xy, wh, (torch.rand(n, 1, generator=g) - 0.5) * 3.1], 1)


@CUDA_ONLY
def test_rotated_ops_on_cuda_match_the_cpu():
    from mmcv.ops import RoIAlignRotated, box_iou_rotated, nms_rotated
    a, b = _rboxes(50, 0), _rboxes(40, 1)
    iou = box_iou_rotated(a, b)
    assert torch.allclose(box_iou_rotated(a.cuda(), b.cuda()).cpu(), iou, atol=1e-4)
    assert iou.max() > 0.1  # overlapping pairs are exercised
    scores = torch.rand(50, generator=torch.Generator().manual_seed(2))
    keep_cpu = nms_rotated(a, scores, 0.1)[1]
    keep_gpu = nms_rotated(a.cuda(), scores.cuda(), 0.1)[1].cpu()
    assert torch.equal(keep_cpu.sort()[0], keep_gpu.sort()[0]) and 0 < len(keep_cpu) < 50
    feats = torch.rand(2, 8, 32, 32, generator=torch.Generator().manual_seed(3))
    rois = torch.cat([torch.tensor([[0.]] * 10 + [[1.]] * 10), _rboxes(20, 4, size=120.0)], 1)
    align = RoIAlignRotated(7, spatial_scale=0.25, sampling_ratio=2, clockwise=True)
    assert torch.allclose(align(feats.cuda(), rois.cuda()).cpu(), align(feats, rois), atol=1e-5)


@CUDA_ONLY
def test_deform_conv_cuda_matches_ours_and_mmcv_cpu():
    """CRPN's stage-2 convolution: mmcv's CUDA kernel == our PyTorch formulation (on the CPU and on CUDA tensors) ==
    mmcv's CPU kernel, output and gradients of input, offset and weight."""
    sys.path.insert(0, str(ROOT / 'tests/test_models'))
    from test_deform_conv import CASES, make

    from cfinet_rotated.models.deform_conv import deform_conv2d_torch
    for case in CASES:
        x, offset, ref = make(case)

        def run(fn, device):
            """fn(x, offset, w) -> (output, the weight leaf that gets the gradient)"""
            xs, off = x.to(device).requires_grad_(True), offset.to(device).requires_grad_(True)
            out, w = fn(xs, off, ref.weight.detach().to(device))
            out.backward(torch.ones_like(out))
            return [t.detach().cpu() for t in (out, xs.grad, off.grad, w.grad)]

        def mmcv_fn(xs, off, w):
            m = type(ref)(ref.in_channels, ref.out_channels, ref.kernel_size, ref.stride, ref.padding, ref.dilation,
                          ref.groups, ref.deform_groups).to(xs.device)
            m.weight = torch.nn.Parameter(w)
            return m(xs, off), m.weight

        def ours(xs, off, w):
            w = w.requires_grad_(True)
            return deform_conv2d_torch(xs, off, w, ref.stride, ref.padding, ref.dilation, ref.groups,
                                       ref.deform_groups), w

        cuda_mmcv, cuda_ours, cpu_ours = run(mmcv_fn, 'cuda'), run(ours, 'cuda'), run(ours, 'cpu')
        for name, got_a, got_b, want in zip(('out', 'd x', 'd offset', 'd weight'), cuda_ours, cpu_ours, cuda_mmcv):
            scale = want.abs().max().clamp(min=1.0)
            assert (got_a - want).abs().max() <= 1e-3 * scale, (case, name)
            assert (got_b - want).abs().max() <= 1e-3 * scale, (case, name)
