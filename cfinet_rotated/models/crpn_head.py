"""Coarse-to-fine RPN (CRPN, Sec. 3.1 of the CFINet paper) for horizontal and oriented proposals.

MMDetection's Cascade RPN with the stage-1 assigner replaced by area-based anchor mining (Eq. (1),
:class:`DynamicIoUAssigner`), rotated ground truth, and a second stage that may predict oriented
proposals (midpoint-offset coding, as MMRotate's ``OrientedRPNHead``). Losses weighted as Eq. (2).

* Stage 1 (:class:`CoarseToFineRPNStage`, ``adapt_cfg=dict(type='dilation', dilation=3)``): regression
  only, IoU loss on decoded boxes against the horizontal hull of the ground truth; its boxes become the
  refined anchors of stage 2.
* Stage 2, horizontal form (:class:`CoarseToFineRPNStage`, ``adapt_cfg=dict(type='offset')``): the
  DeformConv2d offsets are computed from the refined anchors (``StageCascadeRPNHead.anchor_offset``),
  then classification and regression of horizontal boxes (hull targets); proposals are
  ``HorizontalBoxes`` (Rotated Faster R-CNN; also SODA-D).
  On CPU the adaptive convolution is :class:`~cfinet_rotated.models.deform_conv.DeformConv2d` (mmcv's
  parameters, a vectorised PyTorch computation instead of mmcv's single-threaded CPU kernel; mmcv's kernel for
  CUDA tensors), switchable with ``deform_conv_impl``.
* Stage 2, oriented form (:class:`OrientedCoarseToFineRPNStage`): the same adaptive convolution, then
  6 midpoint-offset deltas per anchor relative to the refined horizontal anchor; proposals are
  ``RotatedBoxes`` (Oriented R-CNN).
"""
import copy
from typing import List, Optional

from mmcv.ops import DeformConv2d as MMCVDeformConv2d
from mmdet.models.dense_heads import RPNHead
from mmdet.models.dense_heads.cascade_rpn_head import CascadeRPNHead, StageCascadeRPNHead
from mmdet.structures.bbox import get_box_tensor
from mmengine.structures import InstanceData
from mmrotate.models.dense_heads import OrientedRPNHead
from torch import Tensor, nn

from ..registry import register_module
from .deform_conv import DEFORM_CONV_IMPLS, DeformConv2d
from .dynamic_threshold import dynamic_pos_iou_thr
from .task_modules.dynamic_assigner import DynamicIoUAssigner, gt_areas_in_original_image, horizontal_hull

__all__ = ['CoarseToFineRPNHead', 'CoarseToFineRPNStage', 'OrientedCoarseToFineRPNStage', 'DynamicIoUAssigner',
           'dynamic_pos_iou_thr']

TARGET_BOX_TYPES = ('hbox', 'rbox')


