"""COCO-style AP/AR by object size for SODA-A (rotated) and SODA-D (horizontal) boxes.

One evaluator core, parametrised by the box type (``'rbox'`` -> MMRotate ``RotatedBoxes`` whose overlaps are
mmcv's ``box_iou_rotated``; ``'hbox'`` -> MMDetection ``HorizontalBoxes`` and ``bbox_overlaps``). It reproduces
pycocotools ``COCOeval`` (``evaluateImg`` + ``accumulate``) exactly, without its per-(image, class) Python loop:

* IoU is computed only for (detection, ground truth) pairs of the same image and class whose horizontal hulls
  intersect enough to reach the lowest IoU threshold (a necessary condition, see :func:`_candidate_pairs`),
  in one aligned ``overlaps`` call per class.
* Exact COCO greedy matching: detections in score order; each takes the unmatched, non-ignored ground truth of
  highest IoU >= t (ties go to the later ground truth, as COCO's ``<`` comparison does) and falls back to an
  unmatched area-ignored ground truth only if there is no regular one. On the graph of pairs with
  IoU >= min(t), a ground truth whose detections touch no other ground truth ("star") is matched by its
  first detection in score order with IoU >= t, for every threshold and area range at once (vectorised); the
  few components with several ground truths run COCO's loop, restricted to their members.
* Accumulation as COCO: detections of all images concatenated in image order and stably sorted by score,
  101-point interpolated precision (``np.searchsorted``), -1 where a class has no non-ignored ground truth.

The protocol (docs/deviations.md, "Evaluation"): IoU 0.50:0.05:0.95, 101 recall points, maxDets 20000, area = w*h,
inclusive ranges of :data:`cfinet_rotated.structures.size_subsets.AREA_RANGES`; every
image counts, including those without detections. SODA-D (``sodad_eval``) uses the same core with the JSON
``area`` of each ground truth for the ranges, COCO's per-gt ``ignore`` flag, maxDets 100/300/1000 and its
14 statistics (``stat_spec``).
"""
import multiprocessing
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from ..structures.boxes import _box_dtype, _overlaps_fn, box_areas, box_hulls, get_box_class, pairwise_iou  # noqa: F401
from ..structures.size_subsets import AREA_RANGES
from ..structures.size_subsets import SHORT_NAMES as _SHORT

#: COCO's thresholds, computed exactly as pycocotools does (so that 0.5 / 0.75 compare equal)
DEFAULT_IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
DEFAULT_REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
#: SODA area ranges in px^2, both bounds inclusive; the first one is the headline ("Small")
DEFAULT_AREA_RANGES = AREA_RANGES
DEFAULT_MAX_DETS = (20000, )
#: the 12 SODA-A statistics in the official order
STAT_NAMES = ('AP', 'AP50', 'AP75', 'AP_eS', 'AP_rS', 'AP_gS', 'AP_N', 'AR', 'AR_eS', 'AR_rS', 'AR_gS', 'AR_N')
# relative slack of the candidate-pair filter: the IoU kernels work in float32
_FILTER_SLACK = 1e-3
_CHUNK_PAIRS = 1 << 20


