"""Our CPU deformable convolution (``cfinet_rotated.models.deform_conv``) against mmcv's ``DeformConv2d``:
forward and gradients on random inputs with offsets that reach outside the map, zero offsets against a plain
convolution, chunked against unchunked, the memory plan, the state dict, and CRPN's use of it (with the switch back
to mmcv's kernel)."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import DeformConv2d as MMCVDeformConv2d
from mmrotate.registry import MODELS

from cfinet_rotated.models import deform_conv as dc
from cfinet_rotated.models.deform_conv import DeformConv2d, deform_conv2d_torch

# (batch, in, out, H, W, kernel, stride, padding, dilation, groups, deform_groups): CRPN stage 2 (3x3, padding 1),
# a CRPN-stage-1-like dilated one, an odd stride with deformable groups, grouped convolution, and a map of one row
# (smaller than the kernel: mmcv pads it, ours needs no special case)
CASES = [(2, 6, 5, 37, 53, 3, 1, 1, 1, 1, 1),
         (2, 4, 3, 23, 19, 3, 1, 3, 3, 1, 1),
         (2, 6, 4, 17, 14, 3, 2, 2, 1, 1, 3),
         (1, 4, 6, 9, 11, 3, 1, 1, 2, 2, 2),
         (2, 3, 2, 1, 6, 3, 1, 1, 1, 1, 1)]


def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def make(case, seed=0, spread=4.0):
    """Input, offsets (random, of a few px: many taps land outside the map), a weight, and mmcv's module."""
    n, c, o, h, w, k, s, p, d, g, dg = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen)
    offset = torch.randn(n, dg * 2 * k * k, out_size(h, k, s, p, d), out_size(w, k, s, p, d), generator=gen) * spread
    ref = MMCVDeformConv2d(c, o, k, stride=s, padding=p, dilation=d, groups=g, deform_groups=dg)
    with torch.no_grad():
        ref.weight.copy_(torch.randn(ref.weight.shape, generator=gen))
    return x, offset, ref


def fraction_outside(case, offset):
    """Fraction of the sampling points of ``offset`` that lie outside (-1, H) x (-1, W): they must be exercised."""
    n, c, o, h, w, k, s, p, d, g, dg = case
    off = offset.view(n, dg, k, k, 2, *offset.shape[2:])
    ys = (torch.arange(offset.shape[2]) * s - p)[:, None] + (torch.arange(k) * d)[:, None, None, None]
    xs = (torch.arange(offset.shape[3]) * s - p)[None, :] + (torch.arange(k) * d)[None, :, None, None]
    y, x = off[:, :, :, :, 0] + ys, off[:, :, :, :, 1] + xs
    return ((y <= -1) | (y >= h) | (x <= -1) | (x >= w)).float().mean().item()


@pytest.mark.parametrize('case', CASES)
def test_forward_matches_mmcv(case):
    x, offset, ref = make(case)
    assert fraction_outside(case, offset) > 0.1
    ours = DeformConv2d.like(ref)
    assert ours.uses_torch_path(x)
    expected, got = ref(x, offset), ours(x, offset)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()


@pytest.mark.parametrize('case', CASES[:3])
def test_gradients_match_mmcv(case):
    x, offset, ref = make(case, seed=1)
    ours = DeformConv2d.like(ref)
    grads = []
    for module in (ref, ours):
        xi, oi = x.clone().requires_grad_(True), offset.clone().requires_grad_(True)
        module.zero_grad()
        out = module(xi, oi)
        out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))  # a non-uniform upstream gradient
        grads.append((xi.grad, oi.grad, module.weight.grad))
    for name, expected, got in zip(('input', 'offset', 'weight'), *grads):
        assert expected.abs().max() > 0, name
        assert (got - expected).abs().max() <= 1e-4 * expected.abs().max(), name


