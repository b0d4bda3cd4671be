"""LR/HR pairs of RoI features for L_MSE (docs/reconstruction.md, "LR/HR pairs")."""
import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from mmrotate.registry import MODELS
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class DownsampledRoIFeatures(nn.Module):
    """``z_LR`` of a RoI: the RoI's features pooled from the FPN maps downsampled by ``factor`` r.

    Each level is average-pooled over r x r cells (``ceil_mode``: the border cells average what they cover), and the
    RoI extractor of the box head (same type, same RoI-to-level mapping, same output size) is applied to those maps
    with strides ``r * featmap_strides``, so that a RoI is sampled at the same place, on a grid r times coarser. The
    pair ``(z_LR, z_HR)`` therefore differs in resolution only, as SOD-MTGAN's pairs made by downsampling the image,
    and at feature level: no second backbone pass. With r = 2 (4) a 32 x 32 px object is seen as finely as a
    16 x 16 (8 x 8) one.

    Args:
        roi_extractor: the config of the box head's RoI extractor (``featmap_strides`` is scaled here).
        factor: r (2 or 4).
    """

    def __init__(self, roi_extractor: dict, factor: int = 2) -> None:
        super().__init__()
        if factor < 2:
            raise ValueError(f'DownsampledRoIFeatures: factor must be >= 2, got {factor}')
        cfg = copy.deepcopy(dict(roi_extractor))
        strides: Sequence[int] = cfg['featmap_strides']
        cfg['featmap_strides'] = [s * factor for s in strides]
        self.factor = int(factor)
        self.extractor = MODELS.build(cfg)

    @torch.no_grad()
    def forward(self, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
        """``feats``: the FPN levels the box head's extractor reads; ``rois`` (n, 5) or (n, 6) -> (n, C, S, S),
        without gradient (a pair is training data for G, not a path into the backbone)."""
        r = self.factor
        pooled = [F.avg_pool2d(f.detach(), r, r, ceil_mode=True) for f in feats]
        return self.extractor(pooled, rois.detach())
