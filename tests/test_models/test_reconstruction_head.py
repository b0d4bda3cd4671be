"""ReconstructionRoIHead / ReconstructionFIRoIHead on synthetic features: which RoIs go through G, the LR/HR branch,
each side's gradient reaching only its own parameters, the ablation switches, and inference without D."""
import copy

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS
from mmrotate.structures.bbox import RotatedBoxes

import cfinet_rotated  # noqa: F401  (registers the heads)

C = 32
IMG = 128


def head_cfg(rotated_rois=False, fi=False, **recon):
    """The RoI head of a tiny Rotated Faster R-CNN (horizontal RoIs) or Oriented R-CNN (rotated RoIs) with G and D."""
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
        type='ReconstructionFIRoIHead' if fi else 'ReconstructionRoIHead',
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
        generator=dict(type='SRGenerator', mid_channels=8, num_blocks=1),
        discriminator=dict(type='FeatureDiscriminator', mid_channels=8),
        loss_sr_cls=dict(type='SRClassificationLoss', loss_weight=0.1),
        loss_sr_reg=dict(type='SRRegressionLoss', loss_weight=0.1))
    if fi:
        cfg.update(feat2embed=dict(type='Feat2Embed', hidden_channels=64, embed_channels=16,
                                   norm_cfg=dict(type='GN', num_groups=8)),
                   exemplar_capacity=8, num_contrast=16)
    cfg.update(recon)
    return ConfigDict(cfg)


def build_head(rotated_rois=False, fi=False, **recon):
    head = MODELS.build(head_cfg(rotated_rois, fi, **recon))
    torch.nn.init.normal_(head.generator.tail.weight, std=0.1)  # G is no longer the identity
    return head


# gts: 24 x 12 (288 px^2, rS), 30 x 26 (780, gS); 40 x 36 (1440, larger)
GTS = [(torch.tensor([[40., 40., 24., 12., 0.3], [84., 90., 30., 26., -0.5]]), torch.tensor([0, 2])),
       (torch.tensor([[60., 60., 40., 36., 0.0]]), torch.tensor([1]))]


