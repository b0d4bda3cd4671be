"""SODA-D patches (one COCO JSON, made by ``tools/data/sodad_split.py`` or the official splitter) as an
MMDetection dataset."""
from collections import Counter
from typing import List

import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import print_log

from ..registry import register_module
from .sodaa_io import AnnotationError, format_skips, image_file_problem
from .sodad_io import SODAD_CLASSES, load_sodad

#: reasons an annotation is not a training target, in the order the official ``_parse_ann_info`` tests them
SKIP_REASONS = ('ignore flag', 'outside the image', 'degenerate box', 'ignore region (category 10)')


class SodadCOCO(COCO):
    """MMDetection's COCO api over a JSON validated by :func:`~.sodad_io.load_sodad`: a malformed file, an
    unknown category or image id, a bbox that is not 4 numbers raise :class:`AnnotationError` naming the file
    (instead of a ``KeyError`` deep inside pycocotools). A missing ``area`` becomes ``w * h``."""

    def __init__(self, annotation_file=None):
        super().__init__()
        if annotation_file is None:
            return
        ann = load_sodad(annotation_file)
        area, missing = ann.filled_area()
        for i in np.flatnonzero(missing).tolist():
            ann.data['annotations'][i]['area'] = float(area[i])
        self.filled_areas = int(missing.sum())
        self.dataset = ann.data
        self.createIndex()
        self.img_ann_map, self.cat_img_map = self.imgToAnns, self.catToImgs


def skip_reason(ann, width, height, cat_ids):
    """Why ``ann`` is not a training target (one of :data:`SKIP_REASONS`), or None.

    The tests and their order are those of MMDetection's ``CocoDataset.parse_data_info``, which are those of the
    official SODA-D ``_parse_ann_info``: ``ignore`` flag; no overlap with the image; ``area <= 0`` or
    ``w < 1`` or ``h < 1``; category not among the classes (ignore regions, category 10).
    """
    if ann.get('ignore', False):
        return SKIP_REASONS[0]
    x1, y1, w, h = ann['bbox']
    if max(0, min(x1 + w, width) - max(x1, 0)) * max(0, min(y1 + h, height) - max(y1, 0)) == 0:
        return SKIP_REASONS[1]
    if ann['area'] <= 0 or w < 1 or h < 1:
        return SKIP_REASONS[2]
    if ann['category_id'] not in cat_ids:
        return SKIP_REASONS[3]
    return None


@register_module('DATASETS')
class SODADDataset(CocoDataset):
    """SODA-D patches: one COCO JSON (``ann_file``) and a folder of patch images (``data_prefix['img']``).

    Follows the official CFINet ``SODADDataset`` (``mmdet/datasets/sodad.py``): classes people ... warning-cone
    (JSON ids 1..9, label = id - 1), boxes ``[x, y, x + w, y + h]``, and annotations flagged ``ignore`` (objects
    with <= 40 % of their area inside the patch), ignore regions (category 10), boxes outside the image and
    degenerate boxes are **absent** from the training targets (not ``ignore_flag`` instances: the official
    heads never see them either, and MMDetection's RPN/RoI assigners run with ``ignore_iof_thr=-1``). Training
    drops images without annotations of the classes and images smaller than ``filter_cfg['min_size']`` (32).

    Each data info also carries the patch origin for merging: ``ori_id`` (the original image id), and
    ``start_coord`` = ``(x_start, y_start)`` (also as ``x_start``/``y_start``, the keys SODA-A's merge reads); an
    image without them (an unsplit full image) is its own original at (0, 0).

    Errors name the file: a malformed JSON, an unknown category or image id, a bbox that is not 4 numbers,
    classes missing from ``categories``, and (all listed at once) missing image files. The skipped annotations
    are counted per reason in ``self.skipped`` and logged once.
    """

    METAINFO = {
        'classes': SODAD_CLASSES,
        'palette': [(220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230), (106, 0, 228), (0, 60, 100),
                    (0, 80, 100), (0, 0, 70), (250, 170, 30)],
    }
    COCOAPI = SodadCOCO

    def load_data_list(self) -> List[dict]:
        self.skipped = Counter()  # reason -> number of annotations that are not training targets
        self._errors = []
        data_list = super().load_data_list()
        if self._errors:
            shown = '\n  '.join(self._errors[:20])
            more = f'\n  ... and {len(self._errors) - 20} more' if len(self._errors) > 20 else ''
            raise AnnotationError(f'{self.ann_file}: {len(self._errors)} of {len(data_list)} images are unusable:'
                                  f'\n  {shown}{more}')
        if self.skipped:
            print_log(f'SODADDataset({self.ann_file}): {sum(self.skipped.values())} annotations are not training '
                      f'targets ({format_skips(self.skipped)})', logger='current')
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        img = raw_data_info['raw_img_info']
        if len(self.cat_ids) != len(self.metainfo['classes']):
            names = {c['name'] for c in self.coco.dataset.get('categories', []) if isinstance(c, dict)}
            missing = [c for c in self.metainfo['classes'] if c not in names]
            raise AnnotationError(f'{self.ann_file}: classes {", ".join(missing)} are not in its "categories"')
        if getattr(self.coco, 'filled_areas', 0) and not self.skipped.get('area missing: w*h used'):
            self.skipped['area missing: w*h used'] = self.coco.filled_areas
        info = super().parse_data_info(raw_data_info)
        reasons = [skip_reason(a, img['width'], img['height'], self.cat_ids) for a in raw_data_info['raw_ann_info']]
        self.skipped.update(r for r in reasons if r is not None)
        assert reasons.count(None) == len(info['instances']), 'skip_reason disagrees with CocoDataset'
        problem = image_file_problem(info['img_path'])
        if problem is not None:
            self._errors.append(f'image {info["img_path"]} (id {img["img_id"]}) {problem}')
        x0, y0 = (int(v) for v in img.get('start_coord', (0, 0)))
        info.update(ori_id=img.get('ori_id', img['img_id']), start_coord=(x0, y0), x_start=x0, y_start=y0)
        return info

