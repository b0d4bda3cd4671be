"""Feature Imitation loss, Eq. (5) of CFINet (supervised contrastive loss)."""
from typing import Optional

import torch
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class FeatureImitationLoss(nn.Module):
    """Supervised contrastive loss of Eq. (5), weighted by ``alpha_3`` of Eq. (6).

    For an anchor ``v_j`` (the embedding of a gt's own RoI feature) with contrast samples
    ``P_j = P_pos ∪ P_neg``::

        L_j = -1/|P_pos| * sum_{p in P_pos} log( exp(v_j.v_p / tau) / sum_{i in P_j} exp(v_j.v_i / tau) )

    The denominator runs over the anchor's own contrast samples (positives and negatives), not over the
    anchor itself, as in the official code. An anchor without positives contributes 0 (and stays in the
    graph, so the loss is always differentiable and finite). The total is
    ``loss_weight * sum_j weight_j * L_j / avg_factor``; the head passes the per-quality weights
    (0.5 / 0.1 / 0.05) divided by the number of gts of the anchor's image and ``avg_factor`` = number of
    images, i.e. the official per-image mean.

    Args:
        temperature: tau (0.6).
        loss_weight: alpha_3 (0.5).
    """

    def __init__(self, temperature: float = 0.6, loss_weight: float = 0.5) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'FeatureImitationLoss: temperature must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self,
                anchors: Tensor,
                samples: Tensor,
                pos_mask: Tensor,
                valid_mask: Optional[Tensor] = None,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None) -> Tensor:
        """
        Args:
            anchors: (G, D) anchor embeddings.
            samples: (G, K, D) contrast embeddings per anchor.
            pos_mask: (G, K) bool, True for positives.
            valid_mask: (G, K) bool, False for padding columns (excluded everywhere). Default all True.
            weight: (G,) per-anchor weights. Default 1.
            avg_factor: divisor of the weighted sum. Default G (a mean).
        """
        num = anchors.shape[0]
        if valid_mask is None:
            valid_mask = torch.ones_like(pos_mask, dtype=torch.bool)
        pos_mask = pos_mask.bool() & valid_mask.bool()
        logits = torch.einsum('gd,gkd->gk', anchors, samples) / self.temperature
        # finite fill: an all-padding row stays finite in value and gradient (no -inf / NaN)
        logits = logits.masked_fill(~valid_mask.bool(), -1e4)
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        num_pos = pos_mask.sum(dim=1).clamp(min=1).to(logits.dtype)
        per_anchor = -(log_prob * pos_mask.to(logits.dtype)).sum(dim=1) / num_pos
        if weight is not None:
            per_anchor = per_anchor * weight.to(per_anchor.dtype)
        if avg_factor is None:
            avg_factor = max(num, 1)
        return self.loss_weight * per_anchor.sum() / avg_factor
