"""Why CRPN helps on your data: how well anchors fit the ground truth, per object size (CFINet Figure 1).

For every object of a SODA-A annotation folder (raw or split patches), the best IoU of any anchor of an
anchor configuration with the object's horizontal hull, and the number of positive anchors the object
gets under a fixed IoU threshold of 0.7 (the usual RPN rule), a fixed 0.25, and the dynamic threshold of
Eq. (1) in its official form, in the paper's printed form, or both (``--mode``, default both). An anchor is
positive for the object it overlaps most (as an assigner decides), if that IoU reaches the object's threshold; no
low-quality rescue. Objects are grouped by area w*h of the rotated box in annotation pixels (the size subsets of
cfinet_rotated.structures.size_subsets): eS [0, 144], rS (144, 400], gS (400, 1024], Normal (1024, 2000],
Large > 2000. Prints a table, then the mean positives per object by object side sqrt(w*h) in annotation pixels
(``--side-edges``) for each rule, and writes a PNG (histograms of best IoU, mean positives per rule).

    python tools/analysis_tools/analyze_anchors.py data/sample_split/Annotations \
        --config configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py --out work_dirs/anchors.png
    python tools/analysis_tools/analyze_anchors.py data/SODA-A/divData/train/Annotations --scales 1 --ratios 0.5 1 2 \
        --strides 4 8 16 32 64 --resize 1.5

``--propose`` (small-object lever 4, issue 23) fits anchors to the boxes first: among ``--propose-scales`` subsets
and ratio sets (1; 0.5 1 2; and the quantiles of the objects' hull aspect h/w), with at most
``--max-anchors`` per location (1 for CRPN, whose adaptive convolution follows one anchor), the set with the
highest mean best centred IoU (anchor and hull on one centre, as YOLO's anchor fitting: the shape match, not the
grid offset) wins; the table then shows the proposal, and ``--write-override`` writes it as a config mixin
(``fitted_anchor_generator``, for ``model.rpn_head.anchor_generator``, which CoarseToFineRPNHead merges into its
stages). Fit on the training annotations only:

    python tools/analysis_tools/analyze_anchors.py data/sample_split/Annotations \
        --config configs/baselines/rotated-faster-rcnn_tiny_sample.py --propose \
        --write-override configs/levers/_base_/anchors_sample.py

``--config`` takes the anchors of the config's RPN (``rpn_head.anchor_generator`` or, for CRPN, the first
stage's); ``--scales/--ratios/--strides`` override them. ``--resize`` is the factor the pipeline resizes
images by (1.5 for SODA-A's 800 -> 1200 px): anchors live in the resized image.
"""
import os
import os.path as osp
import sys

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import Config
from mmengine.utils import ProgressBar, mkdir_or_exist
from mmrotate.structures.bbox import RotatedBoxes, qbox2rbox

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.sodaa_io import AnnotationError, format_skips, list_annotation_files, load_sodaa
from cfinet_rotated.models import dynamic_pos_iou_thr
from cfinet_rotated.sample_data import ROOT, SODAA_SPLIT, ensure_sodaa_sample_split
from cfinet_rotated.structures.size_subsets import SUBSET_RANGES

SUBSETS = tuple((name, lo, hi) for name, (lo, hi) in SUBSET_RANGES.items()) + \
    (('Large', SUBSET_RANGES['Normal'][1], np.inf), )


def parse_args():
    parser = tool_parser(__doc__)
    parser.add_argument('ann_dir', help='folder of SODA-A JSON annotations (raw images or split patches)')
    parser.add_argument('--config', help='take the anchor generator from this config (RPN or CRPN)')
    parser.add_argument('--scales', type=float, nargs='+', help='anchor scales (unset: CRPN\'s, 2)')
    parser.add_argument('--ratios', type=float, nargs='+', help='anchor ratios (unset: CRPN\'s, 1)')
    parser.add_argument('--strides', type=int, nargs='+', help='anchor strides (unset: CRPN\'s, 4 8 16 32)')
    parser.add_argument('--resize', type=float, default=1.0, help='image resize factor of the pipeline')
    parser.add_argument('--mode', choices=['paper', 'official', 'both'], default='both',
                        help='Eq. (1) rule(s): the official (authors\' code, the configs\' default), the paper\'s '
                             'printed formula, or both side by side')
    parser.add_argument('--side-edges', type=float, nargs='+', default=[0, 8, 12, 16, 24, 32, 48, 64],
                        help='bin edges (px, object side sqrt(w*h) in annotation pixels) of the positives-per-size '
                             'table; the last bin is open')
    parser.add_argument('--max-files', type=int, help='only the first N annotation files (unset: all)')
    parser.add_argument('--out', default='work_dirs/analyze_anchors.png', help='PNG to write')
    parser.add_argument('--propose', action='store_true',
                        help='fit scales/ratios to the objects (keeping the strides) and analyse the proposal')
    parser.add_argument('--propose-scales', type=float, nargs='+', default=[1, 1.5, 2, 2.5, 3, 4, 5, 6, 8],
                        help='candidate scales of --propose (subsets of up to three)')
    parser.add_argument('--max-anchors', type=int,
                        help='anchors per location of --propose (default 3; 1 for a CRPN config)')
    parser.add_argument('--write-override', help='with --propose: write the proposal as a config override here')
    return parser.parse_args()


