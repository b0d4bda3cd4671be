"""Merging per-patch predictions back to original images."""
from collections import Counter

import numpy as np
import pytest
import torch

from cfinet_rotated.evaluation.merge import merge_patch_predictions, parse_patch_id, patch_prediction


def sample(img_id, boxes, scores, labels, **meta):
    return dict(img_id=img_id, **meta,
                pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 5),
                                    scores=torch.tensor(scores, dtype=torch.float32),
                                    labels=torch.tensor(labels, dtype=torch.long)))


def test_parse_patch_id_allows_double_underscores_in_the_image_name():
    assert parse_patch_id('P0001__800__650___0') == ('P0001', 650, 0)
    assert parse_patch_id('city__block_7__800__1300___650') == ('city__block_7', 1300, 650)
    with pytest.raises(ValueError, match='not of the form'):
        parse_patch_id('P0001')


def test_shift_by_patch_origin_and_class_wise_nms_across_patches():
    # the same object (class 2) seen by two overlapping windows, once per window; a class-5 box on top of it
    obj = [700.0, 705.0, 20.0, 10.0, 0.3]
    in_a = [obj[0] - 650, obj[1]] + obj[2:]  # window (650, 0)
    in_b = [obj[0] - 650, obj[1] - 650] + obj[2:]  # window (650, 650)
    samples = [
        sample('P1__800__650___0', [in_a, in_a], [0.9, 0.4], [2, 5]),
        sample('P1__800__650___650', [in_b], [0.8], [2]),
        sample('P1__800__0___0', [[10, 10, 4, 4, 0]], [0.3], [2], ori_id='P1', x_start=0, y_start=0),
        sample('P2__800__0___0', [], [], []),
    ]
    merged = merge_patch_predictions(samples, num_classes=9)
    assert list(merged) == ['P1', 'P2']
    m = merged['P1']
    order = np.lexsort((-m['scores'], m['labels']))
    np.testing.assert_allclose(m['scores'][order], [0.9, 0.3, 0.4])  # the 0.8 duplicate is suppressed
    np.testing.assert_array_equal(m['labels'][order], [2, 2, 5])
    np.testing.assert_allclose(m['bboxes'][order][0], obj, atol=1e-4)  # shifted back to image pixels
    np.testing.assert_allclose(m['bboxes'][order][2], obj, atol=1e-4)  # other class: not suppressed
    assert len(merged['P2']['scores']) == 0
    # without NMS every detection stays
    assert len(merge_patch_predictions(samples, 9, nms_iou_thr=None)['P1']['scores']) == 4


def test_metainfo_origin_wins_over_the_name_and_horizontal_boxes_shift_both_corners():
    s = dict(metainfo=dict(img_id='odd-name', ori_id='P9', x_start=100, y_start=200),
             pred_instances=dict(bboxes=np.array([[1, 2, 3, 4]], np.float32), scores=np.array([0.5]),
                                 labels=np.array([0])))
    m = merge_patch_predictions([s], 9, box_type='hbox')
    np.testing.assert_allclose(m['P9']['bboxes'], [[101, 202, 103, 204]])


def test_bad_predictions():
    w = Counter()
    s = patch_prediction(sample('P1__800__0___0', [[1, 1, 2, 2, 0], [np.nan, 1, 2, 2, 0]], [0.5, 0.6], [0, 0]),
                         5, 9, w)
    assert len(s['scores']) == 1 and w['non-finite detection'] == 1
    with pytest.raises(ValueError, match=r'P1__800__0___0: class index 12 out of range \[0, 9\)'):
        patch_prediction(sample('P1__800__0___0', [[1, 1, 2, 2, 0]], [0.5], [12]), 5, 9)
    with pytest.raises(ValueError, match='pred_instances'):
        patch_prediction(dict(img_id='P1__800__0___0'), 5, 9)


@pytest.mark.parametrize('box_type', ['rbox', 'hbox'])
def test_grouped_cpu_nms_keeps_exactly_what_one_mmcv_call_per_class_keeps(box_type):
    from mmcv.ops import nms, nms_rotated

    from cfinet_rotated.evaluation.merge import class_wise_nms
    rng = np.random.default_rng(1)
    n = 300
    c = rng.uniform(0, 300, (n, 2))
    wh = rng.uniform(4, 40, (n, 2))
    if box_type == 'rbox':
        b = np.column_stack([c, wh, rng.uniform(-1.5, 1.5, n)])
    else:
        b = np.column_stack([c, c + wh])
    noise = rng.normal(0, 1.5, (150, b.shape[1]))
    if box_type == 'rbox':
        noise[:, 4] *= 0.05  # radians
    b = np.concatenate([b, b[:150] + noise]).astype(np.float32)
    s = rng.permutation(len(b)).astype(np.float32) / len(b)  # distinct scores
    lab = rng.integers(0, 2, len(b))
    kept = class_wise_nms(b, s, lab, 0.5, box_type)
    fn = nms_rotated if box_type == 'rbox' else nms
    ref = np.concatenate([np.flatnonzero(lab == k)[fn(torch.from_numpy(b[lab == k]), torch.from_numpy(s[lab == k]),
                                                      0.5)[1].numpy()] for k in (0, 1)])
    assert 0.3 * len(b) < len(ref) < len(b)  # NMS really removed boxes
    assert sorted(kept.tolist()) == sorted(ref.tolist())