def make_batch(gts=GTS, rotated_rois=False, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(len(gts), C, IMG // s, IMG // s, generator=g) for s in (4, 8, 16, 32)]
    x = tuple(f.requires_grad_(True) for f in feats)
    rpn_results, samples = [], []
    for boxes, labels in gts:
        props = [boxes + torch.randn(boxes.shape[0], 5, generator=g) * torch.tensor([1., 1., 1., 1., .05])
                 for _ in range(8)]
        rnd = torch.rand(20, 5, generator=g) * torch.tensor([IMG, IMG, 40., 40., 1.]) + torch.tensor(
            [0., 0., 4., 4., -0.5])
        props = RotatedBoxes(torch.cat(props + [rnd]))
        rpn_results.append(InstanceData(bboxes=props if rotated_rois else props.convert_to('hbox'),
                                        scores=torch.rand(len(props), generator=g)))
        ds = DetDataSample(metainfo=dict(img_shape=(IMG, IMG), ori_shape=(IMG, IMG), scale_factor=(scale, scale)))
        ds.gt_instances = InstanceData(bboxes=RotatedBoxes(boxes), labels=labels)
        samples.append(ds)
    return x, rpn_results, samples


def rois_of(sizes, rotated_rois):
    """One RoI per side length, centred in image 0."""
    out = []
    for s in sizes:
        out.append([0., 64., 64., s, s, 0.] if rotated_rois else [0., 64 - s / 2, 64 - s / 2, 64 + s / 2, 64 + s / 2])
    return torch.tensor(out)


@pytest.mark.parametrize('rotated_rois', [False, True])
def test_only_rois_of_the_sr_subsets_go_through_g(rotated_rois):
    torch.manual_seed(0)
    head = build_head(rotated_rois)  # sr_subsets eS, rS (area <= 400 px^2)
    rois = rois_of([10, 20, 30, 50], rotated_rois)  # 100 (eS), 400 (rS), 900 (gS), 2500 (larger)
    feats = torch.randn(4, C, 7, 7)
    out = head.super_resolve(feats, rois)
    changed = [not torch.equal(out[i], feats[i]) for i in range(4)]
    assert changed == [True, True, False, False]
    assert torch.allclose(out[:2], head.generator(feats[:2]))
    # areas are those of the original image: with scale_factor 2 the 30 px RoI is 15 px (225 px^2, rS) there
    with head.image_scales([dict(scale_factor=(2.0, 2.0))]):
        assert head.subset_mask(rois, head.sr_subsets).tolist() == [True, True, True, False]
    assert head.subset_mask(rois, head.hr_subsets).tolist() == [False, False, True, True]


@pytest.mark.parametrize('rotated_rois', [False, True])
def test_each_side_of_the_min_max_reaches_only_its_own_parameters(rotated_rois):
    torch.manual_seed(0)
    head = build_head(rotated_rois)
    x, rpn, samples = make_batch(rotated_rois=rotated_rois)
    losses = head.loss(x, rpn, samples)
    assert {'loss_cls', 'loss_bbox', 'loss_mse', 'loss_tv', 'loss_sr_cls', 'loss_sr_reg', 'loss_adv',
            'loss_disc'} <= set(losses)
    assert losses['recon_pairs'].item() > 0 and losses['recon_sr_rois'].item() > 0
    assert all(torch.isfinite(v) for k, v in losses.items() if 'loss' in k)
    d_params, g_params = list(head.discriminator.parameters()), list(head.generator.parameters())
    # D's loss: gradient to D only (detached z_HR and G(z_LR))
    losses['loss_disc'].backward(retain_graph=True)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in d_params)
    assert all(p.grad is None for p in g_params + list(head.bbox_head.parameters()))
    assert all(xi.grad is None for xi in x)
    head.zero_grad(set_to_none=True)
    # everything else (G's side and the detector): no gradient to D (L_adv goes through D's detached parameters)
    sum(v for k, v in losses.items() if 'loss' in k and k != 'loss_disc').backward()
    assert all(p.grad is None for p in d_params)
    assert head.generator.tail.weight.grad.abs().sum() > 0
    assert sum(float(xi.grad.abs().sum()) for xi in x) > 0  # the detection path is end to end


def test_adversarial_gradient_reaches_g():
    torch.manual_seed(0)
    head = build_head(loss_mse=None, loss_tv=None, loss_sr_cls=None, loss_sr_reg=None)
    losses = head.loss(*make_batch())
    losses['loss_adv'].backward()
    assert head.generator.tail.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in head.discriminator.parameters())


def test_ablation_switches_leave_their_losses_out():
    torch.manual_seed(0)
    head = build_head(loss_adv=None)
    assert head.discriminator is None and not any('discriminator' in k for k in head.state_dict())
    losses = head.loss(*make_batch())
    assert 'loss_adv' not in losses and 'loss_disc' not in losses and 'loss_mse' in losses
    losses = build_head(loss_mse=None, loss_tv=None).loss(*make_batch())
    assert not {'loss_mse', 'loss_tv'} & set(losses) and {'loss_adv', 'loss_sr_cls'} <= set(losses)
    losses = build_head(loss_sr_cls=None).loss(*make_batch())
    assert 'loss_sr_cls' not in losses and 'loss_cls' in losses and 'loss_sr_reg' in losses


