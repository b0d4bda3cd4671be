"""Assigners of the rotated CFINet."""
from .dynamic_assigner import DynamicIoUAssigner, gt_areas_in_original_image, horizontal_hull

__all__ = ['DynamicIoUAssigner', 'gt_areas_in_original_image', 'horizontal_hull']
