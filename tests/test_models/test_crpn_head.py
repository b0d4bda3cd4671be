"""CoarseToFineRPNHead: computed DeformConv offsets, Eq. (2) weights, stage-1 avg factor, a CPU training
step for both proposal forms, and proposals of the right box type and count."""

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS
from mmrotate.structures.bbox import RotatedBoxes

import cfinet_rotated  # noqa: F401  (registers the CRPN)

C = 8  # channels of the toy features
ANCHORS = dict(type='mmdet.AnchorGenerator', scales=[2], ratios=[1.0], strides=[4, 8, 16, 32])


def crpn_cfg(oriented=False, mode='paper', max_per_img=20):
    stage1 = dict(type='CoarseToFineRPNStage', in_channels=C, feat_channels=C, anchor_generator=ANCHORS,
                  adapt_cfg=dict(type='dilation', dilation=3), bridged_feature=True, with_cls=False,
                  reg_decoded_bbox=True,
                  bbox_coder=dict(type='mmdet.DeltaXYWHBBoxCoder', target_means=(.0, .0, .0, .0),
                                  target_stds=(0.1, 0.1, 0.5, 0.5)),
                  loss_bbox=dict(type='mmdet.IoULoss', mode='linear', loss_weight=1.0))
    if oriented:
        stage2 = dict(type='OrientedCoarseToFineRPNStage', reg_decoded_bbox=False,
                      bbox_coder=dict(type='MidpointOffsetCoder', angle_version='le90', target_means=[0.] * 6,
                                      target_stds=[0.05, 0.05, 0.1, 0.1, 0.5, 0.5]),
                      loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0))
        iou = dict(type='RBbox2HBboxOverlaps2D')
    else:
        stage2 = dict(type='CoarseToFineRPNStage', reg_decoded_bbox=True,
                      bbox_coder=dict(type='mmdet.DeltaXYWHBBoxCoder', target_means=(.0, .0, .0, .0),
                                      target_stds=(0.05, 0.05, 0.1, 0.1), use_box_type=True),
                      loss_bbox=dict(type='mmdet.IoULoss', mode='linear', loss_weight=1.0))
        iou = dict(type='mmdet.BboxOverlaps2D')
    stage2.update(in_channels=C, feat_channels=C, anchor_generator=ANCHORS, adapt_cfg=dict(type='offset'),
                  bridged_feature=True, with_cls=True,
                  loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))
    train_cfg = [
        dict(assigner=dict(type='DynamicIoUAssigner', mode=mode, neg_iou_thr=0.15), allowed_border=-1,
             pos_weight=-1, debug=False),
        dict(assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.7, min_pos_iou=0.3,
                           ignore_iof_thr=-1, iou_calculator=iou),
             sampler=dict(type='mmdet.RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                          add_gt_as_proposals=False),
             allowed_border=-1, pos_weight=-1, debug=False)]
    test_cfg = dict(nms_pre=1000, max_per_img=max_per_img, nms=dict(type='nms', iou_threshold=0.5), min_bbox_size=0)
    return ConfigDict(type='CoarseToFineRPNHead', num_classes=1, num_stages=2, stages=[stage1, stage2],
                      train_cfg=train_cfg, test_cfg=test_cfg)


def features(size=32, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(batch, C, size // s, size // s, generator=g) for s in (4, 8, 16, 32))


def sample(gt_boxes, size=32, scale=1.0):
    s = DetDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size), scale_factor=(scale, scale)))
    s.gt_instances = InstanceData(bboxes=gt_boxes, labels=torch.zeros(len(gt_boxes), dtype=torch.long))
    return s


def test_eq2_weights_and_layers():
    head = MODELS.build(crpn_cfg())
    assert head.stages[0].loss_bbox.loss_weight == 9.0
    assert head.stages[1].loss_bbox.loss_weight == 9.0 and head.stages[1].loss_cls.loss_weight == 0.9
    conv1 = head.stages[0].rpn_conv.conv
    assert conv1.dilation == (3, 3) and conv1.padding == (3, 3) and not head.stages[0].with_cls
    assert type(head.stages[1].rpn_conv.conv).__name__ == 'DeformConv2d'
    assert head.stages[1].rpn_reg.out_channels == 4
    assert MODELS.build(crpn_cfg(oriented=True)).stages[1].rpn_reg.out_channels == 6


