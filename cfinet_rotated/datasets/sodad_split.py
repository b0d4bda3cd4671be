"""Splitting SODA-D images into overlapping patches with one patch-level COCO JSON (official settings).

Official behaviour (CFINet ``tools/img_split/sodad_split.py`` with ``split_configs/split_train.json``):

* 800 px windows, overlap 150 (``stepSz`` is the overlap: stride 650), x-major, starting at 0; the last window
  of a row/column is snapped to the border (``max(size - 800, 0)``); images smaller than 800 px are padded
  bottom/right with black, so every patch is 800 x 800. (:func:`~.split.sliding_windows` with
  ``img_rate_thr=0`` gives exactly these positions, e.g. 1920 x 1080 -> x {0, 650, 1120}, y {0, 280}.)
* every box (xywh) overlapping a patch is clipped to it; ``area`` = the clipped area, ``ignore`` = clipped area /
  box area <= 0.40, ``iscrowd`` 0, ``segmentation`` = the clipped box's corners (int);
* category-10 boxes (ignore regions) are filled black except the pixels of the other boxes, then removed;
* train mode drops patches without annotations (ignore-flagged ones count as annotations); val/test keeps all;
* patch image entries record ``ori_id`` (the original image id) and ``start_coord`` ``[left, up]``.

Deliberate differences (docs/deviations.md, "SODA-D"): windows cover the whole image in every mode (official
train mode first crops the image at the largest annotation coordinate + 5); every image of val/test is split,
also one without annotations (official: only images with annotations); patch names ``<stem>__800__<x>___<y>``
(official ``<stem>_<k>``); a box already flagged ``ignore`` in the input stays ignored; the ignore fill
rasterises on the whole image with rounded vertices (official: per patch, truncated); bad boxes are skipped and
counted, a missing image is reported and the rest still split.

Axis-aligned boxes meet axis-aligned windows in an axis-aligned box, so the clipping is ``np.clip`` of the
corners over all (box, window) pairs at once: the exact intersection that shapely would return.
"""
import json
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .sodaa_io import AnnotationError
from .sodaa_split import SplitConfig, class_table, crop_patch, fill_ignore, patch_name, sliding_windows
from .sodad_io import SODAD_CLASSES, SODAD_IGNORE_ID, degenerate_boxes, load_sodad, sodad_categories, xywh_to_xyxy

MODES = ('train', 'val', 'test')
#: the fates of an object (a valid box of classes 1..9), by its best clipped/original area ratio over the patches
FATES = ('whole', 'clipped', 'ignore_only', 'outside')


@dataclass(frozen=True)
class SodadSplitConfig(SplitConfig):
    """SODA-D split settings; the defaults are the official ``split_train.json``.

    Inherited: ``size`` (800), ``gap`` = overlap (150, stride 650), ``ext``; ``padding_value`` black;
    ``img_rate_thr`` 0 keeps every window. ``iof_thr`` is not used (SODA-D keeps every overlapping box, as
    ignore when ``clipped / original area <= ignore_thr``). ``mode``: 'train' drops patches without annotations.
    """
    padding_value: tuple = (0, 0, 0)
    img_rate_thr: float = 0.0
    ignore_thr: float = 0.40
    mode: str = 'train'

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.ignore_thr < 1:
            raise ValueError(f'ignore_thr must lie in [0, 1), got {self.ignore_thr}')
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}')


def box_polygons(boxes_xyxy):
    """(N, 4) xyxy -> (N, 8) corner polygons (x1 y1, x2 y1, x2 y2, x1 y2)."""
    x1, y1, x2, y2 = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4).T
    return np.stack([x1, y1, x2, y1, x2, y2, x1, y2], axis=1)


def clip_to_windows(boxes_xyxy, windows):
    """Boxes clipped to every window, in window coordinates: ``(N, M, 4)`` xyxy and the clipped areas ``(N, M)``
    (0 where a box misses the window)."""
    b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 1, 4)
    w = np.asarray(windows, dtype=np.float64).reshape(1, -1, 4)
    lo, hi = w[..., :2], w[..., 2:]
    clipped = np.concatenate([np.clip(b[..., :2], lo, hi), np.clip(b[..., 2:], lo, hi)], axis=-1)
    wh = np.clip(clipped[..., 2:] - clipped[..., :2], 0, None)
    return clipped - np.concatenate([lo, lo], axis=-1), wh[..., 0] * wh[..., 1]


