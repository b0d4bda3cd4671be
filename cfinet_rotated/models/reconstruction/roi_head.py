"""RoI heads of the generative-discriminative detector (issue 21; docs/reconstruction.md): G super-resolves the RoI
features of small RoIs before the box head, in training and at inference; in training an LR/HR branch gives G and
the adversarial discriminator D their losses."""
from contextlib import contextmanager
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.structures.bbox import bbox2roi
from mmrotate.registry import MODELS
from torch import Tensor

from ...registry import register_module
from ...structures.size_subsets import LARGER, SUBSETS, in_size_subsets
from ..fi_roi_head import FIRoIHead
from ..graph_utils import zero_over_parameters

_NAMES = SUBSETS + (LARGER, )


def _subsets(value, what: str) -> Tuple[str, ...]:
    value = tuple(value or ())
    unknown = sorted(set(value) - set(_NAMES))
    if unknown or not value:
        raise ValueError(f'ReconstructionRoIHead: {what} must be a non-empty list of {_NAMES}, got {list(value)}')
    return value


def _build(cfg: Optional[dict]):
    return None if cfg is None else MODELS.build(cfg)


class ReconstructionMixin:
    """The reconstruction part of :class:`ReconstructionRoIHead` (mixed into StandardRoIHead or FIRoIHead).

    **Detection path** (train and test, :meth:`_bbox_forward`): the RoIs whose size subset (area in the original
    image, ``area / prod(scale_factor)``; :mod:`cfinet_rotated.structures.size_subsets`) is in ``sr_subsets`` go
    through the generator, ``z_SR = G(z)``, before the box head; the others go to the box head unchanged. So the box
    head's ``loss_cls`` (the cross-entropy term of the slides' L_cls) and ``loss_bbox`` (on these RoIs, L_reg on
    t_SR) train the box head, G and the backbone end to end on the real small RoIs, and at inference the same RoIs
    go through G. D never runs at inference.

    **Reconstruction branch** (training only, :meth:`reconstruction_loss`): up to ``max_pairs`` sampled RoIs of the
    batch (foreground first) whose size subset is in ``hr_subsets`` are the pairs ``i = 1..m``: ``z_HR`` = their RoI
    features, ``z_LR`` = the same RoIs pooled from the FPN maps downsampled by r (:class:`DownsampledRoIFeatures`),
    both detached from the backbone. Then ``loss_mse`` (L_MSE), ``loss_tv`` (L_TV), ``loss_sr_cls`` (beta L_cls,
    its D_cls terms, D_cls = the box head), ``loss_sr_reg`` (gamma L_reg on t_SR = the box head's regression from
    G(z_LR)), ``loss_adv`` (alpha L_adv, through D with detached parameters: only G learns from it) and
    ``loss_disc`` (D's loss on detached inputs: only D learns from it). A loss set to ``None`` is left out (the
    ablations); ``loss_adv=None`` also removes D. ``recon_pairs`` (m) and ``recon_sr_rois`` (the sampled RoIs
    through G) are logged.

    With one optimizer over all parameters the sum of the losses is one simultaneous gradient step of the min-max
    (each side's loss reaches only its own parameters). :class:`ReconstructionFasterRCNN` with the optim wrapper
    dict of :class:`ReconstructionOptimWrapperConstructor` alternates instead: D's step first, then G and the
    detector against the updated D (it sets ``keep_fake`` to get G(z_LR) back, see :meth:`pop_fake`).

    ``bbox_feats`` of :meth:`_bbox_forward` are the raw RoIAlign features (before G; what FIRoIHead imitates).
    """

    def __init__(self,
                 *args,
                 generator: dict = dict(type='SRGenerator'),
                 discriminator: Optional[dict] = dict(type='FeatureDiscriminator'),
                 lr_features: dict = dict(type='DownsampledRoIFeatures', factor=2),
                 loss_adv: Optional[dict] = dict(type='AdversarialLoss', loss_weight=1e-3),
                 loss_disc: dict = dict(type='DiscriminatorLoss'),
                 loss_mse: Optional[dict] = dict(type='ReconstructionMSELoss', reduction='mean'),
                 loss_tv: Optional[dict] = dict(type='TotalVariationLoss'),
                 loss_sr_cls: Optional[dict] = dict(type='SRClassificationLoss', loss_weight=0.1),
                 loss_sr_reg: Optional[dict] = dict(type='SRRegressionLoss', loss_weight=0.1),
                 sr_subsets: Sequence[str] = ('eS', 'rS'),
                 hr_subsets: Sequence[str] = ('gS', 'Normal', LARGER),
                 max_pairs: int = 64,
                 **kwargs) -> None:
        extractor_cfg = kwargs.get('bbox_roi_extractor', args[0] if args else None)
        super().__init__(*args, **kwargs)
        self.sr_subsets = _subsets(sr_subsets, 'sr_subsets')
        self.hr_subsets = _subsets(hr_subsets, 'hr_subsets')
        if set(self.sr_subsets) & set(self.hr_subsets):
            raise ValueError(f'ReconstructionRoIHead: sr_subsets {list(self.sr_subsets)} and hr_subsets '
                             f'{list(self.hr_subsets)} overlap (an HR RoI must not go through G)')
        if max_pairs < 1:
            raise ValueError(f'ReconstructionRoIHead: max_pairs must be >= 1, got {max_pairs}')
        if getattr(self.bbox_head, 'reg_decoded_bbox', False) or getattr(self.bbox_head, 'custom_cls_channels', False):
            raise ValueError('ReconstructionRoIHead: needs a box head with encoded regression targets and softmax '
                             'classification (reg_decoded_bbox=False, no custom class channels)')
        self.max_pairs = int(max_pairs)
        channels = self.bbox_roi_extractor.out_channels
        self.lr_features = MODELS.build(lr_features, default_args=dict(roi_extractor=extractor_cfg))
        self.generator = MODELS.build(generator, default_args=dict(in_channels=channels,
                                                                   upscale=self.lr_features.factor))
        self.discriminator = None
        self.loss_adv = self.loss_disc = None
        if loss_adv is not None:
            self.discriminator = MODELS.build(discriminator, default_args=dict(in_channels=channels))
            self.loss_adv = MODELS.build(loss_adv)
            self.loss_disc = MODELS.build(loss_disc)
        self.loss_mse, self.loss_tv = _build(loss_mse), _build(loss_tv)
        self.loss_sr_cls, self.loss_sr_reg = _build(loss_sr_cls), _build(loss_sr_reg)
        self._img_scales = None  # prod(scale_factor) per image of the batch being processed
        self.keep_fake = False
        self._fake = None

    # ------------------------------------------------------------------ which RoIs
    @contextmanager
    def image_scales(self, batch_img_metas: Optional[list]):
        """Within this context RoI areas are divided by ``prod(scale_factor)`` of their image (original pixels)."""
        previous = self._img_scales
        if batch_img_metas is not None:
            self._img_scales = [float(np.prod(m.get('scale_factor', (1.0, 1.0)))) for m in batch_img_metas]
        try:
            yield
        finally:
            self._img_scales = previous

    def roi_areas(self, rois: Tensor) -> Tensor:
        """Areas of (n, 5) horizontal or (n, 6) rotated RoIs in original-image pixels (input-image pixels outside
        :meth:`image_scales`)."""
        if rois.size(1) == 5:
            areas = (rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])
        else:
            areas = rois[:, 3] * rois[:, 4]
        if self._img_scales is not None:
            areas = areas / rois.new_tensor(self._img_scales)[rois[:, 0].long()]
        return areas

    @torch.no_grad()
    def subset_mask(self, rois: Tensor, subsets: Sequence[str]) -> Tensor:
        """(n,) bool: the RoIs whose size subset is one of ``subsets``."""
        if rois.shape[0] == 0:
            return torch.zeros(0, dtype=torch.bool, device=rois.device)
        return in_size_subsets(self.roi_areas(rois), tuple(subsets))

    # ------------------------------------------------------------------ detection path
    def _head_input(self, feats: Tensor) -> Tensor:
        """What the box head's input goes through after G (nothing here; FI's re-weighting in the FI head)."""
        return feats

    def _head_forward(self, feats: Tensor) -> Tuple[Tensor, Tensor]:
        feats = self._head_input(feats)
        if self.with_shared_head:
            feats = self.shared_head(feats)
        return self.bbox_head(feats)

    def super_resolve(self, feats: Tensor, rois: Tensor) -> Tensor:
        """``feats`` with the rows of the ``sr_subsets`` RoIs replaced by ``G(feats)``."""
        small = self.subset_mask(rois, self.sr_subsets).nonzero().flatten()
        if small.numel() == 0:
            return feats
        return feats.index_copy(0, small, self.generator(feats[small]).to(feats.dtype))

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        """RoIAlign -> G on small RoIs -> box head; ``bbox_feats`` are the raw RoIAlign features."""
        extractor = self.bbox_roi_extractor
        raw = extractor(x[:extractor.num_inputs], rois)
        cls_score, bbox_pred = self._head_forward(self.super_resolve(raw, rois))
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=raw)

    def forward(self, x, rpn_results_list, batch_data_samples=None):
        metas = None if batch_data_samples is None else [ds.metainfo for ds in batch_data_samples]
        with self.image_scales(metas):
            return super().forward(x, rpn_results_list, batch_data_samples)

    def loss(self, x, rpn_results_list, batch_data_samples) -> dict:
        with self.image_scales([ds.metainfo for ds in batch_data_samples]):
            return super().loss(x, rpn_results_list, batch_data_samples)

    def predict_bbox(self, x, batch_img_metas, rpn_results_list, rcnn_test_cfg, rescale: bool = False):
        with self.image_scales(batch_img_metas):
            return super().predict_bbox(x, batch_img_metas, rpn_results_list, rcnn_test_cfg, rescale=rescale)

    def bbox_loss(self, x, sampling_results, *args, **kwargs) -> dict:
        """The base head's box losses (on the detection path), plus :meth:`reconstruction_loss`."""
        bbox_results = super().bbox_loss(x, sampling_results, *args, **kwargs)
        bbox_results['loss_bbox'].update(self.reconstruction_loss(x, sampling_results, bbox_results))
        return bbox_results

    # ------------------------------------------------------------------ reconstruction branch
    @torch.no_grad()
    def pair_rows(self, rois: Tensor, labels: Tensor) -> Tensor:
        """Rows of the sampled RoIs that are HR pairs: ``hr_subsets`` RoIs, at most ``max_pairs`` of them,
        foreground first, random within foreground and background."""
        rows = self.subset_mask(rois, self.hr_subsets).nonzero().flatten()
        if rows.numel() > self.max_pairs:
            bg = (labels[rows] >= self.bbox_head.num_classes).float()
            order = torch.argsort(bg + torch.rand(rows.numel(), device=rows.device))
            rows = rows[order[:self.max_pairs]].sort().values
        return rows

    def _class_deltas(self, bbox_pred: Tensor, labels: Tensor) -> Tensor:
        """The regression deltas of each row's class (all of them for a class-agnostic head)."""
        if self.bbox_head.reg_class_agnostic:
            return bbox_pred
        n, k = bbox_pred.shape[0], self.bbox_head.num_classes
        return bbox_pred.view(n, k, -1)[torch.arange(n, device=bbox_pred.device), labels.clamp(max=k - 1)]

    def adversarial_loss(self, z_sr: Tensor) -> Tensor:
        """alpha L_adv of G(z_LR) through D with detached parameters (the gradient reaches G, not D)."""
        params = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        logits = torch.func.functional_call(self.discriminator, params, (z_sr, ))
        return self.loss_adv(logits)

    def discriminator_loss(self, z_hr: Tensor, z_sr: Tensor) -> Tensor:
        """D's loss on detached z_HR (real) and G(z_LR) (generated): the gradient reaches D only."""
        return self.loss_disc(self.discriminator(z_hr.detach()), self.discriminator(z_sr.detach())) + \
            zero_over_parameters(self.discriminator)

    def pop_fake(self) -> Optional[Tensor]:
        """G(z_LR) of the last :meth:`reconstruction_loss` (with its graph) when ``keep_fake`` was set, once."""
        fake, self._fake = self._fake, None
        return fake

    def reconstruction_loss(self, x: Tuple[Tensor], sampling_results: list, bbox_results: dict) -> dict:
        """The losses of the LR/HR pairs of the batch (see the class docstring) and the logged counts."""
        rois = bbox2roi([res.priors for res in sampling_results])
        labels, _, targets, _ = self.bbox_head.get_targets(sampling_results, self.train_cfg, concat=True)
        rows = self.pair_rows(rois, labels)
        extractor = self.bbox_roi_extractor
        z_hr = bbox_results['bbox_feats'][rows].detach()
        z_sr = self.generator(self.lr_features(x[:extractor.num_inputs], rois[rows]))
        out = {}
        if self.loss_mse is not None:
            out['loss_mse'] = self.loss_mse(z_sr, z_hr)
        if self.loss_tv is not None:
            out['loss_tv'] = self.loss_tv(z_sr)
        if self.loss_sr_cls is not None or self.loss_sr_reg is not None:
            sr_cls, sr_reg = self._head_forward(z_sr)
            pair_labels = labels[rows]
            if self.loss_sr_cls is not None:
                out['loss_sr_cls'] = self.loss_sr_cls(sr_cls, bbox_results['cls_score'][rows], pair_labels)
            if self.loss_sr_reg is not None:
                fg = (pair_labels >= 0) & (pair_labels < self.bbox_head.num_classes)
                out['loss_sr_reg'] = self.loss_sr_reg(self._class_deltas(sr_reg, pair_labels), targets[rows], fg)
        if self.discriminator is not None:
            out['loss_adv'] = self.adversarial_loss(z_sr)
            out['loss_disc'] = self.discriminator_loss(z_hr, z_sr)
            if self.keep_fake:
                self._fake = z_sr
        # every parameter of G in the graph, also in a batch without pairs (DDP; the alternating step's log)
        g_keys = [k for k in out if k != 'loss_disc']
        if g_keys:
            out[g_keys[0]] = out[g_keys[0]] + zero_over_parameters(self.generator)
        counts = bbox_results['cls_score'].new_tensor
        out['recon_pairs'] = counts(float(rows.numel()))
        out['recon_sr_rois'] = counts(float(self.subset_mask(rois, self.sr_subsets).sum()))
        return out


@register_module('MODELS')
class ReconstructionRoIHead(ReconstructionMixin, StandardRoIHead):
    """StandardRoIHead with the generator G on small RoIs and the LR/HR reconstruction branch with the adversarial
    discriminator D (:class:`ReconstructionMixin`). Horizontal RoIs with rotated regression (Rotated Faster R-CNN),
    rotated RoIs (Oriented R-CNN) and the horizontal SODA-D Faster R-CNN alike (RoIs are (n, 5) or (n, 6))."""


@register_module('MODELS')
class ReconstructionFIRoIHead(ReconstructionMixin, FIRoIHead):
    """CFINet's Feature Imitation head (:class:`FIRoIHead`) with the reconstruction of :class:`ReconstructionMixin`.

    FI works on the raw RoIAlign features (its anchors, exemplars and background RoIs), G between them and the box
    head on small RoIs; Instance Quality (Eq. (3)) is measured on the box head's predictions, i.e. on z_SR for
    small RoIs, as the detector predicts at inference. ``feature_reweight`` applies after G.
    """

    def _head_input(self, feats: Tensor) -> Tensor:
        return self.feat2embed.reweight(feats) if self.feature_reweight else feats
