"""Stage-1 assigner (area-based anchor mining, Eq. (1)) on hand-built anchors and boxes."""
import math

import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData
from mmrotate.structures.bbox import RotatedBoxes

from cfinet_rotated.models import DynamicIoUAssigner
from cfinet_rotated.models.task_modules import gt_areas_in_original_image


def _assign(anchors, gt_boxes, mode='paper', img_meta=None):
    gt = InstanceData(bboxes=gt_boxes, labels=torch.zeros(len(gt_boxes), dtype=torch.long))
    return DynamicIoUAssigner(mode=mode).assign(InstanceData(priors=torch.tensor(anchors, dtype=torch.float32)),
                                                gt, img_meta=img_meta)


# CRPN anchors of a 32x32 image: P2 8 px at stride 4 ... P5 64 px; anchor (i, j) = [j s - s, i s - s, j s + s, i s + s]
def _grid_anchors(size=32):
    out = []
    for s in (4, 8, 16, 32):
        n = size // s
        out += [[j * s - s, i * s - s, j * s + s, i * s + s] for i in range(n) for j in range(n)]
    return out


def test_all_levels_jointly():
    anchors = _grid_anchors()
    assert len(anchors) == 64 + 16 + 4 + 1
    gt = HorizontalBoxes(torch.tensor([[4.0, 4.0, 12.0, 12.0]]))  # 8x8: T_a = 0.25 (paper)
    res = _assign(anchors, gt)
    pos = set((res.gt_inds > 0).nonzero().flatten().tolist())
    # by hand: P2 (2,2) IoU 1; P2 (1,2),(2,1),(2,3),(3,2) IoU 32/96 = 1/3; P3 (1,1) = [0,0,16,16] IoU 64/256 = 0.25
    assert pos == {2 * 8 + 2, 1 * 8 + 2, 2 * 8 + 1, 2 * 8 + 3, 3 * 8 + 2, 64 + 1 * 4 + 1}
    # ignored: 0.15 <= IoU < 0.25: none here (diagonal P2 neighbours 16/112 = 0.143 are negative)
    assert (res.gt_inds == -1).sum() == 0
    assert res.max_overlaps[2 * 8 + 3].item() == pytest.approx(1 / 3, abs=1e-5)
    assert res.labels[2 * 8 + 2].item() == 0 and res.labels[0].item() == -1


def test_tiny_object_gets_no_positive_and_nothing_is_rescued():
    # a 3x3 px object inside an 8 px anchor: best IoU 9/64 = 0.1406 < 0.25 (paper) and < 0.20 (official)
    anchors = [[0, 0, 8, 8], [8, 0, 16, 8], [0, 0, 16, 16]]
    gt = HorizontalBoxes(torch.tensor([[2.0, 2.0, 5.0, 5.0]]))
    for mode in ('paper', 'official'):
        res = _assign(anchors, gt, mode)
        assert res.max_overlaps[0].item() == pytest.approx(9 / 64)
        assert res.gt_inds.tolist() == [0, 0, 0]  # all below 0.15: negative, no low-quality rescue


def test_object_with_no_anchor_above_its_threshold_is_ignored_band():
    # 24x24 object (paper T_a = 0.303972); anchor [0,0,16,16] vs gt [0,0,24,24]: IoU 256/576 = 0.4444 positive,
    # anchor [12,0,28,16] vs gt: inter 12*16 = 192, union 256 + 576 - 192 = 640 -> 0.30 < 0.303972 -> ignored
    anchors = [[0, 0, 16, 16], [12, 0, 28, 16], [40, 40, 48, 48]]
    gt = HorizontalBoxes(torch.tensor([[0.0, 0.0, 24.0, 24.0]]))
    res = _assign(anchors, gt, 'paper')
    assert res.gt_inds.tolist() == [1, -1, 0]
    res = _assign(anchors[1:], gt, 'paper')
    assert (res.gt_inds > 0).sum() == 0  # no anchor above threshold: no positive
    res = _assign(anchors, gt, 'official')  # official caps at 0.25: the 0.30 anchor becomes positive
    assert res.gt_inds.tolist() == [1, 1, 0]


