"""Splitting SODA-A images into overlapping patches (the official ``sodaa_split.py`` settings, two bugs fixed).

The pure functions (:func:`sliding_windows`, :func:`polygon_iof`, :func:`fill_ignore`,
:func:`clip_polygon_to_window`, :func:`split_image`) take arrays and return arrays; :func:`split_one` adds the
file I/O for one image and never raises, so a pool of workers can process a whole folder and report every bad
file at the end; :func:`summarize` checks that every input annotation is accounted for exactly once.

Official behaviour (SODA-mmrotate ``tools/data/sodaa/sodaa_split.py``, forked from BboxToolkit) with
``split_configs/sodaa_train.json``: 800 px windows, ``gap`` 150 px = the OVERLAP between neighbouring windows
(step = size - gap = 650; the official argparse default ``--gaps 650`` would give step 150), keep windows
with image-area ratio > 0.6, an object belongs to a window iff IoF >= 0.7, ignore regions (category 9)
blacked out except object pixels, bottom/right padding with BGR (104, 116, 124).

Deliberate differences (docs/deviations.md, "Data: split tool and dataset"):

* an image with exactly one object keeps it (the official ``.squeeze()`` turned its (1, 8) array into (8,)
  and the object vanished);
* a truncated object is written as the polygon clipped to the window, reduced to four points, inside
  ``[0, size]`` (the official code subtracted the origin and clamped at 0 only, so coordinates above
  ``size`` stayed and the clamped corners distorted the box).
"""
import json
import math
import os
import traceback
from collections import Counter
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import cv2
import numpy as np
import shapely

from .sodaa_io import IGNORE_ID, SKIP_REASONS, SODAA_CLASSES, AnnotationError

#: image extensions looked for next to ``Annotations/<stem>.json``, in this order
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')
#: the fates of an object, each object ends in exactly one
FATES = ('whole', 'truncated', 'dropped')


@dataclass(frozen=True)
class SplitConfig:
    """Split settings; the defaults are the official SODA-A ones.

    ``gap`` is the overlap between neighbouring windows in pixels, so the step is ``size - gap``.
    """
    size: int = 800
    gap: int = 150
    img_rate_thr: float = 0.6
    iof_thr: float = 0.7
    padding: bool = True
    padding_value: tuple = (104, 116, 124)
    ext: str = '.jpg'
    #: annotation format of the raw data (``sodaa``, ``dota``, ``dior``; :mod:`.formats`); the patches are
    #: written as SODA-A JSON (``sodaa``) or as DOTA ``labelTxt`` (``dota`` and ``dior``)
    fmt: str = 'sodaa'
    #: class names, index = label (SODA-A: its 9 classes)
    classes: tuple = SODAA_CLASSES

    def __post_init__(self):
        if not (isinstance(self.size, int) and self.size > 0):
            raise ValueError(f'size must be a positive integer, got {self.size!r}')
        if not 0 <= self.gap < self.size:
            raise ValueError(f'gap is the overlap between windows and must satisfy 0 <= gap < size '
                             f'(= {self.size}), got {self.gap}')
        if not 0 < self.iof_thr <= 1:
            raise ValueError(f'iof_thr must lie in (0, 1], got {self.iof_thr}')
        if not 0 <= self.img_rate_thr < 1:
            raise ValueError(f'img_rate_thr must lie in [0, 1), got {self.img_rate_thr}')
        if len(self.padding_value) != 3:
            raise ValueError(f'padding_value needs 3 values (B, G, R), got {self.padding_value!r}')
        if not self.ext.startswith('.'):
            raise ValueError(f'ext must start with a dot, got {self.ext!r}')
        from .formats import check_format
        check_format(self.fmt)
        if self.fmt == 'sodaa' and tuple(self.classes) != SODAA_CLASSES:
            raise ValueError('the SODA-A format has its own 9 classes (category ids); classes are for dota/dior')

    @property
    def out_layout(self):
        """(image folder, annotation folder) of the patches: SODA-A ``divData`` or DOTA devkit layout."""
        return ('Images', 'Annotations') if self.fmt == 'sodaa' else ('images', 'labelTxt')

    @property
    def step(self):
        return self.size - self.gap