def split_sodad_image(img, boxes, categories, flagged, ignore_boxes, stem, cfg=SodadSplitConfig()):
    """Split one image (BGR array) and its boxes; no I/O.

    Args:
        img: (H, W, 3) uint8, modified in place by the ignore fill.
        boxes: (N, 4) xywh object boxes (categories 1..9, valid); categories: (N,) JSON ids;
            flagged: (N,) bool, already ``ignore`` in the input.
        ignore_boxes: (K, 4) xywh ignore regions (category 10).
        stem: image stem, for the patch names.

    Returns:
        ``(patches, best_ratio)``: ``(patch_id, patch_img, x0, y0, anns)`` per kept window in x-major order, where
        ``anns`` = dict of arrays (``index`` into the boxes, ``bbox`` xywh in patch pixels, ``area``, ``ignore``);
        and each box's largest clipped/original area ratio over the kept patches (0 = in none).
    """
    xyxy = xywh_to_xyxy(boxes)
    categories = np.asarray(categories, dtype=np.int64).reshape(-1)
    flagged = np.asarray(flagged, dtype=bool).reshape(-1)
    h, w = img.shape[:2]
    windows = sliding_windows(w, h, cfg.size, cfg.gap, cfg.img_rate_thr)
    clipped, inter = clip_to_windows(xyxy, windows)
    areas = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    ratio = inter / np.maximum(areas, 1e-12)[:, None]
    ratio = np.where(inter > 0, np.minimum(ratio, 1.0), 0.0)
    if len(ignore_boxes):
        fill_ignore(img, list(box_polygons(xywh_to_xyxy(ignore_boxes)).reshape(-1, 4, 2)), box_polygons(xyxy))
    patches = []
    best = np.zeros(len(xyxy))
    for j, window in enumerate(windows):
        idx = np.flatnonzero(inter[:, j] > 0)
        if cfg.mode == 'train' and not len(idx):
            continue
        c = clipped[idx, j]
        anns = dict(index=idx, bbox=np.concatenate([c[:, :2], c[:, 2:] - c[:, :2]], axis=1),
                    area=inter[idx, j], ignore=(ratio[idx, j] <= cfg.ignore_thr) | flagged[idx],
                    category=categories[idx])
        x0, y0 = int(window[0]), int(window[1])
        patches.append((patch_name(stem, cfg.size, x0, y0), crop_patch(img, window, cfg.padding, cfg.padding_value),
                        x0, y0, anns))
        best[idx] = np.maximum(best[idx], ratio[idx, j])
    return patches, best


def object_fates(best_ratio, ignore_thr):
    """Index into :data:`FATES` of each object from its best ratio."""
    b = np.asarray(best_ratio, dtype=np.float64)
    return np.select([b >= 1.0, b > ignore_thr, b > 0], [0, 1, 2], 3)


def split_task(task):
    """Split one image of ``task = (image entry, boxes, categories, flagged, img_dir, out_img_dir, cfg)`` and
    write its patch images. Never raises: a failure is returned in ``error`` (nothing written for the image).

    Returns a dict: ``patches`` [(file_name, x0, y0, anns)], ``fates`` (per class), ``written``, ``error``.
    """
    image, boxes, cats, flagged, img_dir, out_img_dir, cfg = task
    res = dict(image_id=image['id'], file=image['file_name'], error=None, patches=[], windows=0,
               fates=np.zeros((len(FATES), len(SODAD_CLASSES)), dtype=np.int64).tolist(), size_mismatch=False)
    try:
        stem = Path(image['file_name']).stem
        if '__' in stem:
            raise AnnotationError(f'{image["file_name"]}: the name contains "__", which the patch names '
                                  f'<stem>__<size>__<x>___<y> cannot round-trip')
        path = Path(img_dir) / image['file_name']
        if not path.is_file():
            raise AnnotationError(f'image {path} (id {image["id"]}) does not exist')
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise AnnotationError(f'{path}: cannot be read as an image')
        if (image.get('width'), image.get('height')) not in ((img.shape[1], img.shape[0]), (None, None)):
            res['size_mismatch'] = True  # the pixels win; counted in the summary
        obj = cats != SODAD_IGNORE_ID
        patches, best = split_sodad_image(img, boxes[obj], cats[obj], flagged[obj], boxes[~obj], stem, cfg)
        res['windows'] = len(sliding_windows(img.shape[1], img.shape[0], cfg.size, cfg.gap, cfg.img_rate_thr))
        for pid, patch, x0, y0, anns in patches:
            out = Path(out_img_dir) / (pid + cfg.ext)
            if not cv2.imwrite(str(out), patch):
                raise OSError(f'{out}: cv2.imwrite failed')
            res['patches'].append((out.name, x0, y0, {k: v.tolist() for k, v in anns.items() if k != 'index'}))
        fates = np.zeros((len(FATES), len(SODAD_CLASSES)), dtype=np.int64)
        np.add.at(fates, (object_fates(best, cfg.ignore_thr), cats[obj] - 1), 1)
        res['fates'] = fates.tolist()
    except (AnnotationError, OSError) as e:
        res['error'] = str(e)
    except Exception as e:  # noqa: BLE001 - one bad image must not kill the pool; reported per image
        res['error'] = f'{image.get("file_name")}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}'
    if res['error'] is not None:
        res['patches'] = []
    return res


