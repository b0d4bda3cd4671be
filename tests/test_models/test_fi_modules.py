"""Unit tests of the Feature Imitation modules with hand-computed values (Eq. (3)-(5), Γ, exemplar set)."""
import io
import math

import pytest
import torch

from cfinet_rotated.models.fi import ExemplarSet, Feat2Embed, FeatureImitationLoss, InstanceQuality, InstanceTransform

# 3 foreground classes + background; gts: class 0 and class 1
PROBS = torch.tensor([[0.70, 0.10, 0.10, 0.10],   # -> gt 0, arg-max 0, p=0.7, IoU 0.8
                      [0.20, 0.50, 0.20, 0.10],   # -> gt 0, arg-max 1 (wrong class), p=0.2, IoU 0.9
                      [0.60, 0.20, 0.10, 0.10],   # -> gt 0, arg-max 0, p=0.6, IoU 0.5
                      [0.02, 0.03, 0.05, 0.90]])  # -> gt 1, arg-max background, p=0.03, IoU 0.7
IOUS = torch.tensor([0.8, 0.9, 0.5, 0.7])
ASSIGNED = torch.tensor([0, 0, 0, 1])
GT_LABELS = torch.tensor([0, 1])


def test_instance_quality_paper_eq3():
    iq, counts, measured = InstanceQuality(mode='paper')(PROBS, IOUS, ASSIGNED, GT_LABELS)
    # S' of gt 0 = predictions whose arg-max is c* = 0: (0.7*0.8 + 0.6*0.5) / 2 = 0.43; gt 1: S' empty
    assert iq.tolist() == pytest.approx([0.43, 0.0])
    assert counts.tolist() == [2, 0] and measured.tolist() == [3, 1]


def test_instance_quality_official_mode():
    assert InstanceQuality().mode == 'official'  # the default: the rule T_hq = 0.65 was tuned with
    iq, counts, measured = InstanceQuality(mode='official', score_thr=0.05)(PROBS, IOUS, ASSIGNED, GT_LABELS)
    # official: every prediction with p(c*) >= 0.05: (0.56 + 0.2*0.9 + 0.30) / 3; gt 1: 0.03 < 0.05
    assert iq.tolist() == pytest.approx([(0.56 + 0.18 + 0.30) / 3, 0.0])
    assert counts.tolist() == [3, 0] and measured.tolist() == [3, 1]


@pytest.mark.parametrize('mode', ['official', 'paper'])
def test_ground_truth_without_measured_prediction_has_no_quality(mode):
    """gt 2 (class 2) has no prediction at all: no quality (-1), never an exemplar, not 'low'. gt 1 was
    measured (one prediction, p(c*) = 0.03): IQ 0 is a measurement, so it is low quality."""
    q = InstanceQuality(mode=mode, min_num_preds=0)
    iq, counts, measured = q(PROBS, IOUS, ASSIGNED, torch.tensor([0, 1, 2]))
    assert measured.tolist() == [3, 1, 0] and counts[2] == 0 and iq[2] == 0.0
    # hand-computed: gt 0 IQ 0.3467 (official) / 0.43 (paper), both mid; gt 1 low; gt 2 none
    assert q.quality_class(iq, measured).tolist() == [1, 0, -1]
    assert q.quality_class(iq).tolist() == [1, 0, 0]  # without `measured`: the official reading (low)
    q.high_thr = 0.0  # even a threshold every measured gt passes makes no exemplar of gt 2
    assert q.is_exemplar(iq, counts, measured).tolist() == [True, True, False]


def test_instance_quality_empty_and_classes():
    iq, counts, measured = InstanceQuality()(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long),
                                             GT_LABELS)
    assert iq.tolist() == [0.0, 0.0] and counts.tolist() == [0, 0] and measured.tolist() == [0, 0]
    q = InstanceQuality(low_thr=0.25, high_thr=0.65, min_num_preds=8)
    assert q.quality_class(torch.tensor([0.1, 0.25, 0.5, 0.65, 0.9])).tolist() == [0, 1, 1, 2, 2]
    ex = q.is_exemplar(torch.tensor([0.7, 0.7, 0.6]), torch.tensor([8, 7, 20]))
    assert ex.tolist() == [True, False, False]
    with pytest.raises(ValueError, match='mode'):
        InstanceQuality(mode='iou')


def _push(es, values, label):
    feats = torch.tensor(values, dtype=torch.float).view(-1, 1, 1, 1)
    es.push(feats, torch.full((len(values), ), label))


