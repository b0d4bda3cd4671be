"""SODA-D evaluation glue: full-image ground truth from the COCO JSON, COCO result files, the 14 statistics.

The protocol of the official ``SODADeval`` (CFINet ``mmdet/datasets/sodad_eval/sodadeval.py``, a COCOeval copy):
horizontal boxes, IoU 0.50:0.05:0.95, 101 recall points, maxDets 100/300/1000 per image and class, inclusive area
ranges of :data:`cfinet_rotated.structures.size_subsets.AREA_RANGES` decided by the JSON
``area`` of each ground truth (w * h of the detections), the ``ignore`` flag honoured, ``iscrowd`` treated as 0,
and 14 statistics: AP/AP50/AP75 (Small) and AP per range at maxDets 100, AR Small at 100/300/1000, AR per range at
1000. Used by :class:`~cfinet_rotated.evaluation.SODADMetric` and ``tools/analysis_tools/eval_sodad.py``.
"""
import json
import os
import os.path as osp
from collections import Counter, OrderedDict

import numpy as np

from cfinet_rotated.datasets.sodad_io import SODAD_CLASSES, SODAD_IGNORE_ID, load_sodad

from .size_ap import DEFAULT_AREA_RANGES, evaluate_detections
from .sodaa_eval import align_predictions

SODAD_MAX_DETS = (100, 300, 1000)
#: the official ``summarize`` order: (key, 'AP' | 'AR', IoU threshold or None = 0.50:0.95, range, maxDets)
SODAD_STAT_SPEC = (
    ('AP', 'AP', None, 'Small', 100), ('AP50', 'AP', 0.5, 'Small', 100), ('AP75', 'AP', 0.75, 'Small', 100),
    ('AP_eS', 'AP', None, 'eS', 100), ('AP_rS', 'AP', None, 'rS', 100), ('AP_gS', 'AP', None, 'gS', 100),
    ('AP_N', 'AP', None, 'Normal', 100),
    ('AR_100', 'AR', None, 'Small', 100), ('AR_300', 'AR', None, 'Small', 300),
    ('AR_1000', 'AR', None, 'Small', 1000),
    ('AR_eS', 'AR', None, 'eS', 1000), ('AR_rS', 'AR', None, 'rS', 1000), ('AR_gS', 'AR', None, 'gS', 1000),
    ('AR_N', 'AR', None, 'Normal', 1000))
SODAD_STAT_NAMES = tuple(s[0] for s in SODAD_STAT_SPEC)


def load_sodad_ground_truth(ann_file, warnings=None):
    """Full-image ground truth of a SODA-D COCO JSON -> ``(gts, image_ids)``.

    ``gts``: OrderedDict ``str(image id)`` -> dict(bboxes (G, 4) xyxy, labels (G,), areas (G,), ignore (G,)) in the
    JSON's image order, every image (also one without annotations). Ignore regions (category 10) are excluded (the
    official evaluation reads ``*_wo_ignore.json``; same result). ``area`` is the JSON field as in COCOeval; where
    it is absent, ``w * h`` is used and counted. ``iscrowd`` is treated as 0 (counted when set), ``ignore`` kept.
    Non-finite boxes and areas are dropped and counted. ``image_ids``: ``str(id)`` -> the JSON id (for result files).
    """
    warnings = Counter() if warnings is None else warnings
    ann = load_sodad(ann_file)
    keep = ann.category != SODAD_IGNORE_ID
    finite = np.isfinite(ann.bbox).all(1)
    if (keep & ~finite).any():
        warnings['ground truth: non-finite box'] += int((keep & ~finite).sum())
    keep &= finite
    area, missing = ann.filled_area()
    if (keep & missing).any():
        warnings['ground truth: area missing, w*h used'] += int((keep & missing).sum())
    # an "area" of Infinity (valid JSON for Python), or w*h overflowing: dropped and counted like non-finite boxes
    # (the evaluator refused the whole file with a message that did not name it)
    bad_area = keep & ~np.isfinite(area)
    if bad_area.any():
        warnings['ground truth: non-finite area'] += int(bad_area.sum())
    keep &= ~bad_area
    if (keep & ann.iscrowd).any():
        warnings['ground truth: iscrowd=1 treated as 0'] += int((keep & ann.iscrowd).sum())
    xyxy = ann.xyxy()
    order, starts, ends = ann.image_slices()
    gts, image_ids = OrderedDict(), {}
    for i, image in enumerate(ann.images):
        rows = order[starts[i]:ends[i]]
        rows = rows[keep[rows]]
        key = str(image['id'])
        gts[key] = dict(bboxes=xyxy[rows], labels=ann.category[rows] - 1, areas=area[rows], ignore=ann.ignore[rows])
        image_ids[key] = image['id']
    return gts, image_ids


