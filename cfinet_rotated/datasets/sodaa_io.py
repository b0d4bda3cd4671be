"""Reading SODA-A annotation files: one place that parses and validates polygons.

Used by the split tool, the dataset and the evaluator, so that all three agree on which polygons are
objects, which are ignore regions and which are invalid (and say so, per file, with counts).

Raw layout (official ``rawData``): one JSON per image, ``annotations: [{poly: [x1, y1, ..., x4, y4],
category_id: 0..9}]``; ``category_id`` 9 is an ignore region. Split patches (official ``divData``) use
``cat_id`` instead of ``category_id``; both keys are accepted.
"""
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SODAA_CLASSES = ('airplane', 'helicopter', 'small-vehicle', 'large-vehicle', 'ship', 'container',
                 'storage-tank', 'swimming-pool', 'windmill')
IGNORE_ID = 9
#: largest coordinate magnitude kept (float32's largest finite value); beyond it a polygon counts as non-finite
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: reasons a polygon is skipped; every skip is counted under one of these keys
SKIP_REASONS = ('wrong length', 'non-finite', 'degenerate', 'unknown class')


class AnnotationError(ValueError):
    """A SODA-A annotation file that cannot be used; the message names the file and the problem."""


def polygon_area(poly):
    """Absolute shoelace area of one polygon given as a flat ``[x1, y1, x2, y2, ...]`` sequence."""
    p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@dataclass
class SodaaAnnotation:
    """The parsed content of one SODA-A JSON file."""
    path: str
    polys: np.ndarray  # (N, 8) float64 object polygons
    labels: np.ndarray  # (N,) int64, 0..8
    ignore_polys: list  # list of (K, 2) float64 arrays (category 9)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    meta: dict = field(default_factory=dict)  # the JSON's other top-level fields


def read_json(path):
    """Load a JSON file; a malformed file raises :class:`AnnotationError` naming it."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise AnnotationError(f'{path}: malformed JSON ({e})') from None
    except OSError as e:
        raise AnnotationError(f'{path}: cannot be read ({e.strerror})') from None


def check_polygon(poly, min_area=1.0):
    """Return ``None`` for a usable 4-point polygon, else the reason (one of :data:`SKIP_REASONS`).

    ``min_area`` (px^2): polygons with a smaller area (collinear or repeated points) are degenerate.
    """
    if not isinstance(poly, (list, tuple)) or len(poly) != 8:
        return 'wrong length'
    try:
        vals = [float(v) for v in poly]
    except (TypeError, ValueError):
        return 'non-finite'
    # finite also in float32, the dtype of boxes in the model: 3.5e38 would become inf there (and NaN losses)
    if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in vals):
        return 'non-finite'
    if polygon_area(vals) < min_area:
        return 'degenerate'
    return None


def parse_sodaa(data, path='<memory>', min_area=1.0):
    """Parse a loaded SODA-A dict into a :class:`SodaaAnnotation`.

    Invalid polygons are skipped and counted by reason; the caller decides whether to warn or fail.
    A file whose structure is wrong (no ``annotations`` list, an entry that is not a dict) raises
    :class:`AnnotationError`.
    """
    if not isinstance(data, dict):
        raise AnnotationError(f'{path}: expected a JSON object at top level, got {type(data).__name__}')
    anns = data.get('annotations', [])
    if not isinstance(anns, list):
        raise AnnotationError(f'{path}: "annotations" must be a list')
    polys, labels, ignore, skipped = [], [], [], Counter()
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict) or 'poly' not in ann:
            raise AnnotationError(f'{path}: annotation #{i} is not an object with a "poly" field')
        cat = ann.get('category_id', ann.get('cat_id'))
        # NaN/Infinity are valid JSON for Python's reader: int() of them raised ValueError/OverflowError
        if isinstance(cat, bool) or not isinstance(cat, (int, float)) or not math.isfinite(cat) \
                or cat != int(cat) or not 0 <= int(cat) <= IGNORE_ID:
            skipped['unknown class'] += 1
            continue
        cat = int(cat)
        if cat == IGNORE_ID:
            # ignore regions may have any number of points (>= 3); they are only blacked out
            try:
                p = np.asarray(ann['poly'], dtype=np.float64).reshape(-1, 2)
            except (TypeError, ValueError):
                skipped['wrong length'] += 1
                continue
            if len(p) < 3 or not (np.isfinite(p) & (np.abs(p) <= FLOAT32_MAX)).all():
                skipped['wrong length' if len(p) < 3 else 'non-finite'] += 1
                continue
            ignore.append(p)
            continue
        reason = check_polygon(ann['poly'], min_area=min_area)
        if reason is not None:
            skipped[reason] += 1
            continue
        polys.append([float(v) for v in ann['poly']])
        labels.append(cat)
    meta = {k: v for k, v in data.items() if k != 'annotations'}
    return SodaaAnnotation(
        path=str(path),
        polys=np.asarray(polys, dtype=np.float64).reshape(-1, 8),
        labels=np.asarray(labels, dtype=np.int64),
        ignore_polys=ignore,
        skipped=skipped,
        meta=meta)


def load_sodaa(path, min_area=1.0):
    """Read and parse one SODA-A JSON file (raw image or split patch)."""
    return parse_sodaa(read_json(path), path=path, min_area=min_area)


def format_skips(skipped):
    """``Counter`` of skip reasons -> ``'3 degenerate, 1 unknown class'`` (empty string when none)."""
    return ', '.join(f'{n} {r}' for r, n in sorted(skipped.items()) if n)


def image_file_problem(path):
    """``None`` for an image file that an OpenCV decoder recognises, else what is wrong with it (for an error
    message that names the file): it does not exist, is empty, or is not an image. Checked when a dataset is
    built, so that a bad file stops the run at once with its name, not hours later inside the data pipeline with
    a decoder traceback. Reads only the file's header."""
    import cv2
    path = str(path)
    if not os.path.isfile(path):
        return 'does not exist'
    if os.path.getsize(path) == 0:
        return 'is empty (0 bytes)'
    if not cv2.haveImageReader(path):
        return 'is not an image (no image decoder recognises its header)'
    return None


def list_annotation_files(ann_dir):
    """Sorted JSON files of an annotation folder; a missing or empty folder is an error."""
    d = Path(ann_dir)
    if not d.is_dir():
        raise AnnotationError(f'{d}: annotation folder does not exist')
    files = sorted(d.glob('*.json'))
    if not files:
        raise AnnotationError(f'{d}: no *.json annotation files')
    return files