def test_batch_without_pairs_gives_finite_zeros_in_the_graph():
    torch.manual_seed(0)
    head = build_head(hr_subsets=['Normal'], max_pairs=4)
    small = [(torch.tensor([[40., 40., 10., 8., 0.]]), torch.tensor([0]))] * 2
    x, rpn, samples = make_batch(gts=small)
    rpn = [InstanceData(bboxes=RotatedBoxes(torch.tensor([[40., 40., 10., 8., 0.]]).repeat(5, 1)).convert_to('hbox'),
                        scores=torch.rand(5)) for _ in rpn]  # only small proposals: no RoI in the Normal subset
    losses = head.loss(x, rpn, samples)
    assert losses['recon_pairs'].item() == 0
    for k in ('loss_mse', 'loss_tv', 'loss_sr_cls', 'loss_sr_reg', 'loss_adv', 'loss_disc'):
        assert losses[k].item() == 0.0, k
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in head.generator.parameters())
    assert all(p.grad is not None for p in head.discriminator.parameters())


def test_max_pairs_takes_foreground_first():
    torch.manual_seed(0)
    head = build_head(max_pairs=3)
    rois = rois_of([30, 30, 30, 30, 30, 10], False)
    labels = torch.tensor([3, 0, 3, 1, 2, 0])  # 3 = background; the 10 px RoI is not HR
    assert head.pair_rows(rois, labels).tolist() == [1, 3, 4]


@pytest.mark.parametrize('rotated_rois', [False, True])
def test_inference_runs_g_on_small_rois_and_never_d(rotated_rois):
    torch.manual_seed(0)
    head = build_head(rotated_rois).eval()
    rows = []
    head.generator.register_forward_hook(lambda m, inp, out: rows.append(inp[0].shape[0]))

    def no_d(*args):
        raise AssertionError('D ran at inference')
    head.discriminator.forward = no_d
    x, rpn, samples = make_batch(rotated_rois=rotated_rois)
    with torch.no_grad():
        results = head.predict(x, copy.deepcopy(rpn), samples, rescale=False)
        # the same RoIs without G: the small RoIs' scores differ
        head.sr_subsets = ('Normal', )
        plain = head.predict(x, copy.deepcopy(rpn), samples, rescale=False)
    assert len(results) == 2 and rows and rows[0] > 0
    assert not torch.equal(results[0].scores, plain[0].scores)
    # the tensor-mode forward (flops counting) takes the same path, without D
    head.sr_subsets = ('eS', 'rS')
    rows.clear()
    with torch.no_grad():
        cls_score, bbox_pred = head.forward(x, [copy.deepcopy(r) for r in rpn], samples)
    assert cls_score.shape[0] == bbox_pred.shape[0] == sum(len(r) for r in rpn) and rows


def test_subset_options_are_checked():
    with pytest.raises(ValueError, match='overlap'):
        build_head(sr_subsets=['eS', 'gS'], hr_subsets=['gS'])
    with pytest.raises(ValueError, match='sr_subsets'):
        build_head(sr_subsets=['tiny'])
    with pytest.raises(ValueError, match='hr_subsets'):
        build_head(hr_subsets=[])


@pytest.mark.parametrize('rotated_rois', [False, True])
def test_fi_and_reconstruction_compose(rotated_rois):
    torch.manual_seed(0)
    head = build_head(rotated_rois, fi=True)
    head.instance_quality.high_thr, head.instance_quality.min_num_preds = 0.0, 0  # exemplars from step 1
    x, rpn, samples = make_batch(rotated_rois=rotated_rois)
    losses = head.loss(x, rpn, samples)
    assert {'loss_fi', 'loss_mse', 'loss_adv', 'loss_disc', 'loss_sr_cls'} <= set(losses)
    assert len(head.exemplar_set) > 0  # FI imitates the raw RoIAlign features (pre-G), as without G
    sum(v for k, v in losses.items() if 'loss' in k and k != 'loss_disc').backward()
    assert all(p.grad is not None for p in head.feat2embed.parameters())
    assert head.generator.tail.weight.grad.abs().sum() > 0
    # FI's optional channel attention applies to the box head's input, after G
    feats = torch.randn(3, C, 7, 7)
    head.feature_reweight = True
    assert torch.allclose(head._head_input(feats), head.feat2embed.reweight(feats))
