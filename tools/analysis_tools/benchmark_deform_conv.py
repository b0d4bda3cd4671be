"""Micro-benchmark of one 3x3 deformable convolution on CPU: mmcv's kernel, torchvision's, and ours.

    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_deform_conv.py
    python tools/analysis_tools/benchmark_deform_conv.py --repeats 1 --cases 32x64 --no-p2      # a quick check

For each case (channels x square map size; in = out channels, batch 1, padding 1, as CRPN's stage-2 adaptive
convolution) it times the forward pass and forward + backward (gradients for the input, the offsets and the weight)
of mmcv's ``DeformConv2d`` (its CPU kernel), ``torchvision.ops.deform_conv2d`` and
``cfinet_rotated.models.deform_conv.DeformConv2d`` (grid_sample + matrix products, chunked), on random inputs
with random offsets of a few pixels (normal, std ``--offset-std``), and prints medians over ``--repeats`` runs,
the largest output difference from mmcv's, and our peak extra memory. Then the 1200 px input at P2 (256
channels, 300x300) for ours alone under the default memory limit (``--no-p2`` to skip; mmcv would take minutes).

Peak extra memory: the peak resident memory of the process during one call (``VmHWM``, reset before it through
``/proc/self/clear_refs``) minus the resident memory right after it, which holds its results (output, gradients):
the call's working memory. glibc is told to return freed blocks of 1 MB and more to the system at once
(``mallopt``), so that the resident set follows the memory in use; Linux only.

The last line is ``fwd_speedup=<f> fwdbwd_speedup=<f> max_abs_diff=<f> peak_extra_mb=<f>``: mmcv's time over ours
at 256 channels (the ``256x...`` case), our largest absolute output difference from mmcv's there, and the largest
peak extra memory of ours over every case run (the P2 case included).
"""
import argparse
import ctypes
import statistics
import time

import torch
from mmcv.ops.deform_conv import deform_conv2d as mmcv_deform_conv2d
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from cfinet_rotated.models.deform_conv import deform_conv2d_torch

P2_CASE = (256, 300)  # a 1200 px input at stride 4


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, the description as written."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_Formatter)
    p.add_argument('--cases', nargs='+', default=['32x200', '256x100'],
                   help='CHANNELSxSIZE: in = out channels, a SIZE x SIZE map, batch 1')
    p.add_argument('--repeats', type=int, default=3, help='timed runs per measurement (the median is printed)')
    p.add_argument('--offset-std', type=float, default=2.0, help='standard deviation of the random offsets, px')
    p.add_argument('--max-chunk-mb', type=float, default=256, help='memory limit of our implementation')
    p.add_argument('--no-p2', action='store_true', help='skip the 256-channel 300x300 case (1200 px input at P2)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads; None: torch\'s default (OMP_NUM_THREADS)')
    p.add_argument('--seed', type=int, default=0, help='random seed of inputs, offsets and weights')
    return p.parse_args(argv)


def inputs(channels, size, offset_std, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, channels, size, size, generator=g)
    offset = torch.randn(1, 18, size, size, generator=g) * offset_std
    weight = torch.randn(channels, channels, 3, 3, generator=g) * (2.0 / (9 * channels)) ** 0.5
    return x, offset, weight


def run_once(fn, x, offset, weight, backward):
    """One call (forward, or forward + backward w.r.t. input, offsets and weight) -> (output, grads)"""
    if not backward:
        with torch.no_grad():
            return fn(x, offset, weight), None
    x, offset, weight = (t.detach().requires_grad_(True) for t in (x, offset, weight))
    out = fn(x, offset, weight)
    out.backward(torch.ones_like(out))
    return out.detach(), (x.grad, offset.grad, weight.grad)


def timed(fn, args, backward, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_once(fn, *args, backward)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _status_mb(key):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ':')) / 1024


