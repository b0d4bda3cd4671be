"""Proposal quality and speed: the tiny RPN baseline against the tiny Coarse-to-fine RPN (CFINet Table 4).

Both configs are turned into proposal-only detectors (MMDetection's ``RPN``: backbone, neck and the
config's ``rpn_head``; the RoI head is dropped), trained with MMEngine's Runner for the same number of
iterations on the same data and seed, then run on the evaluation images. Reported per model:

* AR@N: recall of the top N (300) proposals averaged over IoU 0.50:0.05:0.95, each ground truth matched to
  at most one proposal (greedy, as MMDetection's ``eval_recalls``); IoU with the horizontal hull of the
  rotated ground truth for horizontal proposals, rotated IoU (mmcv ``box_iou_rotated``) for oriented ones;
  overall and per size subset (cfinet_rotated.structures.size_subsets) by ground-truth area w*h in patch pixels:
  eS [0, 144], rS (144, 400], gS (400, 1024], Normal (1024, 2000];
* forward time per image (backbone + neck + proposal head, batch 1, no grad), measured alternately
  on the same images after one warm-up image.

The last line is ``ar_rpn=<f> ar_crpn=<f> ar_es_rpn=<f> ar_es_crpn=<f> fwd_ratio=<f>`` (fwd_ratio =
CRPN time / RPN time). Targets: ar_es_crpn >= ar_es_rpn and fwd_ratio <= 1.3.

    python tools/analysis_tools/benchmark_proposals.py --iters 100
    python tools/analysis_tools/benchmark_proposals.py --rpn-config configs/baselines/oriented-rcnn_tiny_sample.py \
        --crpn-config configs/crpn/oriented-rcnn_crpn_tiny_sample.py --iters 100

The embedded sample's split (data/sample_split), which the tiny configs read, is made first when missing
(tools/data/sodaa_split.py). By default the evaluation images are the config's test set (for the embedded sample
the same patches as training: the numbers then say how well each head fits, not how it generalises; use
--eval-data-root for a held-out split).
"""
import copy
import logging
import os.path as osp
import sys
import time

import numpy as np
import torch
from mmcv.ops import box_iou_rotated
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.utils import ProgressBar
from mmrotate.registry import DATASETS
from mmrotate.structures.bbox import RotatedBoxes

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.preflight import InputError, check_inputs
from cfinet_rotated.sample_data import prepare_sample_data
from cfinet_rotated.structures.size_subsets import SUBSET_RANGES

SUBSETS = tuple((name, lo, hi) for name, (lo, hi) in SUBSET_RANGES.items())
IOU_THRS = np.linspace(0.5, 0.95, 10)


def parse_args():
    parser = tool_parser(__doc__)
    parser.add_argument('--rpn-config', default='configs/baselines/rotated-faster-rcnn_tiny_sample.py',
                        help='detector config whose rpn_head is the baseline')
    parser.add_argument('--crpn-config', default='configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py',
                        help='detector config whose rpn_head is the CRPN')
    parser.add_argument('--iters', type=int, default=100, help='training iterations of each model')
    parser.add_argument('--lr', type=float, help='override the configs\' learning rate (unset: the configs\')')
    parser.add_argument('--proposals', type=int, default=300, help='N of AR@N')
    parser.add_argument('--eval-data-root', help='evaluate on this split instead of the config\'s test set')
    parser.add_argument('--max-eval-images', type=int, help='evaluate on the first N images only (unset: all)')
    parser.add_argument('--seed', type=int, default=0, help='random seed of both trainings')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads (timings)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_proposals', help='logs and checkpoints')
    return parser.parse_args()