@dataclass
class EvalParams:
    """The evaluation protocol; defaults are SODA-A's."""
    num_classes: int
    box_type: str = 'rbox'
    iou_thrs: np.ndarray = field(default_factory=lambda: DEFAULT_IOU_THRS.copy())
    rec_thrs: np.ndarray = field(default_factory=lambda: DEFAULT_REC_THRS.copy())
    area_ranges: OrderedDict = field(default_factory=lambda: OrderedDict(DEFAULT_AREA_RANGES))
    max_dets: tuple = DEFAULT_MAX_DETS

    def __post_init__(self):
        self.iou_thrs = np.asarray(self.iou_thrs, dtype=np.float64).reshape(-1)
        self.rec_thrs = np.asarray(self.rec_thrs, dtype=np.float64).reshape(-1)
        if len(self.iou_thrs) == 0 or not np.all((self.iou_thrs > 0) & (self.iou_thrs <= 1)):
            raise ValueError(f'iou_thrs must be non-empty values in (0, 1], got {self.iou_thrs}')
        if isinstance(self.max_dets, (int, np.integer)):
            self.max_dets = (int(self.max_dets), )
        self.max_dets = tuple(int(m) for m in self.max_dets)
        if not self.max_dets or min(self.max_dets) < 1:
            raise ValueError(f'max_dets must be positive, got {self.max_dets}')
        ranges = OrderedDict()
        for name, rng in OrderedDict(self.area_ranges).items():
            lo, hi = (float(v) for v in rng)
            if not lo <= hi:
                raise ValueError(f'area range {name!r} = {rng}: lower bound above upper bound')
            ranges[name] = (lo, hi)
        if not ranges:
            raise ValueError('area_ranges is empty')
        self.area_ranges = ranges
        from mmdet.structures.bbox import get_box_type
        get_box_class(self.box_type)  # fails early on an unknown box type
        self.box_type = get_box_type(self.box_type)[0]


