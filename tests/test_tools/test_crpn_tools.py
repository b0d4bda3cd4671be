"""tools/analysis_tools/analyze_anchors.py and tools/analysis_tools/benchmark_proposals.py: their computations on
hand-built inputs."""
import math

import numpy as np
import pytest

from conftest import load_tool


def test_analyze_anchors_one_object():
    aa = load_tool('tools/analysis_tools/analyze_anchors.py')
    poly = [[4.0, 4.0, 12.0, 4.0, 12.0, 12.0, 4.0, 12.0]]  # 8x8 box on the P2 anchor (2, 2)
    areas, best, pos = aa.analyze_image(poly, lambda w, h: aa.grid_anchors(w, h, [2], [1.0], [4, 8, 16, 32]),
                                        1.0, 'paper')
    assert areas.tolist() == pytest.approx([64.0]) and best.tolist() == pytest.approx([1.0])
    # by hand (see test_crpn_assigner.test_all_levels_jointly): IoU 1, four of 1/3, one of 0.25
    assert [int(v[0]) for v in pos.values()] == [1, 6, 6]
    rows = aa.summarize(areas.numpy(), best.numpy(), {k: v.numpy() for k, v in pos.items()})
    assert rows[0][:2] == ['eS', 1] and rows[-1][:2] == ['all', 1] and rows[1][1] == 0
    # resized 2x the box is [8,8,24,24], exactly the 16 px P3 anchor (2, 2)
    _, best2, _ = aa.analyze_image(poly, lambda w, h: aa.grid_anchors(w, h, [2], [1.0], [4, 8, 16, 32]), 2.0, 'paper')
    assert best2.tolist() == pytest.approx([1.0])


def test_benchmark_matching_and_average_recall():
    bp = load_tool('tools/analysis_tools/benchmark_proposals.py')
    # greedy one-to-one: the 0.9 pair goes first, gt 1 is left with box 1
    assert bp.matched_ious(np.array([[0.9, 0.8], [0.85, 0.1]])).tolist() == pytest.approx([0.9, 0.1])
    assert bp.matched_ious(np.zeros((2, 0))).tolist() == [0.0, 0.0]
    # recall over IoU 0.50:0.05:0.95: 0.5 -> 1/10 thresholds, 0.96 -> 10/10, 0 -> 0
    ar = bp.average_recall(np.array([0.5, 0.96, 0.0]), np.array([100.0, 300.0, 2000.0]))
    assert ar['all'] == pytest.approx(11 / 30) and ar['eS'] == pytest.approx(0.1)
    assert ar['rS'] == pytest.approx(1.0) and ar['Normal'] == 0.0 and math.isnan(ar['gS'])


def test_analyze_anchors_both_eq1_rules_and_side_table():
    """--mode both (default) counts the positives of both Eq. (1) rules; the side table groups by sqrt(area)."""
    aa = load_tool('tools/analysis_tools/analyze_anchors.py')
    # a 9x9 box [6, 6, 15, 15]: official T = 0.20 (side < 9.52 px), paper 0.25. By hand: P2 anchors centred at
    # (8, 8) 36/109, (12, 12) 49/96, (8, 12) and (12, 8) 42/103; P3 anchor (8, 8) 81/256 = 0.316, (8, 16) and
    # (16, 8) 63/274 = 0.230 (positive only under the official 0.20); nothing else reaches 0.2
    poly = [[6.0, 6.0, 15.0, 6.0, 15.0, 15.0, 6.0, 15.0]]
    areas, _, pos = aa.analyze_image(poly, lambda w, h: aa.grid_anchors(w, h, [2], [1.0], [4, 8, 16, 32]), 1.0,
                                     'both')
    assert list(pos) == ['IoU>=0.7', 'IoU>=0.25', 'Eq.(1) official', 'Eq.(1) paper']
    assert [int(v[0]) for v in pos.values()] == [0, 5, 7, 5]
    rows = aa.side_table(areas.numpy(), {k: v.numpy() for k, v in pos.items()}, [0, 8, 12])
    assert [r[:2] for r in rows] == [['0-8', 0], ['8-12', 1], ['>=12', 0]]
    assert rows[1][4] == f'{float(pos["Eq.(1) official"][0]):.2f}'
