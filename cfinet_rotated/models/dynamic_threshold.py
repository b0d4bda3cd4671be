"""The dynamic positive IoU threshold of CRPN's area-based anchor mining, Eq. (1) of the CFINet paper."""
import torch
from torch import Tensor

THRESHOLD_MODES = ('paper', 'official')


def dynamic_pos_iou_thr(areas, mode: str = 'paper', *, floor: float = 0.25, base: float = 0.20,
                        gamma: float = 0.15, ref_size: float = 12.0, official_min: float = 0.20,
                        official_max: float = 0.70) -> Tensor:
    """Per-object positive IoU threshold ``T_a`` of Eq. (1).

    ``s = sqrt(area)`` is the side of the ground truth in original-image pixels (for a rotated box the
    rotated area ``w * h``, with any resize undone by the caller).

    * ``mode='paper'`` (Eq. (1)): ``T_a = max(floor, base + gamma * ln(s / ref_size))``, natural log,
      defaults ``max(0.25, 0.20 + 0.15 * ln(s / 12))``. Small objects keep 0.25, large ones get stricter.
    * ``mode='official'``: the threshold the authors' ``DynamicAssigner`` effectively applies,
      ``min(floor, clamp(floor + gamma * log2(s / ref_size), official_min, official_max))``, i.e.
      ``min(0.25, clamp(0.25 + 0.15 * log2(s / 12), 0.20, 0.70))``: it only ever lowers 0.25, down to
      0.20 for objects below ``12 * 2**(-1/3)`` ~ 9.52 px.

    Args:
        areas (Tensor | sequence of float): ground-truth areas in px^2, any shape.
        mode (str): ``'paper'`` or ``'official'``.

    Returns:
        Tensor: thresholds, same shape as ``areas`` (floating dtype of ``areas``, else float32).
    """
    if mode not in THRESHOLD_MODES:
        raise ValueError(f'dynamic_pos_iou_thr: mode must be one of {THRESHOLD_MODES}, got {mode!r}')
    areas = torch.as_tensor(areas)
    if not areas.is_floating_point():
        areas = areas.float()
    if (areas < 0).any():
        raise ValueError('dynamic_pos_iou_thr: negative ground-truth area')
    # a zero area would give log(0) = -inf; the clamp keeps the result at the floor/lower bound
    side = areas.clamp(min=torch.finfo(areas.dtype).tiny).sqrt()
    if mode == 'paper':
        return (base + gamma * torch.log(side / ref_size)).clamp(min=floor)
    raw = floor + gamma * torch.log2(side / ref_size)
    return raw.clamp(min=official_min, max=official_max).clamp(max=floor)


def official_lowering_size(floor: float = 0.25, gamma: float = 0.15, ref_size: float = 12.0,
                           official_min: float = 0.20) -> float:
    """Side length (px) below which ``mode='official'`` reaches its lower bound (~9.524 px by default)."""
    return ref_size * 2 ** ((official_min - floor) / gamma)


__all__ = ['dynamic_pos_iou_thr', 'official_lowering_size', 'THRESHOLD_MODES']
