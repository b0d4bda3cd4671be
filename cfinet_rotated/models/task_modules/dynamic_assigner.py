"""Stage-1 assigner of the Coarse-to-fine RPN: area-based anchor mining with the threshold of Eq. (1)."""
from typing import Optional

import torch
from mmdet.models.task_modules.assigners import AssignResult, BaseAssigner
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
from mmengine.structures import InstanceData
from mmrotate.registry import TASK_UTILS
from mmrotate.structures.bbox import RotatedBoxes
from torch import Tensor

from ...registry import register_module
from ..dynamic_threshold import THRESHOLD_MODES, dynamic_pos_iou_thr


def gt_areas_in_original_image(gt_instances: InstanceData, img_meta: Optional[dict] = None) -> Tensor:
    """Areas (px^2) of the ground truths in the original image, the input of Eq. (1).

    Uses ``gt_instances.ori_areas`` when present (the CRPN head sets it). Otherwise the area of the
    boxes (``w * h`` of a rotated box, not of its hull) divided by ``w_scale * h_scale`` of
    ``img_meta['scale_factor']`` (no resize undone when ``img_meta`` is None).
    """
    if 'ori_areas' in gt_instances:
        return gt_instances.ori_areas
    boxes = gt_instances.bboxes
    if isinstance(boxes, BaseBoxes):
        areas = boxes.areas
    elif boxes.size(-1) == 5:
        areas = boxes[:, 2] * boxes[:, 3]
    elif boxes.size(-1) == 4:
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    else:
        raise ValueError(f'ground-truth boxes must have 4 or 5 columns, got {tuple(boxes.shape)}')
    if img_meta is not None and img_meta.get('scale_factor') is not None:
        sf = img_meta['scale_factor']
        w_scale, h_scale = (float(sf), float(sf)) if isinstance(sf, (int, float)) else (float(sf[0]), float(sf[1]))
        areas = areas / (w_scale * h_scale)
    return areas


def horizontal_hull(boxes) -> HorizontalBoxes:
    """Horizontal hull of rotated boxes (``HorizontalBoxes`` pass through; plain tensors by width)."""
    if isinstance(boxes, HorizontalBoxes):
        return boxes
    if isinstance(boxes, RotatedBoxes):
        return boxes.convert_to('hbox')
    if isinstance(boxes, Tensor) and boxes.size(-1) == 5:
        return RotatedBoxes(boxes).convert_to('hbox')
    if isinstance(boxes, Tensor) and boxes.size(-1) == 4:
        return HorizontalBoxes(boxes)
    raise TypeError(f'cannot take the horizontal hull of {type(boxes).__name__}')


@register_module('TASK_UTILS')
class DynamicIoUAssigner(BaseAssigner):
    """Area-based anchor mining of CRPN stage 1 (Sec. 3.1, Eq. (1)).

    The anchors of all FPN levels are matched jointly (the caller concatenates them). Each anchor
    takes its highest-IoU ground truth ``g*`` (ties: lowest index); it is

    * positive if its IoU >= ``T_a(g*)``, the per-object threshold of Eq. (1) from
      :func:`dynamic_pos_iou_thr` (``mode`` 'paper' or 'official'),
    * negative if its IoU < ``neg_iou_thr`` (0.15),
    * ignored (``gt_ind = -1``) otherwise.

    There is no "best anchor per ground truth" rescue, as in the official code: an object whose best
    anchor lies below its threshold (e.g. a 3x3 px object and 8 px anchors) gets no positive.
    Anchors are horizontal, so IoU is taken with the horizontal hull of rotated ground truth; the area
    in Eq. (1) is the rotated area in original-image pixels (:func:`gt_areas_in_original_image`).
    Pure tensor operations: runs on CPU and GPU (the official one is CUDA-only).

    Args:
        mode (str): threshold mode of Eq. (1), ``'official'`` (default: the rule behind the published
            numbers) or ``'paper'`` (the formula as printed; an ablation).
        neg_iou_thr (float): anchors below this IoU with every ground truth are negative.
        thr_cfg (dict, optional): constants of Eq. (1) passed to :func:`dynamic_pos_iou_thr`
            (``floor``, ``base``, ``gamma``, ``ref_size``, ``official_min``, ``official_max``).
        iou_calculator (dict): horizontal IoU calculator.
    """

    def __init__(self, mode: str = 'official', neg_iou_thr: float = 0.15, thr_cfg: Optional[dict] = None,
                 iou_calculator: dict = dict(type='mmdet.BboxOverlaps2D')) -> None:
        if mode not in THRESHOLD_MODES:
            raise ValueError(f'DynamicIoUAssigner: mode must be one of {THRESHOLD_MODES}, got {mode!r}')
        self.mode = mode
        self.neg_iou_thr = neg_iou_thr
        self.thr_cfg = dict(thr_cfg or {})
        self.iou_calculator = TASK_UTILS.build(iou_calculator)

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: Optional[InstanceData] = None, img_meta: Optional[dict] = None,
               **kwargs) -> AssignResult:
        """Assign ``pred_instances.priors`` (N, 4) to ``gt_instances`` (``bboxes``, ``labels``).

        ``gt_instances_ignore`` is not used (the official stage 1 ignores it too).
        """
        priors = pred_instances.priors
        gt_labels = gt_instances.labels
        num_gts, num_priors = len(gt_instances), len(priors)
        device = gt_labels.device
        if num_gts == 0 or num_priors == 0:
            # no ground truth: every anchor is background
            return AssignResult(num_gts, torch.zeros(num_priors, dtype=torch.long, device=device),
                                torch.zeros(num_priors, device=device),
                                torch.full((num_priors, ), -1, dtype=torch.long, device=device))
        hull = horizontal_hull(gt_instances.bboxes)
        overlaps = self.iou_calculator(hull, priors)  # (G, N)
        max_overlaps, argmax = overlaps.max(dim=0)
        thrs = dynamic_pos_iou_thr(gt_areas_in_original_image(gt_instances, img_meta).to(overlaps),
                                   self.mode, **self.thr_cfg)
        gt_inds = torch.full((num_priors, ), -1, dtype=torch.long, device=device)
        gt_inds[max_overlaps < self.neg_iou_thr] = 0
        pos = max_overlaps >= thrs[argmax]
        gt_inds[pos] = argmax[pos] + 1
        labels = torch.full((num_priors, ), -1, dtype=torch.long, device=device)
        labels[pos] = gt_labels[argmax[pos]].long()
        return AssignResult(num_gts, gt_inds, max_overlaps, labels)
