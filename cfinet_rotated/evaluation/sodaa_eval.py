"""SODA-A evaluation glue: original-image ground truth, DOTA Task1 files, and the full evaluation.

Used by :class:`~cfinet_rotated.evaluation.SODAAMetric` and ``tools/analysis_tools/eval_sodaa.py`` so that both give the
same numbers for the same predictions.
"""
import json
import os
import os.path as osp
from collections import Counter, OrderedDict

import numpy as np
import torch

from cfinet_rotated.datasets.sodaa_io import (
    SODAA_CLASSES,
    AnnotationError,
    format_skips,
    list_annotation_files,
)

from .size_ap import evaluate_detections, get_box_class


def polys_to_boxes(polys, box_type='rbox'):
    """(N, 8) polygons -> (N, D) boxes through MMRotate's converters (``qbox2rbox``: cv2.minAreaRect,
    regularised to le90 with w >= h; ``qbox2hbox``: the axis-aligned hull)."""
    from mmrotate.structures.bbox import QuadriBoxes, RotatedBoxes
    box_cls = get_box_class(box_type)
    q = QuadriBoxes(torch.as_tensor(np.asarray(polys, dtype=np.float32).reshape(-1, 8)))
    if len(q) == 0:
        return np.zeros((0, box_cls.box_dim), np.float32)
    boxes = q.convert_to(box_cls)
    if isinstance(boxes, RotatedBoxes):
        return boxes.regularize_boxes(pattern='le90').numpy()
    return boxes.tensor.numpy()


def box_sides(boxes, box_type='rbox'):
    """(N, 2) side lengths (w, h) of the boxes."""
    boxes = np.asarray(boxes)
    if get_box_class(box_type).box_dim == 5:
        return boxes[:, 2:4]
    return np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1)


def load_ground_truth(ann_dir, box_type='rbox', min_size=2.0, warnings=None, progress=False, fmt='sodaa',
                      classes=None, image_ids=None):
    """All original-image annotations of a raw folder -> OrderedDict stem -> dict(bboxes, labels[, ignore]).

    Every annotation file is one image, also one without objects. ``fmt``: ``sodaa`` (JSON; ignore regions,
    category 9, are excluded, as in the official protocol), ``dota`` (``labelTxt``) or ``dior`` (DIOR-R XML),
    whose ``classes`` must be given (:func:`cfinet_rotated.datasets.formats.resolve_classes`); their difficult
    objects are COCO ``ignore`` ground truths (a detection on one is neither true nor false positive, as the
    DOTA devkit's evaluation ignores them). Invalid polygons are skipped and counted per reason in ``warnings``.
    Objects whose box has a side below ``min_size`` px are dropped and counted, like the official
    ``poly2obb_np_le90`` (``w < 2 or h < 2``); ``min_size=0`` keeps them. ``image_ids``: only these images
    (a folder that holds several splits, as DIOR-R's); an id without an annotation file is an error.
    """
    from ..datasets.formats import list_files, load_annotation
    warnings = Counter() if warnings is None else warnings
    files = list_annotation_files(ann_dir) if fmt == 'sodaa' else list_files(ann_dir, fmt)
    if image_ids is not None:
        wanted = list(dict.fromkeys(str(i) for i in image_ids))
        by_stem = {f.stem: f for f in files}
        missing = [i for i in wanted if i not in by_stem]
        if missing:
            raise AnnotationError(f'{ann_dir}: no annotation file for {len(missing)} listed image id(s): '
                                  f'{", ".join(missing[:5])}{" ..." if len(missing) > 5 else ""}')
        files = [by_stem[i] for i in wanted]
    if progress:
        from mmengine.utils import track_iter_progress
        files = track_iter_progress(files)
    gts = OrderedDict()
    for f in files:
        ann = load_annotation(f, fmt, classes)  # SODA-A: no difficult objects
        for reason, n in ann.skipped.items():
            warnings[f'ground truth: {reason}'] += n
        boxes = polys_to_boxes(ann.polys, box_type)
        labels, difficult = ann.labels, ann.difficult
        if min_size > 0 and len(boxes):
            ok = (box_sides(boxes, box_type) >= min_size).all(1)
            if not ok.all():
                warnings[f'ground truth: side < {min_size:g} px'] += int((~ok).sum())
            boxes, labels, difficult = boxes[ok], labels[ok], difficult[ok]
        if f.stem in gts:
            raise AnnotationError(f'{f}: duplicate image id {f.stem!r}')
        gts[f.stem] = dict(bboxes=boxes, labels=labels)
        if fmt != 'sodaa':
            gts[f.stem]['ignore'] = difficult > 0
    return gts


def align_predictions(gts, preds, box_type='rbox'):
    """Predictions in the ground-truth image order; images without predictions get empty arrays.

    Predictions for images that have no annotation file raise ``ValueError`` naming them (usually a wrong
    ``--ann-dir`` or a split of another subset).
    """
    unknown = [k for k in preds if k not in gts]
    if unknown:
        show = ', '.join(repr(u) for u in unknown[:5])
        raise ValueError(f'predictions for {len(unknown)} image(s) without an annotation file in the '
                         f'ground-truth folder: {show}{" ..." if len(unknown) > 5 else ""}')
    D = get_box_class(box_type).box_dim
    empty = dict(bboxes=np.zeros((0, D), np.float32), scores=np.zeros(0, np.float32),
                 labels=np.zeros(0, np.int64))
    return [preds.get(k, empty) for k in gts]


