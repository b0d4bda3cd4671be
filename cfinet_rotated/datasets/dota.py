"""DOTA and DIOR-R as MMRotate datasets that real label files do not break (docs/get_started.md, "Using it on DOTA
and DIOR-R").

Both subclass MMRotate's own classes (``DOTADataset``, ``DIORDataset``: their metainfo, palette, filtering and
``get_cat_ids`` stay) and replace only the reading of one annotation file by :mod:`.formats`, which

* accepts the ``imagesource:``/``gsd:`` header lines of DOTA v1.0-v2.0 label files and a missing difficult flag
  (MMRotate's reader parses every line as an object and fails on both with a bare ``ValueError``/``IndexError``);
* names the file, the line and the class when a class is not in the configured list (MMRotate: ``KeyError``);
* skips and counts polygons that cannot be objects, and logs the counts once;
* checks that every image exists and is an image before training starts;
* reads DIOR-R's width and height the right way round (MMRotate's fallback swaps them);
* adds ``ori_id``, ``x_start`` and ``y_start`` (from the patch name ``<stem>__<size>__<x>___<y>`` written by
  ``tools/data/sodaa_split.py --format dota``; an unsplit image is its own original) for merging patch results.

Difficult objects (flag > ``diff_thr``) become ``ignore_flag`` 1, as in MMRotate.
"""
import os.path as osp
from collections import Counter
from typing import List

from mmengine.logging import print_log
from mmrotate.datasets import DIORDataset, DOTADataset

from ..registry import register_module
from .formats import DOTA_CLASSES, list_files, load_dior, load_dota
from .sodaa import _patch_origin
from .sodaa_io import AnnotationError, format_skips, image_file_problem


def _raise_errors(errors, total, what):
    if errors:
        shown = '\n  '.join(errors[:20])
        more = f'\n  ... and {len(errors) - 20} more' if len(errors) > 20 else ''
        raise AnnotationError(f'{len(errors)} of {total} {what} are unusable:\n  {shown}{more}')


def _log_skips(name, where, skipped, bad_files):
    if skipped:
        print_log(f'{name}({where}): skipped {sum(skipped.values())} polygons in {bad_files} files '
                  f'({format_skips(skipped)})', logger='current', level=30)


class _FileChecks:
    """What one pass over the annotation files found: unusable files (``errors``, messages naming them) and the
    polygons skipped by reason in ``skipped`` (``bad_files``: files with a skip)."""

    def __init__(self):
        self.errors, self.skipped, self.bad_files = [], Counter(), 0

    def image_ok(self, ann_path, img_path):
        problem = image_file_problem(img_path)
        if problem is not None:
            self.errors.append(f'{ann_path}: image {img_path} {problem}')
        return problem is None

    def count(self, ann):
        if ann.skipped:
            self.bad_files += 1
            self.skipped.update(ann.skipped)

    def finish(self, dataset, total, what, where):
        """Raise for unusable files, else log the skips once and keep them in ``dataset.skipped``."""
        _raise_errors(self.errors, total, what)
        dataset.skipped = self.skipped
        _log_skips(type(dataset).__name__, where, self.skipped, self.bad_files)


def _instances(ann, diff_thr):
    return [dict(bbox=p, bbox_label=int(lbl), ignore_flag=int(d > diff_thr))
            for p, lbl, d in zip(ann.polys.tolist(), ann.labels.tolist(), ann.difficult.tolist())]


@register_module('DATASETS')
class DOTAPatchDataset(DOTADataset):
    """DOTA ``labelTxt`` images or patches (``ann_file``: the label folder; ``data_prefix['img_path']``: the
    images; ``ann_file=''``: every image of the folder, without labels, for inference). Class list: the
    dataset's ``metainfo`` (default DOTA v1.0; ``metainfo=dict(classes=...)`` for v1.5/v2.0, whose lists are in
    :data:`cfinet_rotated.datasets.formats.DOTA_CLASSES`)."""

    METAINFO = dict(DOTADataset.METAINFO, classes=DOTA_CLASSES['1.0'])

    def load_data_list(self) -> List[dict]:
        if self.ann_file == '':
            data_list = super().load_data_list()
            for info in data_list:
                info['ori_id'], info['x_start'], info['y_start'] = _patch_origin(info['img_id'], {})
            return data_list
        files = list_files(self.ann_file, 'dota')
        classes = self.metainfo['classes']
        data_list, checks = [], _FileChecks()
        for path in files:
            try:
                ann = load_dota(path, classes)
            except AnnotationError as e:
                checks.errors.append(str(e))
                continue
            img_id = path.stem
            img_path = osp.join(self.data_prefix['img_path'], f'{img_id}.{self.img_suffix}')
            if not checks.image_ok(path, img_path):
                continue
            checks.count(ann)
            ori_id, x_start, y_start = _patch_origin(img_id, {})
            data_list.append(dict(img_path=img_path, file_name=osp.basename(img_path), img_id=img_id,
                                  ori_id=ori_id, x_start=x_start, y_start=y_start, gsd=ann.meta.get('gsd'),
                                  instances=_instances(ann, self.diff_thr)))
        checks.finish(self, len(files), f'DOTA label files in {self.ann_file}', self.ann_file)
        return data_list


@register_module('DATASETS')
class DIORRDataset(DIORDataset):
    """DIOR-R (oriented boxes): MMRotate's ``DIORDataset`` layout (``ann_file``: a list of image ids, e.g.
    ``ImageSets/Main/test.txt``, or ``''`` for every XML of the annotation folder; ``ann_subdir``: the XML folder
    under ``data_root``; ``data_prefix['img_path']``: the images) with the checks of this module."""

    def __init__(self, diff_thr: int = 100, **kwargs) -> None:
        self.diff_thr = diff_thr
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        classes = self.metainfo['classes']
        ann_dir = osp.join(self.data_root or '', self.ann_subdir)
        if self.ann_file:
            from mmengine.fileio import list_from_file
            ids = [i.strip() for i in list_from_file(self.ann_file) if i.strip()]
            paths = [osp.join(ann_dir, f'{i}.xml') for i in ids]
        else:
            paths = [str(p) for p in list_files(ann_dir, 'dior')]
        data_list, checks = [], _FileChecks()
        for path in paths:
            if not osp.isfile(path):
                checks.errors.append(f'{path}: annotation file does not exist (listed in {self.ann_file})')
                continue
            try:
                ann = load_dior(path, classes)
            except AnnotationError as e:
                checks.errors.append(str(e))
                continue
            img_id = osp.splitext(osp.basename(path))[0]
            img_path = osp.join(self.data_prefix['img_path'], ann.meta.get('filename', f'{img_id}.jpg'))
            if not checks.image_ok(path, img_path):
                continue
            checks.count(ann)
            data_list.append(dict(img_path=img_path, file_name=osp.basename(img_path), img_id=img_id,
                                  ori_id=img_id, x_start=0, y_start=0, xml_path=path,
                                  height=ann.meta.get('height'), width=ann.meta.get('width'),
                                  instances=_instances(ann, self.diff_thr)))
        checks.finish(self, len(paths), f'DIOR-R annotation files in {ann_dir}', ann_dir)
        return data_list
