"""Pictures of detections and of ground truth, drawn with MMRotate's / MMDetection's visualizers.

* :func:`draw_detections`: a :func:`~cfinet_rotated.apis.detect_large_image` result on its image with
  ``RotLocalVisualizer`` (rotated) or ``DetLocalVisualizer`` (horizontal): class colour, class name and score,
  detections under a score threshold left out, optional ignore regions shaded; for dense scenes a label mode
  without per-box text and with a legend of class counts.
* :func:`draw_ground_truth`: ground-truth boxes coloured by SODA size subset (eS, rS, gS, Normal, and larger
  objects, which no subset evaluates) with a legend of the counts, ignore regions shaded.
* :class:`GroundTruthSource`: ground truth and ignore regions of an image from a SODA-A annotation folder (one
  JSON per image, raw or split) or a SODA-D COCO JSON.

Pictures of very large images are drawn downscaled (``max_side``): a matplotlib canvas of a 10000 x 10000 image
takes 400 MB.
"""
import os
import os.path as osp
from collections import OrderedDict

import cv2
import numpy as np
import torch

from .datasets.sodaa_io import list_annotation_files
from .structures.boxes import box_areas
from .structures.size_subsets import SUBSET_RANGES as SIZE_SUBSETS
from .structures.size_subsets import size_subset_names  # noqa: F401  (part of this module's API)

#: colours (RGB) of the subsets; 'larger' = area above the Normal range (not evaluated), 'ignore' = flagged
SUBSET_COLORS = OrderedDict([('eS', (255, 48, 48)), ('rS', (255, 160, 0)), ('gS', (80, 220, 60)),
                             ('Normal', (40, 140, 255)), ('larger', (200, 80, 255)), ('ignore', (160, 160, 160))])
IGNORE_FACE = (128, 128, 128)


def _scale_for(width, height, max_side):
    if not max_side or max(width, height) <= max_side:
        return 1.0
    return float(max_side) / max(width, height)


def _resized(image, scale):
    if scale == 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _new_visualizer(kind, **kwargs):
    """A fresh visualizer instance (MMEngine visualizers are named singletons; each call gets its own name)."""
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.visualization import Visualizer
    from mmrotate.visualization import RotLocalVisualizer
    cls = dict(rbox=RotLocalVisualizer, hbox=DetLocalVisualizer, plain=Visualizer)[kind]
    _new_visualizer.count = getattr(_new_visualizer, 'count', 0) + 1
    return cls(name=f'cfinet_{kind}_{_new_visualizer.count}_{id(cls)}', **kwargs)


def _shade_polygons(vis, polygons, scale):
    polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) * scale for p in polygons]
    polys = [p for p in polys if len(p) >= 3]
    if polys:
        vis.draw_polygons(polys, edge_colors=IGNORE_FACE, face_colors=IGNORE_FACE, alpha=0.45, line_widths=1)


#: label modes of :func:`draw_detections`; 'auto' = 'score' up to :data:`AUTO_LABEL_MAX` drawn boxes, else 'none'
LABEL_MODES = ('auto', 'score', 'class', 'none')
AUTO_LABEL_MAX = 150