@pytest.mark.parametrize('case', [CASES[0], CASES[1], CASES[2]])
def test_zero_offsets_equal_plain_conv(case):
    n, c, o, h, w, k, s, p, d, g, dg = case
    x, offset, ref = make(case)
    ours = DeformConv2d.like(ref)
    expected = F.conv2d(x, ref.weight, stride=s, padding=p, dilation=d, groups=g)
    got = ours(x, torch.zeros_like(offset))
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_gradcheck_in_double_precision():
    """Our backward (columns recomputed chunk by chunk, grid gradients chained through the normalisation) against
    finite differences, with stride, dilation, groups and deformable groups, one output row at a time."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 6, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    offset = (torch.randn(1, 2 * 2 * 9, 3, 4, generator=gen, dtype=torch.float64) * 2).requires_grad_(True)
    weight = torch.randn(2, 2, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    for mb in (256, 1e-6):
        assert torch.autograd.gradcheck(
            lambda a, b, c: deform_conv2d_torch(a, b, c, 2, 2, 2, 2, 2, max_chunk_mb=mb), (x, offset, weight),
            fast_mode=True)


def test_chunked_equals_unchunked(monkeypatch):
    case = CASES[2]  # deformable groups and stride: chunks must respect the group boundaries
    x, offset, ref = make(case, seed=2)
    calls = []
    grid_sample = F.grid_sample
    monkeypatch.setattr(F, 'grid_sample', lambda inp, *a, **k: calls.append(inp.shape) or grid_sample(inp, *a, **k))
    results = []
    n, c, o, h, w, k, s, p, d, g, dg = case
    out_h, out_w = out_size(h, k, s, p, d), out_size(w, k, s, p, d)
    plans = [dc._plan(c, o, h, w, out_h, out_w, k * k, 4, mb * dc._MB) for mb in (256, 0.02, 1e-6)]
    assert plans == [(c, out_h), (1, out_h), (1, 1)]
    for mb in (256, 0.02, 1e-6):  # one chunk per deformable group, columns kept for backward; one channel with all
        # its rows; one channel of one output row at a time
        ours = DeformConv2d.like(ref, max_chunk_mb=mb)
        xi, oi = x.clone().requires_grad_(True), offset.clone().requires_grad_(True)
        calls.clear()
        out = ours(xi, oi)
        out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))
        results.append((len(calls), out.detach(), xi.grad, oi.grad, ours.weight.grad))
    # grid_sample calls: the forward pass's, and the backward pass's unless the columns of the whole call fit in
    # the limit (then the forward pass keeps them)
    assert [r[0] for r in results] == [n * dg, 2 * n * c, 2 * n * c * out_h]
    for other in results[1:]:
        for a, b in zip(results[0][1:], other[1:]):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())


@pytest.mark.parametrize('shape', [(256, 256, 300, 300), (32, 32, 200, 200), (6, 5, 37, 53), (256, 256, 2000, 2000)])
def test_memory_plan_stays_under_the_limit(shape):
    c, o, h, w = shape
    limit = 256 * dc._MB
    cc, rr = dc._plan(c, o, h, w, h, w, 9, 4, limit)
    assert 1 <= cc <= c and 1 <= rr <= h
    per_channel = (2 + 1 / 8) * 9 * rr * w + h * w
    assert 4 * (cc * per_channel + (4 * 9 + (o if rr < h else 0)) * rr * w) <= limit
    if shape[0] == 256 and h == 300:  # the 1200 px image at P2: chunks of whole sub-batches, all rows
        assert rr == h and cc < c and cc % dc.SUB_BATCH_CHANNELS == 0
    if h == 2000:  # one channel no longer fits with every row: rows are chunked
        assert cc == 1 and rr < h


def test_state_dict_and_repr_as_mmcv():
    ref = MMCVDeformConv2d(8, 4, 3, padding=1)
    ours = DeformConv2d(8, 4, 3, padding=1)
    assert list(ours.state_dict()) == list(ref.state_dict()) == ['weight']
    ours.load_state_dict(ref.state_dict())  # strict: checkpoints move between the two unchanged
    assert torch.equal(ours.weight, ref.weight)
    assert 'impl' in repr(ours) and isinstance(ours, MMCVDeformConv2d)
    assert MODELS.build(dict(type='DeformConv2d', in_channels=2, out_channels=2, kernel_size=3)).impl == 'auto'


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='impl'):
        DeformConv2d(2, 2, 3, impl='cuda')
    with pytest.raises(ValueError, match='max_chunk_mb'):
        DeformConv2d(2, 2, 3, max_chunk_mb=0)
    conv = DeformConv2d(2, 2, 3, padding=1)
    with pytest.raises(ValueError, match=r'offset has shape \(1, 9, 5, 5\), expected \(1, 18, 5, 5\)'):
        conv(torch.zeros(1, 2, 5, 5), torch.zeros(1, 9, 5, 5))
    with pytest.raises(ValueError, match='too small'):
        deform_conv2d_torch(torch.zeros(1, 2, 2, 2), torch.zeros(1, 18, 1, 1), conv.weight)


def test_crpn_uses_the_torch_path_on_cpu_and_the_switch_restores_mmcv(monkeypatch):
    from test_crpn_head import crpn_cfg, features  # the toy CRPN of the head tests

    calls = []
    original = dc.deform_conv2d_torch
    monkeypatch.setattr(dc, 'deform_conv2d_torch', lambda *a, **k: calls.append(1) or original(*a, **k))
    feats = features(size=64, batch=2)
    metas = [dict(pad_shape=(64, 64), img_shape=(64, 64))] * 2
    outputs, state = {}, None
    for impl in ('auto', 'mmcv'):
        torch.manual_seed(0)
        cfg = crpn_cfg()
        cfg.deform_conv_impl = impl  # the head's switch, handed to its stages
        head = MODELS.build(cfg)
        conv = head.stages[1].rpn_conv.conv
        assert isinstance(conv, DeformConv2d) and conv.impl == impl
        assert isinstance(head.stages[0].rpn_conv.conv, torch.nn.Conv2d)  # stage 1: a dilated plain conv
        if state is None:  # stage-1 boxes far from the anchors: fractional offsets of up to ~1.4 px
            torch.nn.init.normal_(head.stages[0].rpn_reg.weight, std=1.0)
            state = head.state_dict()
        head.load_state_dict(state)  # one checkpoint for both kernels
        calls.clear()
        anchors, _ = head.stages[0].get_anchors([f.shape[-2:] for f in feats], metas, device='cpu')
        x, _, bbox_pred = head.stages[0](feats)
        refined = head.stages[0].refine_bboxes(anchors, bbox_pred, metas)
        offsets = head.stages[1].anchor_offset(refined, head.stages[1].anchor_strides, [f.shape[-2:] for f in x])
        assert max(o.abs().max() for o in offsets) > 1 and (offsets[0].frac() != 0).float().mean() > 0.5
        outputs[impl] = head.stages[1](x, offsets)
        assert len(calls) == (len(feats) if impl == 'auto' else 0)  # one call per FPN level on the torch path
    for a, b in zip(outputs['auto'][1] + outputs['auto'][2], outputs['mmcv'][1] + outputs['mmcv'][2]):
        assert (a - b).abs().max() <= 1e-4 * b.abs().max()


def test_config_switch_reaches_the_stage():
    from mmengine.config import Config

    cfg = Config.fromfile('configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py')
    cfg.model.rpn_head.stages[1].deform_conv_max_mb = 64
    for impl in ('auto', 'mmcv'):
        cfg.model.rpn_head.deform_conv_impl = impl  # what --cfg-options model.rpn_head.deform_conv_impl=... sets
        conv = MODELS.build(cfg.model).rpn_head.stages[1].rpn_conv.conv
        assert (conv.impl, conv.max_chunk_mb) == (impl, 64)


def test_head_switch_rejects_unknown_kernels():
    from test_crpn_head import crpn_cfg

    cfg = crpn_cfg()
    cfg.deform_conv_impl = 'cuda'
    with pytest.raises(ValueError, match="deform_conv_impl must be one of \\('auto', 'mmcv'\\)"):
        MODELS.build(cfg)


def test_benchmark_tool_last_line(capsys):
    from conftest import load_tool

    load_tool('tools/analysis_tools/benchmark_deform_conv.py').main(
        ['--cases', '8x12', '16x10', '--repeats', '1', '--no-p2'])
    out = capsys.readouterr().out.strip().splitlines()
    assert [row.split()[1] for row in out[2:8]] == ['mmcv', 'torchvision', 'ours'] * 2
    keys = [kv.split('=')[0] for kv in out[-1].split()]
    assert keys == ['fwd_speedup', 'fwdbwd_speedup', 'max_abs_diff', 'peak_extra_mb']
    assert float(out[-1].split()[2].split('=')[1]) < 1e-4  # ours against mmcv, 16 channels