def evaluate_sodaa(gts, preds, classes=SODAA_CLASSES, box_type='rbox', iou_thrs=None, area_ranges=None,
                   max_dets=20000, nproc=1, progress=False):
    """Evaluate merged full-image predictions (ori_id -> dict) against :func:`load_ground_truth` output."""
    dets = align_predictions(gts, preds, box_type)
    return evaluate_detections(list(gts.values()), dets, num_classes=len(classes), box_type=box_type,
                               iou_thrs=iou_thrs, area_ranges=area_ranges, max_dets=max_dets,
                               class_names=tuple(classes), nproc=nproc, progress=progress)


def write_task1(preds, out_dir, classes=SODAA_CLASSES, box_type='rbox'):
    """DOTA Task1 files ``Task1_<class>.txt``: ``<image stem> <score> x1 y1 x2 y2 x3 y3 x4 y4`` per line (a stem
    with inner spaces is written as it is; DOTA_devkit itself cannot read such lines).

    Every class gets a file, empty if it has no detections. Returns the written paths.
    """
    box_cls = get_box_class(box_type)
    # the line format is whitespace-separated: an image name may contain inner spaces (read_task1 takes the last
    # nine fields as numbers) but no line break, tab or leading/trailing white space
    bad = [s for s in preds if s != s.strip() or any(c.isspace() and c != ' ' for c in s)]
    if bad:
        raise ValueError(f'{out_dir}: image names that a DOTA Task1 line cannot hold (tab, line break, or white '
                         f'space at either end): {", ".join(repr(b) for b in bad[:3])}')
    os.makedirs(out_dir, exist_ok=True)
    lines = {c: [] for c in range(len(classes))}
    for stem, d in preds.items():
        if not len(d['scores']):
            continue
        polys = box_cls(torch.as_tensor(np.asarray(d['bboxes'], np.float32))).convert_to('qbox').tensor.numpy()
        for poly, score, label in zip(polys, d['scores'], d['labels']):
            lines[int(label)].append(f'{stem} {float(score):.7g} ' + ' '.join(f'{v:.3f}' for v in poly))
    paths = []
    for c, name in enumerate(classes):
        path = osp.join(out_dir, f'Task1_{name}.txt')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines[c]) + ('\n' if lines[c] else ''))
        paths.append(path)
    return paths


def read_task1(pred_dir, classes=SODAA_CLASSES, box_type='rbox', warnings=None, progress=False):
    """A folder of DOTA Task1 files -> OrderedDict stem -> dict(bboxes, scores, labels) (full images).

    A file for an unknown class or a malformed line raises ``ValueError`` naming the file (and line);
    rows with non-finite numbers are skipped and counted in ``warnings``. A missing class file means no
    detections of that class.
    """
    warnings = Counter() if warnings is None else warnings
    if not osp.isdir(pred_dir):
        raise ValueError(f'{pred_dir}: prediction folder does not exist')
    files = sorted(f for f in os.listdir(pred_dir) if f.startswith('Task1_') and f.endswith('.txt'))
    if not files:
        raise ValueError(f'{pred_dir}: no Task1_<class>.txt files')
    index = {c: i for i, c in enumerate(classes)}
    per_img = OrderedDict()
    if progress:
        from mmengine.utils import track_iter_progress
        files = track_iter_progress(files)
    for fname in files:
        cls = fname[len('Task1_'):-len('.txt')]
        if cls not in index:
            raise ValueError(f'{osp.join(pred_dir, fname)}: unknown class {cls!r} (classes: {", ".join(classes)})')
        path = osp.join(pred_dir, fname)
        stems, rows = [], []
        with open(path, encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                # the last nine fields are numbers, the rest is the image name (which may contain spaces)
                tok = line.strip().rsplit(None, 9)
                if not tok:
                    continue
                if len(tok) != 10:
                    raise ValueError(f'{path}:{n}: expected "<image> <score> x1 y1 x2 y2 x3 y3 x4 y4", '
                                     f'got {len(tok)} fields')
                stems.append(tok[0])
                rows.append(tok[1:])
        if not rows:
            continue
        try:
            vals = np.array(rows, dtype=np.float64)
        except ValueError as e:
            raise ValueError(f'{path}: a non-numeric score or coordinate ({e})') from None
        fin = np.isfinite(vals).all(1)
        if not fin.all():
            warnings['non-finite detection'] += int((~fin).sum())
        stems = np.asarray(stems)[fin]
        vals = vals[fin]
        boxes = polys_to_boxes(vals[:, 1:], box_type)
        order = np.argsort(stems, kind='stable')
        stems, vals, boxes = stems[order], vals[order], boxes[order]
        uniq, start = np.unique(stems, return_index=True)
        for s, a, b in zip(uniq, start, np.append(start[1:], len(stems))):
            per_img.setdefault(str(s), []).append((boxes[a:b], vals[a:b, 0], np.full(b - a, index[cls])))
    if not per_img:
        warnings['empty prediction folder (no detections at all)'] += 1
    out = OrderedDict()
    for s, parts in per_img.items():
        out[s] = dict(bboxes=np.concatenate([p[0] for p in parts]).astype(np.float32),
                      scores=np.concatenate([p[1] for p in parts]).astype(np.float32),
                      labels=np.concatenate([p[2] for p in parts]).astype(np.int64))
    return out


def report(result, warnings=None):
    """Text report: the 12-line summary, the per-class table and the counted warnings."""
    lines = result.summary_lines()
    lines.append(result.per_class_table())
    lines.append(f'images={result.num_images} gts={result.num_gts} dets={result.num_dets}')
    if warnings:
        lines.append('skipped: ' + format_skips(warnings))
    return '\n'.join(lines)


def save_metrics(result, path, extra=None):
    """Write all numbers (:meth:`EvalResult.to_dict` plus ``extra``) as JSON."""
    d = result.to_dict()
    if extra:
        d.update(extra)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(d, f, indent=2)
    return d
