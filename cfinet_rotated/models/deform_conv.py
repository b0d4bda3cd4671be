"""A deformable convolution whose CPU path is built from PyTorch's vectorised ops.

mmcv 2.1.0's CPU ``DeformConv2d`` is a single-threaded im2col loop, 50-150x slower than a dense convolution of
the same size (its backward most of all), which made CRPN's stage-2 adaptive convolution the whole CPU cost of
CFINet. :class:`DeformConv2d` keeps mmcv's parameters (same ``state_dict``, so checkpoints move between CPU
and GPU unchanged) and mmcv's kernel for CUDA tensors; for CPU tensors it computes the same function as

    bilinear sampling of the kernel_h x kernel_w shifted sampling grids (``grid_sample``, zeros outside)
    followed by one matrix product with the (out, in/groups * kernel_h * kernel_w) weight,

processed in chunks of input channels (and, for very large maps, of output rows) so that one call's extra
memory stays under ``max_chunk_mb``. The backward pass samples the columns again chunk by chunk (as mmcv's kernel
does), so training memory is bounded the same way; only when the columns of the whole call and the backward
pass's working memory fit in the limit together does the forward pass keep them for the backward pass (about a
fifth less time for forward + backward).

Conventions, as mmcv's kernel (``mmcv/ops/csrc/pytorch/cpu/deform_conv.cpp``): offset channel
``g * 2K + 2k`` is the y (row) offset and ``g * 2K + 2k + 1`` the x (column) offset of kernel tap ``k``
(row-major over the kernel) in deformable group ``g``; output pixel (ho, wo) samples input position
``(ho * stride_h - pad_h + i * dilation_h + dy, wo * stride_w - pad_w + j * dilation_w + dx)`` by bilinear
interpolation, with pixels outside the map counting as zero (so a point with -1 < y < H, -1 < x < W gets a
partial value and any other point 0). ``grid_sample(mode='bilinear', padding_mode='zeros')`` is exactly that once
pixel coordinates are normalised for ``align_corners=False`` (``g = (2x + 1) / W - 1``, valid for any size,
also W = 1). Pinned against mmcv numerically by ``tests/test_deform_conv.py``.
"""
from typing import Tuple

import torch
from mmcv.ops import DeformConv2d as MMCVDeformConv2d
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable
from torch.nn.modules.utils import _pair

from ..registry import register_module

__all__ = ['DeformConv2d', 'deform_conv2d_torch', 'DEFORM_CONV_IMPLS']

DEFORM_CONV_IMPLS = ('auto', 'mmcv')
_MB = 1024 * 1024
SUB_BATCH_CHANNELS = 16


def _cost(cc: int, rr: int, out_channels: int, height: int, width: int, out_h: int, out_w: int, taps: int,
          elem: int) -> float:
    """Working memory (bytes) of a chunk of ``cc`` channels and ``rr`` output rows of one image. The backward pass,
    the larger of the two, holds per channel the sampled columns and their gradient (2 K rows out_w values), the
    grid gradients of its sub-batches (K rows out_w / 8) and an input-gradient plane (H W); per chunk, the sampling
    grid and the sum of its gradients (4 K rows out_w) and, when the rows are split, possibly a contiguous copy of
    the block of output rows (out_channels rows out_w)."""
    per_channel = (2 + 1 / 8) * taps * rr * out_w + height * width
    return elem * (cc * per_channel + (4 * taps + (out_channels if rr < out_h else 0)) * rr * out_w)