def anchor_config(args):
    """``(scales, ratios, strides)`` from the config and the command line."""
    cfg = dict(scales=[2.0], ratios=[1.0], strides=[4, 8, 16, 32])
    if args.config:
        head = Config.fromfile(args.config).model.rpn_head
        gen = head.get('anchor_generator') or head['stages'][0].get('anchor_generator')
        if gen is None:
            raise SystemExit(f'{args.config}: no anchor_generator in model.rpn_head (or its first stage)')
        cfg.update({k: list(gen[k]) for k in ('scales', 'ratios', 'strides') if k in gen})
    for k in ('scales', 'ratios', 'strides'):
        if getattr(args, k):
            cfg[k] = getattr(args, k)
    return cfg


def is_crpn(config):
    return bool(config) and Config.fromfile(config).model.rpn_head.get('type') == 'CoarseToFineRPNHead'


def anchor_shapes(scales, ratios, strides):
    """(A, 2) anchor widths and heights of MMDetection's AnchorGenerator: w = s k / sqrt(r), h = s k sqrt(r)."""
    out = [(s * k / np.sqrt(r), s * k * np.sqrt(r)) for s in strides for k in scales for r in ratios]
    return np.asarray(out, dtype=np.float64)


def best_centred_iou(wh, shapes):
    """(G,) best IoU of each object's (w, h) with any anchor shape when both share one centre."""
    inter = np.minimum(wh[:, None, 0], shapes[None, :, 0]) * np.minimum(wh[:, None, 1], shapes[None, :, 1])
    union = wh[:, None, 0] * wh[:, None, 1] + shapes[None, :, 0] * shapes[None, :, 1] - inter
    return (inter / union).max(axis=1)


def ratio_candidates(wh):
    """Ratio sets tried by :func:`propose_anchors`: [1], [0.5, 1, 2] and quantiles of the objects' h / w."""
    r = wh[:, 1] / wh[:, 0]
    sets = [[1.0], [0.5, 1.0, 2.0]]
    for qs in ((0.5, ), (0.25, 0.75), (1 / 6, 0.5, 5 / 6)):
        sets.append(sorted({round(float(v), 2) for v in np.quantile(r, qs)}))
    unique = []
    for c in sets:
        if c not in unique:
            unique.append(c)
    return unique


def propose_anchors(wh, strides, scale_grid, max_anchors):
    """The (scales, ratios) with at most ``max_anchors`` per location maximising the mean best centred IoU over
    the objects ``wh`` (G, 2) (in the resized image); ties go to fewer anchors. Returns a list of
    (mean IoU, share >= 0.7, scales, ratios), best first."""
    from itertools import combinations
    grid = sorted(set(float(k) for k in scale_grid))
    rows = []
    for ratios in ratio_candidates(wh):
        for n in range(1, max_anchors // len(ratios) + 1):
            for scales in combinations(grid, n):
                best = best_centred_iou(wh, anchor_shapes(scales, ratios, strides))
                rows.append((float(best.mean()), float((best >= 0.7).mean()), list(scales), list(ratios)))
    if not rows:
        raise SystemExit(f'--propose: no ratio set fits --max-anchors {max_anchors}')
    rows.sort(key=lambda r: (-round(r[0], 4), len(r[2]) * len(r[3])))
    return rows


def write_override(path, scales, ratios, strides, source, n_objects, resize, score, before):
    mkdir_or_exist(osp.dirname(osp.abspath(path)))
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'# Anchors fitted by tools/analysis_tools/analyze_anchors.py --propose to {source}\n'
                f'# ({n_objects} objects, resize x{resize}, strides {list(strides)}): mean best centred IoU '
                f'{score:.3f} (the config\'s anchors: {before:.3f}).\n'
                '# A config mixin (configs/levers/README.md): add this file to a config\'s _base_ list and set\n'
                '#     model = dict(rpn_head=dict(anchor_generator={{_base_.fitted_anchor_generator}}))\n'
                f'fitted_anchor_generator = dict(scales={scales}, ratios={ratios})\n')