@dataclass
class EvalResult:
    """COCO-layout arrays plus the summary. ``precision``: (T, R, K, A, M); ``recall``: (T, K, A, M); -1 = undefined."""
    params: EvalParams
    precision: np.ndarray
    recall: np.ndarray
    num_images: int
    num_gts: int
    num_dets: int
    class_names: tuple = ()
    #: summary statistics as (key, 'AP' | 'AR', IoU threshold or None, area range name, maxDets or None);
    #: None = SODA-A's 12 (see :meth:`_spec`)
    stat_spec: tuple = None

    def _spec(self, max_det_index=-1):
        """(key, 'AP' or 'AR', IoU threshold or None, area index, maxDets index) of each summary statistic.

        Without ``stat_spec``: SODA-A's 12 statistics (AP, AP50, AP75, AP and AR per range), all at
        ``max_det_index``. With it: its entries, whose maxDets (a value of ``params.max_dets``; None = the one
        at ``max_det_index``) are fixed per statistic, as SODA-D's 14.
        """
        names = list(self.params.area_ranges)
        if self.stat_spec is None:
            m = max_det_index
            spec = [('AP', 'AP', None, 0, m), ('AP50', 'AP', 0.5, 0, m), ('AP75', 'AP', 0.75, 0, m)]
            spec += [(f'AP_{_SHORT.get(n, n)}', 'AP', None, a, m) for a, n in enumerate(names[1:], 1)]
            spec += [('AR', 'AR', None, 0, m)]
            spec += [(f'AR_{_SHORT.get(n, n)}', 'AR', None, a, m) for a, n in enumerate(names[1:], 1)]
            return spec
        spec = []
        for key, kind, thr, area, max_dets in self.stat_spec:
            if area not in names:
                raise ValueError(f'statistic {key!r}: no area range {area!r} (ranges: {", ".join(names)})')
            if max_dets is not None and max_dets not in self.params.max_dets:
                raise ValueError(f'statistic {key!r}: maxDets {max_dets} was not evaluated '
                                 f'(max_dets={self.params.max_dets})')
            m = max_det_index if max_dets is None else self.params.max_dets.index(max_dets)
            spec.append((key, kind, thr, names.index(area), m))
        return spec

    def stats(self, max_det_index=-1):
        """The summary statistics in the official order (``STAT_NAMES`` for the default ranges); -1 = undefined.

        As COCOeval.summarize: the mean over all entries > -1 (classes without ground truth in a range and,
        for AR, thresholds are averaged only where defined). ``max_det_index`` selects the maxDets of the
        statistics whose ``stat_spec`` does not fix one.
        """
        p = self.params
        out = OrderedDict()
        for key, kind, thr, a, m in self._spec(max_det_index):
            if kind == 'AP':
                s = self.precision[..., a, m]  # (T, R, K)
            else:
                s = self.recall[..., a, m]  # (T, K)
            if thr is not None:
                idx = np.flatnonzero(np.isclose(p.iou_thrs, thr, rtol=0, atol=1e-12))
                s = s[idx[:1]]
            s = s[s > -1]
            out[key] = float(np.mean(s)) if s.size else -1.0
        return out

    def per_class_ap(self, max_det_index=-1):
        """AP over all thresholds on the headline range per class (``precision[:, :, k, 0, m]``); None if undefined.

        ``m`` is the maxDets of the headline AP (the first statistic), so that the table agrees with it
        (SODA-A: ``max_det_index``; SODA-D: 100, where the official table used 1000).
        """
        m = self._spec(max_det_index)[0][4]
        res = OrderedDict()
        for k in range(self.precision.shape[2]):
            s = self.precision[:, :, k, 0, m]
            s = s[s > -1]
            name = self.class_names[k] if k < len(self.class_names) else str(k)
            res[name] = float(np.mean(s)) if s.size else None
        return res

    def summary_lines(self, max_det_index=-1):
        """COCO-style summary, one line per statistic."""
        p = self.params
        names = list(p.area_ranges)
        stats = self.stats(max_det_index)
        lines = []
        for key, kind, thr, a, m in self._spec(max_det_index):
            title = 'Average Precision  (AP)' if kind == 'AP' else 'Average Recall     (AR)'
            iou = f'{p.iou_thrs[0]:0.2f}:{p.iou_thrs[-1]:0.2f}' if thr is None else f'{thr:0.2f}'
            lines.append(f' {title} @[ IoU={iou:<9} | area={names[a]:>6s} | maxDets={p.max_dets[m]:>5d} ] = '
                         f'{stats[key]:0.3f}')
        return lines

    def per_class_table(self, max_det_index=-1):
        """Per-class AP table (text)."""
        rows = [('class', 'AP')] + [(n, 'n/a' if v is None else f'{v:0.3f}')
                                    for n, v in self.per_class_ap(max_det_index).items()]
        w = max(len(r[0]) for r in rows)
        sep = '+' + '-' * (w + 2) + '+-------+'
        out = [sep]
        for i, (n, v) in enumerate(rows):
            out.append(f'| {n:<{w}} | {v:>5} |')
            if i == 0:
                out.append(sep)
        out.append(sep)
        return '\n'.join(out)

    def to_dict(self, max_det_index=-1):
        """JSON-ready: the statistics (None where undefined), per-class AP and the protocol."""
        p = self.params
        stats = {k: (None if v < 0 else v) for k, v in self.stats(max_det_index).items()}
        return OrderedDict(
            **stats,
            per_class_AP=self.per_class_ap(max_det_index),
            num_images=self.num_images, num_gts=self.num_gts, num_dets=self.num_dets,
            protocol=dict(box_type=p.box_type, iou_thrs=[float(t) for t in p.iou_thrs],
                          num_rec_thrs=len(p.rec_thrs), max_dets=list(p.max_dets),
                          area_ranges={k: list(v) for k, v in p.area_ranges.items()}))


