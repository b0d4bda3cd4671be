"""Context RoI pooling: every RoI enlarged by a factor before RoIAlign (small-object lever 6 of issue 23)."""
from typing import Optional

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmrotate.models.roi_heads.roi_extractors import RotatedSingleRoIExtractor
from torch import Tensor

from ...registry import register_module


class _ContextMixin:
    """``context_factor`` k: RoIAlign pools the box of the same centre (and angle) with width and height times k.

    A small object's own pixels say little; its surroundings (road for a vehicle, water for a ship) say more. The
    enlargement is the extractors' own ``roi_rescale`` (MMDetection's for ``(n, 5)`` horizontal RoIs, MMRotate's for
    ``(n, 6)`` rotated ones: ``w' = k w, h' = k h``), applied after the RoI-to-level mapping, so every RoI is read
    from the FPN level of its own size, in training and at inference alike. An explicit ``roi_scale_factor`` of a
    caller wins.
    """

    def __init__(self, *args, context_factor: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not context_factor > 0:
            raise ValueError(f'{type(self).__name__}: context_factor must be > 0, got {context_factor}')
        self.context_factor = float(context_factor)

    def forward(self, feats, rois: Tensor, roi_scale_factor: Optional[float] = None) -> Tensor:
        if roi_scale_factor is None and self.context_factor != 1.0:
            roi_scale_factor = self.context_factor
        return super().forward(feats, rois, roi_scale_factor)


@register_module('MODELS')
class ContextRoIExtractor(_ContextMixin, SingleRoIExtractor):
    """MMDetection's ``SingleRoIExtractor`` (horizontal RoIs: Rotated Faster R-CNN, SODA-D) with context."""


@register_module('MODELS')
class RotatedContextRoIExtractor(_ContextMixin, RotatedSingleRoIExtractor):
    """MMRotate's ``RotatedSingleRoIExtractor`` (rotated RoIs: Oriented R-CNN) with context."""
