"""``SODAAMetric``: merge per-patch predictions per original image and compute AP/AR by size subset."""
import os.path as osp
from collections import Counter
from typing import Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmrotate.registry import METRICS

from cfinet_rotated.datasets.sodaa_io import SODAA_CLASSES, format_skips
from .merge import merge_patch_predictions, patch_prediction
from .size_ap import DEFAULT_AREA_RANGES, get_box_class
from .sodaa_eval import evaluate_sodaa, load_ground_truth, report, save_metrics, write_task1


@METRICS.register_module()
class SODAAMetric(BaseMetric):
    """SODA-A evaluation on original images, as the official protocol (design-decisions.md).

    Per-patch predictions are shifted by their patch origin, merged per original image with class-wise
    rotated NMS (``nms_iou_thr``), and evaluated COCO-style (exact greedy matching, IoU 0.50:0.95, 101 recall
    points, ``max_dets`` per image and class) on the size subsets Small (headline), eS, rS, gS and Normal
    against the raw annotations in ``ann_dir`` (ignore regions excluded). Every annotated image counts.

    Args:
        ann_dir (str): raw SODA-A ``Annotations`` folder of the split being evaluated (one JSON per image).
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
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not ann_dir:
            raise ValueError('SODAAMetric needs ann_dir, the raw annotation folder of the evaluated split')
        self.ann_dir = ann_dir
        self.nms_iou_thr = nms_iou_thr
        self.box_type = box_type
        self.box_dim = get_box_class(box_type).box_dim
        self.outfile_prefix = outfile_prefix
        self.format_only = format_only
        self.dota_txt_dir = dota_txt_dir
        if format_only and not (dota_txt_dir or outfile_prefix):
            raise ValueError('format_only needs dota_txt_dir or outfile_prefix to write the results to')
        self.max_dets = max_dets
        self.iou_thrs = iou_thrs
        self.area_ranges = DEFAULT_AREA_RANGES if area_ranges is None else area_ranges
        self.min_gt_size = min_gt_size
        self.classes = tuple(classes)
        self.merge_device = merge_device
        self.nproc = nproc

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each patch's predictions (numpy, CPU) with its image id and patch origin.

        Bad class indices fail here, at the patch that has them; non-finite rows are dropped and counted.
        """
        for sample in data_samples:
            skipped = Counter()
            s = patch_prediction(sample, self.box_dim, len(self.classes), skipped)
            pred = dict(bboxes=s.pop('bboxes'), scores=s.pop('scores'), labels=s.pop('labels'))
            self.results.append(dict(s, pred_instances=pred, skipped=dict(skipped)))

    def compute_metrics(self, results: list) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        warnings = Counter()
        for r in results:
            warnings.update(r.get('skipped', {}))
        merged = merge_patch_predictions(results, len(self.classes), self.box_type, self.nms_iou_thr,
                                         device=self.merge_device, warnings=warnings)
        txt_dir = self.dota_txt_dir
        if txt_dir is None and self.format_only:
            txt_dir = f'{self.outfile_prefix}_Task1'
        if txt_dir:
            write_task1(merged, txt_dir, self.classes, self.box_type)
            print_log(f'DOTA Task1 files of {len(merged)} merged images written to {txt_dir}', logger)
        if self.format_only:
            return {}
        gts = load_ground_truth(self.ann_dir, self.box_type, self.min_gt_size, warnings)
        result = evaluate_sodaa(gts, merged, self.classes, self.box_type, self.iou_thrs, self.area_ranges,
                                self.max_dets, nproc=self.nproc)
        print_log('\n' + report(result, warnings), logger)
        if self.outfile_prefix:
            path = f'{self.outfile_prefix}.metrics.json'
            save_metrics(result, path, extra=dict(skipped=dict(warnings)))
            print_log(f'metrics written to {osp.abspath(path)}', logger)
        if warnings:
            print_log(f'SODAAMetric skipped: {format_skips(warnings)}', logger, level=30)
        return {k: round(v, 4) if v >= 0 else -1.0 for k, v in result.stats().items()}