def test_exemplar_set_capacity_and_order():
    es = ExemplarSet(num_classes=2, capacity=3, feat_shape=(1, 1, 1))
    assert len(es) == 0 and not es.valid_mask().any()
    _push(es, [1, 2], 0)
    assert es.class_feats(0).flatten().tolist() == [1, 2] and es.count.tolist() == [2, 0]
    _push(es, [3, 4], 0)  # ring: the oldest (1) is overwritten, newest 256 kept (here 3)
    assert es.class_feats(0).flatten().tolist() == [2, 3, 4]
    assert es.count.tolist() == [3, 0] and es.ptr.tolist() == [1, 0]
    _push(es, [5, 6, 7, 8], 0)  # more than the capacity in one push: the newest 3
    assert es.class_feats(0).flatten().tolist() == [6, 7, 8]
    assert es.class_feats(1).numel() == 0
    assert es.valid_mask().tolist() == [[True, True, True], [False, False, False]]
    # the official queue collapses to 1 feature once it exceeds its capacity; ours keeps `capacity`
    assert len(es) == 3
    with pytest.raises(ValueError, match='labels'):
        _push(es, [1], 2)


def test_exemplar_set_checkpoint_round_trip():
    es = ExemplarSet(num_classes=3, capacity=4, feat_shape=(2, 3, 3))
    es.push(torch.randn(5, 2, 3, 3), torch.tensor([0, 2, 2, 0, 2]))
    buf = io.BytesIO()
    torch.save(es.state_dict(), buf)
    buf.seek(0)
    restored = ExemplarSet(num_classes=3, capacity=4, feat_shape=(2, 3, 3))
    restored.load_state_dict(torch.load(buf))
    assert torch.equal(restored.feats, es.feats)
    assert restored.count.tolist() == [2, 0, 3] and restored.ptr.tolist() == es.ptr.tolist()
    with pytest.raises(RuntimeError, match='capacity'):
        ExemplarSet(num_classes=3, capacity=8, feat_shape=(2, 3, 3)).load_state_dict(es.state_dict())


def test_feat2embed_shapes_and_reweight():
    torch.manual_seed(0)
    gn8 = dict(type='GN', num_groups=8)
    f2e = Feat2Embed(in_channels=32, roi_size=7, hidden_channels=64, embed_channels=16, norm_cfg=gn8)
    assert len(f2e.convs) == 3  # 7 -> 5 -> 3 -> 1, no padding
    x = torch.randn(4, 32, 7, 7)
    v = f2e(x)
    assert v.shape == (4, 16)
    assert torch.allclose(v.norm(dim=1), torch.ones(4), atol=1e-5)
    assert any(name.startswith('mlp.') for name, _ in f2e.named_parameters())
    w = torch.softmax(f2e.convs(x), dim=1)
    assert torch.allclose(f2e.reweight(x), x * (1 + w))
    assert f2e(x[:0]).shape == (0, 16)
    assert f2e(x[:1]).shape == (1, 16)  # a single RoI in training mode works
    assert f2e.convs(x).abs().sum() > 0  # GroupNorm does not zero the 1x1 output
    with pytest.raises(ValueError, match='roi_size'):
        Feat2Embed(in_channels=32, roi_size=6, norm_cfg=gn8)
    with pytest.raises(ValueError, match='channels per group'):
        Feat2Embed(in_channels=32)  # GN(32) on 32 channels: one value per group at 1x1 -> zeros


def test_feat2embed_shape_bucket_pads_and_matches_unpadded():
    """The RoI batch is zero-padded to a multiple of shape_bucket for the convolutions (bounded oneDNN primitive
    caches on CPU); outputs and gradients equal those of the unpadded batch."""
    torch.manual_seed(0)
    gn8 = dict(type='GN', num_groups=8)
    padded = Feat2Embed(in_channels=32, hidden_channels=64, embed_channels=16, norm_cfg=gn8)
    assert padded.shape_bucket == 32  # default
    plain = Feat2Embed(in_channels=32, hidden_channels=64, embed_channels=16, norm_cfg=gn8, shape_bucket=1)
    plain.load_state_dict(padded.state_dict())
    seen = []
    padded.convs[0].conv.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    for n in (1, 5, 31, 32, 33, 70):
        x = torch.randn(n, 32, 7, 7)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        va, vb = padded(xa), plain(xb)
        assert va.shape == (n, 16)
        assert torch.allclose(va, vb, atol=1e-5)
        w = torch.randn(n, 16)
        (va * w).sum().backward()
        (vb * w).sum().backward()
        assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
        assert torch.allclose(padded.reweight(x), plain.reweight(x), atol=1e-5)
    assert seen == [b for b in (32, 32, 32, 32, 64, 96) for _ in range(2)]  # forward and reweight of each n
    for (name, pa), pb in zip(padded.named_parameters(), plain.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-4), name  # padded rows add nothing to the gradients
    assert padded(torch.zeros(0, 32, 7, 7)).shape == (0, 16)
    # batch statistics would see the padding: BN turns the padding off by default and refuses it explicitly
    bn = dict(type='BN')
    assert Feat2Embed(in_channels=32, norm_cfg=bn).shape_bucket == 1
    with pytest.raises(ValueError, match='batch statistics'):
        Feat2Embed(in_channels=32, norm_cfg=bn, shape_bucket=8)
    with pytest.raises(ValueError, match='shape_bucket'):
        Feat2Embed(in_channels=32, norm_cfg=gn8, shape_bucket=0)