def grid_anchors(extent_w, extent_h, scales, ratios, strides):
    """All anchors (N, 4) of an image covering ``[0, extent]``, MMDetection's AnchorGenerator layout
    (``center_offset=0``: anchors centred on the grid points)."""
    from mmdet.models.task_modules.prior_generators import AnchorGenerator
    gen = AnchorGenerator(strides=strides, ratios=ratios, scales=scales)
    sizes = [(int(np.ceil(extent_h / s)) + 1, int(np.ceil(extent_w / s)) + 1) for s in strides]
    return torch.cat(gen.grid_priors(sizes, device='cpu'))


def analyze_image(polys, anchors_fn, resize, mode, max_pairs=20_000_000):
    """Best anchor IoU and positives per rule for the objects of one image.

    Returns ``(areas, best_iou, positives)`` with ``positives`` a dict rule -> (G,) counts.
    """
    rboxes = RotatedBoxes(qbox2rbox(torch.as_tensor(polys, dtype=torch.float32)))
    areas = rboxes.areas  # annotation pixels (before any resize)
    hull = rboxes.convert_to('hbox').tensor * resize
    extent = hull[:, 2:].max(dim=0).values
    anchors = anchors_fn(float(extent[0]), float(extent[1]))
    thrs = {'IoU>=0.7': torch.full_like(areas, 0.7), 'IoU>=0.25': torch.full_like(areas, 0.25)}
    for m in (('official', 'paper') if mode == 'both' else (mode, )):
        thrs[f'Eq.(1) {m}'] = dynamic_pos_iou_thr(areas, m)
    g = len(areas)
    best = torch.zeros(g)
    pos = {k: torch.zeros(g, dtype=torch.long) for k in thrs}
    chunk = max(1024, max_pairs // g)  # bound the (G, n) IoU block
    for start in range(0, len(anchors), chunk):
        ious = bbox_overlaps(hull, anchors[start:start + chunk])  # (G, n)
        best = torch.maximum(best, ious.max(dim=1).values)
        m, arg = ious.max(dim=0)
        for k, t in thrs.items():
            keep = m >= t[arg]
            pos[k] += torch.bincount(arg[keep], minlength=g)
    return areas, best, pos


def summarize(areas, best, pos):
    """Rows of the table: subset, objects, mean/median best IoU, % best >= 0.7, per rule mean positives and
    % objects without a positive."""
    rows = []
    for name, lo, hi in SUBSETS + (('all', -1, np.inf), ):
        sel = (areas > lo) & (areas <= hi) if name != 'eS' else (areas <= hi)
        n = int(sel.sum())
        row = [name, n]
        if n == 0:
            rows.append(row + ['-'] * (3 + 2 * len(pos)))
            continue
        b = best[sel]
        row += [f'{b.mean():.3f}', f'{np.median(b):.3f}', f'{100 * (b >= 0.7).mean():.1f}']
        for counts in pos.values():
            c = counts[sel]
            row += [f'{c.mean():.2f}', f'{100 * (c == 0).mean():.1f}']
        rows.append(row)
    return rows


def side_table(areas, pos, edges):
    """Rows: object side bin (px, sqrt of the annotation area), objects, mean positives per rule."""
    side = np.sqrt(areas)
    edges = list(edges) + [np.inf]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (side >= lo) & (side < hi)
        name = f'{lo:g}-{hi:g}' if np.isfinite(hi) else f'>={lo:g}'
        n = int(sel.sum())
        rows.append([name, n] + ([f'{c[sel].mean():.2f}' for c in pos.values()] if n else ['-'] * len(pos)))
    return rows


def _print_table(header, rows):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(str(v).rjust(w) for v, w in zip(r, widths)))


