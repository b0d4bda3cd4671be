"""Box helpers and the SODA size subsets, shared by evaluation, inference, visualisation and the tools."""
from .boxes import box_areas, box_hulls, get_box_class, pairwise_iou
from .size_subsets import (
                           AREA_RANGES,
                           LARGER,
                           SHORT_NAMES,
                           SUBSET_RANGES,
                           SUBSETS,
                           size_subset,
                           size_subset_names,
                           stat_key,
)

__all__ = ['box_areas', 'box_hulls', 'get_box_class', 'pairwise_iou', 'AREA_RANGES', 'SUBSETS', 'SUBSET_RANGES',
           'LARGER', 'SHORT_NAMES', 'size_subset', 'size_subset_names', 'stat_key']