def test_eq2_weights_reach_the_stages_default_losses():
    """alpha1 / alpha2 weight every stage loss, also the default ones of a stage config without loss_bbox or
    loss_cls (before, such a stage silently kept weight 1.0)."""
    cfg = crpn_cfg()
    for stage in cfg['stages']:
        stage.pop('loss_bbox')
        stage.pop('loss_cls', None)
    head = MODELS.build(dict(cfg, alpha1=7.0, alpha2=0.3))
    assert head.stages[0].loss_bbox.loss_weight == 7.0 and type(head.stages[0].loss_bbox).__name__ == 'IoULoss'
    assert head.stages[1].loss_bbox.loss_weight == 7.0 and head.stages[1].loss_cls.loss_weight == 0.3
    assert not head.stages[0].with_cls  # stage 1 has no classification term in Eq. (2)


def test_offsets_zero_for_unrefined_anchors_and_hand_values_for_a_refined_one():
    stage = MODELS.build(crpn_cfg()).stages[1]
    sizes = [torch.Size([8, 8]), torch.Size([4, 4]), torch.Size([2, 2]), torch.Size([1, 1])]
    anchors = stage.prior_generator.grid_priors(sizes, device='cpu')
    offsets = stage.anchor_offset([anchors], stage.anchor_strides, sizes)
    assert [o.shape for o in offsets] == [(1, 64, 18), (1, 16, 18), (1, 4, 18), (1, 1, 18)]
    assert all((o == 0).all() for o in offsets)  # an unrefined anchor: a plain 3x3 conv
    # refine P2 anchor (i=1, j=2) = [4, 0, 12, 8] into [2, 0, 18, 8]: centre (10, 4), w 16, h 8, stride 4
    # centre offset (10/4 - 2, 4/4 - 1) = (0.5, 0); shape offset dx = (16/4/2 - 1) kx = kx, dy = (8/4/2 - 1) ky = 0
    refined = [a.clone() for a in anchors]
    k = 1 * 8 + 2
    assert refined[0][k].tolist() == [4.0, 0.0, 12.0, 8.0]
    refined[0][k] = torch.tensor([2.0, 0.0, 18.0, 8.0])
    off = stage.anchor_offset([refined], stage.anchor_strides, sizes)[0][0, k]
    # channels (y0, x0, ..., y8, x8), taps row-major (ky outer, kx inner)
    expected = []
    for ky in (-1, 0, 1):
        for kx in (-1, 0, 1):
            expected += [0.0, 0.5 + kx]
    assert off.tolist() == pytest.approx(expected)
    assert (stage.anchor_offset([refined], stage.anchor_strides, sizes)[0][0, :k] == 0).all()


def test_stage1_loss_hand_computed():
    """Zero regression -> decoded boxes = anchors. gt [4,4,12,12] (8 px, T_a 0.25) has 6 positives over all
    levels: IoU 1, four of 1/3 (P2 neighbours), one of 0.25 (P3). Linear IoU loss sum = 4 * 2/3 + 0.75;
    avg factor = 85 anchors / 200; weight alpha1 = 9 -> 9 * 3.416667 / 0.425 = 72.352941."""
    head = MODELS.build(crpn_cfg())
    s0 = head.stages[0]
    torch.nn.init.zeros_(s0.rpn_reg.weight)
    torch.nn.init.zeros_(s0.rpn_reg.bias)
    x = features()
    sizes = [f.shape[-2:] for f in x]
    anchors, valid = s0.get_anchors(sizes, [dict(img_shape=(32, 32), pad_shape=(32, 32))], device='cpu')
    _, cls_score, bbox_pred = s0(x, None)
    gt = RotatedBoxes(torch.tensor([[8.0, 8.0, 8.0, 8.0, 0.0]]))  # rotated gt, horizontal hull = itself
    losses = s0.loss_by_feat(anchors, valid, cls_score, bbox_pred, [sample(gt).gt_instances],
                             [dict(img_shape=(32, 32), pad_shape=(32, 32), scale_factor=(1.0, 1.0))])
    assert sum(losses['loss_rpn_reg']).item() == pytest.approx(9 * (4 * 2 / 3 + 0.75) / (85 / 200), rel=1e-4)