@register_module('MODELS')
class CoarseToFineRPNStage(StageCascadeRPNHead):
    """One stage of :class:`CoarseToFineRPNHead`.

    Compared with ``StageCascadeRPNHead``: targets are built from rotated (or horizontal) ground truth
    (``target_box_type='hbox'``: the horizontal hull, plus the original-image area that Eq. (1) needs;
    ``'rbox'``: the rotated boxes themselves), and the regression branch has ``bbox_coder.encode_size``
    outputs, so that one class serves 4-number and 6-number codings. Targets come from MMDetection's
    ``AnchorHead.get_targets``, which un-maps anchors outside the valid flags (the official code does not).

    Args:
        target_box_type (str): ``'hbox'`` or ``'rbox'``, see above.
        anchor_generator (dict): defaults to CRPN's single square anchor of side 2 x stride on P2-P5.
        bridged_feature (bool): the adapted feature replaces the input of the next stage (official
            ``refined_feature=True``).
        deform_conv_impl (str): kernel of the ``adapt_cfg=dict(type='offset')`` adaptive convolution:
            ``'auto'`` (our :class:`DeformConv2d`: PyTorch ops for CPU tensors, mmcv's kernel for CUDA ones) or
            ``'mmcv'`` (mmcv's kernel everywhere). The parameters are mmcv's either way.
        deform_conv_max_mb (float): bound on the extra memory of one CPU deformable-convolution call.
    """

    def __init__(self, in_channels: int, target_box_type: str = 'hbox',
                 anchor_generator: dict = dict(type='mmdet.AnchorGenerator', scales=[2], ratios=[1.0],
                                               strides=[4, 8, 16, 32]),
                 bridged_feature: bool = True, deform_conv_impl: str = 'auto', deform_conv_max_mb: float = 256,
                 **kwargs) -> None:
        if target_box_type not in TARGET_BOX_TYPES:
            raise ValueError(f'target_box_type must be one of {TARGET_BOX_TYPES}, got {target_box_type!r}')
        if deform_conv_impl not in DEFORM_CONV_IMPLS:
            raise ValueError(f'deform_conv_impl must be one of {DEFORM_CONV_IMPLS}, got {deform_conv_impl!r}')
        self.target_box_type = target_box_type
        self.deform_conv_impl, self.deform_conv_max_mb = deform_conv_impl, deform_conv_max_mb
        # MMDetection's defaults, scoped so that they build from MMRotate's registries
        kwargs.setdefault('bbox_coder', dict(type='mmdet.DeltaXYWHBBoxCoder', target_means=(.0, .0, .0, .0),
                                             target_stds=(1.0, 1.0, 1.0, 1.0)))
        kwargs.setdefault('loss_cls', dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))
        kwargs.setdefault('loss_bbox', dict(type='mmdet.IoULoss', mode='linear', loss_weight=1.0))
        super().__init__(in_channels=in_channels, anchor_generator=anchor_generator,
                         bridged_feature=bridged_feature, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()
        conv = self.rpn_conv.conv
        if isinstance(conv, MMCVDeformConv2d):  # adapt_cfg type 'offset': same parameters, our dispatch
            self.rpn_conv.conv = DeformConv2d.like(conv, impl=self.deform_conv_impl,
                                                   max_chunk_mb=self.deform_conv_max_mb)
        reg_dim = self.bbox_coder.encode_size
        if reg_dim != 4:  # the parent hard-codes 4 outputs per anchor
            self.rpn_reg = nn.Conv2d(self.feat_channels, self.num_base_priors * reg_dim, 1)

    def stage_targets(self, gt_instances: InstanceData, img_meta: dict) -> InstanceData:
        """Ground truth as this stage regresses it, with ``ori_areas`` (px^2 of the original image)."""
        boxes = gt_instances.bboxes
        targets = InstanceData(labels=gt_instances.labels,
                               ori_areas=gt_areas_in_original_image(gt_instances, img_meta))
        targets.bboxes = horizontal_hull(boxes) if self.target_box_type == 'hbox' else boxes
        return targets

    def loss_by_feat(self, anchor_list: List[List[Tensor]], valid_flag_list: List[List[Tensor]],
                     cls_scores: List[Tensor], bbox_preds: List[Tensor], batch_gt_instances: List[InstanceData],
                     batch_img_metas: List[dict], batch_gt_instances_ignore=None) -> dict:
        """Stage losses (parent's), on targets converted by :meth:`stage_targets`.

        Without sampling (stage 1) the regression avg factor is the number of anchors in the batch / 200,
        as the official ``refine_reg_factor=200`` (the constant of MMDetection's Cascade RPN).
        """
        batch_gt_instances = [self.stage_targets(g, m) for g, m in zip(batch_gt_instances, batch_img_metas)]
        return super().loss_by_feat(anchor_list, valid_flag_list, cls_scores, bbox_preds, batch_gt_instances,
                                    batch_img_metas, batch_gt_instances_ignore)

    def loss_by_feat_single(self, cls_score: Optional[Tensor], bbox_pred: Tensor, anchors: Tensor, labels: Tensor,
                            label_weights: Tensor, bbox_targets: Tensor, bbox_weights: Tensor,
                            avg_factor: float) -> tuple:
        """Loss of one level: as the parent, for any ``encode_size`` and box-typed decoders."""
        loss_cls = None
        if self.with_cls:
            cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
            loss_cls = self.loss_cls(cls_score, labels.reshape(-1), label_weights.reshape(-1),
                                     avg_factor=avg_factor)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, self.bbox_coder.encode_size)
        bbox_targets = bbox_targets.reshape(-1, bbox_targets.size(-1))
        bbox_weights = bbox_weights.reshape(-1, bbox_weights.size(-1))
        if self.reg_decoded_bbox:
            bbox_pred = get_box_tensor(self.bbox_coder.decode(anchors.reshape(-1, 4), bbox_pred))
        loss_reg = self.loss_bbox(bbox_pred, bbox_targets, bbox_weights, avg_factor=avg_factor)
        return loss_cls, loss_reg

    def _predict_by_feat_single(self, cls_scores: List[Tensor], bbox_preds: List[Tensor],
                                mlvl_anchors: List[Tensor], img_meta: dict, cfg, rescale: bool = False):
        """Proposals from the refined anchors: ``RPNHead``'s generic path (per-level top ``nms_pre``,
        decode, per-level NMS, ``max_per_img``), whose ``_bbox_post_process`` the oriented stage takes
        from ``OrientedRPNHead``."""
        return RPNHead._predict_by_feat_single(self, cls_scores, bbox_preds, None, mlvl_anchors, img_meta,
                                               cfg, rescale=rescale)


