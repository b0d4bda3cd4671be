"""FIRoIHead (Alg. 1) on synthetic features: both pipelines, gradients, empty cases, own-image Γ, inference."""
import copy

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS, TASK_UTILS
from mmrotate.structures.bbox import RotatedBoxes

import cfinet_rotated  # noqa: F401  (registers FIRoIHead)

C = 32  # tiny channel count (GN with 8 groups in Feat2Embed)
IMG = 128


def head_cfg(rotated_rois=False, **fi):
    """The RoI head of the tiny Rotated Faster R-CNN (horizontal RoIs) or Oriented R-CNN (rotated RoIs)."""
    stds = (0.1, 0.1, 0.2, 0.2, 0.1)
    if rotated_rois:
        extractor = dict(type='RotatedSingleRoIExtractor', out_channels=C, featmap_strides=[4, 8, 16, 32],
                         roi_layer=dict(type='RoIAlignRotated', out_size=7, sample_num=2, clockwise=True))
        coder = dict(type='DeltaXYWHTRBBoxCoder', angle_version='le90', norm_factor=None, edge_swap=True,
                     proj_xy=True, target_means=(0., ) * 5, target_stds=stds)
        iou = dict(type='RBboxOverlaps2D')
    else:
        extractor = dict(type='mmdet.SingleRoIExtractor', out_channels=C, featmap_strides=[4, 8, 16, 32],
                         roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))
        coder = dict(type='DeltaXYWHTHBBoxCoder', angle_version='le90', norm_factor=2, edge_swap=True,
                     target_means=(0., ) * 5, target_stds=stds)
        iou = dict(type='RBbox2HBboxOverlaps2D')
    cfg = dict(
        type='FIRoIHead',
        bbox_roi_extractor=extractor,
        bbox_head=dict(
            type='mmdet.Shared2FCBBoxHead', predict_box_type='rbox', in_channels=C, fc_out_channels=64,
            roi_feat_size=7, num_classes=3, reg_predictor_cfg=dict(type='mmdet.Linear'),
            cls_predictor_cfg=dict(type='mmdet.Linear'), bbox_coder=coder, reg_class_agnostic=True,
            loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        train_cfg=dict(
            assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=False, ignore_iof_thr=-1, iou_calculator=iou),
            sampler=dict(type='mmdet.RandomSampler', num=64, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=-1, debug=False),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.0, max_per_img=100,
                      nms=dict(type='nms_rotated', iou_threshold=0.1)),
        feat2embed=dict(type='Feat2Embed', hidden_channels=64, embed_channels=16,
                        norm_cfg=dict(type='GN', num_groups=8)),
        exemplar_capacity=8, num_contrast=16)
    cfg.update(fi)
    return ConfigDict(cfg)


def build_head(rotated_rois=False, **fi):
    return MODELS.build(head_cfg(rotated_rois, **fi))


GTS = [(torch.tensor([[40., 40., 24., 12., 0.3], [84., 90., 30., 16., -0.5]]), torch.tensor([0, 2])),
       (torch.tensor([[60., 60., 20., 20., 0.0]]), torch.tensor([1]))]


