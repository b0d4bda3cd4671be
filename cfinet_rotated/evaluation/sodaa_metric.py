"""``SODAAMetric``: merge per-patch predictions per original image and compute AP/AR by size subset."""
from typing import Optional, Sequence

from mmengine.logging import print_log

from ..datasets.sodaa_io import SODAA_CLASSES
from ..registry import register_module
from .patch_metric import PatchMergeMetric
from .sodaa_eval import evaluate_sodaa, load_ground_truth, write_task1


@register_module('METRICS')
class SODAAMetric(PatchMergeMetric):
    """SODA-A evaluation on original images, as the official protocol (docs/deviations.md, "Evaluation").

    Per-patch predictions are shifted by their patch origin, merged per original image with class-wise
    rotated NMS (``nms_iou_thr``), and evaluated COCO-style (exact greedy matching, IoU 0.50:0.95, 101 recall
    points, ``max_dets`` per image and class) on the size subsets Small (headline), eS, rS, gS and Normal
    against the raw annotations in ``ann_dir`` (ignore regions excluded). Every annotated image counts.

    Args:
        ann_dir (str): raw SODA-A ``Annotations`` folder of the split being evaluated (one JSON per image), or
            with ``ann_format`` the DOTA ``labelTxt`` / DIOR-R XML folder of the original images.
        ann_format (str): ``'sodaa'``, ``'dota'`` or ``'dior'`` (difficult objects: ignored ground truths).
        image_ids_file (str | None): a text file of the image ids to evaluate, one a line (DIOR-R's
            ``ImageSets/Main/test.txt``: its annotation folder holds every split); None: every file of ann_dir.
        nms_iou_thr (float | None): IoU of the class-wise merge NMS; None disables it.
        box_type (str): ``'rbox'`` (SODA-A) or ``'hbox'``.
        outfile_prefix (str | None): writes ``<prefix>.metrics.json``, and Task1 files in
            ``<prefix>_Task1/`` when ``format_only`` or ``dota_txt_dir`` asks for them.
        format_only (bool): only merge and write DOTA Task1 files (to ``dota_txt_dir`` or
            ``<outfile_prefix>_Task1``), no evaluation.
        dota_txt_dir (str | None): also write the merged detections as DOTA Task1 files there.
        max_dets (int | Sequence[int]): detections per image and class; statistics use the last.
        iou_thrs, area_ranges: protocol overrides (defaults: 0.50:0.05:0.95 and the SODA ranges).
        min_gt_size (float): ground truths with a box side below this are dropped (official: 2 px).
        classes (Sequence[str]): class names, index = label.
        merge_device (str): device for the merge NMS ('cpu', or 'cuda' to use mmcv's GPU kernels).
        nproc (int): worker processes for the evaluation (over classes).
    """
    default_prefix: Optional[str] = 'sodaa'

    def __init__(self,
                 ann_dir: str,
                 nms_iou_thr: Optional[float] = 0.5,
                 box_type: str = 'rbox',
                 outfile_prefix: Optional[str] = None,
                 format_only: bool = False,
                 dota_txt_dir: Optional[str] = None,
                 max_dets=20000,
                 iou_thrs: Optional[Sequence[float]] = None,
                 area_ranges: Optional[dict] = None,
                 min_gt_size: float = 2.0,
                 classes: Sequence[str] = SODAA_CLASSES,
                 merge_device: str = 'cpu',
                 nproc: int = 1,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 ann_format: str = 'sodaa',
                 image_ids_file: Optional[str] = None) -> None:
        from ..datasets.formats import check_format
        self.ann_format = check_format(ann_format)
        self.image_ids_file = image_ids_file
        super().__init__(classes, nms_iou_thr, box_type, outfile_prefix, format_only, max_dets, iou_thrs,
                         area_ranges, merge_device, nproc, collect_device, prefix)
        if not ann_dir:
            raise ValueError('SODAAMetric needs ann_dir, the raw annotation folder of the evaluated split')
        self.ann_dir = ann_dir
        self.dota_txt_dir = dota_txt_dir
        if format_only and not (dota_txt_dir or outfile_prefix):
            raise ValueError('format_only needs dota_txt_dir or outfile_prefix to write the results to')
        self.min_gt_size = min_gt_size

    def write_results(self, merged, logger) -> None:
        """DOTA Task1 files to ``dota_txt_dir`` (or ``<outfile_prefix>_Task1`` with ``format_only``)."""
        txt_dir = self.dota_txt_dir
        if txt_dir is None and self.format_only:
            txt_dir = f'{self.outfile_prefix}_Task1'
        if txt_dir:
            write_task1(merged, txt_dir, self.classes, self.box_type)
            print_log(f'DOTA Task1 files of {len(merged)} merged images written to {txt_dir}', logger)

    def evaluate_merged(self, merged, warnings):
        ids = None
        if self.image_ids_file:
            with open(self.image_ids_file, encoding='utf-8') as f:
                ids = [line.strip() for line in f if line.strip()]
        gts = load_ground_truth(self.ann_dir, self.box_type, self.min_gt_size, warnings, fmt=self.ann_format,
                                classes=self.classes, image_ids=ids)
        return evaluate_sodaa(gts, merged, self.classes, self.box_type, self.iou_thrs, self.area_ranges,
                              self.max_dets, nproc=self.nproc)
