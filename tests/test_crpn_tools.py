"""tools/analyze_anchors.py and tools/benchmark_proposals.py: their computations on hand-built inputs."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_analyze_anchors_one_object():
    aa = _load('analyze_anchors')
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
    bp = _load('benchmark_proposals')
    # greedy one-to-one: the 0.9 pair goes first, gt 1 is left with box 1
    assert bp.matched_ious(np.array([[0.9, 0.8], [0.85, 0.1]])).tolist() == pytest.approx([0.9, 0.1])
    assert bp.matched_ious(np.zeros((2, 0))).tolist() == [0.0, 0.0]
    # recall over IoU 0.50:0.05:0.95: 0.5 -> 1/10 thresholds, 0.96 -> 10/10, 0 -> 0
    ar = bp.average_recall(np.array([0.5, 0.96, 0.0]), np.array([100.0, 300.0, 2000.0]))
    assert ar['all'] == pytest.approx(11 / 30) and ar['eS'] == pytest.approx(0.1)
    assert ar['rS'] == pytest.approx(1.0) and ar['Normal'] == 0.0 and math.isnan(ar['gS'])