def window_starts(length, size, step):
    """Start coordinates of the windows along one axis (official ``get_sliding_window``).

    ``n = 1`` if ``length <= size`` else ``ceil((length - size) / step + 1)``; starts ``step * i``; when
    there is more than one start and the last window overflows, the last start becomes ``length - size``.
    """
    n = 1 if length <= size else math.ceil((length - size) / step + 1)
    starts = [step * i for i in range(n)]
    if len(starts) > 1 and starts[-1] + size > length:
        starts[-1] = length - size
    return starts


def sliding_windows(width, height, size=800, gap=150, img_rate_thr=0.6):
    """Windows ``(N, 4)`` int64 ``[x1, y1, x2, y2]`` (x-major order) kept for a ``width x height`` image.

    A window is kept when (window ∩ image area) / window area > ``img_rate_thr``; when none qualifies,
    the windows within 0.01 of the best ratio are kept (official behaviour).
    """
    step = size - gap
    starts = np.array(list(product(window_starts(width, size, step),
                                   window_starts(height, size, step))), dtype=np.int64).reshape(-1, 2)
    windows = np.concatenate([starts, starts + size], axis=1)
    return filter_windows(windows, width, height, img_rate_thr)


def filter_windows(windows, width, height, img_rate_thr=0.6):
    """Keep windows whose image-area ratio (window ∩ image) / window exceeds ``img_rate_thr``.

    When none does, keep those within 0.01 of the best ratio (official behaviour).
    """
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 4)
    inside = windows.copy()
    inside[:, 0::2] = np.clip(inside[:, 0::2], 0, width)
    inside[:, 1::2] = np.clip(inside[:, 1::2], 0, height)
    rates = ((inside[:, 2] - inside[:, 0]) * (inside[:, 3] - inside[:, 1])) / \
        ((windows[:, 2] - windows[:, 0]) * (windows[:, 3] - windows[:, 1])).astype(np.float64)
    keep = rates > img_rate_thr
    if not keep.any():
        keep = np.abs(rates - rates.max()) < 0.01
    return windows[keep]


def _as_valid_polygons(polys):
    """(N, 8) -> shapely polygons; self-intersecting ones are repaired with ``make_valid``."""
    geoms = shapely.polygons(np.asarray(polys, dtype=np.float64).reshape(-1, 4, 2))
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms, bad


def polygon_iof(polys, windows):
    """IoF ``(N, M)`` = area(poly ∩ window) / area(poly) for ``polys (N, 8)`` and ``windows (M, 4)``.

    Vectorised horizontal-box pre-filter: pairs whose boxes do not overlap get 0, polygons whose box lies
    inside the window get exactly 1; shapely computes only the remaining (border-crossing) pairs.
    """
    polys = np.asarray(polys, dtype=np.float64).reshape(-1, 8)
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
    iof = np.zeros((len(polys), len(windows)), dtype=np.float64)
    if not len(polys) or not len(windows):
        return iof
    x, y = polys[:, 0::2], polys[:, 1::2]
    hbb = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], axis=1)[:, None, :]
    win = windows[None]
    overlap = (np.minimum(hbb[..., 2], win[..., 2]) > np.maximum(hbb[..., 0], win[..., 0])) & \
              (np.minimum(hbb[..., 3], win[..., 3]) > np.maximum(hbb[..., 1], win[..., 1]))
    inside = (hbb[..., 0] >= win[..., 0]) & (hbb[..., 1] >= win[..., 1]) & \
             (hbb[..., 2] <= win[..., 2]) & (hbb[..., 3] <= win[..., 3])
    iof[inside] = 1.0
    pi, wi = np.nonzero(overlap & ~inside)
    if len(pi):
        geoms, _ = _as_valid_polygons(polys)
        areas = shapely.area(geoms)
        boxes = shapely.box(windows[:, 0], windows[:, 1], windows[:, 2], windows[:, 3])
        inter = shapely.area(shapely.intersection(geoms[pi], boxes[wi]))
        iof[pi, wi] = inter / np.maximum(areas[pi], 1e-12)
    return iof


