"""Merging per-patch detections back to their original images (SODA-A split patches).

Each patch prediction is shifted by its patch origin (``x_start``, ``y_start``) through the box type's
``translate_``, the patches of one original image are concatenated, and class-wise NMS removes the
duplicates of the overlapping windows: mmcv's ``nms_rotated`` for rotated boxes, ``nms`` for horizontal ones,
IoU 0.5 as the official ``merge_det``. Classes are looped per image (not offset into one batched call), so
the IoUs are those of the unshifted boxes, exactly as the official per-class loop; on CPU each class is
further split into groups that cannot suppress each other (:func:`overlap_groups`).
"""
import os
import pickle
from collections import Counter, OrderedDict

import numpy as np
import torch

from cfinet_rotated.datasets.sodaa_split import parse_patch_id  # noqa: F401  (re-exported)

from .size_ap import box_areas, box_hulls, get_box_class


def _to_numpy(x, dtype=None):
    if hasattr(x, 'tensor'):  # a box type
        x = x.tensor
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def patch_prediction(sample, box_dim, num_classes, warnings=None):
    """Normalise one per-patch prediction (a DumpResults-style dict or a metric data sample).

    Returns dict(img_id, ori_id, x_start, y_start, bboxes (N, box_dim) float32, scores, labels). Rows with
    non-finite boxes or scores are dropped and counted in ``warnings['non-finite detection']``; a class index
    outside [0, num_classes) raises ``ValueError`` naming the patch.
    """
    if not isinstance(sample, dict):
        raise ValueError(f'a prediction entry must be a dict, got {type(sample).__name__}')
    meta = sample.get('metainfo', {}) if isinstance(sample.get('metainfo'), dict) else {}

    def get(key):
        return sample[key] if key in sample else meta.get(key)

    img_id = get('img_id')
    if img_id is None:
        img_path = get('img_path')
        if img_path is None:
            raise ValueError('a prediction entry has neither img_id nor img_path')
        img_id = str(img_path).replace('\\', '/').rsplit('/', 1)[-1].rsplit('.', 1)[0]
    img_id = str(img_id)
    ori_id, x0, y0 = get('ori_id'), get('x_start'), get('y_start')
    if ori_id is None or x0 is None or y0 is None:
        p_ori, p_x, p_y = parse_patch_id(img_id)
        ori_id = p_ori if ori_id is None else ori_id
        x0 = p_x if x0 is None else x0
        y0 = p_y if y0 is None else y0
    pred = get('pred_instances')
    if pred is None:
        raise ValueError(f'{img_id}: prediction has no pred_instances')
    try:
        bboxes, scores, labels = pred['bboxes'], pred['scores'], pred['labels']
    except (KeyError, TypeError):
        raise ValueError(f'{img_id}: pred_instances needs bboxes, scores and labels') from None
    bboxes = _to_numpy(bboxes, np.float32)
    scores = _to_numpy(scores, np.float32).reshape(-1)
    labels = _to_numpy(labels, np.int64).reshape(-1)
    if bboxes.size == 0:
        bboxes = bboxes.reshape(0, box_dim)
    if bboxes.ndim != 2 or bboxes.shape[1] != box_dim:
        raise ValueError(f'{img_id}: bboxes must be (N, {box_dim}), got shape {tuple(bboxes.shape)}')
    if not len(bboxes) == len(scores) == len(labels):
        raise ValueError(f'{img_id}: {len(bboxes)} boxes, {len(scores)} scores, {len(labels)} labels')
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(f'{img_id}: class index {int(labels[bad][0])} out of range [0, {num_classes}) '
                         f'(is the model configured with num_classes={num_classes}?)')
    fin = np.isfinite(bboxes).all(1) & np.isfinite(scores)
    if not fin.all():
        if warnings is not None:
            warnings['non-finite detection'] += int((~fin).sum())
        bboxes, scores, labels = bboxes[fin], scores[fin], labels[fin]
    return dict(img_id=img_id, ori_id=str(ori_id), x_start=float(x0), y_start=float(y0),
                bboxes=bboxes, scores=scores, labels=labels)