@pytest.mark.parametrize('oriented,gt_type', [(False, 'rbox'), (True, 'rbox'), (False, 'hbox')])
def test_training_step_finite_and_proposals(oriented, gt_type):
    """Both proposal forms on rotated ground truth, and the horizontal form on horizontal ground truth (SODA-D)."""
    torch.manual_seed(0)
    head = MODELS.build(crpn_cfg(oriented=oriented))
    head.init_weights()
    x = tuple(f.requires_grad_() for f in features(64, batch=2))
    gts = [RotatedBoxes(torch.tensor([[20.0, 20.0, 10.0, 4.0, 0.3], [40.0, 44.0, 6.0, 6.0, -0.7]])),
           RotatedBoxes(torch.zeros(0, 5))]  # second image: no object
    if gt_type == 'hbox':
        gts = [g.convert_to('hbox') for g in gts]
    samples = [sample(g, 64, scale=1.5) for g in gts]
    proposal_cfg = ConfigDict(nms_pre=2000, max_per_img=30, nms=dict(type='nms', iou_threshold=0.8), min_bbox_size=0)
    losses, proposals = head.loss_and_predict(x, samples, proposal_cfg=proposal_cfg)
    assert set(losses) == {'s0.loss_rpn_reg', 's1.loss_rpn_cls', 's1.loss_rpn_reg'}
    total = sum(sum(v) if isinstance(v, (list, tuple)) else v for v in losses.values())
    assert torch.isfinite(total) and total.item() > 0
    total.backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters() if p.grad is not None)
    assert head.stages[0].rpn_reg.weight.grad.abs().sum() > 0  # stage 1 learns from the positives
    box_type = RotatedBoxes if oriented else HorizontalBoxes
    for p in proposals:
        assert isinstance(p.bboxes, box_type) and len(p) == 30 and p.scores.shape == (30, )
    head.eval()
    with torch.no_grad():
        results = head.predict(features(64), [sample(gts[0], 64)])
    assert isinstance(results[0].bboxes, box_type) and len(results[0]) == 20  # test max_per_img
    assert (results[0].scores[:-1] >= results[0].scores[1:]).all()


def _stage1_loss(gts, metas, feat_size=32):
    head = MODELS.build(crpn_cfg())
    s0 = head.stages[0]
    torch.nn.init.zeros_(s0.rpn_reg.weight)
    torch.nn.init.zeros_(s0.rpn_reg.bias)
    x = features(feat_size, batch=len(gts))
    anchors, valid = s0.get_anchors([f.shape[-2:] for f in x], metas, device='cpu')
    _, cls_score, bbox_pred = s0(x, None)
    losses = s0.loss_by_feat(anchors, valid, cls_score, bbox_pred, [sample(g).gt_instances for g in gts], metas)
    return sum(losses['loss_rpn_reg']).item()


def test_first_anchors_keep_their_weight():
    """Official bug: ignore flags used as an index zero the weights of anchors 0 and 1. Here gt [0,0,4,4] (4 px,
    T_a 0.25) has exactly 4 positives, all IoU 16/64 = 0.25, among them anchors 0 = [-4,-4,4,4] and
    1 = [0,-4,8,4]: loss 9 * 4 * 0.75 / (85 / 200) = 63.5294 (the official code would give half)."""
    meta = dict(img_shape=(32, 32), pad_shape=(32, 32), scale_factor=(1.0, 1.0))
    gt = HorizontalBoxes(torch.tensor([[0.0, 0.0, 4.0, 4.0]]))
    assert _stage1_loss([gt], [meta]) == pytest.approx(9 * 4 * 0.75 / (85 / 200), rel=1e-4)


def test_invalid_anchors_are_unmapped():
    """Mixed image sizes: the second image is 16x16 inside a 32x32 batch, so part of its anchors are invalid.
    Targets are un-mapped to the full anchor set (the official code does not, and mis-splits the levels):
    the hand-computed stage-1 loss of test_stage1_loss_hand_computed is unchanged but for avg factor 2 * 85."""
    metas = [dict(img_shape=(32, 32), pad_shape=(32, 32), scale_factor=(1.0, 1.0)),
             dict(img_shape=(16, 16), pad_shape=(16, 16), scale_factor=(1.0, 1.0))]
    gts = [HorizontalBoxes(torch.zeros(0, 4)), HorizontalBoxes(torch.tensor([[4.0, 4.0, 12.0, 12.0]]))]
    assert _stage1_loss(gts, metas) == pytest.approx(9 * (4 * 2 / 3 + 0.75) / (2 * 85 / 200), rel=1e-4)