def fill_ignore(img, ignore_polys, object_polys):
    """Black out ignore regions except object pixels, in place (official ``fill_ign``); returns ``img``.

    mask = 1; ``cv2.fillPoly`` of the ignore polygons -> 0; then of every valid object polygon -> 1;
    ``img *= mask``. Vertices are rounded to the nearest pixel.
    """
    if not len(ignore_polys):
        return img
    mask = np.ones(img.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(p, dtype=np.float64).reshape(-1, 2)).astype(np.int32)
                        for p in ignore_polys], 0)
    if len(object_polys):
        cv2.fillPoly(mask, list(np.round(np.asarray(object_polys, dtype=np.float64).reshape(-1, 4, 2))
                                .astype(np.int32)), 1)
    img *= mask[..., None] if img.ndim == 3 else mask
    return img


def clip_polygon_to_window(poly, window):
    """The part of ``poly`` (8 floats, image coords) inside ``window``, as 8 floats in window coords.

    The intersection's convex hull is kept as-is when it has four vertices (e.g. a rectangle cut by one
    edge parallel to a side), otherwise it is replaced by its minimum-area rectangle
    (``cv2.minAreaRect``); the corners are finally clamped to ``[0, window size]``, which only moves the
    rectangle corners that stick out past the window edge. The result always lies inside the patch.
    """
    x1, y1, x2, y2 = (float(v) for v in window)
    geom, _ = _as_valid_polygons(poly)
    hull = shapely.intersection(geom[0], shapely.box(x1, y1, x2, y2)).convex_hull
    if hull.geom_type == 'Polygon' and not hull.is_empty:
        pts = np.asarray(hull.exterior.coords, dtype=np.float64)[:-1]
    else:  # a line or point: degenerate overlap, fall back to the rectangle of the clamped vertices
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2).clip([x1, y1], [x2, y2])
    if len(pts) != 4:
        pts = cv2.boxPoints(cv2.minAreaRect(pts.astype(np.float32))).astype(np.float64)
    pts = pts - [x1, y1]
    return np.clip(pts, 0, [x2 - x1, y2 - y1]).reshape(8)


def patch_name(stem, size, x_start, y_start):
    """Official patch id ``<stem>__<size>__<x>___<y>``."""
    return f'{stem}__{size}__{x_start}___{y_start}'


def parse_patch_id(stem):
    """``'<ori>__<size>__<x>___<y>'`` -> (ori, x, y). ``<ori>`` may itself contain ``'__'``."""
    try:
        base, y = stem.rsplit('___', 1)
        ori, _size, x = base.rsplit('__', 2)
        return ori, int(x), int(y)
    except ValueError:
        raise ValueError(f'patch id {stem!r} is not of the form <image>__<size>__<x>___<y>; give '
                         f'ori_id, x_start and y_start explicitly') from None


def crop_patch(img, window, padding=True, padding_value=(104, 116, 124)):
    """Crop ``window`` from ``img``; pad bottom/right with ``padding_value`` to the full window size."""
    x1, y1, x2, y2 = (int(v) for v in window)
    patch = img[y1:y2, x1:x2]
    h, w = y2 - y1, x2 - x1
    if padding and (patch.shape[0] < h or patch.shape[1] < w):
        padded = np.empty((h, w) + patch.shape[2:], dtype=img.dtype)
        padded[...] = padding_value if img.ndim == 3 else padding_value[0]
        padded[:patch.shape[0], :patch.shape[1]] = patch
        patch = padded
    return patch


def categories():
    """The ``categories`` field of a patch JSON (official layout)."""
    return [dict(id=i, name=n) for i, n in enumerate(SODAA_CLASSES)]