def evaluate_sodad(gts, preds, classes=SODAD_CLASSES, iou_thrs=None, area_ranges=None, max_dets=SODAD_MAX_DETS,
                   nproc=1, progress=False):
    """Evaluate merged full-image predictions (``str(image id)`` -> dict(bboxes xyxy, scores, labels)) against
    :func:`load_sodad_ground_truth` output with the SODA-D protocol -> ``EvalResult`` with the 14 statistics."""
    dets = align_predictions(gts, preds, 'hbox')
    return evaluate_detections(list(gts.values()), dets, num_classes=len(classes), box_type='hbox',
                               iou_thrs=iou_thrs,
                               area_ranges=DEFAULT_AREA_RANGES if area_ranges is None else area_ranges,
                               max_dets=max_dets, class_names=tuple(classes), nproc=nproc, progress=progress,
                               stat_spec=SODAD_STAT_SPEC)


def write_coco_results(preds, path, image_ids=None):
    """COCO detection results ``[{image_id, category_id (label + 1), bbox [x, y, w, h], score}]`` of merged
    full-image predictions; ``image_ids`` maps the prediction keys back to the JSON ids. Returns the count."""
    rows = []
    for key, d in preds.items():
        b = np.asarray(d['bboxes'], dtype=np.float64).reshape(-1, 4)
        xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1).round(3).tolist()
        iid = image_ids.get(key, key) if image_ids else key
        rows += [dict(image_id=iid, category_id=int(c) + 1, bbox=bb, score=round(float(s), 5))
                 for bb, c, s in zip(xywh, np.asarray(d['labels']).tolist(), np.asarray(d['scores']).tolist())]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(rows, f)
    return len(rows)


def read_coco_results(path, num_classes=len(SODAD_CLASSES), warnings=None):
    """A COCO results JSON of full-image detections -> OrderedDict ``str(image_id)`` -> dict(bboxes xyxy, scores,
    labels). A malformed file or a ``category_id`` outside 1..num_classes raises ``ValueError`` naming the file;
    rows with non-finite numbers are skipped and counted."""
    warnings = Counter() if warnings is None else warnings
    try:
        with open(path, encoding='utf-8') as f:
            rows = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: malformed JSON ({e})') from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f'{path}: expected a list of COCO detections [{{image_id, category_id, bbox, score}}]')
    try:
        img = np.array([str(r['image_id']) for r in rows], dtype=object)
        cat = np.array([r['category_id'] for r in rows], dtype=np.int64).reshape(-1)
        box = np.array([r['bbox'] for r in rows], dtype=np.float64).reshape(len(rows), 4)
        score = np.array([r['score'] for r in rows], dtype=np.float64).reshape(-1)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f'{path}: every detection needs image_id, category_id, bbox [x, y, w, h] and score '
                         f'({type(e).__name__}: {e})') from None
    bad = (cat < 1) | (cat > num_classes)
    if bad.any():
        raise ValueError(f'{path}: category_id {int(cat[bad][0])} outside 1..{num_classes}')
    fin = np.isfinite(box).all(1) & np.isfinite(score)
    if not fin.all():
        warnings['non-finite detection'] += int((~fin).sum())
    img, cat, box, score = img[fin], cat[fin], box[fin], score[fin]
    xyxy = np.concatenate([box[:, :2], box[:, :2] + box[:, 2:]], axis=1)
    out = OrderedDict()
    keys, inverse = np.unique(img.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind='stable')
    bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    for k, key in enumerate(keys):
        rows_k = order[bounds[k]:bounds[k + 1]]
        out[str(key)] = dict(bboxes=xyxy[rows_k].astype(np.float32), scores=score[rows_k].astype(np.float32),
                             labels=cat[rows_k] - 1)
    return out