# ----------------------------------------------------------------------------------------------------------
# per-class evaluation
# ----------------------------------------------------------------------------------------------------------
def _candidate_pairs(d_img, d_hull, d_area, g_start, g_count, g_hull, g_area, t_min):
    """(det, gt) index pairs of the same image whose IoU can reach ``t_min``.

    Necessary conditions (exact geometry; a relative slack covers float32 IoU kernels):
    the intersection I is at most the intersection of the horizontal hulls, and
    IoU = I / (A1 + A2 - I) >= t  <=>  I >= t (A1 + A2) / (1 + t).
    """
    cnt = g_count[d_img]
    ends = np.cumsum(cnt)
    total = int(ends[-1]) if len(ends) else 0
    out_d, out_g = [], []
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    coef = t_min / (1.0 + t_min) * (1.0 - _FILTER_SLACK)
    # split the detections into blocks of about _CHUNK_PAIRS pairs
    cuts = np.searchsorted(ends, np.arange(_CHUNK_PAIRS, total, _CHUNK_PAIRS), side='right')
    bounds = np.unique(np.concatenate([[0], cuts, [len(cnt)]]))
    for b0, b1 in zip(bounds[:-1], bounds[1:]):
        c = cnt[b0:b1]
        n = int(c.sum())
        if n == 0:
            continue
        di = np.repeat(np.arange(b0, b1), c)
        first = np.cumsum(c) - c
        gi = g_start[d_img[di]] + (np.arange(n) - np.repeat(first, c))
        dh, gh = d_hull[di], g_hull[gi]
        iw = np.minimum(dh[:, 2], gh[:, 2]) - np.maximum(dh[:, 0], gh[:, 0])
        ih = np.minimum(dh[:, 3], gh[:, 3]) - np.maximum(dh[:, 1], gh[:, 1])
        ok = (iw > 0) & (ih > 0)
        ok &= np.where(ok, iw * ih, 0.0) >= coef * (d_area[di] + g_area[gi])
        out_d.append(di[ok])
        out_g.append(gi[ok])
    return np.concatenate(out_d), np.concatenate(out_g)


def _match_components(e_d, e_g, e_iou, n_d, n_g, g_ig, thrs):
    """Exact COCO greedy matching on the sparse graph of pairs with IoU >= min(thrs).

    Returns ``star`` (T, n_d) matched gt index or -1 for detections outside multi-gt components (area
    independent), and (``cd``, ``cmatch`` (A, T, len(cd))) for detections inside them.
    """
    T = len(thrs)
    A = g_ig.shape[0]
    star = np.full((T, n_d), -1, dtype=np.int64)
    deg = np.bincount(e_d, minlength=n_d)
    cd_mask = deg >= 2
    cg_mask = np.zeros(n_g, dtype=bool)
    # close the multi-gt set over connectivity: gts of complex dets, dets of those gts, ...
    while True:
        cg_mask[e_g[cd_mask[e_d]]] = True
        new = cd_mask.copy()
        new[e_d[cg_mask[e_g]]] = True
        if (new == cd_mask).all():
            break
        cd_mask = new
    # stars: one gt, its dets in score order; the first with IoU >= t takes it
    s = ~cd_mask[e_d]
    sd, sg, si = e_d[s], e_g[s], e_iou[s]
    order = np.lexsort((sd, sg))
    sd, sg, si = sd[order], sg[order], si[order]
    for t, thr in enumerate(thrs):
        v = si >= thr
        if not v.any():
            continue
        _, first = np.unique(sg[v], return_index=True)
        star[t, sd[v][first]] = sg[v][first]
    cd = np.flatnonzero(cd_mask)
    cmatch = np.full((A, T, len(cd)), -1, dtype=np.int64)
    if len(cd):
        c = cd_mask[e_d]
        cd_e, cg_e, ci_e = e_d[c], e_g[c], e_iou[c]
        order = np.lexsort((cg_e, cd_e))  # by det (score order within an image), then gt (original order)
        cd_e, cg_e, ci_e = cd_e[order], cg_e[order], ci_e[order]
        cg = np.flatnonzero(cg_mask)
        local = np.full(n_g, -1, dtype=np.int64)
        local[cg] = np.arange(len(cg))
        matched = np.zeros((A, T, len(cg)), dtype=bool)
        starts = np.searchsorted(cd_e, cd)
        ends = np.append(starts[1:], len(cd_e))
        ig_c = g_ig[:, cg]  # (A, Gc)
        thr_col = thrs[None, :, None]
        for j, (a0, a1) in enumerate(zip(starts, ends)):
            gl = local[cg_e[a0:a1]]
            iou = ci_e[a0:a1]
            ig = ig_c[:, gl][:, None, :]  # (A, 1, c)
            elig = (iou[None, None, :] >= thr_col) & ~matched[:, :, gl]  # (A, T, c)
            choice = np.full((A, T), -1, dtype=np.int64)
            for group in (elig & ig, elig & ~ig):  # regular candidates written last: they win
                val = np.where(group, iou[None, None, :], -1.0)
                best = val.shape[-1] - 1 - np.argmax(val[..., ::-1], axis=-1)  # last maximum, as COCO
                has = group.any(-1)
                choice = np.where(has, best, choice)
            hit = choice >= 0
            if hit.any():
                ai, ti = np.nonzero(hit)
                matched[ai, ti, gl[choice[ai, ti]]] = True
                cmatch[ai, ti, j] = cg[gl[choice[ai, ti]]]
    return star, cd, cmatch


