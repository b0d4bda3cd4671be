"""Full-image inference speed (s per megapixel) of the tiny baseline and tiny CFINet, and peak memory on a large image.

    python tools/analysis_tools/benchmark_infer.py                      # 2000 x 2000 timing, 10000 x 10000 memory
    python tools/analysis_tools/benchmark_infer.py --size 1200 --big 3000 --rounds 1     # a quick check
    python tools/analysis_tools/benchmark_infer.py --memory-only --big 20000 --big-format tif   # a 20k GeoTIFF

Both tiny configs (random initialisation, CPU, the thread count of OMP_NUM_THREADS) run
``cfinet_rotated.apis.detect_large_image`` (800 px windows, overlap 150, ``--batch-size``) on a generated
``--size`` x ``--size`` scene (cfinet_rotated.testing's drawing code, saved as JPEG; box head score threshold
``--score-thr`` 0.3 for both, as tools/analysis_tools/benchmark_speed.py): the median over
``--rounds`` of the wall time of reading, windowing, all forward passes and the merge, divided by the megapixels.
Then a separate process runs tiny CFINet on a ``--big`` x ``--big`` image (the scene tiled, written as
``--big-format``; JPEG is decoded once, BMP is memory-mapped) and reports its peak resident memory
(``VmHWM``), the whole process: interpreter, torch, model, image and detections. Targets: CFINet at most
1.3x the baseline's time per megapixel, peak memory under 4 GB. Last line:
``s_per_mpix_baseline=<f> s_per_mpix_cfinet=<f> peak_mb_10k=<f>`` (peak_mb_10k is for ``--big``).
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASELINE = 'configs/baselines/rotated-faster-rcnn_tiny_sample.py'
CFINET = 'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'


def parse_args(argv=None):
    from cfinet_rotated.cli import tool_parser
    p = tool_parser(__doc__)
    p.add_argument('--size', type=int, default=2000, help='side of the timing image in px')
    p.add_argument('--big', type=int, default=10000, help='side of the memory image in px; 0 skips it')
    p.add_argument('--big-format', default='jpg', choices=['jpg', 'bmp', 'npy', 'tif'],
                   help='file format of the memory image (jpg: decoded once; bmp, npy: memory-mapped; tif: a tiled, '
                        'DEFLATE-compressed GeoTIFF with a CRS, read window by window with rasterio)')
    p.add_argument('--memory-only', action='store_true', help='skip the timing part, only the --big memory run')
    p.add_argument('--read-only', action='store_true',
                   help='in the --big run only read the windows (no model): the reader\'s own peak memory')
    p.add_argument('--rounds', type=int, default=3, help='timed rounds per model (median)')
    p.add_argument('--batch-size', type=int, default=4, help='windows per forward pass')
    p.add_argument('--score-thr', type=float, default=0.3,
                   help='box head score threshold of both models (as tools/analysis_tools/benchmark_speed.py: a '
                        'random box head scores every class about 1/10, and the configs\' 0.05 would time rotated '
                        'NMS over all proposals x 9 classes instead of the models)')
    p.add_argument('--baseline', default=BASELINE, help='baseline config')
    p.add_argument('--cfinet', default=CFINET, help='CFINet config')
    p.add_argument('--work-dir', default=None,
                   help='folder for the generated images (unset: a temporary folder, removed at the end)')
    p.add_argument('--child', nargs=2, metavar=('CONFIG', 'IMAGE'), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def make_scene(path, size, tile=2000):
    """Write a ``size`` x ``size`` scene: the sample generator's drawing at ``min(size, tile)`` px, tiled."""
    import cv2
    import numpy as np

    from cfinet_rotated.testing import generate_image
    t = min(size, tile)
    _, img, _ = generate_image(7, 0, size=(t, t))
    reps = -(-size // t)
    if path.endswith('.tif'):  # written by rows of tiles: the writer never holds the whole raster either
        import rasterio
        from rasterio.transform import from_origin
        from rasterio.windows import Window
        row = np.tile(img, (1, reps, 1))[:, :size][..., ::-1].transpose(2, 0, 1)  # RGB bands
        with rasterio.open(path, 'w', driver='GTiff', width=size, height=size, count=3, dtype='uint8',
                           crs='EPSG:32633', transform=from_origin(500000.0, 4100000.0, 0.3, 0.3), tiled=True,
                           blockxsize=512, blockysize=512, compress='deflate', BIGTIFF='IF_SAFER') as dst:
            for y in range(0, size, t):
                h = min(t, size - y)
                dst.write(np.ascontiguousarray(row[:, :h]), window=Window(0, y, size, h))
        return path
    big = np.tile(img, (reps, reps, 1))[:size, :size]
    if path.endswith('.npy'):
        np.save(path, np.ascontiguousarray(big))
    elif not cv2.imwrite(path, big):
        raise OSError(f'{path}: cv2.imwrite failed')
    return path


def peak_mb():
    """Peak resident memory of this process in MB: ``VmHWM`` of /proc/self/status (the high-water mark of this
    process's own address space; ``ru_maxrss`` would also carry the parent's peak across fork and exec)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _options(score_thr):
    return dict(model=dict(test_cfg=dict(rcnn=dict(score_thr=score_thr))))


def child(config, image, batch_size, score_thr):
    """Run CFINet on ``image`` in this process (``config`` 'read-only': only read its 800 px windows, overlap 150);
    print a JSON line with the time and peak memory."""
    import torch

    from cfinet_rotated.apis import PatchReader, detect_large_image, init_detector
    torch.set_num_threads(max(1, int(os.environ.get('OMP_NUM_THREADS', '1'))))
    if config == 'read-only':
        before, t0 = peak_mb(), time.time()
        reader = PatchReader(image)
        n = 0
        for y in range(0, reader.height, 650):
            for x in range(0, reader.width, 650):
                reader.read((x, y, x + 800, y + 800))
                n += 1
        print(json.dumps(dict(seconds=time.time() - t0, peak_mb=peak_mb(), peak_mb_before_image=before,
                              mode=reader.mode, windows=n, dets=0)))
        return
    model = init_detector(config, None, device='cpu', cfg_options=_options(score_thr))
    before = peak_mb()
    t0 = time.time()
    reader = PatchReader(image)
    result = detect_large_image(model, reader, batch_size=batch_size)
    seconds = time.time() - t0
    print(json.dumps(dict(seconds=seconds, peak_mb=peak_mb(), peak_mb_before_image=before, mode=reader.mode,
                          windows=int(result.metainfo['num_windows']), dets=len(result.pred_instances))))


def time_model(config, image, rounds, batch_size, score_thr):
    from cfinet_rotated.apis import detect_large_image, init_detector
    model = init_detector(config, None, device='cpu', cfg_options=_options(score_thr))
    detect_large_image(model, image, batch_size=batch_size)  # warm-up (lazy initialisation, allocator)
    times, result = [], None
    for _ in range(rounds):
        t0 = time.time()
        result = detect_large_image(model, image, batch_size=batch_size)
        times.append(time.time() - t0)
    return statistics.median(times), result


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(*args.child, args.batch_size, args.score_thr)
        return 0
    import torch
    torch.set_num_threads(max(1, int(os.environ.get('OMP_NUM_THREADS', '1'))))
    tmp = tempfile.TemporaryDirectory() if args.work_dir is None else None
    work = args.work_dir or tmp.name
    os.makedirs(work, exist_ok=True)
    try:
        img = make_scene(osp.join(work, f'scene_{args.size}.jpg'), args.size)
        mpix = args.size ** 2 / 1e6
        res = dict(baseline=float('nan'), cfinet=float('nan'))
        for name, cfg in (() if args.memory_only else (('baseline', args.baseline), ('cfinet', args.cfinet))):
            sec, result = time_model(cfg, img, args.rounds, args.batch_size, args.score_thr)
            res[name] = sec / mpix
            print(f'{name:<9} {args.size}x{args.size} ({result.metainfo["num_windows"]} windows): {sec:.2f} s, '
                  f'{res[name]:.3f} s/MPix, {len(result.pred_instances)} detections (random weights)', flush=True)
        if not args.memory_only:
            ratio = res['cfinet'] / res['baseline']
            print(f'CFINet / baseline time per megapixel: {ratio:.2f} (target <= 1.3)')
        peak = float('nan')
        if args.big > 0:
            big = make_scene(osp.join(work, f'scene_{args.big}.{args.big_format}'), args.big)
            print(f'{args.big}x{args.big} {args.big_format} written ({osp.getsize(big) / 2**20:.0f} MB); running '
                  f'{"reading its windows" if args.read_only else "CFINet on it"} in a fresh process', flush=True)
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get('PYTHONPATH')])))
            what = 'read-only' if args.read_only else args.cfinet
            cmd = [sys.executable, osp.abspath(__file__), '--child', what, big,
                   '--batch-size', str(args.batch_size), '--score-thr', str(args.score_thr)]
            out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
            info = json.loads(out.strip().splitlines()[-1])
            peak = info['peak_mb']
            label = 'read-only' if args.read_only else 'cfinet   '
            print(f'{label} {args.big}x{args.big} ({info["windows"]} windows, image {info["mode"]}): '
                  f'{info["seconds"]:.1f} s, {info["seconds"] / (args.big ** 2 / 1e6):.3f} s/MPix, '
                  f'peak RSS {peak:.0f} MB ({info["peak_mb_before_image"]:.0f} MB before reading the image; '
                  f'target < 4096)')
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f's_per_mpix_baseline={res["baseline"]:.4f} s_per_mpix_cfinet={res["cfinet"]:.4f} peak_mb_10k={peak:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