def prepare_tasks(ann, bad, img_dir, out_img_dir, cfg):
    """(tasks, skipped): one task per image of the validated :class:`~.sodad_io.SodadAnnotations`; boxes that
    cannot be objects (``bad``: non-finite, ``w <= 0`` or ``h <= 0``) are skipped and counted."""
    skipped = Counter({'degenerate box': int(bad.sum())} if bad.any() else {})
    order, starts, ends = ann.image_slices()
    tasks = []
    for i, image in enumerate(ann.images):
        rows = order[starts[i]:ends[i]]
        rows = rows[~bad[rows]]
        tasks.append((image, ann.bbox[rows], ann.category[rows], ann.ignore[rows], str(img_dir),
                      str(out_img_dir), cfg))
    return tasks, skipped


def assemble(results, skipped, cfg, num_annotations):
    """The patch-level COCO dict and the summary of where every annotation went.

    Every annotation of the input is exactly one of: an object kept whole in some patch, kept clipped only
    (best ratio in (ignore_thr, 1)), kept only as ignore (best ratio <= ignore_thr), outside every patch, an ignore
    region (filled), skipped (invalid box), or lost with a failed image; the summary asserts that they add up.
    """
    images, annotations = [], []
    fates = np.zeros((len(FATES), len(SODAD_CLASSES)), dtype=np.int64)
    failed, lost, regions, windows, mismatch = [], 0, 0, 0, 0
    for r in results:
        if r['error'] is not None:
            failed.append(r['error'])
            lost += r['num_annotations']
            continue
        regions += r['num_regions']
        windows += r['windows']
        mismatch += r['size_mismatch']
        fates += np.asarray(r['fates'], dtype=np.int64)
        for file_name, x0, y0, anns in r['patches']:
            pid = len(images)
            images.append(dict(file_name=file_name, height=cfg.size, width=cfg.size, id=pid, ori_id=r['image_id'],
                               start_coord=[x0, y0]))
            for (x, y, w, h), area, ign, cat in zip(anns['bbox'], anns['area'], anns['ignore'], anns['category']):
                seg = [int(v) for v in (x, y, x + w, y, x + w, y + h, x, y + h)]
                annotations.append(dict(segmentation=[seg], bbox=[x, y, w, h], category_id=int(cat), area=area,
                                        image_id=pid, id=len(annotations) + 1, ignore=int(ign), iscrowd=0))
    objects = dict(zip(FATES, fates.sum(1).tolist()))
    accounted = sum(objects.values()) + regions + sum(skipped.values()) + lost
    assert accounted == num_annotations, f'accounting: {accounted} != {num_annotations}'
    coco = dict(type='instance', images=images, annotations=annotations, categories=sodad_categories())
    summary = dict(
        settings=dict(size=cfg.size, gap=cfg.gap, step=cfg.step, ignore_thr=cfg.ignore_thr, mode=cfg.mode,
                      padding_value=list(cfg.padding_value), ext=cfg.ext),
        images=dict(total=len(results), split=len(results) - len(failed), failed=len(failed),
                    size_mismatch=mismatch),
        patches=dict(windows=windows, written=len(images), dropped_empty=windows - len(images)),
        annotations_read=num_annotations,
        objects=dict(objects, total=sum(objects.values())),
        objects_per_class={n: dict(zip(FATES, fates[:, k].tolist())) for k, n in enumerate(SODAD_CLASSES)},
        ignore_regions_filled=regions,
        skipped_invalid=dict(skipped),
        lost_in_failed_images=lost,
        patch_annotations=dict(total=len(annotations), ignore=sum(a['ignore'] for a in annotations)),
        failed_images=failed)
    return coco, summary