def test_empty_image():
    res = _assign(_grid_anchors(), HorizontalBoxes(torch.zeros(0, 4)))
    assert res.num_gts == 0
    assert res.gt_inds.shape == (85, ) and (res.gt_inds == 0).all()
    assert (res.labels == -1).all()


def test_rotated_ground_truth_uses_hull_for_iou_and_rotated_area_for_threshold():
    # 10x10 square rotated 45 deg at (50, 50): hull side L = 10 sqrt(2) = 14.1421, rotated area 100 (s = 10)
    # official T_a(s = 10) = 0.25 + 0.15 log2(10/12) = 0.210545; with the hull area (s = 14.14) it would be 0.25.
    # anchor = hull shifted by dx = 8.85: IoU = (L - dx) / (L + dx) = 5.2921 / 22.9921 = 0.230172
    L = 10 * math.sqrt(2)
    x1 = 50 - L / 2 + 8.85
    anchors = [[x1, 50 - L / 2, x1 + L, 50 + L / 2]]
    gt = RotatedBoxes(torch.tensor([[50.0, 50.0, 10.0, 10.0, math.pi / 4]]))
    res = _assign(anchors, gt, 'official')
    assert res.max_overlaps[0].item() == pytest.approx(0.230172, abs=1e-4)
    assert res.gt_inds.tolist() == [1]
    assert _assign(anchors, gt, 'paper').gt_inds.tolist() == [-1]  # 0.23 < 0.25: ignored band


def test_resize_is_undone():
    # a 16x16 box in a 2x-resized image is 8 px in the original: official T_a = clamp(0.25 - 0.087744) = 0.20;
    # without undoing the resize (16 px) it would be 0.25. Anchor [10,0,26,16]: inter 96, union 416 -> IoU 0.230769
    anchors = [[10.0, 0.0, 26.0, 16.0]]
    gt = HorizontalBoxes(torch.tensor([[0.0, 0.0, 16.0, 16.0]]))
    assert _assign(anchors, gt, 'official', dict(scale_factor=(2.0, 2.0))).gt_inds.tolist() == [1]
    assert _assign(anchors, gt, 'official', dict(scale_factor=(1.0, 1.0))).gt_inds.tolist() == [-1]
    areas = gt_areas_in_original_image(InstanceData(bboxes=gt, labels=torch.zeros(1)), dict(scale_factor=(2.0, 4.0)))
    assert areas.tolist() == [32.0]  # 256 / (2 * 4)


def test_per_object_threshold_of_the_best_ground_truth():
    # two objects; the anchor's threshold is that of its arg-max object
    # gt0 = 24x24 at the origin (paper T = 0.303972), gt1 = 4x4 far away (T = 0.25)
    gt = HorizontalBoxes(torch.tensor([[0.0, 0.0, 24.0, 24.0], [100.0, 100.0, 104.0, 104.0]]))
    # anchor [100,100,108,108] vs gt1: IoU 16/64 = 0.25 -> positive of gt1; [12,0,28,16] vs gt0: 0.30 -> ignored
    res = _assign([[100, 100, 108, 108], [12, 0, 28, 16]], gt, 'paper')
    assert res.gt_inds.tolist() == [2, -1]


def test_bad_mode():
    with pytest.raises(ValueError, match='mode'):
        DynamicIoUAssigner(mode='log2')


def test_official_rule_is_the_default():
    """Eq. (1) in the authors' form by default: a 9 px object (official T = 0.20, paper 0.25) takes an anchor
    of IoU 0.21 as positive."""
    assert DynamicIoUAssigner().mode == 'official'
    gt = HorizontalBoxes(torch.tensor([[0.0, 0.0, 9.0, 9.0]]))
    anchors = torch.tensor([[0.0, 0.0, 9.0, 9.0 * 0.21]])  # inside the gt: IoU = area ratio = 0.21
    res = DynamicIoUAssigner().assign(InstanceData(priors=anchors),
                                      InstanceData(bboxes=gt, labels=torch.zeros(1, dtype=torch.long)))
    assert res.gt_inds.tolist() == [1]
    assert _assign(anchors.tolist(), gt, 'paper').gt_inds.tolist() == [-1]  # 0.15 <= 0.21 < 0.25: ignored