def split_image(img, polys, labels, ignore_polys, stem, cfg=SplitConfig(), difficult=None):
    """Split one image (BGR array) and its annotation; no I/O.

    Args:
        img: (H, W, 3) uint8, modified in place by the ignore fill.
        polys: (N, 8) object polygons in image coordinates; labels: (N,) 0..8.
        ignore_polys: list of (K, 2) ignore polygons (category 9).
        stem: image stem, used for the patch ids.
        difficult: (N,) difficult flags (DOTA/DIOR-R), kept per object in the patch annotations.

    Returns:
        ``(patches, best_iof)``: a list of ``(patch_id, patch_img, patch_json)`` in window order, and the
        best IoF of each object over the kept windows (``(N,)``; 1 = whole in some window).
    """
    polys = np.asarray(polys, dtype=np.float64).reshape(-1, 8)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    h, w = img.shape[:2]
    windows = sliding_windows(w, h, cfg.size, cfg.gap, cfg.img_rate_thr)
    iof = polygon_iof(polys, windows)
    fill_ignore(img, ignore_polys, polys)
    patches = []
    for j, window in enumerate(windows):
        x1, y1 = int(window[0]), int(window[1])
        anns = []
        for i in np.nonzero(iof[:, j] >= cfg.iof_thr)[0]:
            if iof[i, j] >= 1.0:
                local = (polys[i].reshape(4, 2) - [x1, y1]).clip(0, cfg.size).reshape(8)
            else:
                local = clip_polygon_to_window(polys[i], window)
            anns.append(dict(poly=[round(float(v), 2) for v in local], cat_id=int(labels[i]),
                             trunc=int(iof[i, j] < 1.0)))
            if difficult is not None:
                anns[-1]['difficult'] = int(difficult[i])
        pid = patch_name(stem, cfg.size, x1, y1)
        patch = crop_patch(img, window, cfg.padding, cfg.padding_value)
        info = dict(filename=pid + cfg.ext, x_start=x1, y_start=y1, id=pid, ori_id=stem,
                    height=int(patch.shape[0]), width=int(patch.shape[1]), annotations=anns,
                    categories=categories() if cfg.fmt == 'sodaa' else
                    [dict(id=i, name=n) for i, n in enumerate(cfg.classes)])
        patches.append((pid, patch, info))
    best = iof.max(axis=1) if iof.size else np.zeros(len(polys))
    return patches, best


def object_fates(best_iof, iof_thr):
    """Each object's fate from its best IoF: 'whole' (1), 'truncated' (>= thr) or 'dropped'."""
    best = np.asarray(best_iof, dtype=np.float64)
    return np.where(best >= 1.0, 0, np.where(best >= iof_thr, 1, 2))


def find_image(img_dir, stem):
    """The image file of ``stem`` in ``img_dir`` (first of :data:`IMAGE_EXTS`), or ``None``."""
    for ext in IMAGE_EXTS:
        p = Path(img_dir) / (stem + ext)
        if p.is_file():
            return p
    return None


def _empty_result(file, stem, num_classes=len(SODAA_CLASSES)):
    return dict(file=str(file), stem=stem, error=None, annotations=None, ignore=0, skipped={},
                patches=0, empty_patches=0, lost=0, difficult=0,
                fates={f: [0] * num_classes for f in FATES})


def write_patch(out_dir, pid, patch, info, cfg):
    """Write one patch image and its annotation: SODA-A JSON, or a DOTA label file (the source's
    ``imagesource``/``gsd`` header kept) for ``dota``/``dior``."""
    from .formats import dota_lines
    img_sub, ann_sub = cfg.out_layout
    img_path = Path(out_dir) / img_sub / (pid + cfg.ext)
    if not cv2.imwrite(str(img_path), patch):
        raise OSError(f'{img_path}: cv2.imwrite failed')
    if cfg.fmt == 'sodaa':
        with open(Path(out_dir) / ann_sub / (pid + '.json'), 'w', encoding='utf-8') as f:
            json.dump(info, f)
        return
    anns = info['annotations']
    text = dota_lines([a['poly'] for a in anns], [cfg.classes[a['cat_id']] for a in anns],
                      [a.get('difficult', 0) for a in anns], info.get('meta'))
    with open(Path(out_dir) / ann_sub / (pid + '.txt'), 'w', encoding='utf-8') as f:
        f.write(text)


