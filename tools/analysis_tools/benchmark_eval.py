"""Time the SODA-A evaluator on a synthetic set of SODA-A-test size.

    python tools/analysis_tools/benchmark_eval.py [--images 1000 --gts 350 --dets 2000 --nproc 2]

Per image: ``--gts`` rotated ground truths of all nine classes (sides 2-60 px, so every size subset is
populated) in a 4000 x 3000 image, and ``--dets`` detections: about two noisy detections per ground truth
(some with a wrong class), the rest random false positives. Only the evaluation is timed. The last line is
``eval_seconds=<float> peak_mb=<float> images=<int> gts=<int> dets=<int>``; peak_mb is the peak proportional
set size (PSS: resident memory with shared pages split between processes) of this process and its workers
together, sampled every 50 ms during the evaluation (Linux /proc).
"""
import os
import resource
import threading
import time

import numpy as np

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.sodaa_io import SODAA_CLASSES
from cfinet_rotated.evaluation.size_ap import evaluate_detections


def synthetic_image(rng, n_gt, n_det, num_classes, size=(4000, 3000)):
    W, H = size
    side = np.exp(rng.uniform(np.log(3), np.log(60), (n_gt, 2)))
    gt = np.column_stack([rng.uniform(0, W, n_gt), rng.uniform(0, H, n_gt), side.max(1), side.min(1),
                          rng.uniform(-np.pi / 2, np.pi / 2, n_gt)])
    gl = rng.integers(0, num_classes, n_gt)
    n_tp = min(n_det, 2 * n_gt)
    src = rng.integers(0, n_gt, n_tp)
    tp = gt[src].copy()
    scale = np.sqrt(tp[:, 2] * tp[:, 3])
    tp[:, :2] += rng.normal(0, 0.12, (n_tp, 2)) * scale[:, None]
    tp[:, 2:4] *= np.exp(rng.normal(0, 0.1, (n_tp, 2)))
    tp[:, 4] += rng.normal(0, 0.08, n_tp)
    tl = np.where(rng.random(n_tp) < 0.9, gl[src], rng.integers(0, num_classes, n_tp))
    n_fp = n_det - n_tp
    side = np.exp(rng.uniform(np.log(3), np.log(60), (n_fp, 2)))
    fp = np.column_stack([rng.uniform(0, W, n_fp), rng.uniform(0, H, n_fp), side.max(1), side.min(1),
                          rng.uniform(-np.pi / 2, np.pi / 2, n_fp)])
    fl = rng.integers(0, num_classes, n_fp)
    scores = np.concatenate([rng.beta(4, 2, n_tp), rng.beta(2, 4, n_fp)])
    return (dict(bboxes=gt.astype(np.float32), labels=gl),
            dict(bboxes=np.concatenate([tp, fp]).astype(np.float32), scores=scores.astype(np.float32),
                 labels=np.concatenate([tl, fl])))


def _tree_pss_mb():
    """Proportional set size (shared pages split between sharers) of this process and its children, MB."""
    pids, total = [os.getpid()], 0
    try:
        for tid in os.listdir('/proc/self/task'):
            with open(f'/proc/self/task/{tid}/children') as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for pid in pids:
        try:
            with open(f'/proc/{pid}/smaps_rollup') as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith('Pss:'))
        except (OSError, ValueError):
            pass
    return total / 1024


class PeakMemory(threading.Thread):
    """Samples :func:`_tree_pss_mb` every 50 ms; ``peak`` is the largest value seen."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = _tree_pss_mb(), threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, _tree_pss_mb())


def main():
    p = tool_parser(__doc__)
    p.add_argument('--images', type=int, default=1000, help='synthetic images')
    p.add_argument('--gts', type=int, default=350, help='ground-truth objects per image')
    p.add_argument('--dets', type=int, default=2000, help='detections per image')
    p.add_argument('--nproc', type=int, default=2, help='evaluation worker processes (over classes)')
    p.add_argument('--seed', type=int, default=0, help='random seed of the synthetic set')
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    data = [synthetic_image(rng, args.gts, args.dets, len(SODAA_CLASSES)) for _ in range(args.images)]
    gts, dets = [d[0] for d in data], [d[1] for d in data]
    print(f'generated {args.images} images in {time.time() - t0:.1f} s')
    mem = PeakMemory()
    mem.start()
    t0 = time.perf_counter()
    result = evaluate_detections(gts, dets, num_classes=len(SODAA_CLASSES), box_type='rbox',
                                 class_names=SODAA_CLASSES, nproc=args.nproc, progress=True)
    secs = time.perf_counter() - t0
    mem.stop.set()
    mem.join()
    print()
    print('\n'.join(result.summary_lines()))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f'max RSS: main process {own:.0f} MB, largest child {child:.0f} MB (shared pages counted in each)')
    print(f'eval_seconds={secs:.2f} peak_mb={mem.peak:.1f} images={result.num_images} '
          f'gts={result.num_gts} dets={result.num_dets}')


if __name__ == '__main__':
    main()