@register_module('MODELS')
class OrientedCoarseToFineRPNStage(CoarseToFineRPNStage, OrientedRPNHead):
    """CRPN stage 2 for oriented proposals.

    Regresses midpoint-offset deltas (``MidpointOffsetCoder``, 6 numbers) of the rotated ground truth
    relative to the refined horizontal anchors, and returns ``RotatedBoxes`` after horizontal-hull NMS
    (``OrientedRPNHead._bbox_post_process``). Use it with ``reg_decoded_bbox=False`` and a loss on the
    encoded deltas (SmoothL1, as ``OrientedRPNHead``): mmcv's rotated IoU losses are GPU-only.
    """

    def __init__(self, in_channels: int, target_box_type: str = 'rbox', **kwargs) -> None:
        super().__init__(in_channels=in_channels, target_box_type=target_box_type, **kwargs)
        if self.reg_decoded_bbox:
            raise ValueError('OrientedCoarseToFineRPNStage regresses encoded deltas: set reg_decoded_bbox=False')


@register_module('MODELS')
class CoarseToFineRPNHead(CascadeRPNHead):
    """Coarse-to-fine RPN, Eq. (2): ``L_CRPN = alpha1 * (L_reg^c + L_reg^f) + alpha2 * L_cls``.

    A two-stage ``CascadeRPNHead`` whose stages are :class:`CoarseToFineRPNStage` (stage 1, regression
    only, trained with :class:`DynamicIoUAssigner`) and :class:`CoarseToFineRPNStage` or
    :class:`OrientedCoarseToFineRPNStage` (stage 2, adaptive convolution, classification and
    regression). ``alpha1`` becomes the ``loss_weight`` of every stage's regression loss and ``alpha2``
    that of the classification loss of every stage that classifies, overriding the stage configs and the
    stages' default losses alike (set on the built loss modules). Log keys ``s0.loss_rpn_reg``,
    ``s1.loss_rpn_cls``, ``s1.loss_rpn_reg``.

    Args:
        alpha1 (float): regression weight of Eq. (2), 9.0 in the paper.
        alpha2 (float): classification weight of Eq. (2), 0.9 in the paper.
        in_channels, feat_channels (int): defaults for the stages that do not set them (so that a config
            for a narrower FPN changes two numbers, not the stage list).
        deform_conv_impl (str, optional): if given, the ``deform_conv_impl`` of every stage that does not set it
            (``'auto'``: fast PyTorch path on CPU, mmcv's kernel on CUDA; ``'mmcv'``: mmcv's kernel everywhere).
        loss_cls (dict, optional): if given, replaces the ``loss_cls`` of every stage that classifies (as
            ``RPNHead``'s argument; e.g. the focal-loss lever of configs/_base_/levers.py); its weight is still
            ``alpha2``.
        anchor_generator (dict, optional): if given, merged into every stage's ``anchor_generator`` (e.g. the
            scales / ratios that ``analyze_anchors.py --propose`` writes; CRPN needs one anchor per location).
    """

    def __init__(self, stages: List[dict], train_cfg=None, test_cfg=None, num_classes: int = 1, num_stages: int = 2,
                 alpha1: float = 9.0, alpha2: float = 0.9, in_channels: int = 256, feat_channels: int = 256,
                 deform_conv_impl: Optional[str] = None, loss_cls: Optional[dict] = None,
                 anchor_generator: Optional[dict] = None, init_cfg=None) -> None:
        stages = copy.deepcopy(list(stages))
        for stage in stages:
            stage.setdefault('in_channels', in_channels)
            stage.setdefault('feat_channels', feat_channels)
            if deform_conv_impl is not None:
                stage.setdefault('deform_conv_impl', deform_conv_impl)
            if loss_cls is not None and stage.get('with_cls', True):
                stage['loss_cls'] = copy.deepcopy(dict(loss_cls))
            if anchor_generator is not None:
                stage['anchor_generator'] = dict(stage.get('anchor_generator') or {}, **copy.deepcopy(
                    dict(anchor_generator)))
        self.alpha1, self.alpha2 = alpha1, alpha2
        super().__init__(num_classes=num_classes, num_stages=num_stages, stages=stages, train_cfg=train_cfg,
                         test_cfg=test_cfg, init_cfg=init_cfg)
        # Eq. (2) on the built losses, so that a stage config without loss_bbox / loss_cls (whose default
        # loss has weight 1.0) is weighted too
        for i, stage in enumerate(self.stages):
            losses = [('loss_bbox', alpha1)] + ([('loss_cls', alpha2)] if stage.with_cls else [])
            for name, weight in losses:
                loss = getattr(stage, name, None)
                if loss is None or not hasattr(loss, 'loss_weight'):
                    raise TypeError(f'CoarseToFineRPNHead: stage {i} has no {name} with a loss_weight for Eq. (2)')
                loss.loss_weight = weight
