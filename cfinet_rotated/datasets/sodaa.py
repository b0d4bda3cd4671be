"""SODA-A split patches (the official ``divData`` layout) as an MMRotate dataset."""
import os.path as osp
from collections import Counter
from typing import List

from mmengine.logging import print_log
from mmrotate.datasets import DOTADataset

from ..registry import register_module
from .sodaa_io import (
    SODAA_CLASSES,
    AnnotationError,
    format_skips,
    image_file_problem,
    list_annotation_files,
    load_sodaa,
)
from .sodaa_split import parse_patch_id


@register_module('DATASETS')
class SODAADataset(DOTADataset):
    """SODA-A patches made by ``tools/data/sodaa_split.py`` (or the official split tool).

    ``ann_file`` is the folder of per-patch JSON files, ``data_prefix['img_path']`` the folder of patch
    images. Each data info carries ``img_id`` (the patch stem ``<stem>__800__<x>___<y>``), ``ori_id``,
    ``x_start`` and ``y_start`` so that the evaluator can merge patch results back onto the original image.
    Boxes are quadrilaterals (``qbox``); pipelines convert them to le90 ``rbox`` with ``ConvertBoxType``.

    Polygons that cannot be objects (wrong number of coordinates, NaN, degenerate, unknown class) are
    skipped and counted, and the counts are logged once, per reason. A malformed JSON file or a missing image
    is an error that names every offending file. ``self.skipped`` holds the skip counts by reason.
    """

    METAINFO = {
        'classes': SODAA_CLASSES,
        'palette': [(165, 42, 42), (189, 183, 107), (0, 255, 0), (255, 0, 0), (138, 43, 226),
                    (255, 128, 0), (255, 0, 255), (0, 255, 255), (0, 0, 255)],
    }

    def __init__(self, img_suffix: str = 'jpg', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, **kwargs)

    def load_data_list(self) -> List[dict]:
        files = list_annotation_files(self.ann_file)
        num_classes = len(self.metainfo['classes'])
        data_list, errors, skipped, bad_files = [], [], Counter(), 0
        for ann_path in files:
            try:
                ann = load_sodaa(ann_path)
            except AnnotationError as e:
                errors.append(str(e))
                continue
            img_id = ann_path.stem
            img_name = ann.meta.get('filename', f'{img_id}.{self.img_suffix}')
            img_path = osp.join(self.data_prefix['img_path'], img_name)
            problem = image_file_problem(img_path)
            if problem is not None:
                errors.append(f'{ann_path}: image {img_path} {problem}')
                continue
            if ann.skipped:
                bad_files += 1
                skipped.update(ann.skipped)
            instances = []
            for poly, label in zip(ann.polys.tolist(), ann.labels.tolist()):
                if label >= num_classes:  # a label the configured class list does not have
                    skipped['unknown class'] += 1
                    continue
                instances.append(dict(bbox=poly, bbox_label=label, ignore_flag=0))
            ori_id, x_start, y_start = _patch_origin(img_id, ann.meta)
            data_list.append(dict(
                img_path=img_path, file_name=img_name, img_id=img_id, ori_id=ori_id,
                x_start=x_start, y_start=y_start,
                height=ann.meta.get('height'), width=ann.meta.get('width'),
                instances=instances))
        if errors:
            shown = '\n  '.join(errors[:20])
            more = f'\n  ... and {len(errors) - 20} more' if len(errors) > 20 else ''
            raise AnnotationError(
                f'{len(errors)} of {len(files)} SODA-A annotation files in {self.ann_file} '
                f'are unusable:\n  {shown}{more}')
        self.skipped = skipped  # reason -> number of polygons skipped, for reports and tests
        if skipped:
            print_log(f'SODAADataset({self.ann_file}): skipped {sum(skipped.values())} polygons in '
                      f'{bad_files} files ({format_skips(skipped)})', logger='current', level=30)
        return data_list


def _patch_origin(img_id, meta):
    """(ori_id, x_start, y_start) of a patch: from its JSON, else from its name (an unsplit image is its own
    original)."""
    if all(k in meta for k in ('ori_id', 'x_start', 'y_start')):
        return str(meta['ori_id']), int(meta['x_start']), int(meta['y_start'])
    try:
        return parse_patch_id(img_id)
    except ValueError:
        return img_id, 0, 0
