"""Feature Imitation RoI head of CFINet (Sec. 3.2, Alg. 1, Eq. (3)-(6)) for horizontal and rotated RoIs."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes, bbox2roi, bbox_overlaps, get_box_tensor
from mmrotate.registry import MODELS
from mmrotate.structures.bbox import RotatedBoxes, rbbox_overlaps
from torch import Tensor

from ..registry import register_module
from .fi import ExemplarSet, InstanceTransform  # noqa: F401  (registers the FI modules)


def _as_rboxes(boxes) -> Tensor:
    """(n, 5) rotated tensor of a box-type or plain (n, 4)/(n, 5) tensor."""
    if isinstance(boxes, BaseBoxes):
        return boxes.convert_to('rbox').tensor
    if boxes.size(-1) == 4:
        return HorizontalBoxes(boxes).convert_to('rbox').tensor
    return boxes


def _like_priors(rboxes: Tensor, priors):
    """Rotated boxes in the RoI box type of ``priors`` (horizontal hull for horizontal RoIs)."""
    if isinstance(priors, BaseBoxes):
        return RotatedBoxes(rboxes).convert_to(type(priors))
    if priors.size(-1) == 4:
        return RotatedBoxes(rboxes).convert_to('hbox').tensor
    return rboxes


def _aligned_iou(pred: Tensor, gt) -> Tensor:
    """IoU of pred[i] with gt[i]; rotated IoU (mmcv box_iou_rotated) for (n, 5) predictions."""
    if pred.shape[0] == 0:
        return pred.new_zeros(0)
    if pred.size(-1) == 5:
        return rbbox_overlaps(pred, _as_rboxes(gt).to(pred.dtype), is_aligned=True).view(-1)
    gt = gt.convert_to('hbox').tensor if isinstance(gt, BaseBoxes) else gt
    return bbox_overlaps(pred, gt.to(pred.dtype), is_aligned=True).view(-1)


@register_module('MODELS')
class FIRoIHead(StandardRoIHead):
    """StandardRoIHead plus the Feature Imitation (FI) branch of CFINet.

    Training (Alg. 1, per gt ``g`` of the batch; ``E`` = :class:`ExemplarSet` as it was at the start of
    the step):

    1. ``IQ(g)`` by :class:`InstanceQuality`, Eq. (3), from the current detection head's predictions on
       the sampled positive proposals of ``g`` (official mode by default; predicted-box rotated IoU in
       ``mode='paper'``). A gt without any sampled prediction has no measured quality and sits this step
       out (no anchor, no exemplar); the official code would call it low quality and weight it most.
    2. Anchor = Feat2Embed (Eq. (4), with gradient) of ``g``'s own RoI feature.
    3. Positives: if ``g`` is an exemplar (IQ >= 0.65 and >= 8 predictions), its own Γ boxes
       (:class:`InstanceTransform`) RoI-aligned from its own image; otherwise up to
       ``num_contrast * pos_fractions[quality]`` (64 / 32 / 16) exemplars of its class from ``E``.
       Both embedded under ``no_grad`` (the paper's frozen extraction of exemplars).
    4. Negatives: ``num_contrast`` (128) minus #positives, sampled without replacement from the
       background RoIs of the batch (embedded with gradient) and the exemplars of other classes.
    5. Loss Eq. (5) (:class:`FeatureImitationLoss`, tau 0.6), weighted per quality class 0.5 / 0.1 /
       0.05, averaged per image then over images, times alpha_3 = 0.5 (Eq. (6)); logged as ``loss_fi``.
    6. The exemplar gts' RoI features are pushed into ``E`` (all-gathered under DDP).

    ``loss_fi`` is always in the loss dict and always depends on every Feat2Embed parameter (a zero
    with a graph when there is nothing to imitate), so DDP needs no ``find_unused_parameters`` for it.

    Exemplars, anchors, negatives and Γ features are all raw RoIAlign features (one domain).
    Inference is the plain StandardRoIHead path unless ``feature_reweight=True``, which applies the
    official channel attention ``f * (1 + softmax(convs(f)))`` before the box head in train and test.

    Works with horizontal RoIs + rotated regression (Rotated Faster R-CNN) and rotated RoIs (Oriented
    R-CNN): boxes go through MMDetection/MMRotate box types.
    """

    def __init__(self,
                 *args,
                 feat2embed: dict = dict(type='Feat2Embed'),
                 instance_quality: dict = dict(type='InstanceQuality', mode='official'),
                 loss_fi: dict = dict(type='FeatureImitationLoss', temperature=0.6, loss_weight=0.5),
                 transform: dict = dict(type='InstanceTransform'),
                 exemplar_capacity: int = 256,
                 num_contrast: int = 128,
                 pos_fractions: Sequence[float] = (0.5, 0.25, 0.125),
                 quality_weights: Sequence[float] = (0.5, 0.1, 0.05),
                 feature_reweight: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        channels = self.bbox_roi_extractor.out_channels
        roi_size = self.bbox_head.roi_feat_size
        if roi_size[0] != roi_size[1]:
            raise ValueError(f'FIRoIHead: square RoI features needed, got {roi_size}')
        self.num_classes = self.bbox_head.num_classes
        self.feat2embed = MODELS.build(feat2embed, default_args=dict(in_channels=channels,
                                                                     roi_size=roi_size[0]))
        self.instance_quality = MODELS.build(instance_quality)
        self.loss_fi = MODELS.build(loss_fi)
        self.transform = MODELS.build(transform)
        self.exemplar_set = ExemplarSet(self.num_classes, exemplar_capacity,
                                        (channels, roi_size[0], roi_size[1]))
        if len(pos_fractions) != 3 or len(quality_weights) != 3:
            raise ValueError('FIRoIHead: pos_fractions and quality_weights need 3 values (low, mid, high)')
        self.num_contrast = num_contrast
        self.pos_fractions = tuple(float(f) for f in pos_fractions)
        self.quality_weights = tuple(float(w) for w in quality_weights)
        self.feature_reweight = feature_reweight

    # ------------------------------------------------------------------ forward / loss plumbing
    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        """StandardRoIHead's box forward; with ``feature_reweight`` the official channel attention."""
        if not self.feature_reweight:
            return super()._bbox_forward(x, rois)
        roi_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        bbox_feats = self.feat2embed.reweight(roi_feats)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        cls_score, bbox_pred = self.bbox_head(bbox_feats)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats)

    def loss(self, x, rpn_results_list, batch_data_samples) -> dict:
        """StandardRoIHead's loss (assign and sample per image, then the box losses), with the ground truths passed
        on to :meth:`bbox_loss` explicitly: the FI branch needs them (Alg. 1)."""
        assert len(rpn_results_list) == len(batch_data_samples)
        batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            assign_result = self.bbox_assigner.assign(rpn_results, batch_gt_instances[i],
                                                      batch_gt_instances_ignore[i])
            sampling_results.append(self.bbox_sampler.sample(assign_result, rpn_results, batch_gt_instances[i],
                                                             feats=[lvl_feat[i][None] for lvl_feat in x]))
        if self.with_mask:
            raise NotImplementedError('FIRoIHead: mask heads are not supported')
        return dict(self.bbox_loss(x, sampling_results, batch_gt_instances)['loss_bbox'])

    def bbox_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult],
                  batch_gt_instances: Optional[list] = None) -> dict:
        """Box losses (StandardRoIHead's) plus ``loss_fi`` (Eq. (5)-(6)) on ``batch_gt_instances``."""
        if batch_gt_instances is None:
            raise TypeError('FIRoIHead.bbox_loss needs batch_gt_instances (the ground truth of each image) for '
                            'the Feature Imitation loss')
        bbox_results = super().bbox_loss(x, sampling_results)
        loss_fi, num_unmeasured = self.feature_imitation_loss(x, sampling_results, bbox_results, batch_gt_instances)
        bbox_results['loss_bbox']['loss_fi'] = loss_fi
        # logged, not optimised (no 'loss' in the key): the size of the exemplar set, per class too, and how
        # many gts of the step had no measured prediction (left out of Alg. 1)
        counts = self.exemplar_set.count.float()
        bbox_results['loss_bbox']['fi_exemplars'] = counts.sum()
        for k in range(self.num_classes):
            bbox_results['loss_bbox'][f'fi_exemplars_c{k}'] = counts[k]
        bbox_results['loss_bbox']['fi_unmeasured_gts'] = counts.new_tensor(float(num_unmeasured))
        return bbox_results

    # ------------------------------------------------------------------ Eq. (3)
    @torch.no_grad()
    def instance_quality_of(self, sampling_result: SamplingResult, gt_instances, cls_score: Tensor,
                            bbox_pred: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """IQ, counts of S' and of all measured predictions of one image's gts (see
        :meth:`InstanceQuality.forward`); cls_score / bbox_pred are its positive rows."""
        gt_labels = gt_instances.labels
        is_pred = sampling_result.pos_is_gt == 0  # gt boxes added as proposals are not predictions
        assigned = sampling_result.pos_assigned_gt_inds[is_pred].long()
        cls_score = cls_score[is_pred]
        if self.bbox_head.custom_cls_channels:
            probs = self.bbox_head.loss_cls.get_activation(cls_score)
        else:
            probs = F.softmax(cls_score, dim=-1)
        priors = sampling_result.pos_priors[is_pred]
        gts = gt_instances.bboxes[assigned]
        if self.instance_quality.mode == 'official':
            ious = self.bbox_assigner.iou_calculator(gts, priors, is_aligned=True).view(-1)
        else:
            deltas = bbox_pred[is_pred]
            if not self.bbox_head.reg_class_agnostic:  # e.g. MMDetection's Shared2FCBBoxHead (SODA-D)
                dim = self.bbox_head.bbox_coder.encode_size
                deltas = deltas.view(deltas.shape[0], self.num_classes, dim)[
                    torch.arange(deltas.shape[0], device=deltas.device), gt_labels[assigned]]
            pred = get_box_tensor(self.bbox_head.bbox_coder.decode(get_box_tensor(priors).float(),
                                                                   deltas.float()))
            ious = _aligned_iou(pred, gts)
        return self.instance_quality(probs, ious, assigned, gt_labels)

    # ------------------------------------------------------------------ Alg. 1 + Eq. (5)
    def _zero_loss(self) -> Tensor:
        return sum(p.sum() * 0 for p in self.feat2embed.parameters())

    def feature_imitation_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult],
                               bbox_results: dict, batch_gt_instances: list) -> Tensor:
        """Alg. 1 for the whole batch, Eq. (5) loss; pushes the new exemplars (Alg. 1 line 6).

        Returns:
            tuple: the loss (a scalar tensor) and the number of gts without a measured prediction (no anchor).
        """
        device = bbox_results['cls_score'].device
        num_imgs = len(sampling_results)
        nums = [len(res.priors) for res in sampling_results]
        starts = [sum(nums[:i]) for i in range(num_imgs)]
        # ---- per image: IQ (Eq. (3)), gt boxes in RoI type, background rows
        roi_gts, rgt_list, labels, iqs, counts, measured, img_ids, bg_rows = [], [], [], [], [], [], [], []
        for i, (res, gts) in enumerate(zip(sampling_results, batch_gt_instances)):
            n_pos = len(res.pos_inds)
            rows = slice(starts[i], starts[i] + n_pos)
            iq, cnt, meas = self.instance_quality_of(res, gts, bbox_results['cls_score'][rows],
                                                     bbox_results['bbox_pred'][rows])
            rgts = _as_rboxes(gts.bboxes).to(device)
            roi_gts.append(_like_priors(rgts, res.priors))
            rgt_list.append(rgts)
            labels.append(gts.labels.to(device).long())
            iqs.append(iq)
            counts.append(cnt)
            measured.append(meas)
            img_ids.append(torch.full((len(gts.labels), ), i, dtype=torch.long, device=device))
            bg_rows.append(torch.arange(starts[i] + n_pos, starts[i] + nums[i], device=device))
        labels, iq, cnt, meas, img_ids = (torch.cat(t) for t in (labels, iqs, counts, measured, img_ids))
        bg_rows = torch.cat(bg_rows)
        # a gt without any measured prediction has no quality (not a low one): it is no anchor this step
        keep = (meas > 0).nonzero().flatten()
        num_unmeasured = int(labels.numel() - keep.numel())
        num_gts = keep.numel()
        if num_gts == 0:
            self.exemplar_set.push(self.exemplar_set.feats.new_zeros((0, ) + self.exemplar_set.feat_shape),
                                   labels[:0])
            return self._zero_loss(), num_unmeasured

        # ---- anchors: each measured gt's own RoI feature (with gradient)
        extractor = self.bbox_roi_extractor
        gt_feats = extractor(x[:extractor.num_inputs], bbox2roi(roi_gts))[keep]
        labels, iq, cnt, meas, img_ids = (t[keep] for t in (labels, iq, cnt, meas, img_ids))
        anchors = self.feat2embed(gt_feats)
        quality = self.instance_quality.quality_class(iq, meas)
        is_ex = self.instance_quality.is_exemplar(iq, cnt, meas)

        # ---- Alg. 1 lines 4, 7, 9: contrast samples of every anchor
        idx, valid, pos, used = self.sample_contrast(labels, quality, is_ex, bg_rows.numel())
        n_bg, n_ex = bg_rows.numel(), self.num_classes * self.exemplar_set.capacity
        t = self.transform.num_per_instance
        ex_gt = is_ex.nonzero().flatten()

        # ---- embedding table: background RoIs with gradient, exemplars and Γ without (frozen)
        dim = anchors.shape[1]
        table = anchors.new_zeros((n_bg + n_ex + ex_gt.numel() * t, dim))
        used_bg = used[:n_bg].nonzero().flatten()
        if used_bg.numel():
            bg_feats = self._raw_roi_feats(x, bbox_results, sampling_results, bg_rows[used_bg])
            table = table.index_copy(0, used_bg, self.feat2embed(bg_feats).to(table.dtype))
        with torch.no_grad():  # frozen extraction of exemplar features (Sec. 3.2, Feat2Embed)
            used_ex = used[n_bg:].nonzero().flatten()
            ex_emb = self.feat2embed(self.exemplar_set.feats.flatten(0, 1)[used_ex].to(gt_feats.dtype))
            aug_emb = anchors.new_zeros((0, dim))
            if ex_gt.numel():
                aug_emb = self.feat2embed(self.transform_feats(
                    x, torch.cat(rgt_list)[keep][ex_gt], img_ids[ex_gt], [res.priors for res in sampling_results]))
        table = table.index_copy(0, used_ex + n_bg, ex_emb.to(table.dtype))
        table = table.index_copy(0, torch.arange(aug_emb.shape[0], device=device) + n_bg + n_ex,
                                 aug_emb.to(table.dtype))

        # ---- Eq. (5) with per-quality weights, mean per image (over its measured gts), mean over images
        gts_per_img = torch.bincount(img_ids, minlength=num_imgs).to(anchors.dtype)
        weight = anchors.new_tensor(self.quality_weights)[quality] / gts_per_img[img_ids]
        loss = self.loss_fi(anchors, table[idx], pos, valid, weight=weight, avg_factor=num_imgs)
        # keep every Feat2Embed parameter in the graph (DDP without find_unused_parameters)
        loss = loss + self._zero_loss()

        # ---- Alg. 1 line 6: new exemplars, after this step's sampling (all-gathered under DDP)
        self.exemplar_set.push(gt_feats[is_ex].detach(), labels[is_ex])
        return loss, num_unmeasured

    @torch.no_grad()
    def sample_contrast(self, labels: Tensor, quality: Tensor, is_ex: Tensor, n_bg: int) -> tuple:
        """Indices of each anchor's contrast samples (Alg. 1) in the table [bg RoIs | exemplar slots | Γ].

        Positives: the anchor's own Γ boxes (``num_per_instance`` columns; exemplars, line 7) or up to
        ``int(num_contrast * pos_fractions[quality])`` random exemplars of its class (line 9).
        Negatives: ``num_contrast`` - #positives random samples without replacement from the ``n_bg``
        background RoIs of the batch and the exemplars of other classes (line 4).

        Returns:
            tuple: ``idx`` (G, K) long, ``valid`` and ``pos`` (G, K) bool masks, and ``used`` (n_bg + C*cap,)
            bool marking the background RoIs and exemplar slots that some anchor samples.
        """
        device = labels.device
        num_gts = labels.numel()
        ex_valid = self.exemplar_set.valid_mask().flatten()  # (C * cap,)
        ex_cls = torch.arange(self.num_classes, device=device).repeat_interleave(self.exemplar_set.capacity)
        n_ex = ex_valid.numel()
        same_cls = ex_cls[None, :] == labels[:, None]  # (G, C*cap)
        # line 9: exemplars of the anchor's class for non-exemplar gts
        budget = labels.new_tensor([int(self.num_contrast * f) for f in self.pos_fractions])[quality]
        budget = torch.where(is_ex, torch.zeros_like(budget), budget)
        k = min(int(budget.max()) if num_gts else 0, n_ex)
        score = torch.rand(num_gts, n_ex, device=device).masked_fill(~(same_cls & ex_valid[None, :]), -1)
        top_s, top_i = score.topk(k, dim=1)
        ex_pos_valid = (top_s >= 0) & (torch.arange(k, device=device)[None, :] < budget[:, None])
        # line 7: the anchor's own Γ boxes for exemplar gts
        t = self.transform.num_per_instance
        ex_gt = is_ex.nonzero().flatten()
        aug_idx = torch.full((num_gts, t), -1, dtype=torch.long, device=device)
        aug_idx[ex_gt] = torch.arange(ex_gt.numel() * t, device=device).view(-1, t) + n_bg + n_ex
        aug_valid = aug_idx >= 0
        n_pos = ex_pos_valid.sum(1) + aug_valid.sum(1)
        # line 4: background RoIs and exemplars of other classes
        neg_allowed = torch.cat([torch.ones(num_gts, n_bg, dtype=torch.bool, device=device),
                                 ~same_cls & ex_valid[None, :]], dim=1)
        k_neg = min(self.num_contrast, n_bg + n_ex)
        score = torch.rand(num_gts, n_bg + n_ex, device=device).masked_fill(~neg_allowed, -1)
        neg_s, neg_idx = score.topk(k_neg, dim=1)
        rank = torch.arange(k_neg, device=device)[None, :]
        neg_valid = (neg_s >= 0) & (rank < (self.num_contrast - n_pos).clamp(min=0)[:, None])
        idx = torch.cat([top_i + n_bg, aug_idx.clamp(min=0), neg_idx], dim=1)
        valid = torch.cat([ex_pos_valid, aug_valid, neg_valid], dim=1)
        pos = torch.cat([ex_pos_valid, aug_valid, torch.zeros_like(neg_valid)], dim=1)
        used = torch.zeros(n_bg + n_ex, dtype=torch.bool, device=device)
        sel = idx[valid]
        used[sel[sel < n_bg + n_ex]] = True
        return idx, valid, pos, used

    @torch.no_grad()
    def transform_feats(self, x: Tuple[Tensor], rboxes: Tensor, img_inds: Tensor,
                        batch_priors: list) -> Tensor:
        """RoI features of Γ(box) (Alg. 1 line 7), each from its own image ``img_inds`` (the official code
        always reads image 0). Returns (n * num_per_instance, C, S, S) in (instance, transform) order."""
        t = self.transform.num_per_instance
        boxes = self.transform(rboxes).flatten(0, 1)
        box_img = img_inds.repeat_interleave(t)
        per_img = [_like_priors(boxes[box_img == i], priors) for i, priors in enumerate(batch_priors)]
        feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], bbox2roi(per_img))
        out = torch.empty_like(feats)
        out[torch.argsort(box_img, stable=True)] = feats  # bbox2roi groups the boxes by image
        return out

    def _raw_roi_feats(self, x: Tuple[Tensor], bbox_results: dict, sampling_results: list,
                       rows: Tensor) -> Tensor:
        """Raw RoIAlign features of sampled RoI rows (bbox_feats, or re-extracted when re-weighted)."""
        if not self.feature_reweight and not self.with_shared_head:
            return bbox_results['bbox_feats'][rows]
        rois = bbox2roi([res.priors for res in sampling_results])[rows]
        return self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
