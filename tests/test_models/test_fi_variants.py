"""The Feature Imitation variants beyond the paper (issue 20): adaptive T_hq, gt-seeded exemplars, small anchors,
and the per-step statistics that the FI protocol logs."""
import pytest
import torch
from test_fi_roi_head import build_head, every_gt_is_exemplar, make_batch, no_gt_is_exemplar

from cfinet_rotated.models.fi import InstanceQuality, PercentileQualityThreshold


def test_percentile_threshold_hand_values_and_ring_buffer():
    thr = PercentileQualityThreshold(percentile=50, window=4, min_history=3)
    thr.update(torch.tensor([0.1, 0.2]))
    assert thr(0.65) == 0.65  # 2 < min_history: the fixed threshold
    thr.update(torch.tensor([0.3]))
    assert thr(0.65) == pytest.approx(0.2)  # median of 0.1 0.2 0.3
    thr.update(torch.tensor([0.9, 0.8]))  # window 4: 0.1 is overwritten -> 0.2 0.3 0.9 0.8
    assert sorted(thr.history.tolist()) == pytest.approx([0.2, 0.3, 0.8, 0.9])
    assert thr(0.65) == pytest.approx(0.55)  # linear interpolation between 0.3 and 0.8
    assert thr(0.4) == 0.4  # capped at the fixed threshold
    thr.update(torch.zeros(0))
    assert int(thr.num) == 4 and int(thr.ptr) == 1
    state = thr.state_dict()
    assert set(state) == {'history', 'num', 'ptr'}  # checkpointed (resume keeps the threshold)
    with pytest.raises(ValueError, match='percentile'):
        PercentileQualityThreshold(percentile=120)
    with pytest.raises(ValueError, match='min_history'):
        PercentileQualityThreshold(window=4, min_history=8)


def test_instance_quality_uses_the_adaptive_pair_of_thresholds():
    iq = InstanceQuality(adaptive_thr=dict(type='PercentileQualityThreshold', percentile=50, window=8, min_history=2))
    assert iq.thresholds == (0.25, 0.65)
    iq.update(torch.tensor([0.2, 0.4]))  # median 0.3 -> high 0.3, low 0.25 * 0.3 / 0.65
    low, high = iq.thresholds
    assert high == pytest.approx(0.3) and low == pytest.approx(0.25 * 0.3 / 0.65)
    values = torch.tensor([0.05, 0.2, 0.35])
    assert iq.quality_class(values).tolist() == [0, 1, 2]
    assert iq.is_exemplar(values, torch.tensor([8, 8, 8])).tolist() == [False, False, True]
    fixed = InstanceQuality()
    fixed.update(torch.tensor([0.2, 0.4]))  # no-op
    assert fixed.quality_class(values).tolist() == [0, 0, 1]  # 0.35 >= 0.25: mid


def test_gt_seed_fills_each_class_up_to_the_seed_count_only():
    head = build_head(exemplar_gt_seed=2)
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    is_ex = torch.tensor([False, False, False, False, True, False])
    head.exemplar_set.count[1] = 2  # class 1 already holds 2: nothing seeded
    seeded = head.gt_seed_mask(labels, is_ex)
    # class 0: the first two; class 1: full; class 2: one real exemplar leaves room for one seed
    assert seeded.tolist() == [True, True, False, False, False, True]
    assert not build_head().gt_seed_mask(labels, is_ex).any()  # default 0: the official rule
    with pytest.raises(ValueError, match='exemplar_gt_seed'):
        build_head(exemplar_gt_seed=100)  # more than the capacity (8)


def test_gt_seed_gives_positives_from_the_first_step():
    torch.manual_seed(0)
    head = build_head(exemplar_gt_seed=4)
    no_gt_is_exemplar(head)
    first = head.loss(*make_batch())
    assert head.exemplar_set.count.sum().item() == first['fi_seeded_exemplars'].item() > 0
    assert first['fi_anchors_with_pos'].item() == 0  # E was empty when the first step sampled
    second = head.loss(*make_batch(seed=1))
    assert second['fi_anchors_with_pos'].item() > 0 and second['loss_fi'].item() > 0


def test_small_anchors_use_the_original_image_area():
    head = build_head(imitate_subsets=['eS'])
    boxes = torch.tensor([[0., 0., 10., 10., 0.], [0., 0., 20., 20., 0.]])  # areas 100 (eS) and 400 (rS)
    img_ids = torch.tensor([0, 1])
    metas = [dict(scale_factor=(1.0, 1.0)), dict(scale_factor=(2.0, 2.0))]  # image 1 upscaled: 400 / 4 = 100
    assert head.anchor_mask(boxes, img_ids, metas).tolist() == [True, True]
    assert head.anchor_mask(boxes, torch.tensor([0, 0]), metas).tolist() == [True, False]
    assert build_head().anchor_mask(boxes, img_ids, None).tolist() == [True, True]
    with pytest.raises(TypeError, match='batch_img_metas'):
        head.anchor_mask(boxes, img_ids, None)
    with pytest.raises(ValueError, match='imitate_subsets'):
        build_head(imitate_subsets=['tiny'])


def test_small_anchors_leave_larger_gts_out_of_the_loss_but_not_out_of_the_exemplar_set():
    torch.manual_seed(0)
    head = build_head(imitate_subsets=['eS'])  # the test gts: areas 288, 480, 400 -> none is eS
    every_gt_is_exemplar(head)
    losses = head.loss(*make_batch())
    assert losses['fi_anchors'].item() == 0 and losses['loss_fi'].item() == 0
    assert head.exemplar_set.count.sum().item() > 0
    losses['loss_fi'].backward()  # still a graph over Feat2Embed (DDP)


def test_step_statistics_are_logged_and_consistent():
    torch.manual_seed(0)
    head = build_head()
    every_gt_is_exemplar(head)
    log = head.loss(*make_batch())
    measured = log['fi_measured_gts'].item()
    assert measured + log['fi_unmeasured_gts'].item() == 3
    assert 0 <= log['fi_iq_mean'].item() <= log['fi_iq_p90'].item() <= log['fi_iq_max'].item() <= 1
    assert log['fi_high_thr'].item() == 0.0 and log['fi_high_iq_gts'].item() == measured
    assert log['fi_new_exemplars'].item() == head.exemplar_set.count.sum().item()
    assert log['fi_anchors'].item() == measured and 0 <= log['fi_anchors_with_pos'].item() <= measured
