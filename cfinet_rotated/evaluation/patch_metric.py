"""The part of the SODA-A and SODA-D metrics that is the same: keep per-patch predictions, merge them per
original image, evaluate, report."""
import os.path as osp
from collections import Counter
from typing import Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from cfinet_rotated.datasets.sodaa_io import format_skips

from .merge import merge_patch_predictions, patch_prediction
from .size_ap import DEFAULT_AREA_RANGES, get_box_class
from .sodaa_eval import report, save_metrics


class PatchMergeMetric(BaseMetric):
    """Base of :class:`SODAAMetric` and :class:`SODADMetric`: per-patch predictions are shifted by their patch
    origin, merged per original image with class-wise NMS (``nms_iou_thr``, official 0.5), written by
    :meth:`write_results` and evaluated by :meth:`evaluate_merged` (both per dataset).

    Args:
        nms_iou_thr (float | None): IoU of the class-wise merge NMS; None disables it.
        box_type (str): ``'rbox'`` or ``'hbox'``.
        outfile_prefix (str | None): writes ``<prefix>.metrics.json`` (and what :meth:`write_results` writes).
        format_only (bool): only merge and write the results, no evaluation.
        max_dets (int | Sequence[int]): detections per image and class.
        iou_thrs, area_ranges: protocol overrides (defaults: 0.50:0.05:0.95 and the SODA ranges).
        classes (Sequence[str]): class names, index = label.
        merge_device (str): device for the merge NMS ('cpu', or 'cuda' to use mmcv's GPU kernels).
        nproc (int): worker processes for the evaluation (over classes).
    """

    def __init__(self,
                 classes: Sequence[str],
                 nms_iou_thr: Optional[float] = 0.5,
                 box_type: str = 'rbox',
                 outfile_prefix: Optional[str] = None,
                 format_only: bool = False,
                 max_dets=20000,
                 iou_thrs: Optional[Sequence[float]] = None,
                 area_ranges: Optional[dict] = None,
                 merge_device: str = 'cpu',
                 nproc: int = 1,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.nms_iou_thr = nms_iou_thr
        self.box_type = box_type
        self.box_dim = get_box_class(box_type).box_dim
        self.outfile_prefix = outfile_prefix
        self.format_only = format_only
        self.max_dets = max_dets
        self.iou_thrs = iou_thrs
        self.area_ranges = DEFAULT_AREA_RANGES if area_ranges is None else area_ranges
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

    def write_results(self, merged, logger) -> None:
        """Write the merged full-image detections (dataset-specific format); nothing by default."""

    def evaluate_merged(self, merged, warnings):
        """Evaluate the merged detections (ori_id -> dict) against the full-image ground truth -> ``EvalResult``."""
        raise NotImplementedError

    def compute_metrics(self, results: list) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        warnings = Counter()
        for r in results:
            warnings.update(r.get('skipped', {}))
        merged = merge_patch_predictions(results, len(self.classes), self.box_type, self.nms_iou_thr,
                                         device=self.merge_device, warnings=warnings)
        self.write_results(merged, logger)
        if self.format_only:
            return {}
        result = self.evaluate_merged(merged, warnings)
        print_log('\n' + report(result, warnings), logger)
        if self.outfile_prefix:
            path = f'{self.outfile_prefix}.metrics.json'
            save_metrics(result, path, extra=dict(skipped=dict(warnings)))
            print_log(f'metrics written to {osp.abspath(path)}', logger)
        if warnings:
            print_log(f'{type(self).__name__} skipped: {format_skips(warnings)}', logger, level=30)
        return {k: round(v, 4) if v >= 0 else -1.0 for k, v in result.stats().items()}