def _evaluate_class(args):
    """All images, one class -> precision (T, R, A, M), recall (T, A, M).

    ``g_range_area`` (G,) is the area that decides the ground truths' area ranges (the boxes' own area, or
    the JSON ``area`` of SODA-D), ``g_flag_ig`` (G,) bool marks ground truths ignored in every range.
    """
    (d_img, d_boxes, d_scores, g_img, g_boxes, g_range_area, g_flag_ig, num_images, p) = args
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_ranges), len(p.max_dets)
    precision = -np.ones((T, R, A, M))
    recall = -np.ones((T, A, M))
    box_cls = get_box_class(p.box_type)
    # detections: per image by score (stable), truncated to max_dets[-1] per image, as COCO's computeIoU
    order = np.lexsort((np.arange(len(d_img)), -d_scores.astype(np.float64), d_img))
    d_img, d_boxes, d_scores = d_img[order], d_boxes[order], d_scores[order]
    d_first = np.searchsorted(d_img, d_img, side='left')
    d_rank = np.arange(len(d_img)) - d_first
    keep = d_rank < max(p.max_dets)
    d_img, d_boxes, d_scores, d_rank = d_img[keep], d_boxes[keep], d_scores[keep], d_rank[keep]
    # ground truths: per image, original order
    g_order = np.argsort(g_img, kind='stable')
    g_img, g_boxes = g_img[g_order], g_boxes[g_order]
    g_range_area, g_flag_ig = g_range_area[g_order], g_flag_ig[g_order]
    g_count = np.bincount(g_img, minlength=num_images)
    g_start = np.cumsum(g_count) - g_count
    n_d, n_g = len(d_img), len(g_img)
    d_area, g_area = box_areas(d_boxes, box_cls), box_areas(g_boxes, box_cls)
    rng = np.array(list(p.area_ranges.values()))  # (A, 2)
    # as COCO's gt['_ignore']: flagged 'ignore' or outside the range; g_area (geometry) stays for the IoU filter
    g_ig = (g_range_area[None] < rng[:, :1]) | (g_range_area[None] > rng[:, 1:]) | g_flag_ig[None]  # (A, G)
    d_out = (d_area[None] < rng[:, :1]) | (d_area[None] > rng[:, 1:])  # (A, D)
    # candidate pairs -> IoU in one call -> edges usable by at least the lowest threshold
    thrs = np.minimum(p.iou_thrs, 1 - 1e-10)  # COCO: iou = min([t, 1 - 1e-10])
    t_min = float(thrs.min())
    if n_d and n_g:
        pd, pg = _candidate_pairs(d_img, box_hulls(d_boxes, box_cls), d_area, g_start, g_count,
                                  box_hulls(g_boxes, box_cls), g_area, t_min)
        iou = pairwise_iou(d_boxes[pd], g_boxes[pg], box_cls, aligned=True)
        ok = iou >= t_min
        pd, pg, iou = pd[ok], pg[ok], iou[ok]
    else:
        pd = pg = np.zeros(0, np.int64)
        iou = np.zeros(0)
    star, cd, cmatch = _match_components(pd, pg, iou, n_d, n_g, g_ig, thrs)
    # accumulate: images in order, each by score, then a stable sort by score (COCO's mergesort)
    glob = np.argsort(-d_scores.astype(np.float64), kind='stable')
    for a in range(A):
        npig = int(np.count_nonzero(~g_ig[a]))
        if npig == 0:
            continue
        match = star.copy()
        if len(cd):
            match[:, cd] = cmatch[a]
        matched = match >= 0
        ig = np.where(matched, g_ig[a][np.maximum(match, 0)], d_out[a][None])
        tps_all = matched & ~ig
        fps_all = ~matched & ~ig
        for m, max_det in enumerate(p.max_dets):
            sel = glob[d_rank[glob] < max_det]
            nd = len(sel)
            tp_sum = np.cumsum(tps_all[:, sel], axis=1).astype(float)
            fp_sum = np.cumsum(fps_all[:, sel], axis=1).astype(float)
            if nd == 0:
                recall[:, a, m] = 0
                precision[:, :, a, m] = 0
                continue
            rc = tp_sum / npig
            pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
            recall[:, a, m] = rc[:, -1]
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
            for t in range(T):
                inds = np.searchsorted(rc[t], p.rec_thrs, side='left')
                precision[t, :, a, m] = np.where(inds < nd, pr[t, np.minimum(inds, nd - 1)], 0.0)
    return precision, recall