def make_batch(gts=GTS, rotated_rois=False, seed=0, feats=None):
    """Features (with grad), proposals around the gts plus random ones, data samples."""
    g = torch.Generator().manual_seed(seed)
    n = len(gts)
    if feats is None:
        feats = [torch.randn(n, C, IMG // s, IMG // s, generator=g) for s in (4, 8, 16, 32)]
    x = tuple(f.clone().requires_grad_(True) for f in feats)
    rpn_results, samples = [], []
    for boxes, labels in gts:
        props = [boxes + torch.randn(boxes.shape[0], 5, generator=g) * torch.tensor([1., 1., 1., 1., .05])
                 for _ in range(12)]
        rnd = torch.rand(20, 5, generator=g) * torch.tensor([IMG, IMG, 30., 30., 1.]) + torch.tensor(
            [0., 0., 6., 6., -0.5])
        props = torch.cat(props + [rnd])
        props[:, 2:4] = props[:, 2:4].clamp(min=2)
        props = RotatedBoxes(props)
        res = InstanceData(bboxes=props if rotated_rois else props.convert_to('hbox'),
                           scores=torch.rand(len(props), generator=g))
        rpn_results.append(res)
        ds = DetDataSample(metainfo=dict(img_shape=(IMG, IMG), ori_shape=(IMG, IMG), scale_factor=(1., 1.)))
        ds.gt_instances = InstanceData(bboxes=RotatedBoxes(boxes), labels=labels)
        samples.append(ds)
    return x, rpn_results, samples


def every_gt_is_exemplar(head):
    head.instance_quality.high_thr, head.instance_quality.min_num_preds = 0.0, 0


def no_gt_is_exemplar(head):
    head.instance_quality.high_thr, head.instance_quality.low_thr = 2.0, 2.0


@pytest.mark.parametrize('rotated_rois', [False, True])
def test_loss_and_gradients_both_pipelines(rotated_rois):
    torch.manual_seed(0)
    head = build_head(rotated_rois)
    every_gt_is_exemplar(head)  # Γ positives from the first step on
    x, rpn, samples = make_batch(rotated_rois=rotated_rois)
    losses = head.loss(x, rpn, samples)
    assert {'loss_cls', 'loss_bbox', 'loss_fi'} <= set(losses)
    assert torch.isfinite(losses['loss_fi']) and losses['loss_fi'].item() > 0
    losses['loss_fi'].backward()
    # Feat2Embed and the RoI features (hence FPN / backbone) receive gradients from L_FI
    assert all(p.grad is not None for p in head.feat2embed.parameters())
    assert sum(float(xi.grad.abs().sum()) for xi in x) > 0


def test_empty_batch_and_cold_start_give_finite_zero_loss():
    torch.manual_seed(0)
    head = build_head()
    empty = [(torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))] * 2
    x, rpn, samples = make_batch(gts=empty)
    losses = head.loss(x, rpn, samples)
    assert losses['loss_fi'].item() == 0.0
    losses['loss_fi'].backward()  # still connected to every Feat2Embed parameter (DDP-safe)
    assert all(p.grad is not None and torch.all(p.grad == 0) for p in head.feat2embed.parameters())
    # gts present, exemplar set empty, no gt good enough: no positive anywhere -> 0, finite
    no_gt_is_exemplar(head)
    x, rpn, samples = make_batch()
    loss = head.loss(x, rpn, samples)['loss_fi']
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert len(head.exemplar_set) == 0


def test_exemplars_are_pushed_then_imitated_without_gradient():
    torch.manual_seed(0)
    head = build_head()
    calls = []
    head.feat2embed.register_forward_hook(
        lambda m, inp, out: calls.append((inp[0].shape[0], torch.is_grad_enabled(), out.requires_grad)))
    every_gt_is_exemplar(head)
    x, rpn, samples = make_batch()
    loss1 = head.loss(x, rpn, samples)['loss_fi']
    assert loss1.item() > 0  # Γ positives of each gt
    assert head.exemplar_set.count.tolist() == [1, 1, 1]
    assert head.loss(*make_batch(seed=2))['fi_exemplars'].item() == 6  # logged set size (3 more pushed)
    head.exemplar_set.count.fill_(1)
    # the 3 gts x 10 Γ boxes were embedded without gradient; the 3 anchors with gradient
    assert (30, False, False) in calls and (3, True, True) in calls
    # next step: nobody is an exemplar; low-quality gts imitate the stored exemplars of their class
    calls.clear()
    no_gt_is_exemplar(head)
    x, rpn, samples = make_batch(seed=1)
    loss2 = head.loss(x, rpn, samples)['loss_fi']
    assert loss2.item() > 0
    exemplar_calls = [c for c in calls if c[0] <= 3 and not c[1]]
    assert exemplar_calls and all(not c[2] for c in exemplar_calls)
    assert head.exemplar_set.count.tolist() == [1, 1, 1]  # nothing new pushed


@pytest.mark.parametrize('rotated_rois', [False, True])
def test_transform_features_come_from_the_instance_own_image(rotated_rois):
    head = build_head(rotated_rois)
    feats = [torch.cat([torch.zeros(1, C, IMG // s, IMG // s), torch.ones(1, C, IMG // s, IMG // s)])
             for s in (4, 8, 16, 32)]
    _, rpn, _ = make_batch(rotated_rois=rotated_rois)
    box = torch.tensor([[64., 64., 20., 10., 0.4]])
    out = head.transform_feats(tuple(feats), box, torch.tensor([1]), [r.bboxes for r in rpn])
    assert out.shape == (10, C, 7, 7)
    assert torch.allclose(out, torch.ones_like(out))  # image 1 is all ones; the official reads image 0
    out0 = head.transform_feats(tuple(feats), box, torch.tensor([0]), [r.bboxes for r in rpn])
    assert torch.all(out0 == 0)


def test_default_inference_is_the_plain_standard_roi_head():
    torch.manual_seed(0)
    head = build_head().eval()
    cfg = head_cfg()
    for k in ('feat2embed', 'exemplar_capacity', 'num_contrast'):
        cfg.pop(k)
    cfg['type'] = 'mmdet.StandardRoIHead'
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(head.state_dict(), strict=False)
    x, rpn, samples = make_batch()
    with torch.no_grad():
        a = head.predict(x, copy.deepcopy(rpn), samples, rescale=False)
        b = plain.predict(x, copy.deepcopy(rpn), samples, rescale=False)
        head.feature_reweight = True  # the official channel attention changes the features
        c = head.predict(x, copy.deepcopy(rpn), samples, rescale=False)
    assert torch.equal(a[0].scores, b[0].scores)
    assert torch.equal(get_box_tensor(a[0].bboxes), get_box_tensor(b[0].bboxes))
    assert not torch.equal(a[0].scores, c[0].scores)


def test_official_iq_mode_and_reweight_train():
    torch.manual_seed(0)
    head = build_head(instance_quality=dict(type='InstanceQuality', mode='official'),
                      feature_reweight=True)
    x, rpn, samples = make_batch()
    losses = head.loss(x, rpn, samples)
    assert torch.isfinite(losses['loss_fi'])
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert head.feat2embed.convs[0].conv.weight.grad.abs().sum() > 0


def test_sample_contrast_follows_alg1():
    torch.manual_seed(0)
    head = build_head()  # 3 classes, capacity 8, num_contrast 16, Γ = 10 boxes
    es = head.exemplar_set
    es.push(torch.randn(5, C, 7, 7), torch.tensor([0, 0, 0, 1, 1]))
    labels = torch.tensor([0, 1, 2, 0])
    quality = torch.tensor([0, 1, 0, 2])
    is_ex = torch.tensor([False, False, False, True])
    n_bg = 6
    idx, valid, pos, used = head.sample_contrast(labels, quality, is_ex, n_bg)
    ex_label = lambda i: (i - n_bg) // es.capacity  # noqa: E731
    for g in range(4):
        p, n = idx[g][pos[g]], idx[g][valid[g] & ~pos[g]]
        assert (valid[g].sum()) <= 16
        if g == 3:  # exemplar: its own 10 Γ boxes only
            assert p.tolist() == list(range(n_bg + 24, n_bg + 34))
        else:  # non-exemplar: stored exemplars of its own class, budget 16*0.5 = 8 (low) / 16*0.25 = 4 (mid)
            assert all(n_bg <= i < n_bg + 24 and ex_label(i) == labels[g] for i in p.tolist())
            assert len(p) == min({0: 8, 1: 4}[int(quality[g])], int(es.count[labels[g]]))
        # negatives: background RoIs or exemplars of other classes, never the own class, no repeats
        assert all(i < n_bg or ex_label(i) != labels[g] for i in n.tolist())
        assert len(set(n.tolist())) == len(n)
        assert len(n) == min(16 - len(p), n_bg + int(es.count.sum() - es.count[labels[g]]))
    assert len(head.sample_contrast(labels, quality, is_ex, 0)[0]) == 4  # no background RoI at all


def _record_quality(head):
    """Wrap ``instance_quality_of`` to record (labels, measured) of every image."""
    seen = []
    orig = head.instance_quality_of

    def wrapped(res, gts, cls_score, bbox_pred):
        out = orig(res, gts, cls_score, bbox_pred)
        seen.append((gts.labels.clone(), out[2].clone()))
        return out
    head.instance_quality_of = wrapped
    return seen


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_gts_without_a_measured_prediction_sit_out_and_sampled_ones_keep_their_index(seed):
    """Dense scenes: the sampler keeps few positives, so some gts get no sampled prediction. Those have no
    measured quality and are left out (no anchor, no exemplar; the official code calls them low quality and
    weights them most); the measured ones are anchors under their own index even when their gt-RoI was not
    sampled (the official code mis-indexes gts there, §2.7)."""
    torch.manual_seed(seed)
    cfg_sampler = dict(type='mmdet.RandomSampler', num=4, pos_fraction=0.25, neg_pos_ub=-1,
                       add_gt_as_proposals=True)  # at most 1 positive per image
    head = build_head()
    head.bbox_sampler = TASK_UTILS.build(cfg_sampler, default_args=dict(context=head))
    every_gt_is_exemplar(head)
    seen = _record_quality(head)
    x, rpn, samples = make_batch(seed=seed)
    losses = head.loss(x, rpn, samples)
    labels = torch.cat([lab for lab, _ in seen])
    measured = torch.cat([m for _, m in seen])
    assert int((measured > 0).sum()) <= 2  # one positive per image, and it may be a gt-RoI
    expected = torch.bincount(labels[measured > 0], minlength=3)
    assert head.exemplar_set.count.tolist() == expected.tolist()
    assert losses['fi_unmeasured_gts'].item() == int((measured == 0).sum())
    assert torch.isfinite(losses['loss_fi']) and (losses['loss_fi'].item() > 0) == bool((measured > 0).any())


def test_exemplar_count_per_class_is_logged():
    torch.manual_seed(0)
    head = build_head()
    every_gt_is_exemplar(head)
    losses = head.loss(*make_batch())
    counts = head.exemplar_set.count.tolist()
    assert sum(counts) > 0
    assert [losses[f'fi_exemplars_c{k}'].item() for k in range(3)] == counts
    assert losses['fi_exemplars'].item() == sum(counts)
    assert not any('loss' in k for k in losses if k.startswith('fi_'))  # logged, not optimised


def test_a_detector_that_scores_its_gts_fills_the_exemplar_set_and_imitation_follows():
    """Default settings (official IQ, T_hq 0.65, >= 8 predictions). A classifier that already scores class 0
    (the situation of a partly trained detector, made directly: fc_cls gives class 0 p ~ 1) makes the class-0
    gt, whose proposals overlap it well, an exemplar with a non-zero Γ loss; once the classifier forgets
    (uniform scores: IQ ~0.25 x IoU, low quality) the same gt imitates the stored exemplar: non-zero loss."""
    torch.manual_seed(0)
    head = build_head()
    assert head.instance_quality.mode == 'official' and head.instance_quality.high_thr == 0.65
    fc_cls = head.bbox_head.fc_cls
    with torch.no_grad():
        fc_cls.weight.zero_()
        fc_cls.bias.copy_(torch.tensor([8.0, -8.0, -8.0, -8.0]))
    x, rpn, samples = make_batch()
    losses = head.loss(x, rpn, samples)
    assert head.exemplar_set.count.tolist() == [1, 0, 0]  # the class-0 gt only (classes 1, 2: p ~ 0)
    assert losses['fi_exemplars_c0'].item() == 1 and losses['loss_fi'].item() > 0
    with torch.no_grad():
        fc_cls.bias.zero_()
    calls = []
    head.feat2embed.register_forward_hook(lambda m, inp, out: calls.append((inp[0].shape[0], out.requires_grad)))
    loss = head.loss(*make_batch(seed=1))['loss_fi']
    assert loss.item() > 0 and head.exemplar_set.count.tolist() == [1, 0, 0]  # nothing new, imitation only
    assert (1, False) in calls  # the stored exemplar, embedded without gradient


def test_exemplars_are_raw_roi_features_even_with_reweighting():
    torch.manual_seed(0)
    head = build_head(feature_reweight=True)
    every_gt_is_exemplar(head)
    x, rpn, samples = make_batch()
    head.loss(x, rpn, samples)
    gt = samples[1].gt_instances.bboxes.convert_to('hbox')  # image 1 holds the class-1 gt
    raw = head.bbox_roi_extractor(x, torch.cat([torch.ones(1, 1), gt.tensor], 1))
    assert torch.allclose(head.exemplar_set.class_feats(1)[0], raw[0].detach(), atol=1e-5)


def test_ground_truth_reaches_the_fi_loss_as_an_argument_not_as_hidden_state():
    """FIRoIHead.loss gives bbox_loss the gts explicitly: no instance attribute carries them between calls, and
    bbox_loss without them is an error naming what is missing. Its loss equals StandardRoIHead's on the shared
    terms (the same assign/sample steps)."""
    from mmdet.models.roi_heads import StandardRoIHead
    torch.manual_seed(0)
    head = build_head()
    before = set(vars(head))
    x, rpn, samples = make_batch()
    losses = head.loss(x, rpn, samples)
    assert set(vars(head)) == before  # nothing left behind by the call
    with pytest.raises(TypeError, match='batch_gt_instances'):
        head.bbox_loss(x, [])
    torch.manual_seed(1)
    ours = head.loss(*make_batch(seed=3))
    torch.manual_seed(1)
    x, rpn, samples = make_batch(seed=3)
    head.bbox_loss = lambda x_, res: StandardRoIHead.bbox_loss(head, x_, res)  # the parent's path, no FI
    parent = StandardRoIHead.loss(head, x, rpn, samples)
    for k in ('loss_cls', 'loss_bbox'):
        assert torch.allclose(ours[k], parent[k]), k
    assert 'loss_fi' in losses
