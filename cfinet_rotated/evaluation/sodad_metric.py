"""``SODADMetric``: merge per-patch SODA-D predictions per original image and compute the 14 statistics."""
from collections import Counter
from typing import Optional, Sequence

from mmengine.logging import print_log

from cfinet_rotated.datasets.sodad_io import SODAD_CLASSES

from ..registry import register_module
from .patch_metric import PatchMergeMetric
from .sodad_eval import SODAD_MAX_DETS, evaluate_sodad, load_sodad_ground_truth, write_coco_results


@register_module('METRICS')
class SODADMetric(PatchMergeMetric):
    """SODA-D evaluation on original images, as the official CFINet ``SODADDataset.evaluate`` with ``SODADeval``.

    Per-patch predictions (``ori_id``, ``x_start``/``y_start`` from the data sample, as :class:`SODADDataset`
    provides them) are shifted to the original image, merged with class-wise horizontal NMS (mmcv ``nms``, IoU
    ``nms_iou_thr`` 0.5), and evaluated COCO-style (exact COCO matching, IoU 0.50:0.95, 101 recall points, maxDets
    100/300/1000) against the full-image annotations of ``ann_file`` (category 10 excluded, JSON ``area`` for the
    ranges, ``ignore`` honoured, ``iscrowd`` as 0). Statistics, prefix ``sodad/``: ``AP``, ``AP50``, ``AP75``,
    ``AP_eS``, ``AP_rS``, ``AP_gS``, ``AP_N`` (maxDets 100), ``AR_100``, ``AR_300``, ``AR_1000`` (Small), ``AR_eS``,
    ``AR_rS``, ``AR_gS``, ``AR_N`` (maxDets 1000). Every image of the JSON counts.

    Args:
        ann_file (str): full-image COCO JSON of the evaluated split (``rawData/Annotations/test.json``; the
            official ``test_wo_ignore.json`` gives the same numbers).
        outfile_prefix (str | None): writes ``<prefix>.metrics.json`` and the merged detections as COCO results
            ``<prefix>.bbox.json``.
        format_only (bool): only merge and write ``<prefix>.bbox.json``, no evaluation.
        Other arguments: see :class:`PatchMergeMetric`.
    """
    default_prefix: Optional[str] = 'sodad'

    def __init__(self,
                 ann_file: str,
                 nms_iou_thr: Optional[float] = 0.5,
                 outfile_prefix: Optional[str] = None,
                 format_only: bool = False,
                 max_dets: Sequence[int] = SODAD_MAX_DETS,
                 iou_thrs: Optional[Sequence[float]] = None,
                 area_ranges: Optional[dict] = None,
                 classes: Sequence[str] = SODAD_CLASSES,
                 merge_device: str = 'cpu',
                 nproc: int = 1,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(classes, nms_iou_thr, 'hbox', outfile_prefix, format_only, max_dets, iou_thrs,
                         area_ranges, merge_device, nproc, collect_device, prefix)
        if not ann_file:
            raise ValueError('SODADMetric needs ann_file, the full-image COCO JSON of the evaluated split')
        if format_only and not outfile_prefix:
            raise ValueError('format_only needs outfile_prefix to write the results to')
        self.ann_file = ann_file
        self._gt = None

    def ground_truth(self):
        """(gts, image_ids, load warnings) of ``ann_file``, read once."""
        if self._gt is None:
            warnings = Counter()
            gts, image_ids = load_sodad_ground_truth(self.ann_file, warnings)
            self._gt = (gts, image_ids, warnings)
        return self._gt

    def write_results(self, merged, logger) -> None:
        """COCO results of the merged detections to ``<outfile_prefix>.bbox.json``."""
        if self.outfile_prefix:
            path = f'{self.outfile_prefix}.bbox.json'
            n = write_coco_results(merged, path, self.ground_truth()[1])
            print_log(f'{n} merged detections of {len(merged)} images written to {path}', logger)

    def evaluate_merged(self, merged, warnings):
        gts, _, load_warnings = self.ground_truth()
        warnings.update(load_warnings)
        return evaluate_sodad(gts, merged, self.classes, self.iou_thrs, self.area_ranges, self.max_dets,
                              nproc=self.nproc)
