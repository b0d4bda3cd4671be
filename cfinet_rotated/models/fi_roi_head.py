"""Feature Imitation RoI head of CFINet (Sec. 3.2, Alg. 1, Eq. (3)-(6)) for horizontal and rotated RoIs."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
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
from ..structures.size_subsets import LARGER, SUBSETS, in_size_subsets
from .fi import ExemplarSet, InstanceTransform  # noqa: F401  (registers the FI modules)
from .graph_utils import zero_over_parameters


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

    Variants beyond the paper (off by default; docs/benchmarks.md, "Feature Imitation protocol", measures
    each): ``instance_quality.adaptive_thr`` (a percentile high-quality threshold,
    :class:`PercentileQualityThreshold`), ``exemplar_gt_seed`` (:meth:`gt_seed_mask`) and ``imitate_subsets``
    (only gts of these size subsets are anchors, :meth:`anchor_mask`; exemplars still come from all gts).

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
                 exemplar_gt_seed: int = 0,
                 imitate_subsets: Optional[Sequence[str]] = None,
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
        if exemplar_gt_seed < 0 or exemplar_gt_seed > exemplar_capacity:
            raise ValueError(f'FIRoIHead: exemplar_gt_seed must be in [0, exemplar_capacity], got {exemplar_gt_seed}')
        self.exemplar_gt_seed = int(exemplar_gt_seed)
        if imitate_subsets is not None:
            unknown = sorted(set(imitate_subsets) - set(SUBSETS) - {LARGER})
            if unknown or not imitate_subsets:
                raise ValueError(f'FIRoIHead: imitate_subsets must be a non-empty list of {SUBSETS + (LARGER, )}, '
                                 f'got {list(imitate_subsets)}')
            imitate_subsets = tuple(imitate_subsets)
        self.imitate_subsets = imitate_subsets

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
        batch_img_metas = [ds.metainfo for ds in batch_data_samples]
        return dict(self.bbox_loss(x, sampling_results, batch_gt_instances, batch_img_metas)['loss_bbox'])

    def bbox_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult],
                  batch_gt_instances: Optional[list] = None, batch_img_metas: Optional[list] = None) -> dict:
        """Box losses (StandardRoIHead's) plus ``loss_fi`` (Eq. (5)-(6)) on ``batch_gt_instances``;
        ``batch_img_metas`` (their ``scale_factor``) are needed by ``imitate_subsets`` only."""
        if batch_gt_instances is None:
            raise TypeError('FIRoIHead.bbox_loss needs batch_gt_instances (the ground truth of each image) for '
                            'the Feature Imitation loss')
        bbox_results = super().bbox_loss(x, sampling_results)
        loss_fi, stats = self.feature_imitation_loss(x, sampling_results, bbox_results, batch_gt_instances,
                                                     batch_img_metas)
        bbox_results['loss_bbox']['loss_fi'] = loss_fi
        # logged, not optimised (no 'loss' in the key): the size of the exemplar set, per class too, and the
        # step's statistics of Alg. 1 (see :meth:`feature_imitation_loss`)
        counts = self.exemplar_set.count.float()
        bbox_results['loss_bbox']['fi_exemplars'] = counts.sum()
        for k in range(self.num_classes):
            bbox_results['loss_bbox'][f'fi_exemplars_c{k}'] = counts[k]
        for key, value in stats.items():
            bbox_results['loss_bbox'][f'fi_{key}'] = counts.new_tensor(float(value))
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
        return zero_over_parameters(self.feat2embed)

    def feature_imitation_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult],
                               bbox_results: dict, batch_gt_instances: list,
                               batch_img_metas: Optional[list] = None) -> Tensor:
        """Alg. 1 for the whole batch, Eq. (5) loss; pushes the new exemplars (Alg. 1 line 6).

        Returns:
            tuple: the loss (a scalar tensor) and a dict of the step's statistics, logged as ``fi_<key>``:
            ``unmeasured_gts`` (gts without a measured prediction: no anchor), ``measured_gts``, the IQ
            distribution of the measured gts (``iq_mean``, ``iq_p90``, ``iq_max``), ``high_iq_gts`` (IQ >= T_hq),
            ``new_exemplars`` (also >= ``min_num_preds`` predictions in S'), and ``anchors_with_pos`` (anchors
            with at least one positive: only these contribute to Eq. (5)).
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
        num_gts = keep.numel()
        stats = dict(unmeasured_gts=labels.numel() - num_gts, measured_gts=num_gts, iq_mean=0.0, iq_p90=0.0,
                     iq_max=0.0, high_iq_gts=0, new_exemplars=0, seeded_exemplars=0, anchors=0, anchors_with_pos=0,
                     high_thr=self.instance_quality.thresholds[1])
        if num_gts == 0:
            self.exemplar_set.push(self.exemplar_set.feats.new_zeros((0, ) + self.exemplar_set.feat_shape),
                                   labels[:0])
            return self._zero_loss(), stats

        # ---- anchors: each measured gt's own RoI feature (with gradient)
        extractor = self.bbox_roi_extractor
        gt_feats = extractor(x[:extractor.num_inputs], bbox2roi(roi_gts))[keep]
        labels, iq, cnt, meas, img_ids = (t[keep] for t in (labels, iq, cnt, meas, img_ids))
        anchors = self.feat2embed(gt_feats)
        self.instance_quality.update(iq)  # the adaptive threshold's history (a no-op for the paper's fixed one)
        quality = self.instance_quality.quality_class(iq, meas)
        is_ex = self.instance_quality.is_exemplar(iq, cnt, meas)
        is_anchor = self.anchor_mask(torch.cat(rgt_list)[keep], img_ids, batch_img_metas)

        # ---- Alg. 1 lines 4, 7, 9: contrast samples of every anchor
        idx, valid, pos, used = self.sample_contrast(labels, quality, is_ex, bg_rows.numel())
        iq_f = iq.float()
        high_thr = self.instance_quality.thresholds[1]
        stats.update(iq_mean=float(iq_f.mean()), iq_p90=float(torch.quantile(iq_f, 0.9)), iq_max=float(iq_f.max()),
                     high_iq_gts=int((iq >= high_thr).sum()), new_exemplars=int(is_ex.sum()), high_thr=high_thr,
                     anchors=int(is_anchor.sum()), anchors_with_pos=int((pos.any(dim=1) & is_anchor).sum()))
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
        gts_per_img = torch.bincount(img_ids, weights=is_anchor.to(anchors.dtype), minlength=num_imgs).clamp(min=1)
        weight = anchors.new_tensor(self.quality_weights)[quality] * is_anchor / gts_per_img[img_ids].to(anchors.dtype)
        loss = self.loss_fi(anchors, table[idx], pos, valid, weight=weight, avg_factor=num_imgs)
        # keep every Feat2Embed parameter in the graph (DDP without find_unused_parameters)
        loss = loss + self._zero_loss()

        # ---- Alg. 1 line 6: new exemplars, after this step's sampling (all-gathered under DDP)
        seeded = self.gt_seed_mask(labels, is_ex)
        stats['seeded_exemplars'] = int(seeded.sum())
        push = is_ex | seeded
        self.exemplar_set.push(gt_feats[push].detach(), labels[push])
        return loss, stats

    @torch.no_grad()
    def gt_seed_mask(self, labels: Tensor, is_ex: Tensor) -> Tensor:
        """Measured gts pushed into E although not exemplars (variant ``exemplar_gt_seed``, beyond the paper).

        While class ``c`` holds fewer than ``exemplar_gt_seed`` exemplars, the RoI features of its measured
        non-exemplar gts fill it up to that count (first gts of the batch first), so that Eq. (5) has positives
        of every class seen from the first iterations; real exemplars then overwrite them (ring buffer). 0 (the
        default, the official rule): nothing is seeded.
        """
        seeded = torch.zeros_like(is_ex)
        if self.exemplar_gt_seed == 0 or labels.numel() == 0:
            return seeded
        count = self.exemplar_set.count.to(labels.device)
        for cls in labels.unique().tolist():
            room = self.exemplar_gt_seed - int(count[cls]) - int((is_ex & (labels == cls)).sum())
            if room > 0:
                cand = ((labels == cls) & ~is_ex).nonzero().flatten()[:room]
                seeded[cand] = True
        return seeded

    @torch.no_grad()
    def anchor_mask(self, rboxes: Tensor, img_ids: Tensor, batch_img_metas: Optional[list]) -> Tensor:
        """Which measured gts are anchors of Eq. (5): all (the paper), or those whose size subset (area in the
        original image, i.e. divided by the image's ``scale_factor``) is in ``imitate_subsets`` (a variant)."""
        if self.imitate_subsets is None:
            return torch.ones(rboxes.shape[0], dtype=torch.bool, device=rboxes.device)
        if batch_img_metas is None:
            raise TypeError('FIRoIHead(imitate_subsets=...) needs batch_img_metas (scale_factor of each image)')
        scale = rboxes.new_tensor([float(np.prod(m.get('scale_factor', (1.0, 1.0)))) for m in batch_img_metas])
        return in_size_subsets(rboxes[:, 2] * rboxes[:, 3] / scale[img_ids], self.imitate_subsets)

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