def split_one(task):
    """Split one image of ``task = (ann_path, img_dir, out_dir, cfg)`` and write its patches.

    Never raises: problems are returned in the result's ``error`` (the file failed, nothing written for
    it) and invalid polygons in ``skipped`` (reason -> count). ``annotations`` is the number of entries of
    the annotation file (None when it could not be parsed); ``lost`` counts the objects and ignore regions
    of a file that parsed but failed later (e.g. missing image).
    """
    from .formats import load_annotation
    ann_path, img_dir, out_dir, cfg = task
    stem = Path(ann_path).stem
    res = _empty_result(ann_path, stem, len(cfg.classes))
    try:
        ann = load_annotation(ann_path, cfg.fmt, cfg.classes)
        res['annotations'] = ann.entries
        res['skipped'] = dict(ann.skipped)
        if '__' in stem:
            raise AnnotationError(f'{ann_path}: the stem contains "__", which the patch names '
                                  f'<stem>__<size>__<x>___<y> cannot round-trip')
        img_path = find_image(img_dir, stem)
        if img_path is None:
            raise AnnotationError(f'{ann_path}: no image {stem}{IMAGE_EXTS[0]} (or {", ".join(IMAGE_EXTS[1:])})'
                                  f' in {img_dir}')
        img = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        if img is None:
            raise AnnotationError(f'{img_path}: cannot be read as an image')
        patches, best = split_image(img, ann.polys, ann.labels, ann.ignore_polys, stem, cfg,
                                    difficult=None if cfg.fmt == 'sodaa' else ann.difficult)
        for pid, patch, info in patches:
            if cfg.fmt != 'sodaa':
                info['meta'] = {k: v for k, v in ann.meta.items() if k in ('imagesource', 'gsd')}
            write_patch(out_dir, pid, patch, info, cfg)
        res['difficult'] = int((ann.difficult > 0).sum())
        for fate, label in zip(object_fates(best, cfg.iof_thr), ann.labels):
            res['fates'][FATES[fate]][int(label)] += 1
        res['ignore'] = len(ann.ignore_polys)
        res['patches'] = len(patches)
        res['empty_patches'] = sum(not info['annotations'] for _, _, info in patches)
    except (AnnotationError, OSError) as e:
        res['error'] = str(e)
    except Exception as e:  # noqa: BLE001 - one bad file must not kill the pool; reported per file
        res['error'] = f'{ann_path}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}'
    if res['error'] is not None:
        res['fates'] = {f: [0] * len(cfg.classes) for f in FATES}
        res['ignore'] = res['patches'] = res['empty_patches'] = res['difficult'] = 0
        if res['annotations'] is not None:
            res['lost'] = res['annotations'] - sum(res['skipped'].values())
    return res


