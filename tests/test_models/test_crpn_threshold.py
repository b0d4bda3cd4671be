"""Eq. (1), the dynamic positive IoU threshold, against hand-computed values."""
import math

import pytest
import torch

from cfinet_rotated.models import dynamic_pos_iou_thr
from cfinet_rotated.models.dynamic_threshold import official_lowering_size

SIZES = [3.0, 9.5, 10.0, 12.0, 24.0, 96.0, 300.0]
# paper: max(0.25, 0.20 + 0.15 ln(s / 12)); by hand:
#   3: 0.20 + 0.15 * (-1.386294) = -0.007944 -> 0.25      9.5: 0.20 + 0.15 * (-0.233615) = 0.164958 -> 0.25
#   10: 0.20 + 0.15 * (-0.182322) = 0.172652 -> 0.25      12: 0.20 -> 0.25
#   24: 0.20 + 0.15 * 0.693147 = 0.303972                 96: 0.20 + 0.15 * 2.079442 = 0.511916
#   300: 0.20 + 0.15 * 3.218876 = 0.682831
PAPER = [0.25, 0.25, 0.25, 0.25, 0.303972, 0.511916, 0.682831]
# official: min(0.25, clamp(0.25 + 0.15 log2(s / 12), 0.20, 0.70)); by hand:
#   3: 0.25 - 0.30 = -0.05 -> 0.20                         9.5: 0.25 + 0.15 * (-0.337035) = 0.199445 -> 0.20
#   10: 0.25 + 0.15 * (-0.263034) = 0.210545               12: 0.25
#   24: 0.40 -> 0.25        96: 0.70 -> 0.25               300: 0.25 + 0.15 * 4.643856 = 0.946578 -> 0.70 -> 0.25
OFFICIAL = [0.20, 0.20, 0.210545, 0.25, 0.25, 0.25, 0.25]


@pytest.mark.parametrize('mode,expected', [('paper', PAPER), ('official', OFFICIAL)])
def test_hand_computed_values(mode, expected):
    areas = torch.tensor([s * s for s in SIZES], dtype=torch.float64)
    thr = dynamic_pos_iou_thr(areas, mode=mode)
    assert thr.shape == areas.shape and thr.dtype == torch.float64
    assert thr.tolist() == pytest.approx(expected, abs=1e-6)


def test_default_mode_is_paper_and_shape_is_kept():
    areas = torch.tensor([[24.0 ** 2, 3.0 ** 2]])
    assert dynamic_pos_iou_thr(areas).shape == (1, 2)
    assert dynamic_pos_iou_thr(areas)[0].tolist() == pytest.approx([0.303972, 0.25], abs=1e-6)
    assert dynamic_pos_iou_thr([576]).dtype == torch.float32  # integer input -> float


def test_constants_are_arguments():
    # gamma 0.3, ref 24: 0.20 + 0.3 ln(96 / 24) = 0.615888
    assert dynamic_pos_iou_thr([96.0 ** 2], gamma=0.3, ref_size=24.0).item() == pytest.approx(0.615888, abs=1e-6)
    assert dynamic_pos_iou_thr([0.0]).item() == pytest.approx(0.25)  # zero area: the floor, not NaN


def test_official_lowering_size():
    assert official_lowering_size() == pytest.approx(12 * 2 ** (-1 / 3))
    assert official_lowering_size() == pytest.approx(9.524, abs=1e-3)
    assert math.isclose(dynamic_pos_iou_thr([9.53 ** 2], mode='official').item(), 0.2, abs_tol=1e-3)


def test_bad_input():
    with pytest.raises(ValueError, match='mode'):
        dynamic_pos_iou_thr([1.0], mode='ln')
    with pytest.raises(ValueError, match='negative'):
        dynamic_pos_iou_thr([-1.0])
