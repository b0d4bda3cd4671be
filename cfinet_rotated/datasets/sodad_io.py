"""Reading SODA-D COCO JSON files: one place that validates them and turns them into arrays.

Used by the split tool, the dataset and the evaluator, so that all three agree on what is an object, what is
an ignore region and what is invalid (and say so, naming the file).

Layout (official SODA-D ``rawData/Annotations/{train,val,test}.json`` and the splitter's patch JSON, CFINet
``mmdet/datasets/sodad.py``): ``images: [{id, file_name, width, height}]`` (patches also ``ori_id`` and
``start_coord: [left, up]``), ``annotations: [{id, image_id, category_id, bbox: [x, y, w, h], area,
iscrowd, ignore?}]``, ``categories: [{id, name}]`` with ids 1..9 = :data:`SODAD_CLASSES` and id 10 = 'ignore'
(ignore regions).

Structural problems (malformed JSON, missing ``images``/``annotations``, an annotation without a 4-number
``bbox``, an unknown ``image_id``, a ``category_id`` outside 1..10 or missing from ``categories``, duplicate
image ids) raise :class:`AnnotationError` naming the file and the first offending entries. Boxes that are
finite but degenerate are left to the caller (the dataset and the splitter skip and count them).
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .sodaa_io import AnnotationError, read_json

SODAD_CLASSES = ('people', 'rider', 'bicycle', 'motor', 'vehicle', 'traffic-sign', 'traffic-light',
                 'traffic-camera', 'warning-cone')
#: category id of ignore regions (official: 'ignore', id 10)
SODAD_IGNORE_ID = 10


def sodad_categories(with_ignore=False):
    """The ``categories`` field: ids 1..9 (and 10 = 'ignore' when ``with_ignore``)."""
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(SODAD_CLASSES)]
    return cats + [dict(id=SODAD_IGNORE_ID, name='ignore')] if with_ignore else cats


@dataclass
class SodadAnnotations:
    """A validated SODA-D COCO JSON as columns (one row per annotation, in file order)."""
    path: str
    data: dict  # the JSON itself
    images: list  # the image dicts, file order
    ann_img: np.ndarray  # (N,) index into ``images``
    category: np.ndarray  # (N,) int64 JSON category id (1..10)
    bbox: np.ndarray  # (N, 4) float64 [x, y, w, h]
    area: np.ndarray  # (N,) float64 JSON ``area``, NaN where absent
    ignore: np.ndarray  # (N,) bool, the ``ignore`` flag (absent = False)
    iscrowd: np.ndarray  # (N,) bool
    ann_ids: list = field(default_factory=list)

    def filled_area(self):
        """(area, missing): the JSON ``area`` with ``w * h`` where it is absent, and the (N,) bool of those rows."""
        missing = np.isnan(self.area)
        return np.where(missing, self.bbox[:, 2] * self.bbox[:, 3], self.area), missing

    def xyxy(self):
        """(N, 4) boxes as ``[x, y, x + w, y + h]``."""
        return xywh_to_xyxy(self.bbox)

    def image_slices(self):
        """(order, starts, ends): annotation rows sorted by image (stable); image i has rows
        ``order[starts[i]:ends[i]]``."""
        order = np.argsort(self.ann_img, kind='stable')
        bounds = np.searchsorted(self.ann_img[order], np.arange(len(self.images) + 1))
        return order, bounds[:-1], bounds[1:]


def _first(items, k=3):
    return ', '.join(str(i) for i in items[:k]) + (' ...' if len(items) > k else '')


def parse_sodad(data, path='<memory>'):
    """Validate a loaded SODA-D COCO dict and return :class:`SodadAnnotations` (see the module docstring)."""
    if not isinstance(data, dict):
        raise AnnotationError(f'{path}: expected a JSON object at top level, got {type(data).__name__}')
    images, anns = data.get('images'), data.get('annotations', [])
    if not isinstance(images, list):
        raise AnnotationError(f'{path}: "images" must be a list of image entries')
    if not isinstance(anns, list):
        raise AnnotationError(f'{path}: "annotations" must be a list')
    bad = [i for i, im in enumerate(images) if not isinstance(im, dict) or 'id' not in im or 'file_name' not in im]
    if bad:
        raise AnnotationError(f'{path}: image entries without "id" or "file_name" (#{_first(bad)})')
    # types, before anything hashes or compares them (a list as id, a string as width: TypeErrors deep inside)
    bad = [i for i, im in enumerate(images) if not _is_id(im['id']) or not isinstance(im['file_name'], str)
           or not im['file_name'] or any(k in im and not _is_size(im[k]) for k in ('width', 'height'))]
    if bad:
        raise AnnotationError(f'{path}: image entries with a wrong type (#{_first(bad)}): "id" must be an integer or '
                              'a string, "file_name" a non-empty string, "width"/"height" positive numbers')
    img_ids = [im['id'] for im in images]
    index = {iid: i for i, iid in enumerate(img_ids)}
    if len(index) != len(img_ids):
        raise AnnotationError(f'{path}: duplicate image ids')
    bad = [i for i, a in enumerate(anns)
           if not isinstance(a, dict) or not {'image_id', 'category_id', 'bbox'} <= set(a)]
    if bad:
        raise AnnotationError(f'{path}: annotations without "image_id", "category_id" or "bbox" (#{_first(bad)})')
    bad = [i for i, a in enumerate(anns) if not _is_id(a['image_id']) or not _is_id(a.get('id', 0))
           or not _is_number(a.get('area', 0), none_ok=True)
           or any(not _is_number(a.get(k, 0)) for k in ('ignore', 'iscrowd'))]
    if bad:
        raise AnnotationError(f'{path}: annotations with a wrong type (#{_first(bad)}): "id" and "image_id" must be '
                              'integers or strings, "area", "ignore" and "iscrowd" numbers')
    ann_ids = [a.get('id', i) for i, a in enumerate(anns)]
    ann_img = np.array([index.get(a['image_id'], -1) for a in anns], dtype=np.int64)
    if (ann_img < 0).any():
        rows = np.flatnonzero(ann_img < 0).tolist()
        raise AnnotationError(f'{path}: annotations of unknown image ids (annotation ids '
                              f'{_first([ann_ids[r] for r in rows])}: image_id '
                              f'{_first([anns[r]["image_id"] for r in rows])})')
    try:
        # numbers only: numpy would turn null into NaN and "1" into 1.0, which MMDetection's dataset then adds
        # to floats (TypeError)
        if not all(_is_box(a['bbox']) for a in anns):
            raise ValueError
        bbox = np.array([a['bbox'] for a in anns], dtype=np.float64).reshape(len(anns), -1)
    except (TypeError, ValueError):
        rows = [i for i, a in enumerate(anns) if not _is_box(a['bbox'])]
        raise AnnotationError(f'{path}: "bbox" must be 4 numbers [x, y, w, h] (annotation ids '
                              f'{_first([ann_ids[r] for r in rows])})') from None
    cats = [a['category_id'] for a in anns]
    categories = data.get('categories', [])
    if not isinstance(categories, list) or not all(isinstance(c, dict) and _is_id(c.get('id')) for c in categories):
        raise AnnotationError(f'{path}: "categories" must be a list of {{"id", "name"}} entries with integer ids')
    known = {c.get('id') for c in categories} | {SODAD_IGNORE_ID}
    bad = [i for i, c in enumerate(cats)
           if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= SODAD_IGNORE_ID or c not in known]
    if bad:
        raise AnnotationError(f'{path}: unknown category_id {_first(sorted({str(cats[r]) for r in bad}))} '
                              f'(annotation ids {_first([ann_ids[r] for r in bad])}); SODA-D uses 1..9 '
                              f'({", ".join(SODAD_CLASSES)}) and {SODAD_IGNORE_ID} = ignore, listed in "categories"')
    area = np.array([a.get('area', np.nan) for a in anns], dtype=np.float64)
    return SodadAnnotations(
        path=str(path), data=data, images=images, ann_img=ann_img,
        category=np.asarray(cats, dtype=np.int64).reshape(-1), bbox=bbox.reshape(-1, 4), area=area,
        ignore=np.array([bool(a.get('ignore', False)) for a in anns], dtype=bool),
        iscrowd=np.array([bool(a.get('iscrowd', False)) for a in anns], dtype=bool),
        ann_ids=ann_ids)


def _is_id(v):
    return isinstance(v, (int, str)) and not isinstance(v, bool)


def _is_number(v, none_ok=False):
    return (v is None and none_ok) or (isinstance(v, (int, float)) and not isinstance(v, bool)) or isinstance(v, bool)


def _is_size(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _is_box(b):
    return isinstance(b, (list, tuple)) and len(b) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       for v in b)


def load_sodad(path):
    """Read and validate one SODA-D COCO JSON file (full images or patches)."""
    return parse_sodad(read_json(path), path=path)


def xywh_to_xyxy(boxes):
    """(N, 4) COCO ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` (float64)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def degenerate_boxes(bbox):
    """(N,) bool: boxes that cannot be objects, non-finite or with ``w <= 0`` or ``h <= 0``."""
    bbox = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    return ~np.isfinite(bbox).all(1) | (bbox[:, 2] <= 0) | (bbox[:, 3] <= 0)


__all__ = ['SODAD_CLASSES', 'SODAD_IGNORE_ID', 'SodadAnnotations', 'parse_sodad', 'load_sodad',
           'sodad_categories', 'degenerate_boxes', 'xywh_to_xyxy', 'AnnotationError']
