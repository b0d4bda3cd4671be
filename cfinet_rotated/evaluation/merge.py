"""Merging per-patch detections back to their original images (SODA-A split patches).

Each patch prediction is shifted by its patch origin (``x_start``, ``y_start``) through the box type's
``translate_``, the patches of one original image are concatenated, and class-wise NMS removes the
duplicates of the overlapping windows: mmcv's ``nms_rotated`` for rotated boxes, ``nms`` for horizontal ones,
IoU 0.5 as the official ``merge_det``. Classes are looped per image (not offset into one batched call), so
the IoUs are those of the unshifted boxes, exactly as the official per-class loop.
"""
from collections import Counter, OrderedDict

import numpy as np
import torch

from .size_ap import get_box_class


def parse_patch_id(stem):
    """``'<ori>__<size>__<x>___<y>'`` -> (ori, x, y). ``<ori>`` may itself contain ``'__'``."""
    try:
        base, y = stem.rsplit('___', 1)
        ori, _size, x = base.rsplit('__', 2)
        return ori, int(x), int(y)
    except ValueError:
        raise ValueError(f'patch id {stem!r} is not of the form <image>__<size>__<x>___<y>; give '
                         f'ori_id, x_start and y_start explicitly') from None


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


def class_wise_nms(bboxes, scores, labels, iou_thr, box_type='rbox', device='cpu'):
    """Indices kept by per-class NMS (mmcv ``nms_rotated`` / ``nms``), sorted by class then score."""
    from mmcv.ops import nms, nms_rotated
    box_cls = get_box_class(box_type)
    keep = []
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    b = torch.from_numpy(np.ascontiguousarray(bboxes, dtype=np.float32)).to(device)
    s = torch.from_numpy(np.ascontiguousarray(scores, dtype=np.float32)).to(device)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        ti = torch.from_numpy(idx).to(device)
        if box_cls.box_dim == 5:
            _, k = nms_rotated(b[ti], s[ti], float(iou_thr))
        else:
            _, k = nms(b[ti], s[ti], float(iou_thr))
        keep.append(idx[k.cpu().numpy()])
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