def proposal_config(path, args, name):
    """The detector config reduced to an ``RPN`` detector, with a short iteration-based schedule."""
    cfg = Config.fromfile(path)
    model = cfg.model
    cfg.model = ConfigDict(
        type='mmdet.RPN', data_preprocessor=model.data_preprocessor, backbone=model.backbone, neck=model.neck,
        rpn_head=model.rpn_head,
        train_cfg=dict(rpn=model.train_cfg.rpn),
        test_cfg=dict(rpn=dict(model.test_cfg.rpn, max_per_img=args.proposals)))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters, val_interval=10 ** 9)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.param_scheduler = []
    if args.lr is not None:
        cfg.optim_wrapper.optimizer.lr = args.lr
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 9, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, args.iters // 5))
    cfg.log_processor = dict(by_epoch=False, window_size=max(1, args.iters // 5))
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(args.work_dir, name)
    cfg.resume = False
    cfg.load_from = None
    return cfg


def eval_dataset(cfg_path, args):
    """The config's test set (or ``--eval-data-root``) with ground truth loaded."""
    cfg = Config.fromfile(cfg_path)
    ds = copy.deepcopy(cfg.test_dataloader.dataset)
    if args.eval_data_root:
        ds.data_root = args.eval_data_root
    resize = [t for t in ds.pipeline if t['type'].split('.')[-1] == 'Resize']
    ds.pipeline = [dict(type='mmdet.LoadImageFromFile'),
                   dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
                   dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox'))] + resize + [
                   dict(type='mmdet.PackDetInputs',
                        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
    ds.test_mode = False  # keep the annotations
    ds.filter_cfg = None
    return DATASETS.build(ds)


def train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    model.eval()
    return model


@torch.no_grad()
def propose(model, data):
    data = model.data_preprocessor(data, False)
    x = model.extract_feat(data['inputs'])
    # MMDetection's RPN detector keeps its proposal head as ``bbox_head``
    return model.bbox_head.predict(x, data['data_samples'], rescale=False)[0], data['data_samples'][0]


def matched_ious(ious):
    """Greedy one-to-one matching (MMDetection's ``eval_recalls``): (G, P) IoU -> (G,) matched IoU."""
    ious = ious.copy()
    out = np.zeros(ious.shape[0])
    if ious.size == 0:
        return out
    for _ in range(ious.shape[0]):
        best_box = ious.argmax(axis=1)
        best = ious[np.arange(ious.shape[0]), best_box]
        g = best.argmax()
        if best[g] < 0:
            break
        out[g] = best[g]
        ious[g, :] = -1
        ious[:, best_box[g]] = -1
    return out


def proposal_ious(proposals, gt):
    """(G, P) IoU of the ground truth with the proposals (rotated IoU for rotated proposals)."""
    boxes = proposals.bboxes
    if len(gt) == 0 or len(boxes) == 0:
        return np.zeros((len(gt), len(boxes)))
    if isinstance(boxes, RotatedBoxes):
        return box_iou_rotated(gt.tensor.float(), boxes.tensor.float()).numpy()
    hull = gt.convert_to('hbox').tensor
    return bbox_overlaps(hull, get_box_tensor(boxes).float()).numpy()


def average_recall(ious, areas):
    """AR over IOU_THRS: overall and per subset."""
    res = {'all': float((ious[:, None] >= IOU_THRS).mean()) if len(ious) else float('nan')}
    for name, lo, hi in SUBSETS:
        sel = (areas <= hi) & ((areas > lo) if name != 'eS' else True)
        res[name] = float((ious[sel][:, None] >= IOU_THRS).mean()) if sel.any() else float('nan')
    return res


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    for path in (args.rpn_config, args.crpn_config):  # the sample split on a fresh clone; others must exist
        cfg = Config.fromfile(path)
        prepare_sample_data(cfg)
        check_inputs(cfg, 'train', path)
    if args.eval_data_root and not osp.isdir(args.eval_data_root):
        raise SystemExit(f'benchmark_proposals: error: --eval-data-root {args.eval_data_root}: no such folder')
    models = {}
    for name, path in (('rpn', args.rpn_config), ('crpn', args.crpn_config)):
        print_log(f'training {name} ({path}) for {args.iters} iterations', logger='current')
        models[name] = train(proposal_config(path, args, name))
    init_default_scope('mmrotate')
    dataset = eval_dataset(args.crpn_config, args)
    n = len(dataset) if args.max_eval_images is None else min(args.max_eval_images, len(dataset))
    matched = {k: [] for k in models}
    times = {k: [] for k in models}
    areas = []
    bar = ProgressBar(n)
    for i in range(n):
        data = pseudo_collate([dataset[i]])
        for name, model in models.items():
            t0 = time.perf_counter()
            proposals, sample = propose(model, data)
            dt = time.perf_counter() - t0
            if i > 0 or n == 1:  # the first image warms up
                times[name].append(dt)
            gt = sample.gt_instances.bboxes
            if not isinstance(gt, RotatedBoxes):
                raise TypeError(f'{sample.img_path}: expected rotated ground truth, got {type(gt).__name__}')
            matched[name].append(matched_ious(proposal_ious(proposals, gt)))
        sf = sample.metainfo.get('scale_factor', (1.0, 1.0))
        areas.append((gt.areas / (sf[0] * sf[1])).numpy())
        bar.update()
    print()
    areas = np.concatenate(areas)
    ar = {k: average_recall(np.concatenate(v), areas) for k, v in matched.items()}
    fwd = {k: float(np.mean(v)) for k, v in times.items()}
    counts = {name: int(((areas <= hi) & ((areas > lo) if name != 'eS' else True)).sum())
              for name, lo, hi in SUBSETS}
    print(f'{n} images, {len(areas)} objects ({", ".join(f"{k} {v}" for k, v in counts.items())}); '
          f'{args.iters} training iterations each')
    header = ['model', f'AR@{args.proposals}'] + [f'AR_{s[0]}' for s in SUBSETS] + ['fwd s/img']
    print(' '.join(h.rjust(10) for h in header))
    for k in models:
        vals = [ar[k]['all']] + [ar[k][s[0]] for s in SUBSETS]
        print(' '.join([k.rjust(10)] + [f'{v:10.4f}' for v in vals] + [f'{fwd[k]:10.3f}']))
    print(f'ar_rpn={ar["rpn"]["all"]:.4f} ar_crpn={ar["crpn"]["all"]:.4f} ar_es_rpn={ar["rpn"]["eS"]:.4f} '
          f'ar_es_crpn={ar["crpn"]["eS"]:.4f} fwd_ratio={fwd["crpn"] / fwd["rpn"]:.3f}')


if __name__ == '__main__':
    logging.getLogger('mmengine').setLevel(logging.WARNING)
    try:
        main()
    except InputError as e:
        sys.exit(f'benchmark_proposals: error: {e}')