def overlap_groups(hulls, areas, iou_thr):
    """Group boxes so that every pair with IoU >= ``iou_thr`` lies in one group (connected components of
    the pairs whose axis-aligned hulls intersect by at least ``iou_thr (A1 + A2) / (1 + iou_thr)``, a
    necessary condition for that IoU). Returns a component label per box."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    n = len(hulls)
    order = np.argsort(hulls[:, 0], kind='stable')
    x1 = hulls[order, 0]
    # sweep: box order[i] can only overlap the boxes after it whose x1 is below its x2
    end = np.searchsorted(x1, hulls[order, 2], side='left')
    cnt = np.maximum(end - np.arange(n) - 1, 0)
    a = np.repeat(np.arange(n), cnt)
    b = a + 1 + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    a, b = order[a], order[b]
    iw = np.minimum(hulls[a, 2], hulls[b, 2]) - np.maximum(hulls[a, 0], hulls[b, 0])
    ih = np.minimum(hulls[a, 3], hulls[b, 3]) - np.maximum(hulls[a, 1], hulls[b, 1])
    ok = (iw > 0) & (ih > 0)
    ok &= np.where(ok, iw * ih, 0) >= iou_thr / (1 + iou_thr) * (1 - 1e-3) * (areas[a] + areas[b])
    graph = coo_matrix((np.ones(int(ok.sum())), (a[ok], b[ok])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def class_wise_nms(bboxes, scores, labels, iou_thr, box_type='rbox', device='cpu'):
    """Indices kept by per-class NMS with mmcv's ``nms_rotated`` (rotated) / ``nms`` (horizontal).

    On CPU the boxes of a class are first split into groups that cannot suppress each other (see
    :func:`overlap_groups`) and mmcv's NMS runs per group: the same kept set as one call per class (NMS only
    acts along pairs with IoU >= iou_thr), without the CPU kernel's all-pairs IoU (5000 boxes: 18 s -> ms).
    """
    from mmcv.ops import nms, nms_rotated
    box_cls = get_box_class(box_type)
    nms_fn = nms_rotated if box_cls.box_dim == 5 else nms
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    bboxes = np.ascontiguousarray(bboxes, dtype=np.float32)
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    b = torch.from_numpy(bboxes).to(device)
    s = torch.from_numpy(scores).to(device)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if str(device) != 'cpu':
            ti = torch.from_numpy(idx).to(device)
            keep.append(idx[nms_fn(b[ti], s[ti], float(iou_thr))[1].cpu().numpy()])
            continue
        groups = overlap_groups(box_hulls(bboxes[idx], box_cls), box_areas(bboxes[idx], box_cls), iou_thr)
        size = np.bincount(groups)
        single = size[groups] == 1
        keep.append(idx[single])  # a box alone in its group suppresses nothing and is never suppressed
        multi = idx[~single]
        g = groups[~single]
        o = np.argsort(g, kind='stable')
        multi, g = multi[o], g[o]
        bounds = np.flatnonzero(np.diff(g)) + 1
        for part in np.split(multi, bounds) if len(multi) else []:
            t = torch.from_numpy(part)
            keep.append(part[nms_fn(b[t], s[t], float(iou_thr))[1].numpy()])
    return np.concatenate(keep)


def merge_patch_predictions(samples, num_classes, box_type='rbox', nms_iou_thr=0.5, device='cpu',
                            warnings=None, progress=False):
    """Per-patch predictions -> ``OrderedDict`` ori_id -> dict(bboxes, scores, labels) in image pixels.

    Args:
        samples (iterable[dict]): per-patch predictions (see :func:`patch_prediction`).
        nms_iou_thr (float | None): class-wise NMS IoU; None keeps every detection.
        warnings (Counter | None): receives counts of skipped rows.
    """
    box_cls = get_box_class(box_type)
    D = box_cls.box_dim
    warnings = Counter() if warnings is None else warnings
    groups = OrderedDict()
    for sample in samples:
        s = patch_prediction(sample, D, num_classes, warnings)
        groups.setdefault(s['ori_id'], []).append(s)
    items = list(groups.items())
    if progress:
        from mmengine.utils import track_iter_progress
        items = track_iter_progress(items)
    merged = OrderedDict()
    for ori, parts in items:
        boxes = []
        for part in parts:
            bx = box_cls(torch.from_numpy(part['bboxes']))
            bx.translate_([part['x_start'], part['y_start']])
            boxes.append(bx.tensor.numpy())
        bboxes = np.concatenate(boxes) if boxes else np.zeros((0, D), np.float32)
        scores = np.concatenate([p['scores'] for p in parts])
        labels = np.concatenate([p['labels'] for p in parts])
        if nms_iou_thr is not None and len(scores):
            k = class_wise_nms(bboxes, scores, labels, nms_iou_thr, box_cls, device)
            bboxes, scores, labels = bboxes[k], scores[k], labels[k]
        merged[ori] = dict(bboxes=bboxes, scores=scores, labels=labels)
    return merged


def load_patch_pickle(path):
    """The list of per-patch predictions saved by ``tools/test.py --out``; empty or foreign files are errors."""
    if os.path.getsize(path) == 0:
        raise ValueError(f'{path}: the prediction file is empty')
    with open(path, 'rb') as f:
        try:
            data = pickle.load(f)
        except Exception as e:  # noqa: BLE001  (a truncated or foreign file)
            raise ValueError(f'{path}: not a readable prediction pickle ({type(e).__name__}: {e})') from None
    if isinstance(data, dict) and 'predictions' in data:
        data = data['predictions']
    if not isinstance(data, (list, tuple)):
        raise ValueError(f'{path}: expected a list of per-patch predictions, got {type(data).__name__}')
    if not data:
        raise ValueError(f'{path}: the prediction file contains no predictions')
    return data