def format_summary(s):
    """Human-readable lines of an :func:`assemble` summary."""
    o, p = s['objects'], s['patches']
    lines = [
        f"images: {s['images']['total']} ({s['images']['split']} split, {s['images']['failed']} failed); "
        f"patches written: {p['written']} of {p['windows']} windows"
        + (f" ({p['dropped_empty']} without annotations dropped, {s['settings']['mode']} mode)"
           if p['dropped_empty'] else ''),
        f"annotations read: {s['annotations_read']} = objects kept whole {o['whole']} + kept clipped only "
        f"{o['clipped']} + kept only as ignore (<= {s['settings']['ignore_thr']:.0%} inside) {o['ignore_only']} + "
        f"outside every patch {o['outside']} + ignore regions filled {s['ignore_regions_filled']} + skipped "
        f"invalid {sum(s['skipped_invalid'].values())} + lost with failed images {s['lost_in_failed_images']}",
        f"patch annotations written: {s['patch_annotations']['total']} "
        f"({s['patch_annotations']['ignore']} flagged ignore)",
    ]
    lines += class_table(s['objects_per_class'], (('whole', 'whole'), ('clipped', 'clipped'),
                                                  ('ignore', 'ignore_only'), ('outside', 'outside')), width=16)
    if s['skipped_invalid']:
        lines.append('skipped invalid boxes: ' + ', '.join(f'{n} {r}' for r, n in s['skipped_invalid'].items()))
    if s['images']['size_mismatch']:
        lines.append(f"warning: {s['images']['size_mismatch']} images differ in size from their JSON entry "
                     f"(the image file's size was used)")
    lines += [f'FAILED: {e}' for e in s['failed_images']]
    return lines


def prepare_out_dir(out_dir, mode, overwrite=False):
    """``OUT/Images/<mode>/`` (created) and ``OUT/Annotations/<mode>.json`` (the path). An existing split of this
    mode is refused unless ``overwrite``, which clears exactly that mode's images, JSON and summary."""
    out = Path(out_dir)
    img_dir, ann = out / 'Images' / mode, out / 'Annotations' / f'{mode}.json'
    summary = out / 'Annotations' / f'{mode}_split_summary.json'
    existing = ann.exists() or (img_dir.is_dir() and any(img_dir.iterdir()))
    if existing and not overwrite:
        raise FileExistsError(f'{out}: a {mode} split exists ({ann} or {img_dir}); pass --overwrite to replace it')
    if existing:
        for p in img_dir.iterdir() if img_dir.is_dir() else []:
            if p.is_file() or p.is_symlink():
                p.unlink()
        for p in (ann, summary):
            if p.exists():
                p.unlink()
    img_dir.mkdir(parents=True, exist_ok=True)
    ann.parent.mkdir(parents=True, exist_ok=True)
    return img_dir, ann, summary


def split_sodad(ann_file, img_dir, out_dir, cfg=SodadSplitConfig(), workers=1, overwrite=False):
    """Split every image of a full-image SODA-D JSON; write ``OUT/Images/<mode>/*``, ``OUT/Annotations/<mode>.json``
    and ``<mode>_split_summary.json`` next to it. Returns the summary (``failed_images`` lists the failures)."""
    from mmengine.utils import track_parallel_progress, track_progress
    ann = load_sodad(ann_file)
    if not Path(img_dir).is_dir():
        raise AnnotationError(f'{img_dir}: image folder does not exist')
    out_img_dir, out_ann, out_summary = prepare_out_dir(out_dir, cfg.mode, overwrite)
    bad = degenerate_boxes(ann.bbox)
    tasks, skipped = prepare_tasks(ann, bad, img_dir, out_img_dir, cfg)
    if workers > 1 and len(tasks) > 1:
        results = track_parallel_progress(split_task, tasks, nproc=min(workers, len(tasks)))
    elif tasks:
        results = track_progress(split_task, tasks)
    else:
        results = []
    counts = np.bincount(ann.ann_img, minlength=len(ann.images))
    regions = np.bincount(ann.ann_img[(ann.category == SODAD_IGNORE_ID) & ~bad], minlength=len(ann.images))
    bad_per_image = np.bincount(ann.ann_img[bad], minlength=len(ann.images))
    for i, r in enumerate(results):
        r['num_regions'] = int(regions[i])
        r['num_annotations'] = int(counts[i] - bad_per_image[i])  # lost with the image if it fails
    coco, summary = assemble(results, skipped, cfg, len(ann.category))
    summary['input'] = dict(ann_file=str(ann_file), img_dir=str(img_dir))
    with open(out_ann, 'w', encoding='utf-8') as f:
        json.dump(coco, f)
    with open(out_summary, 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    summary['output'] = dict(ann_file=str(out_ann), img_dir=str(out_img_dir), summary=str(out_summary))
    return summary


__all__ = ['SodadSplitConfig', 'split_sodad_image', 'clip_to_windows', 'object_fates', 'split_task',
           'prepare_tasks', 'assemble', 'format_summary', 'prepare_out_dir', 'split_sodad', 'FATES', 'MODES']