def summarize(results, orphan_images=(), cfg=SplitConfig()):
    """Totals over the per-file results of :func:`split_one`; checks that the accounting adds up.

    Every entry of every parsed annotation file is exactly one of: an object kept whole (IoF 1 in at least
    one window), kept truncated only (best IoF in [iof_thr, 1)), dropped (under iof_thr in every window), an
    ignore region, a skipped invalid polygon, or lost with its file (the file failed after parsing).
    ``orphan_images`` are images without an annotation file; they count as failed files.
    """
    n_cls = len(cfg.classes)
    fates = {f: [0] * n_cls for f in FATES}
    skipped = Counter()
    failed = [dict(file=r['file'], problem=r['error']) for r in results if r['error'] is not None]
    failed += [dict(file=str(p), problem=f'{p}: image without annotation file') for p in orphan_images]
    warnings = []
    tot = Counter()
    for r in results:
        for f in FATES:
            fates[f] = [a + b for a, b in zip(fates[f], r['fates'][f])]
        skipped.update(r['skipped'])
        if r['skipped']:
            warnings.append(dict(file=r['file'], skipped=dict(r['skipped'])))
        for k in ('ignore', 'patches', 'empty_patches', 'lost', 'difficult'):
            tot[k] += r[k]
        if r['annotations'] is not None:
            tot['annotations'] += r['annotations']
            got = sum(sum(r['fates'][f]) for f in FATES) + r['ignore'] + sum(r['skipped'].values()) + r['lost']
            assert got == r['annotations'], f'{r["file"]}: {got} accounted for, {r["annotations"]} in the file'
    objects = {f: sum(fates[f]) for f in FATES}
    accounted = sum(objects.values()) + tot['ignore'] + sum(skipped.values()) + tot['lost']
    assert accounted == tot['annotations'], f'accounting: {accounted} != {tot["annotations"]}'
    return dict(
        settings=dict(size=cfg.size, gap=cfg.gap, step=cfg.step, img_rate_thr=cfg.img_rate_thr,
                      iof_thr=cfg.iof_thr, padding=cfg.padding, padding_value=list(cfg.padding_value),
                      ext=cfg.ext, format=cfg.fmt, classes=list(cfg.classes)),
        images=dict(total=len(results) + len(orphan_images),
                    split=sum(r['error'] is None for r in results), failed=len(failed)),
        patches=dict(written=tot['patches'], empty=tot['empty_patches']),
        annotations=tot['annotations'],
        objects=dict(objects, total=sum(objects.values())),
        objects_per_class={name: {f: fates[f][i] for f in FATES} for i, name in enumerate(cfg.classes)},
        difficult_objects=tot['difficult'],
        ignore_regions_filled=tot['ignore'],
        skipped_invalid={r: skipped.get(r, 0) for r in SKIP_REASONS if skipped.get(r, 0)},
        lost_in_failed_files=tot['lost'],
        failed_files=failed,
        warnings=warnings)


def class_table(per_class, columns, width=15):
    """Lines of a per-class count table: ``per_class`` {class: {key: n}}, ``columns`` ((title, key), ...)."""
    cols = [(t, k, max(8, len(t) + 2)) for t, k in columns]
    lines = [f"{'class':<{width}}" + ''.join(f'{t:>{w}}' for t, _, w in cols)]
    lines += [f'{name:<{width}}' + ''.join(f'{c[k]:>{w}}' for _, k, w in cols) for name, c in per_class.items()]
    return lines


def format_summary(s):
    """Human-readable lines of a :func:`summarize` dict."""
    o = s['objects']
    lines = [
        f"images: {s['images']['total']} ({s['images']['split']} split, {s['images']['failed']} failed); "
        f"patches written: {s['patches']['written']} ({s['patches']['empty']} without objects)",
        f"annotations read: {s['annotations']} = objects kept whole {o['whole']} + kept truncated only "
        f"{o['truncated']} + dropped (IoF < {s['settings']['iof_thr']} everywhere) {o['dropped']} + "
        f"ignore regions filled {s['ignore_regions_filled']} + skipped invalid "
        f"{sum(s['skipped_invalid'].values())} + lost with failed files {s['lost_in_failed_files']}",
    ]
    if s.get('difficult_objects'):
        lines.append(f"difficult objects (flag > 0, kept with their flag): {s['difficult_objects']}")
    width = max([15] + [len(n) + 2 for n in s['objects_per_class']])
    lines += class_table(s['objects_per_class'], (('whole', 'whole'), ('trunc', 'truncated'), ('dropped', 'dropped')),
                         width=width)
    if s['skipped_invalid']:
        lines.append('skipped invalid polygons: ' + ', '.join(f'{n} {r}' for r, n in s['skipped_invalid'].items()))
    for w in s['warnings']:
        lines.append(f"warning: {w['file']}: skipped " + ', '.join(f'{n} {r}' for r, n in sorted(w['skipped'].items())))
    for f in s['failed_files']:
        lines.append(f"FAILED: {f['problem']}")
    return lines