def _plan(channels: int, out_channels: int, height: int, width: int, out_h: int, out_w: int, taps: int, elem: int,
          max_bytes: int) -> Tuple[int, int]:
    """(channels per chunk, output rows per chunk) for one image so that the working memory of one chunk
    (:func:`_cost`) stays under ``max_bytes``; at least one channel and one row are processed at a time."""
    def cost(cc, rr):
        return _cost(cc, rr, out_channels, height, width, out_h, out_w, taps, elem)

    if cost(1, out_h) <= max_bytes:
        cc = int(min(channels, (max_bytes - cost(0, out_h)) // (cost(1, out_h) - cost(0, out_h))))
        return (cc // SUB_BATCH_CHANNELS * SUB_BATCH_CHANNELS or cc), out_h  # whole sub-batches where possible
    return 1, int(max(1, min(out_h - 1, (max_bytes - cost(1, 0)) // (cost(1, 1) - cost(1, 0)))))


def _segments(channels: int, groups: int, deform_groups: int, chunk: int):
    """Channel ranges [c0, c1) of at most ``chunk`` channels that never cross a conv-group or a deformable-group
    boundary, as (c0, c1, conv group, deformable group)."""
    per_group, per_dgroup = channels // groups, channels // deform_groups
    bounds = sorted(set(range(0, channels + 1, per_group)) | set(range(0, channels + 1, per_dgroup)))
    for a, b in zip(bounds[:-1], bounds[1:]):
        for c0 in range(a, b, chunk):
            yield c0, min(b, c0 + chunk), c0 // per_group, c0 // per_dgroup


def _fold(cc: int) -> int:
    """Sub-batches a chunk of ``cc`` channels of one image is folded into for ``grid_sample`` (a free view): at
    most ``SUB_BATCH_CHANNELS`` channels each. ``grid_sample`` parallelises over the batch only, and on CPU its
    forward and (4-5x) backward run faster on a few channels at a time than on hundreds (measured, 256 channels
    at 100x100, one thread: backward 1.1 s unfolded, 0.2 s in sub-batches of 16)."""
    return next(d for d in range(1, cc + 1) if cc % d == 0 and cc // d <= SUB_BATCH_CHANNELS)


class _Geometry:
    """Sizes of one call and the sampling grids of a block of output rows of one image and deformable group."""

    def __init__(self, x: Tensor, offset: Tensor, weight: Tensor, stride, padding, dilation, groups, deform_groups):
        self.n, self.c, self.h, self.w = x.shape
        self.o, cg, self.kh, self.kw = weight.shape
        self.k = self.kh * self.kw
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups, self.deform_groups = groups, deform_groups
        self.out_h = (self.h + 2 * self.padding[0] - self.dilation[0] * (self.kh - 1) - 1) // self.stride[0] + 1
        self.out_w = (self.w + 2 * self.padding[1] - self.dilation[1] * (self.kw - 1) - 1) // self.stride[1] + 1
        if self.out_h <= 0 or self.out_w <= 0:
            raise ValueError(f'DeformConv2d: input {self.h}x{self.w} is too small for kernel {self.kh}x{self.kw}, '
                             f'padding {self.padding}, dilation {self.dilation} (output would be '
                             f'{self.out_h}x{self.out_w})')
        if self.c % groups or self.o % groups or cg * groups != self.c:
            raise ValueError(f'DeformConv2d: {self.c} input / {self.o} output channels and weight {tuple(weight.shape)}'
                             f' do not fit groups={groups}')
        if self.c % deform_groups:
            raise ValueError(f'DeformConv2d: {self.c} input channels are not divisible by deform_groups='
                             f'{deform_groups}')
        expected = (self.n, deform_groups * 2 * self.k, self.out_h, self.out_w)
        if tuple(offset.shape) != expected:
            raise ValueError(f'DeformConv2d: offset has shape {tuple(offset.shape)}, expected {expected} '
                             '(batch, deform_groups * 2 * kernel_h * kernel_w, out_h, out_w)')

    def grid(self, offset: Tensor, n: int, g: int, r0: int, r1: int) -> Tensor:
        """(1, K * rows, out_w, 2) normalised (x, y) sampling points of output rows [r0, r1), ordered (tap, row,
        column), for ``grid_sample(align_corners=False)``."""
        off = offset[n, g * 2 * self.k:(g + 1) * 2 * self.k, r0:r1].view(self.kh, self.kw, 2, r1 - r0, self.out_w)
        rows = r1 - r0
        sh, sw = self.stride
        ph, pw = self.padding
        dh, dw = self.dilation
        kwargs = dict(dtype=offset.dtype, device=offset.device)
        # pixel -> normalised coordinate: g = (2 p + 1) / size - 1; base = the undeformed sampling points
        base_y = (torch.arange(self.kh, **kwargs)[:, None, None, None] * dh
                  + torch.arange(r0, r1, **kwargs)[None, None, :, None] * sh - ph)
        base_x = (torch.arange(self.kw, **kwargs)[None, :, None, None] * dw
                  + torch.arange(self.out_w, **kwargs)[None, None, None, :] * sw - pw)
        base_y, base_x = base_y * (2.0 / self.h) + (1.0 / self.h - 1), base_x * (2.0 / self.w) + (1.0 / self.w - 1)
        grid = offset.new_empty(self.kh, self.kw, rows, self.out_w, 2)
        torch.add(base_x, off[:, :, 1], alpha=2.0 / self.w, out=grid[..., 0])
        torch.add(base_y, off[:, :, 0], alpha=2.0 / self.h, out=grid[..., 1])
        return grid.view(1, self.k * rows, self.out_w, 2)

    def keeps_columns(self, max_bytes: int, elem: int) -> bool:
        """Whether the columns of the whole call, kept from forward to backward, and the working memory of the
        backward pass fit in ``max_bytes`` together (then the backward pass need not sample them again)."""
        return self.n * _cost(self.c, self.out_h, self.o, self.h, self.w, self.out_h, self.out_w, self.k,
                              elem) <= max_bytes

    def blocks(self, max_bytes: int, elem: int):
        """(image, r0, r1, deformable group, [(c0, c1, conv group, fold)]) work items."""
        cc, rr = _plan(self.c, self.o, self.h, self.w, self.out_h, self.out_w, self.k, elem, max_bytes)
        segments = list(_segments(self.c, self.groups, self.deform_groups, cc))
        for n in range(self.n):
            for r0 in range(0, self.out_h, rr):
                r1 = min(self.out_h, r0 + rr)
                for g in range(self.deform_groups):
                    yield n, r0, r1, g, [(c0, c1, gi, _fold(c1 - c0)) for c0, c1, gi, dg in segments if dg == g]


def _folded(x: Tensor, n: int, c0: int, c1: int, fold: int) -> Tensor:
    """Channels [c0, c1) of image n as ``fold`` sub-batches (a view)."""
    return x[n, c0:c1].view(fold, (c1 - c0) // fold, x.shape[2], x.shape[3])


def _sample(x: Tensor, grid: Tensor, n: int, c0: int, c1: int, fold: int) -> Tensor:
    """Sampled values (fold, cc / fold, K * rows, out_w) of channels [c0, c1) of image n: the columns, in the
    order of the weight's (channel, tap) axis."""
    return torch.nn.functional.grid_sample(_folded(x, n, c0, c1, fold), grid.expand(fold, -1, -1, -1),
                                           mode='bilinear', padding_mode='zeros', align_corners=False)


class _DeformConv2dTorch(Function):
    """Deformable convolution from ``grid_sample`` and matrix products. The backward pass samples the columns
    again, chunk by chunk, unless those of the whole call fit in the memory limit with its working memory
    (:meth:`_Geometry.keeps_columns`; e.g. CRPN's tiny models), in which case the forward pass keeps them."""

    @staticmethod
    def forward(ctx, x, offset, weight, stride, padding, dilation, groups, deform_groups, max_bytes):
        x, offset, weight = x.contiguous(), offset.contiguous(), weight.contiguous()
        geo = _Geometry(x, offset, weight, stride, padding, dilation, groups, deform_groups)
        out = x.new_zeros(geo.n, geo.o, geo.out_h, geo.out_w)
        og, cg = geo.o // groups, geo.c // groups
        wmat = weight.view(geo.o, cg * geo.k)
        kept = {} if any(ctx.needs_input_grad[:3]) and geo.keeps_columns(max_bytes, x.element_size()) else None
        for n, r0, r1, g, chunks in geo.blocks(max_bytes, x.element_size()):
            grid = geo.grid(offset, n, g, r0, r1)
            for c0, c1, gi, fold in chunks:
                cols = _sample(x, grid, n, c0, c1, fold)
                if kept is not None:
                    kept[n, r0, c0] = cols
                cols = cols.view((c1 - c0) * geo.k, -1)
                lc0, lc1 = c0 - gi * cg, c1 - gi * cg
                dst = out[n, gi * og:(gi + 1) * og, r0:r1].view(og, -1)
                dst.addmm_(wmat[gi * og:(gi + 1) * og, lc0 * geo.k:lc1 * geo.k], cols)
        ctx.geo_args = (stride, padding, dilation, groups, deform_groups, max_bytes)
        ctx.kept_columns = kept
        ctx.save_for_backward(x, offset, weight)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, offset, weight = ctx.saved_tensors
        stride, padding, dilation, groups, deform_groups, max_bytes = ctx.geo_args
        need_x, need_offset, need_weight = ctx.needs_input_grad[:3]
        geo = _Geometry(x, offset, weight, stride, padding, dilation, groups, deform_groups)
        kept, ctx.kept_columns = ctx.kept_columns, None
        grad_out = grad_out.contiguous()
        og, cg = geo.o // groups, geo.c // groups
        wmat = weight.view(geo.o, cg * geo.k)
        grad_x = torch.zeros_like(x) if need_x else None
        grad_offset = torch.zeros_like(offset) if need_offset else None
        grad_w = torch.zeros_like(wmat) if need_weight else None
        for n, r0, r1, g, chunks in geo.blocks(max_bytes, x.element_size()):
            grid = geo.grid(offset, n, g, r0, r1)
            for c0, c1, gi, fold in chunks:
                lc0, lc1 = c0 - gi * cg, c1 - gi * cg
                gout = grad_out[n, gi * og:(gi + 1) * og, r0:r1].reshape(og, -1)
                cols = _sample(x, grid, n, c0, c1, fold) if kept is None else kept.pop((n, r0, c0))
                cols = cols.view((c1 - c0) * geo.k, -1)
                if need_weight:
                    grad_w[gi * og:(gi + 1) * og, lc0 * geo.k:lc1 * geo.k].addmm_(gout, cols.t())
                if not (need_x or need_offset):
                    continue
                del cols
                gcols = wmat[gi * og:(gi + 1) * og, lc0 * geo.k:lc1 * geo.k].t().mm(gout)
                gcols = gcols.view(fold, (c1 - c0) // fold, geo.k * (r1 - r0), geo.out_w)
                gx, ggrid = torch.ops.aten.grid_sampler_2d_backward(
                    gcols, _folded(x, n, c0, c1, fold), grid.expand(fold, -1, -1, -1), 0, 0, False,
                    [need_x, need_offset])
                if need_x:
                    grad_x[n, c0:c1] += gx.view(c1 - c0, geo.h, geo.w)
                if need_offset:  # chain rule through the normalisation: d g / d p = 2 / size
                    ggrid = (ggrid.sum(0) if fold > 1 else ggrid[0]).view(geo.kh, geo.kw, r1 - r0, geo.out_w, 2)
                    dst = grad_offset[n, g * 2 * geo.k:(g + 1) * 2 * geo.k, r0:r1].view(
                        geo.kh, geo.kw, 2, r1 - r0, geo.out_w)
                    dst[:, :, 0].add_(ggrid[..., 1], alpha=2.0 / geo.h)
                    dst[:, :, 1].add_(ggrid[..., 0], alpha=2.0 / geo.w)
        return (grad_x, grad_offset, grad_w.view_as(weight) if need_weight else None,
                None, None, None, None, None, None)


def deform_conv2d_torch(x: Tensor, offset: Tensor, weight: Tensor, stride=1, padding=0, dilation=1, groups: int = 1,
                        deform_groups: int = 1, max_chunk_mb: float = 256) -> Tensor:
    """mmcv's ``deform_conv2d`` (no bias) computed with ``grid_sample`` and matrix products, on any device;
    extra memory per call (forward or backward) bounded by about ``max_chunk_mb`` (at least one channel of one
    output row is processed at a time)."""
    x = x.type_as(offset)  # as mmcv: under amp the offset's dtype decides
    return _DeformConv2dTorch.apply(x, offset, weight.type_as(x), stride, padding, dilation, groups, deform_groups,
                                    int(max_chunk_mb * _MB))


@register_module('MODELS')
class DeformConv2d(MMCVDeformConv2d):
    """mmcv's ``DeformConv2d`` (same arguments, parameters and ``state_dict``) with a fast CPU path.

    Args:
        impl (str): ``'auto'``: CPU tensors go through :func:`deform_conv2d_torch`, others through mmcv's
            kernel; ``'mmcv'``: mmcv's kernel for every device.
        max_chunk_mb (float): bound on the extra memory of one CPU call, forward or backward (256 MB: a
            1200 px image at P2, 256 channels, needs about 830 MB of columns per image unchunked).
        Other arguments as ``mmcv.ops.DeformConv2d``.
    """

    def __init__(self, *args, impl: str = 'auto', max_chunk_mb: float = 256, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if impl not in DEFORM_CONV_IMPLS:
            raise ValueError(f'DeformConv2d: impl must be one of {DEFORM_CONV_IMPLS}, got {impl!r}')
        if not max_chunk_mb > 0:
            raise ValueError(f'DeformConv2d: max_chunk_mb must be positive, got {max_chunk_mb!r}')
        self.impl, self.max_chunk_mb = impl, max_chunk_mb

    @classmethod
    def like(cls, conv: MMCVDeformConv2d, **kwargs) -> 'DeformConv2d':
        """One with the hyper-parameters and weight of mmcv's ``conv`` (``kwargs``: ``impl``, ``max_chunk_mb``)."""
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                  dilation=conv.dilation, groups=conv.groups, deform_groups=conv.deform_groups,
                  im2col_step=conv.im2col_step, **kwargs)
        new.load_state_dict(conv.state_dict())
        return new.to(conv.weight.device)

    def uses_torch_path(self, x: Tensor) -> bool:
        """Whether a call on ``x`` runs :func:`deform_conv2d_torch` (else mmcv's kernel)."""
        return self.impl == 'auto' and x.device.type == 'cpu'

    def forward(self, x: Tensor, offset: Tensor) -> Tensor:
        if not self.uses_torch_path(x):
            return super().forward(x, offset)
        return deform_conv2d_torch(x, offset, self.weight, self.stride, self.padding, self.dilation, self.groups,
                                   self.deform_groups, self.max_chunk_mb)

    def __repr__(self):
        return super().__repr__()[:-1] + f',\nimpl={self.impl!r}, max_chunk_mb={self.max_chunk_mb})'