def _as_array(x, dtype, shape_tail=None, what='array'):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    elif hasattr(x, 'tensor'):  # a box type
        x = x.tensor.detach().cpu().numpy()
    x = np.asarray(x, dtype=dtype)
    if shape_tail is not None:
        x = x.reshape(-1, shape_tail)
    return x


def evaluate_detections(gts, dets, num_classes, box_type='rbox', iou_thrs=None, area_ranges=None,
                        max_dets=DEFAULT_MAX_DETS, class_names=(), nproc=1, progress=False, stat_spec=None):
    """COCO-style evaluation of full-image detections.

    Args:
        gts (list[dict]): per image ``bboxes`` (G, D) and ``labels`` (G,) in 0..num_classes-1; optionally
            ``areas`` (G,), the areas that decide the area ranges (default: the boxes' w*h; SODA-D: the JSON
            ``area`` field, as COCOeval), and ``ignore`` (G,) bool, ground truths ignored in every range
            (COCO's ``ignore``: a detection matching one is neither a true nor a false positive).
        dets (list[dict]): same length and order; ``bboxes`` (N, D), ``scores`` (N,), ``labels`` (N,).
            An image without detections has empty arrays (it still counts).
        num_classes (int): K.
        box_type (str): ``'rbox'`` (cx, cy, w, h, a) or ``'hbox'`` (x1, y1, x2, y2).
        iou_thrs, area_ranges, max_dets: the protocol (SODA-A defaults).
        nproc (int): worker processes over classes (fork; 1 = in process).
        progress (bool): show MMEngine's progress bar over classes.
        stat_spec (tuple | None): the summary statistics (see :class:`EvalResult`); None = SODA-A's 12.

    Returns:
        EvalResult
    """
    if len(gts) != len(dets):
        raise ValueError(f'{len(gts)} ground-truth images but {len(dets)} detection entries')
    p = EvalParams(num_classes=num_classes, box_type=box_type,
                   iou_thrs=DEFAULT_IOU_THRS if iou_thrs is None else iou_thrs,
                   area_ranges=DEFAULT_AREA_RANGES if area_ranges is None else area_ranges,
                   max_dets=max_dets)
    D = get_box_class(box_type).box_dim
    n_img = len(gts)
    g_boxes, g_labels, g_img, g_area, g_flag = [], [], [], [], []
    d_boxes, d_scores, d_labels, d_img = [], [], [], []
    for i, (g, d) in enumerate(zip(gts, dets)):
        gb = _as_array(g['bboxes'], np.float64, D)
        gl = _as_array(g['labels'], np.int64).reshape(-1)
        ga = box_areas(gb, box_type) if g.get('areas') is None else _as_array(g['areas'], np.float64).reshape(-1)
        gf = np.zeros(len(gl), bool) if g.get('ignore') is None else _as_array(g['ignore'], bool).reshape(-1)
        if not len(ga) == len(gf) == len(gl):
            raise ValueError(f'image #{i}: {len(gl)} ground truths but {len(ga)} areas / {len(gf)} ignore flags')
        if not np.isfinite(ga).all():
            raise ValueError(f'image #{i}: non-finite ground-truth areas')
        db = _as_array(d['bboxes'], np.float64, D)
        ds = _as_array(d['scores'], np.float64).reshape(-1)
        dl = _as_array(d['labels'], np.int64).reshape(-1)
        if len(gb) != len(gl) or not len(db) == len(ds) == len(dl):
            raise ValueError(f'image #{i}: boxes, scores and labels differ in length '
                             f'(gt {len(gb)}/{len(gl)}, det {len(db)}/{len(ds)}/{len(dl)})')
        for name, lab in (('ground-truth', gl), ('detection', dl)):
            bad = (lab < 0) | (lab >= num_classes)
            if bad.any():
                raise ValueError(f'image #{i}: {name} class index {int(lab[bad][0])} out of range '
                                 f'[0, {num_classes})')
        if not (np.isfinite(db).all() and np.isfinite(ds).all()):
            raise ValueError(f'image #{i}: non-finite detection boxes or scores')
        if not np.isfinite(gb).all():
            raise ValueError(f'image #{i}: non-finite ground-truth boxes')
        g_boxes.append(gb), g_labels.append(gl), g_img.append(np.full(len(gl), i))
        g_area.append(ga), g_flag.append(gf)
        d_boxes.append(db), d_scores.append(ds), d_labels.append(dl), d_img.append(np.full(len(dl), i))

    def cat(xs, tail=None):
        if xs:
            return np.concatenate(xs)
        return np.zeros((0, tail) if tail else 0)

    g_boxes, g_labels, g_img = cat(g_boxes, D), cat(g_labels).astype(np.int64), cat(g_img).astype(np.int64)
    g_area, g_flag = cat(g_area).astype(np.float64), cat(g_flag).astype(bool)
    d_boxes, d_scores = cat(d_boxes, D), cat(d_scores)
    d_labels, d_img = cat(d_labels).astype(np.int64), cat(d_img).astype(np.int64)
    g_by = np.argsort(g_labels, kind='stable')
    d_by = np.argsort(d_labels, kind='stable')
    g_split = np.searchsorted(g_labels[g_by], np.arange(num_classes + 1))
    d_split = np.searchsorted(d_labels[d_by], np.arange(num_classes + 1))

    def jobs():
        for k in range(num_classes):
            gi, di = g_by[g_split[k]:g_split[k + 1]], d_by[d_split[k]:d_split[k + 1]]
            yield (d_img[di], d_boxes[di], d_scores[di], g_img[gi], g_boxes[gi], g_area[gi], g_flag[gi], n_img, p)

    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_ranges), len(p.max_dets)
    precision = -np.ones((T, R, num_classes, A, M))
    recall = -np.ones((T, num_classes, A, M))
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(num_classes)
    if nproc > 1 and num_classes > 1:
        ctx = multiprocessing.get_context('fork')
        with ctx.Pool(min(nproc, num_classes), initializer=torch.set_num_threads, initargs=(1, )) as pool:
            for k, (pr, rc) in enumerate(pool.imap(_evaluate_class, jobs())):
                precision[:, :, k], recall[:, k] = pr, rc
                if bar:
                    bar.update()
    else:
        for k, job in enumerate(jobs()):
            precision[:, :, k], recall[:, k] = _evaluate_class(job)
            if bar:
                bar.update()
    res = EvalResult(params=p, precision=precision, recall=recall, num_images=n_img,
                     num_gts=len(g_labels), num_dets=len(d_labels), class_names=tuple(class_names),
                     stat_spec=None if stat_spec is None else tuple(tuple(s) for s in stat_spec))
    res._spec()  # an unknown range or maxDets in stat_spec fails here, not at the first summary
    return res
