"""An FPN RoI extractor that starts at a given level, for the official SODA-D Faster R-CNN's RoI strides 8-64."""
from typing import Optional

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from torch import Tensor

from ..registry import register_module


@register_module('MODELS')
class LevelOffsetRoIExtractor(SingleRoIExtractor):
    """MMDetection's ``SingleRoIExtractor`` reading the FPN levels ``start_level, start_level + 1, ...``.

    The official SODA-D Faster R-CNN benchmark config (CFINet ``configs/sodad-benchmarks/faster_rcnn_r50_fpn_1x.py``)
    sets RoI ``featmap_strides=[8, 16, 32, 64]`` on a five-level FPN (P2-P6, strides 4-64). MMDetection's RoI
    heads pass the first ``num_inputs`` levels, P2-P5, so there every RoI is pooled at half its coordinates from
    a map twice as fine as the stride says. With ``start_level=1`` the four strides are those of the levels read,
    P3-P6 (``docs/deviations.md``). The FPN-level mapping of the RoIs (``finest_scale``) is unchanged.

    Args:
        start_level (int): first FPN output level to read (0 = P2); ``featmap_strides`` are the strides of the
            levels from there on.
    """

    def __init__(self, *args, start_level: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if start_level < 0:
            raise ValueError(f'LevelOffsetRoIExtractor: start_level must be >= 0, got {start_level}')
        self.start_level = start_level

    @property
    def num_inputs(self) -> int:
        """How many FPN levels the RoI head must pass (the skipped ones included)."""
        return self.start_level + len(self.featmap_strides)

    def forward(self, feats, rois: Tensor, roi_scale_factor: Optional[float] = None) -> Tensor:
        feats = tuple(feats)
        if len(feats) != self.num_inputs:
            raise ValueError(f'LevelOffsetRoIExtractor: expected {self.num_inputs} FPN levels (start_level '
                             f'{self.start_level} + {len(self.featmap_strides)} strides), got {len(feats)}')
        return super().forward(feats[self.start_level:], rois, roi_scale_factor)