def test_feature_imitation_loss_against_hand_computation():
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    samples = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [5.0, 5.0]],
                            [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [5.0, 5.0]]])
    pos = torch.tensor([[True, True, False, False], [False, False, False, False]])
    valid = torch.tensor([[True, True, True, False], [True, True, True, False]])  # column 3 = padding
    loss = FeatureImitationLoss(temperature=0.5, loss_weight=0.5)(anchors, samples, pos, valid)
    # row 0: logits (2, 0, -2); L = -1/2 [(2 - lse) + (0 - lse)] = lse - 1; row 1 has no positive -> 0
    lse = math.log(math.exp(2) + math.exp(0) + math.exp(-2))
    assert loss.item() == pytest.approx(0.5 * (lse - 1) / 2, rel=1e-5)
    loss.backward()
    assert anchors.grad[0].abs().sum() > 0 and torch.all(anchors.grad[1] == 0)
    weighted = FeatureImitationLoss(temperature=0.5, loss_weight=1.0)(
        anchors, samples, pos, valid, weight=torch.tensor([0.1, 0.5]), avg_factor=4)
    assert weighted.item() == pytest.approx(0.1 * (lse - 1) / 4, rel=1e-5)


def test_feature_imitation_loss_zero_without_positives_and_finite():
    anchors = torch.randn(3, 8, requires_grad=True)
    samples = torch.randn(3, 5, 8)
    pos = torch.zeros(3, 5, dtype=torch.bool)
    valid = torch.zeros(3, 5, dtype=torch.bool)  # not even a negative
    loss = FeatureImitationLoss()(anchors, samples, pos, valid)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(anchors.grad).all()


def test_instance_transform_along_own_axes():
    box = torch.tensor([[10.0, 20.0, 4.0, 2.0, math.pi / 2]])  # w runs along +y, h along -x
    out = InstanceTransform(trans_ratios=(0.3, 0.5), scales=(0.97, 1.03))(box)[0]
    assert out.shape == (10, 5)
    centres = [(10, 21.2), (9.4, 20), (10, 18.8), (10.6, 20), (10, 22), (9, 20), (10, 18), (11, 20)]
    assert out[:8, :2].tolist() == [pytest.approx(list(c), abs=1e-5) for c in centres]
    assert torch.all(out[:8, 2:] == box[0, 2:])
    assert out[8].tolist() == pytest.approx([10, 20, 3.88, 1.94, math.pi / 2], abs=1e-5)
    assert out[9].tolist() == pytest.approx([10, 20, 4.12, 2.06, math.pi / 2], abs=1e-5)
    # two instances: each gets its own rescales (the official view() interleaves them across instances)
    two = InstanceTransform()(torch.tensor([[0., 0., 10., 10., 0.], [100., 100., 20., 20., 0.]]))
    assert two[0, 8].tolist() == pytest.approx([0, 0, 9.7, 9.7, 0]) and two[0, 9, 2] == pytest.approx(10.3)
    assert two[1, 8].tolist() == pytest.approx([100, 100, 19.4, 19.4, 0])
    # horizontal box (a = 0): x-shifts by r*w, y-shifts by r*h (the official code swaps w and h)
    hbox = torch.tensor([[0.0, 0.0, 10.0, 2.0, 0.0]])
    out = InstanceTransform()(hbox)[0]
    assert out[0, :2].tolist() == pytest.approx([3.0, 0.0]) and out[1, :2].tolist() == pytest.approx([0, 0.6])
