"""Instance Quality, Eq. (3) of CFINet, and the quality classes built on it."""
from typing import Optional

import torch
from mmrotate.registry import MODELS
from torch import Tensor, nn

from ...registry import register_module
from .adaptive_threshold import PercentileQualityThreshold  # noqa: F401  (registration)

QUALITY_NONE, QUALITY_LOW, QUALITY_MID, QUALITY_HIGH = -1, 0, 1, 2


@register_module('MODELS')
class InstanceQuality(nn.Module):
    """Instance Quality (IQ) of each ground truth, Eq. (3).

    ``IQ(g) = 1/|S'| * sum_{j in S'} C_{j,c*} * IoU_j`` over the predictions ``S`` assigned to ``g``.

    Two modes:

    - ``'official'`` (default, the rule behind the published numbers, for which T_hq = 0.65 was tuned):
      the authors' code, ``S'`` = predictions with ``C_{j,c*} >= score_thr`` (0.05); ``IoU_j`` is the
      assigner's IoU of the *proposal* with the gt.
    - ``'paper'`` (ablation): ``S'`` = predictions whose arg-max class (over the N+1 scores, background
      included) is ``c*``; ``IoU_j`` is the IoU of the *predicted* (decoded, rotated) box with the gt.

    In both modes the gt boxes that the sampler adds as proposals are not predictions and must not be
    passed in (the caller filters ``pos_is_gt``). A gt with predictions but none in ``S'`` has IQ 0 and
    count 0: it was measured and is of low quality. A gt with no prediction at all (``measured == 0``,
    e.g. none of its proposals was sampled in a dense patch) has no quality: :meth:`quality_class` gives it
    ``QUALITY_NONE`` and it is never an exemplar (the official code calls it low quality).

    Quality classes: low ``IQ < low_thr`` (0.25), mid ``low_thr <= IQ < high_thr`` (0.65), high
    ``IQ >= high_thr``. An *exemplar* (pushed into the exemplar set, positives from Γ) needs a high IQ and
    at least ``min_num_preds`` (8) predictions in ``S'`` (the paper's "bound on the number of
    high-quality predictions").
    """

    def __init__(self,
                 mode: str = 'official',
                 score_thr: float = 0.05,
                 low_thr: float = 0.25,
                 high_thr: float = 0.65,
                 min_num_preds: int = 8,
                 adaptive_thr: Optional[dict] = None) -> None:
        super().__init__()
        if mode not in ('paper', 'official'):
            raise ValueError(f"InstanceQuality: mode must be 'paper' or 'official', got {mode!r}")
        if not 0 <= low_thr <= high_thr:
            raise ValueError(f'InstanceQuality: need 0 <= low_thr <= high_thr, got {low_thr}, {high_thr}')
        self.mode = mode
        self.score_thr = score_thr
        self.low_thr = low_thr
        self.high_thr = high_thr
        self.min_num_preds = min_num_preds
        self.adaptive_thr = MODELS.build(adaptive_thr) if adaptive_thr is not None else None

    @torch.no_grad()
    def update(self, iq: Tensor) -> None:
        """Feed the IQs of this step's measured gts to the adaptive threshold (no-op without one)."""
        if self.adaptive_thr is not None:
            self.adaptive_thr.update(iq)

    @property
    def thresholds(self) -> tuple:
        """(low, high) thresholds in use: the fixed ones, or the adaptive high one and the low one scaled alike."""
        if self.adaptive_thr is None:
            return self.low_thr, self.high_thr
        high = self.adaptive_thr(self.high_thr)
        low = self.low_thr * high / self.high_thr if self.high_thr > 0 else self.low_thr
        return low, high

    @torch.no_grad()
    def forward(self, cls_probs: Tensor, ious: Tensor, assigned_gt_inds: Tensor,
                gt_labels: Tensor) -> tuple:
        """Eq. (3) for every gt of one image.

        Args:
            cls_probs: (P, N+1) class probabilities of the P predictions (softmax, background last).
            ious: (P,) IoU of each prediction with its assigned gt (see the modes).
            assigned_gt_inds: (P,) index of the gt each prediction is assigned to, in [0, G).
            gt_labels: (G,) gt classes ``c*``.

        Returns:
            tuple(Tensor, Tensor, Tensor): ``iq`` (G,) float, ``counts`` (G,) long, ``|S'|`` per gt, and
            ``measured`` (G,) long, ``|S|`` per gt (all its predictions, before the selection of ``S'``).
        """
        num_gts = gt_labels.numel()
        iq = cls_probs.new_zeros(num_gts)
        counts = torch.zeros(num_gts, dtype=torch.long, device=gt_labels.device)
        if num_gts == 0 or assigned_gt_inds.numel() == 0:
            return iq, counts, counts.clone()
        assigned_gt_inds = assigned_gt_inds.long()
        measured = counts.index_add(0, assigned_gt_inds, torch.ones_like(assigned_gt_inds))
        c_star = gt_labels[assigned_gt_inds].long()
        p = cls_probs.gather(1, c_star[:, None]).squeeze(1)
        if self.mode == 'paper':
            keep = cls_probs.argmax(dim=1) == c_star
        else:
            keep = p >= self.score_thr
        vals = (p * ious.to(p.dtype)) * keep
        sums = iq.index_add(0, assigned_gt_inds, vals)
        counts = counts.index_add(0, assigned_gt_inds, keep.long())
        return sums / counts.clamp(min=1).to(sums.dtype), counts, measured

    def quality_class(self, iq: Tensor, measured: Optional[Tensor] = None) -> Tensor:
        """0 = low (< low_thr), 1 = mid, 2 = high (>= high_thr); -1 (``QUALITY_NONE``) where ``measured``
        is given and 0: no prediction, no quality."""
        low, high = self.thresholds
        q = (iq >= low).long() + (iq >= high).long()
        if measured is not None:
            q = q.masked_fill(measured == 0, QUALITY_NONE)
        return q

    def is_exemplar(self, iq: Tensor, counts: Tensor, measured: Optional[Tensor] = None) -> Tensor:
        """High IQ and at least ``min_num_preds`` predictions (Alg. 1 line 5 with the count bound), and
        (where ``measured`` is given) at least one measured prediction."""
        ex = (iq >= self.thresholds[1]) & (counts >= self.min_num_preds)
        if measured is not None:
            ex = ex & (measured > 0)
        return ex