def plot(path, areas, best, pos):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    bins = np.linspace(0, 1, 21)
    names = [s[0] for s in SUBSETS[:4]]
    for name, lo, hi in SUBSETS[:4]:
        sel = (areas > lo) & (areas <= hi) if name != 'eS' else (areas <= hi)
        if sel.any():
            ax1.hist(best[sel], bins=bins, histtype='step', linewidth=2, density=True, label=f'{name} ({sel.sum()})')
    ax1.axvline(0.7, color='k', linestyle='--', linewidth=1)
    ax1.set_xlabel('best anchor IoU per object')
    ax1.set_ylabel('density')
    ax1.set_title('Best anchor IoU by object size (cf. CFINet Fig. 1)')
    ax1.legend()
    width = 0.8 / len(pos)
    for i, (rule, counts) in enumerate(pos.items()):
        means = []
        for name, lo, hi in SUBSETS[:4]:
            sel = (areas > lo) & (areas <= hi) if name != 'eS' else (areas <= hi)
            means.append(counts[sel].mean() if sel.any() else 0.0)
        ax2.bar(np.arange(len(names)) + i * width, means, width, label=rule)
    ax2.set_xticks(np.arange(len(names)) + width * (len(pos) - 1) / 2, names)
    ax2.set_ylabel('positive anchors per object (mean)')
    ax2.set_title('Positives per object by rule')
    ax2.legend()
    fig.tight_layout()
    mkdir_or_exist(osp.dirname(osp.abspath(path)))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    args = parse_args()
    acfg = anchor_config(args)
    if not osp.isdir(args.ann_dir) and osp.abspath(args.ann_dir).startswith(osp.join(ROOT, SODAA_SPLIT) + os.sep):
        ensure_sodaa_sample_split()  # the embedded sample's split, on a fresh clone
    try:
        files = list_annotation_files(args.ann_dir)[:args.max_files]
    except AnnotationError as e:
        sys.exit(f'analyze_anchors: error: {e} (raw SODA-A images are split into patches by '
                 'tools/data/sodaa_split.py; raw annotation folders work too)')
    print(f'anchors: scales {acfg["scales"]}, ratios {acfg["ratios"]}, strides {acfg["strides"]}; '
          f'resize x{args.resize}; {len(files)} annotation files')
    if args.write_override and not args.propose:
        sys.exit('analyze_anchors: error: --write-override needs --propose')
    anns = [load_sodaa(f) for f in files]  # read once: the fit and the analysis both use them
    if args.propose:
        wh = []
        for ann in anns:
            polys = ann.polys
            if len(polys):
                hull = RotatedBoxes(qbox2rbox(torch.as_tensor(polys, dtype=torch.float32))).convert_to('hbox').tensor
                wh.append(((hull[:, 2:] - hull[:, :2]) * args.resize).clamp(min=1e-3).numpy())
        if not wh:
            raise SystemExit(f'{args.ann_dir}: no objects to fit anchors to')
        wh = np.concatenate(wh).astype(np.float64)
        max_anchors = args.max_anchors or (1 if is_crpn(args.config) else 3)
        before = float(best_centred_iou(wh, anchor_shapes(acfg['scales'], acfg['ratios'], acfg['strides'])).mean())
        rows = propose_anchors(wh, acfg['strides'], args.propose_scales, max_anchors)
        print(f'--propose: {len(wh)} objects, at most {max_anchors} anchors per location; mean best centred IoU of '
              f'the config\'s anchors {before:.3f}; best candidates:')
        _print_table(['mean IoU', '% >=0.7', 'scales', 'ratios'],
                     [[f'{m:.3f}', f'{100 * p:.1f}', sc, ra] for m, p, sc, ra in rows[:5]])
        score, _, acfg['scales'], acfg['ratios'] = rows[0]
        print(f'proposed: scales {acfg["scales"]}, ratios {acfg["ratios"]} (analysed below)')
        if args.write_override:
            write_override(args.write_override, acfg['scales'], acfg['ratios'], acfg['strides'], args.ann_dir,
                           len(wh), args.resize, score, before)
            print(f'override written to {args.write_override}')
    all_areas, all_best, all_pos, skipped = [], [], {}, {}
    bar = ProgressBar(len(anns))
    for ann in anns:
        for reason, n in ann.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
        if len(ann.polys):
            areas, best, pos = analyze_image(
                ann.polys, lambda w, h: grid_anchors(w, h, acfg['scales'], acfg['ratios'], acfg['strides']),
                args.resize, args.mode)
            all_areas.append(areas)
            all_best.append(best)
            for k, v in pos.items():
                all_pos.setdefault(k, []).append(v)
        bar.update()
    print()
    if skipped:
        print(f'skipped polygons: {format_skips(skipped)}')
    if not all_areas:
        raise SystemExit(f'{args.ann_dir}: no objects')
    areas = torch.cat(all_areas).numpy()
    best = torch.cat(all_best).numpy()
    pos = {k: torch.cat(v).numpy() for k, v in all_pos.items()}
    header = ['subset', 'objects', 'best IoU mean', 'median', '% >=0.7']
    for rule in pos:
        header += [f'{rule} pos/obj', '% none']
    _print_table(header, summarize(areas, best, pos))
    print(f'\nmean positive anchors per object by object side (annotation px; anchors at resize x{args.resize}):')
    _print_table(['side px', 'objects'] + list(pos), side_table(areas, pos, args.side_edges))
    plot(args.out, areas, best, pos)
    print(f'figure written to {args.out}')


if __name__ == '__main__':
    main()