def _draw_dense(vis, rgb, boxes, labels, classes, palette, labels_mode, line_width):
    """Boxes in their class colour with a legend of the drawn classes and counts (top left); per box only the
    class name (``'class'``) or nothing (``'none'``): readable with hundreds of boxes."""
    from mmdet.visualization.palette import get_palette
    from mmrotate.structures.bbox import RotatedBoxes
    vis.set_image(rgb)
    colors = get_palette(palette if palette is not None else 'random', len(classes))
    labels = [int(v) for v in labels]
    if len(labels):
        if boxes.shape[-1] == 5:
            polys = RotatedBoxes(boxes).convert_to('qbox').tensor.reshape(-1, 4, 2)
        else:
            x1, y1, x2, y2 = boxes.unbind(-1)
            polys = torch.stack([x1, y1, x2, y1, x2, y2, x1, y2], -1).reshape(-1, 4, 2)
        vis.draw_polygons([p for p in polys], edge_colors=[colors[k] for k in labels], line_widths=line_width)
        if labels_mode == 'class':
            centers = polys.mean(1)
            vis.draw_texts([classes[k] for k in labels], centers, colors=[colors[k] for k in labels], font_sizes=6)
    counts = {k: labels.count(k) for k in sorted(set(labels))}
    lines = [f'{classes[k]}: {n}' for k, n in counts.items()] or ['no detections']
    h = rgb.shape[0]
    size = max(8, min(16, h // 60))
    for i, (text, k) in enumerate(zip(lines, list(counts) or [None])):
        vis.draw_texts(text, np.array([4, 4 + i * (size + 6)]), colors=colors[k] if k is not None else (255, 255, 255),
                       font_sizes=size, vertical_alignments='top',
                       bboxes=[dict(facecolor='black', alpha=0.7, pad=1.5, edgecolor='none')])
    return vis.get_image()


def draw_detections(image, result, classes, palette=None, score_thr=0.3, ignore_polygons=(), max_side=None,
                    line_width=1, labels='score', full_size=None):
    """RGB picture of ``result`` (a DetDataSample with ``pred_instances`` in image pixels) on ``image`` (BGR).

    Detections with ``score < score_thr`` are left out; ``ignore_polygons`` (list of (K, 2) point arrays, image
    pixels) are shaded grey first; ``max_side`` downscales larger images (boxes scaled with them). ``labels``
    (:data:`LABEL_MODES`): ``'score'`` writes class and score at every box (MMRotate's visualizer); ``'class'`` only
    the class name, small; ``'none'`` nothing at the boxes; both draw a legend of the classes with their counts
    instead, for dense scenes; ``'auto'``: ``'score'`` up to :data:`AUTO_LABEL_MAX` drawn boxes, else ``'none'``.
    ``full_size`` (W, H): ``image`` is already a downscaled copy of an image of that size (a decimated read of a
    huge GeoTIFF, :meth:`cfinet_rotated.apis.PatchReader.read_all`); boxes are scaled to it, ``max_side`` unused.
    """
    if labels not in LABEL_MODES:
        raise ValueError(f'labels must be one of {", ".join(LABEL_MODES)}, got {labels!r}')
    from mmdet.structures import DetDataSample
    h, w = image.shape[:2]
    scale = _scale_for(w, h, max_side) if full_size is None else w / float(full_size[0])
    if full_size is not None:
        max_side = None
    pred = result.pred_instances
    keep = pred.scores >= score_thr
    inst = pred[keep].clone() if len(pred) else pred.clone()
    bboxes = inst.bboxes.tensor if hasattr(inst.bboxes, 'tensor') else inst.bboxes
    bboxes = torch.as_tensor(bboxes, dtype=torch.float32).clone()
    kind = 'rbox' if bboxes.shape[-1] == 5 else 'hbox'
    if scale != 1.0:
        if kind == 'rbox':
            bboxes[:, :4] *= scale
        else:
            bboxes *= scale
    inst.bboxes = bboxes
    vis = _new_visualizer(kind, line_width=line_width, alpha=0.9)
    vis.dataset_meta = dict(classes=tuple(classes), palette=palette if palette is not None else 'random')
    rgb = np.ascontiguousarray((image if full_size is not None else _resized(image, scale))[..., ::-1])
    if len(ignore_polygons):
        vis.set_image(rgb)
        _shade_polygons(vis, ignore_polygons, scale)
        rgb = vis.get_image()
    if labels == 'auto':
        labels = 'score' if len(bboxes) <= AUTO_LABEL_MAX else 'none'
    if labels != 'score':
        return _draw_dense(vis, rgb, bboxes, inst.labels.tolist(), tuple(classes), palette, labels, line_width)
    sample = DetDataSample(metainfo=dict(img_shape=rgb.shape[:2]))
    sample.pred_instances = inst
    vis.add_datasample('detections', rgb, data_sample=sample, draw_gt=False, draw_pred=True, show=False,
                       pred_score_thr=score_thr)
    return vis.get_image()


def draw_ground_truth(image, boxes, box_type, areas, ignore=None, ignore_polygons=(), max_side=None,
                      line_width=1, title=None):
    """RGB picture of ground-truth ``boxes`` ((N, 5) rotated le90 or (N, 4) xyxy, image pixels) on ``image`` (BGR),
    each coloured by its size subset from ``areas`` (:func:`size_subset_names`); ``ignore`` (N,) bool marks boxes
    flagged ignore (SODA-D), drawn grey; ``ignore_polygons`` are shaded; a legend lists the counts."""
    from mmrotate.structures.bbox import RotatedBoxes
    h, w = image.shape[:2]
    scale = _scale_for(w, h, max_side)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5 if box_type == 'rbox' else 4)
    names = size_subset_names(areas)
    if ignore is not None:
        names = np.where(np.asarray(ignore, dtype=bool), 'ignore', names)
    vis = _new_visualizer('plain')
    vis.set_image(np.ascontiguousarray(_resized(image, scale)[..., ::-1]))
    _shade_polygons(vis, ignore_polygons, scale)
    if len(boxes):
        if box_type == 'rbox':
            polys = RotatedBoxes(torch.from_numpy(boxes)).convert_to('qbox').tensor.numpy() * scale
        else:
            b = boxes * scale
            polys = np.stack([b[:, 0], b[:, 1], b[:, 2], b[:, 1], b[:, 2], b[:, 3], b[:, 0], b[:, 3]], 1)
        vis.draw_polygons([p.reshape(4, 2) for p in polys], edge_colors=[SUBSET_COLORS[n] for n in names],
                          line_widths=line_width)
    counts = OrderedDict((k, int((names == k).sum())) for k in SUBSET_COLORS)
    ranges = {k: f'{lo:g}-{hi:g} px²' for k, (lo, hi) in SIZE_SUBSETS.items()}
    ranges['larger'] = f'> {SIZE_SUBSETS["Normal"][1]:g} px²'
    ranges['ignore'] = 'flagged ignore'
    lines = [(k, f'{k} ({ranges[k]}): {n}') for k, n in counts.items() if n or k in SIZE_SUBSETS]
    if len(ignore_polygons):
        lines.append(('ignore', f'ignore regions (shaded): {len(ignore_polygons)}'))
    font = max(8, min(16, int(min(vis.width, vis.height) / 45)))
    y = 4
    if title:
        vis.draw_texts(title, np.array([4, y]), colors='white', font_sizes=font, vertical_alignments='top',
                       bboxes=dict(facecolor='black', alpha=0.7, pad=2, edgecolor='none'))
        y += int(font * 1.9)
    for k, text in lines:
        vis.draw_texts(text, np.array([4, y]), colors='black', font_sizes=font, vertical_alignments='top',
                       bboxes=dict(facecolor=tuple(c / 255 for c in SUBSET_COLORS[k]), alpha=0.85, pad=2,
                                   edgecolor='none'))
        y += int(font * 1.9)
    return vis.get_image()


class GroundTruthSource:
    """Ground truth and ignore regions per image stem from a SODA-A annotation folder (one JSON per image, raw or
    split), a DOTA ``labelTxt`` or DIOR-R XML folder (difficult objects as ``ignore``; ``classes`` as
    :func:`cfinet_rotated.datasets.formats.resolve_classes`, default: from the labels), or a SODA-D COCO JSON
    file (full images or patches). A folder's format is the one of its files (``*.json``, ``*.txt``, ``*.xml``).

    ``get(stem)`` -> dict(boxes, box_type, areas, labels, ignore (N,) bool, ignore_polygons) or None when the
    source has no entry for the image. Areas are the evaluators': ``w * h`` of the le90 box (SODA-A), the JSON
    ``area`` (SODA-D). ``skipped`` counts invalid polygons / boxes (reason -> n).
    """

    def __init__(self, ann, classes='auto'):
        from collections import Counter

        from .datasets.formats import class_names_in, list_files, resolve_classes
        self.ann = str(ann)
        self.skipped = Counter()
        self.classes = None
        if osp.isdir(self.ann):
            names = os.listdir(self.ann)
            self.kind = 'sodaa' if any(n.endswith('.json') for n in names) else \
                'dota' if any(n.endswith('.txt') for n in names) else \
                'dior' if any(n.endswith('.xml') for n in names) else 'sodaa'
            files = list_annotation_files(self.ann) if self.kind == 'sodaa' else list_files(self.ann, self.kind)
            self.files = {p.stem: p for p in files}
            if self.kind != 'sodaa':
                found = class_names_in(files, self.kind) if classes in (None, 'auto') else ()
                self.classes = resolve_classes(classes, self.kind, found)
        elif osp.isfile(self.ann) and self.ann.lower().endswith('.json'):
            from .datasets.sodad_io import load_sodad
            self.kind = 'sodad'
            self.coco = load_sodad(self.ann)
            self.order, self.starts, self.ends = self.coco.image_slices()
            self.index = {}
            for i, im in enumerate(self.coco.images):
                stem = osp.splitext(osp.basename(str(im['file_name'])))[0]
                self.index[stem] = i
        else:
            raise ValueError(f'{ann}: expected a SODA-A annotation folder or a SODA-D COCO .json file')

    def stems(self):
        return list(self.index) if self.kind == 'sodad' else list(self.files)

    def file_name(self, stem):
        """The image file name recorded for ``stem`` (SODA-D), else None."""
        if self.kind == 'sodad' and stem in self.index:
            return str(self.coco.images[self.index[stem]]['file_name'])
        return None

    def get(self, stem):
        if self.kind in ('sodaa', 'dota', 'dior'):  # one reader for the three (difficult objects: ignore)
            from .datasets.formats import load_annotation
            from .evaluation.sodaa_eval import polys_to_boxes
            if stem not in self.files:
                return None
            ann = load_annotation(self.files[stem], self.kind, self.classes)
            self.skipped.update(ann.skipped)
            boxes = polys_to_boxes(ann.polys, 'rbox')
            return dict(boxes=boxes, box_type='rbox', areas=box_areas(boxes, 'rbox'), labels=ann.labels,
                        ignore=ann.difficult > 0, ignore_polygons=list(ann.ignore_polys))
        from .datasets.sodad_io import SODAD_IGNORE_ID, degenerate_boxes
        if stem not in self.index:
            return None
        i = self.index[stem]
        rows = self.order[self.starts[i]:self.ends[i]]
        c = self.coco
        region = c.category[rows] == SODAD_IGNORE_ID
        xyxy = c.xyxy()[rows]
        regions = [np.array([[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]]) for b in xyxy[region]]
        obj = rows[~region]
        bad = degenerate_boxes(c.bbox[obj])
        if bad.any():
            self.skipped['degenerate box'] += int(bad.sum())
        obj = obj[~bad]
        area, _ = c.filled_area()
        return dict(boxes=c.xyxy()[obj], box_type='hbox', areas=area[obj], labels=c.category[obj] - 1,
                    ignore=c.ignore[obj], ignore_polygons=regions)