def release_large_blocks():
    """glibc: allocate blocks of 1 MB and more with mmap and give them back to the system when freed (a fixed
    threshold, instead of the adaptive one that keeps freed blocks in the heap), so that the resident set tracks
    the memory in use. Returns False where that cannot be set (then RSS peaks are upper bounds)."""
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    return bool(libc.mallopt(-3, 1 << 20) and libc.mallopt(-1, 1 << 20))  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def peak_extra_mb(fn, x, offset, weight, backward):
    """Peak resident memory during one call above the resident memory when it returns (holding its results):
    the call's working memory, in MB. Linux only (``/proc/self/clear_refs`` resets the peak); else NaN."""
    if backward:
        x, offset, weight = (t.detach().clone().requires_grad_(True) for t in (x, offset, weight))
    grad = None
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return float('nan')
    if backward:
        out = fn(x, offset, weight)
        grad = torch.ones_like(out)
        out.backward(grad)
    else:
        with torch.no_grad():
            out = fn(x, offset, weight)
    peak, now = _status_mb('VmHWM'), _status_mb('VmRSS')
    del out, grad
    return peak - now


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    exact_rss = release_large_blocks()

    def ours(x, offset, weight):
        return deform_conv2d_torch(x, offset, weight, 1, 1, 1, 1, 1, args.max_chunk_mb)

    def mmcv(x, offset, weight):  # what mmcv.ops.DeformConv2d.forward calls
        return mmcv_deform_conv2d(x, offset, weight, 1, 1, 1, 1, 1, False, 32)

    def tv(x, offset, weight):
        return tv_deform_conv2d(x, offset, weight, padding=(1, 1))

    impls = dict(mmcv=mmcv, torchvision=tv, ours=ours)
    print(f'one 3x3 deformable convolution, CPU, {torch.get_num_threads()} threads, float32, batch 1, padding 1, '
          f'offsets ~ N(0, {args.offset_std}^2) px, medians of {args.repeats}; ours: max_chunk_mb={args.max_chunk_mb}')
    print(f'{"case":>10s} {"impl":>12s} {"fwd s":>8s} {"fwd+bwd s":>10s} {"max|diff| vs mmcv":>18s} '
          f'{"peak extra MB fwd / fwd+bwd":>28s}')
    summary, peaks = {}, []
    cases = [tuple(int(v) for v in c.lower().split('x')) for c in args.cases]
    for channels, size in cases + ([] if args.no_p2 else [P2_CASE]):
        data = inputs(channels, size, args.offset_std, args.seed)
        p2 = (channels, size) == P2_CASE and (channels, size) not in cases
        ref = None
        for name, fn in impls.items():
            if p2 and name != 'ours':
                continue
            run_once(fn, *data, False)  # warm-up
            fwd, fwdbwd = timed(fn, data, False, args.repeats), timed(fn, data, True, args.repeats)
            out = run_once(fn, *data, False)[0]
            diff = '' if ref is None else f'{(out - ref).abs().max().item():.2e}'
            ref = out if name == 'mmcv' else ref
            peak = ''
            if name == 'ours':
                pf, pb = peak_extra_mb(fn, *data, False), peak_extra_mb(fn, *data, True)
                peaks += [pf, pb]
                peak = f'{pf:.1f} / {pb:.1f}'
            summary[channels, size, name] = (fwd, fwdbwd, diff)
            label = f'{channels}x{size}' + (' (P2)' if p2 else '')
            print(f'{label:>10s} {name:>12s} {fwd:8.3f} {fwdbwd:10.3f} {diff:>18s} {peak:>28s}', flush=True)
    if not exact_rss:
        print('note: could not set glibc malloc thresholds; the peak memory figures are upper bounds')
    big = [c for c in cases if c[0] == 256] or cases[-1:]
    c = big[0]
    m, o = summary[(*c, 'mmcv')], summary[(*c, 'ours')]
    print(f'fwd_speedup={m[0] / o[0]:.3f} fwdbwd_speedup={m[1] / o[1]:.3f} max_abs_diff={float(o[2]):.6f} '
          f'peak_extra_mb={max(peaks):.1f}')


if __name__ == '__main__':
    main()
