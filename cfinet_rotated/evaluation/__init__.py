"""SODA-A / SODA-D evaluation: merging patch results and COCO-style AP by size subset."""
from .merge import class_wise_nms, merge_patch_predictions, parse_patch_id, patch_prediction
from .patch_metric import PatchMergeMetric
from .size_ap import (
                      DEFAULT_AREA_RANGES,
                      DEFAULT_IOU_THRS,
                      STAT_NAMES,
                      EvalResult,
                      box_areas,
                      evaluate_detections,
                      pairwise_iou,
)
from .sodaa_eval import align_predictions, evaluate_sodaa, load_ground_truth, read_task1, save_metrics, write_task1
from .sodaa_metric import SODAAMetric
from .sodad_eval import (
                      SODAD_MAX_DETS,
                      SODAD_STAT_NAMES,
                      SODAD_STAT_SPEC,
                      evaluate_sodad,
                      load_sodad_ground_truth,
                      read_coco_results,
                      write_coco_results,
)
from .sodad_metric import SODADMetric

__all__ = ['SODAAMetric', 'SODADMetric', 'PatchMergeMetric', 'evaluate_detections', 'EvalResult', 'STAT_NAMES',
           'DEFAULT_AREA_RANGES', 'DEFAULT_IOU_THRS', 'box_areas', 'pairwise_iou', 'merge_patch_predictions',
           'class_wise_nms', 'parse_patch_id', 'patch_prediction', 'load_ground_truth', 'align_predictions',
           'evaluate_sodaa', 'read_task1', 'write_task1', 'save_metrics', 'SODAD_MAX_DETS', 'SODAD_STAT_NAMES',
           'SODAD_STAT_SPEC', 'evaluate_sodad', 'load_sodad_ground_truth', 'read_coco_results',
           'write_coco_results']