def prepare_out_dir(out_dir, overwrite=False, layout=('Images', 'Annotations')):
    """Create ``OUT/Images`` and ``OUT/Annotations`` (``layout``); refuse a non-empty ``OUT`` unless
    ``overwrite``.

    With ``overwrite`` only the two ``layout`` folders and ``split_summary.json`` are cleared.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f'{out}: exists and is not a folder')
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f'{out}: folder is not empty; pass --overwrite to replace its '
                                  f'{layout[0]}/ and {layout[1]}/')
        for sub in layout:
            d = out / sub
            if d.is_dir():
                for p in d.iterdir():
                    if p.is_file() or p.is_symlink():
                        p.unlink()
        if (out / 'split_summary.json').exists():
            (out / 'split_summary.json').unlink()
    for sub in layout:
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def list_tasks(src_dir, out_dir, cfg, img_dir=None, ann_dir=None):
    """Tasks for :func:`split_one` (one per annotation file: ``Annotations/*.json``, DOTA ``labelTxt/*.txt``,
    DIOR-R ``Annotations/Oriented Bounding Boxes/*.xml``; or ``ann_dir``) and the images without annotations."""
    from .formats import LAYOUTS, list_files
    src = Path(src_dir)
    img_dir = Path(img_dir) if img_dir else src / LAYOUTS[cfg.fmt][0]
    if not img_dir.is_dir():
        raise AnnotationError(f'{img_dir}: image folder does not exist')
    ann_files = list_files(ann_dir or src / LAYOUTS[cfg.fmt][1], cfg.fmt)
    stems = {p.stem for p in ann_files}
    orphans = sorted(p for p in img_dir.iterdir()
                     if p.suffix.lower() in IMAGE_EXTS and p.stem not in stems)
    return [(str(p), str(img_dir), str(out_dir), cfg) for p in ann_files], orphans


def default_workers():
    return max(1, min(4, os.cpu_count() or 1))


__all__ = ['SplitConfig', 'window_starts', 'sliding_windows', 'filter_windows', 'polygon_iof', 'fill_ignore',
           'clip_polygon_to_window', 'patch_name', 'crop_patch', 'split_image', 'object_fates',
           'split_one', 'summarize', 'class_table', 'format_summary', 'prepare_out_dir', 'list_tasks', 'IGNORE_ID']


def split_sodaa(src, dst, cfg=SplitConfig(), workers=1, overwrite=False, log=print, img_dir=None, ann_dir=None):
    """Split every image of a raw folder (SODA-A ``SRC/{Images,Annotations}``; ``cfg.fmt`` ``dota``:
    ``SRC/{images,labelTxt}``, ``dior``: ``SRC/{JPEGImages,Annotations/Oriented Bounding Boxes}``; or ``img_dir``,
    ``ann_dir``) into ``DST/{Images,Annotations}`` (DOTA/DIOR-R: ``DST/{images,labelTxt}``) and write
    ``DST/split_summary.json``. Returns the summary (``failed_files`` lists the failures); ``log`` gets the
    one-line settings and the summary lines (``None``: silent)."""
    import json

    from mmengine.utils import track_parallel_progress, track_progress
    tasks, orphans = list_tasks(src, dst, cfg, img_dir=img_dir, ann_dir=ann_dir)
    out = prepare_out_dir(dst, overwrite=overwrite, layout=cfg.out_layout)
    log = log or (lambda *_: None)
    log(f'splitting {len(tasks)} images ({cfg.fmt} format, {len(cfg.classes)} classes) from {src} into {out}: '
        f'window {cfg.size}, overlap (gap) '
        f'{cfg.gap}, step {cfg.step}, img_rate_thr {cfg.img_rate_thr}, iof_thr {cfg.iof_thr}, '
        f'padding {list(cfg.padding_value) if cfg.padding else "off"}')
    if workers > 1 and len(tasks) > 1:
        results = track_parallel_progress(split_one, tasks, nproc=min(workers, len(tasks)))
    else:
        results = track_progress(split_one, tasks)
    summary = summarize(results, orphans, cfg)
    with open(out / 'split_summary.json', 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    log('\n'.join(format_summary(summary)))
    log(f'summary written to {out / "split_summary.json"}')
    return summary

