"""The SODA-D configs (MMDetection's Faster R-CNN + the same CRPN and FI code, horizontal boxes): official settings,
a CPU training step and prediction of the tiny models, and Eq. (3) with horizontal IoU and class-specific
regression."""
import math

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import cfinet_rotated  # noqa: F401  (registration)

FULL = ['configs/sodad/faster-rcnn_r50_fpn_1x_sodad.py', 'configs/sodad/faster-rcnn_r50_fpn_crpn_1x_sodad.py',
        'configs/sodad/faster-rcnn_r50_fpn_fi_1x_sodad.py', 'configs/sodad/faster-rcnn_r50_fpn_cfinet_1x_sodad.py']
TINY = ['configs/sodad/faster-rcnn_tiny_sample.py', 'configs/sodad/faster-rcnn_crpn_tiny_sample.py',
        'configs/sodad/faster-rcnn_fi_tiny_sample.py', 'configs/sodad/faster-rcnn_cfinet_tiny_sample.py']


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread is as fast when the machine is idle and many
    times faster when another process holds a core (OpenMP threads then wait on each other)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize('path', FULL + TINY)
def test_official_sodad_settings(path):
    cfg = Config.fromfile(path)
    m = cfg.model
    assert m.type == 'FasterRCNN' and m._scope_ == 'mmdet'  # MMDetection's detector, inherited with mmdet::
    assert m.roi_head.bbox_head.type == 'Shared2FCBBoxHead' and m.roi_head.bbox_head.num_classes == 9
    assert m.roi_head.bbox_head.bbox_coder.type == 'DeltaXYWHBBoxCoder'
    assert m.data_preprocessor.boxtype2tensor is False  # HorizontalBoxes everywhere
    assert cfg.train_dataloader.dataset.type == 'SODADDataset' and cfg.test_evaluator.type == 'SODADMetric'
    meta = cfg.test_dataloader.dataset.pipeline[-1].meta_keys
    assert {'ori_id', 'x_start', 'y_start', 'scale_factor'} <= set(meta)
    t = m.test_cfg.rcnn  # the official benchmark's test setting, for every model (one protocol)
    assert (t.score_thr, t.nms.iou_threshold, t.max_per_img) == (0.05, 0.5, 200)
    assert m.rpn_head.type == 'CoarseToFineRPNHead' or m.rpn_head.loss_bbox.type == 'L1Loss'
    assert m.roi_head.bbox_head.loss_bbox.type == 'L1Loss' and m.roi_head.bbox_head.loss_cls.use_sigmoid is False
    name = path.rsplit('/', 1)[-1]
    crpn, fi = 'crpn' in name or 'cfinet' in name, '_fi_' in name or 'cfinet' in name
    assert (m.rpn_head.type == 'CoarseToFineRPNHead') == crpn
    ext = m.roi_head.bbox_roi_extractor
    assert ext.type == 'LevelOffsetRoIExtractor'
    if crpn:
        assert m.neck.num_outs == 4 and ext.featmap_strides == [4, 8, 16, 32] and ext.start_level == 0
        assert m.rpn_head.stages[1].type == 'CoarseToFineRPNStage'  # horizontal proposals
        assert m.train_cfg.rpn_proposal.max_per_img == 300 and m.test_cfg.rpn.nms.iou_threshold == 0.5
    else:  # the official SODA-D benchmark Faster R-CNN (configs/sodad-benchmarks/faster_rcnn_r50_fpn_1x.py)
        assert m.rpn_head.type == 'RPNHead' and m.rpn_head.bbox_coder.use_box_type is True
        a = m.rpn_head.anchor_generator
        assert (a.scales, a.ratios, a.strides) == ([2], [0.5, 1.0, 2.0], [4, 8, 16, 32, 64])
        assert m.neck.num_outs == 5 and ext.featmap_strides == [8, 16, 32, 64] and ext.start_level == 1
        p = m.train_cfg.rpn_proposal
        assert (p.nms_pre, p.max_per_img, p.nms.iou_threshold) == (2000, 1000, 0.7)
        r = m.test_cfg.rpn
        assert (r.nms_pre, r.max_per_img, r.nms.iou_threshold) == (1000, 1000, 0.7)
    if not fi:
        smp = m.train_cfg.rcnn.sampler
        assert (smp.num, smp.pos_fraction, smp.add_gt_as_proposals) == (512, 0.25, True)
    assert (m.roi_head.type == 'FIRoIHead') == fi
    if fi:
        assert m.train_cfg.rcnn.sampler.num == 256 and m.train_cfg.rcnn.sampler.pos_fraction == 0.5
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys['roi_head.feat2embed.mlp'].lr_mult == 0.05
    if path in FULL:
        assert m.backbone.depth == 50 and m.backbone.init_cfg.type == 'Pretrained'
        assert not str(m.backbone.init_cfg.checkpoint).startswith(('torchvision://', 'http'))
        assert cfg.train_dataloader.dataset.pipeline[2].scale == (1200, 1200)
        assert cfg.train_dataloader.batch_size == 4 and cfg.auto_scale_lr.base_batch_size == 4
        assert cfg.auto_scale_lr.enable is True
        assert cfg.optim_wrapper.optimizer.lr == 0.01 and cfg.train_cfg.max_epochs == 12
        warmup, steps = cfg.param_scheduler
        assert (warmup.start_factor, warmup.end) == (0.001, 500) and steps.milestones == [8, 11]
        assert cfg.test_evaluator.ann_file == 'data/SODA-D/rawData/Annotations/test.json'
    else:
        assert m.backbone.init_cfg is None and cfg.train_cfg.max_iters == 20
        assert cfg.train_dataloader.dataset.data_root == 'data/sample_sodad_split/'
        assert cfg.test_evaluator.ann_file == 'data/sample_sodad/Annotations/sample.json'


def test_level_offset_extractor_reads_p3_to_p6_at_their_strides():
    """The baseline's RoI strides 8-64 are those of the levels it reads: a RoI on a marked P3 location pools the
    mark (with P2-P5, as the official config, it would read P2 at half the coordinates)."""
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    ext = MODELS.build(dict(type='LevelOffsetRoIExtractor', start_level=1, featmap_strides=[8, 16, 32, 64],
                            out_channels=1, roi_layer=dict(type='RoIAlign', output_size=1, sampling_ratio=1)))
    assert ext.num_inputs == 5
    feats = [torch.zeros(1, 1, 256 // s, 256 // s) for s in (4, 8, 16, 32, 64)]
    feats[1][0, 0, 12, 20] = 1.0  # P3 (stride 8): the cell of pixels x 160-168, y 96-104
    roi = torch.tensor([[0., 160., 96., 168., 104.]])  # 8 px: level 0 of the four (finest_scale 56)
    assert ext(tuple(feats), roi).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match='FPN levels'):
        ext(tuple(feats[:4]), roi)


def _batch(model, size=128):
    samples = []
    for boxes, labels in (([[40., 40., 52., 46.], [90., 70., 110., 90.], [100., 96., 124., 118.]], [0, 4, 8]),
                          ([], [])):
        s = DetDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size), ori_shape=(size, size),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(bboxes=HorizontalBoxes(torch.tensor(boxes).reshape(-1, 4)),
                                      labels=torch.tensor(labels, dtype=torch.long))
        samples.append(s)
    inputs = list(torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) * 255)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)


@pytest.mark.parametrize('path', TINY[1:])
def test_tiny_crpn_fi_cfinet_train_and_predict_on_cpu(path):
    from mmrotate.registry import MODELS
    name = path.rsplit('/', 1)[-1]
    crpn, fi = 'crpn' in name or 'cfinet' in name, '_fi_' in name or 'cfinet' in name
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    if fi:  # an untrained RPN: let any overlapping proposal be a positive, so that every gt gets predictions
        cfg.model.train_cfg.rcnn.assigner.update(pos_iou_thr=0.05, neg_iou_thr=0.05, min_pos_iou=0.05)
    model = MODELS.build(cfg.model)
    if fi:
        iq = model.roi_head.instance_quality
        iq.high_thr, iq.min_num_preds = 0.0, 0  # every gt is an exemplar: Γ positives from the first step
    data = _batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, log = model.parse_losses(losses)
    assert math.isfinite(total.item())
    total.backward()
    if crpn:
        assert {'s0.loss_rpn_reg', 's1.loss_rpn_cls', 's1.loss_rpn_reg'} <= set(log)
    if fi:
        # every gt with a sampled prediction is an exemplar (Γ positives, non-zero loss)
        assert log['fi_unmeasured_gts'].item() == 0 and model.roi_head.exemplar_set.count.sum().item() == 3
        assert log['loss_fi'].item() > 0
    model.eval()
    with torch.no_grad():
        x = model.extract_feat(data['inputs'][:1])
        proposals = model.rpn_head.predict(x, data['data_samples'][:1], rescale=False)
        res = model.predict(data['inputs'][:1], data['data_samples'][:1])
    assert isinstance(proposals[0].bboxes, HorizontalBoxes) and 0 < len(proposals[0]) <= (300 if crpn else 1000)
    assert res[0].pred_instances.bboxes.shape[-1] == 4


def test_instance_quality_uses_horizontal_iou_and_class_specific_deltas():
    """Eq. (3) on MMDetection's Shared2FCBBoxHead (9 classes, class-specific regression, DeltaXYWH): with zero
    deltas the predictions are the proposals; IoU is horizontal; the gt added as a proposal is not a prediction."""
    from mmdet.models.task_modules.assigners import AssignResult
    from mmdet.models.task_modules.samplers import SamplingResult
    from mmdet.registry import MODELS
    cfg = Config.fromfile('configs/sodad/faster-rcnn_fi_tiny_sample.py')
    init_default_scope('mmdet')
    head_cfg = cfg.model.roi_head
    head_cfg.update(train_cfg=cfg.model.train_cfg.rcnn, test_cfg=cfg.model.test_cfg.rcnn)
    head_cfg.instance_quality.mode = 'paper'  # the configs' default is 'official'; Eq. (3) as printed here
    head = MODELS.build(head_cfg)
    assert not head.bbox_head.reg_class_agnostic and head.num_classes == 9
    gt = torch.tensor([[20., 20., 40., 40.]])
    priors = torch.cat([gt, torch.tensor([[22., 20., 42., 40.], [20., 25., 40., 45.], [20., 20., 40., 40.]])])
    n = len(priors)
    assign = AssignResult(1, torch.ones(n, dtype=torch.long), torch.ones(n), torch.full((n, ), 2))
    res = SamplingResult(torch.arange(n), torch.zeros(0, dtype=torch.long), priors, gt, assign,
                         torch.tensor([1, 0, 0, 0], dtype=torch.uint8))
    logits = torch.zeros(n, 10)
    logits[:3, 2] = math.log(27.)  # softmax 27 / (27 + 9) = 0.75 for class 2
    logits[3, 5] = 10.0  # arg-max class 5: not in S' of Eq. (3) ('paper' mode)
    gts = InstanceData(bboxes=HorizontalBoxes(gt), labels=torch.tensor([2]))
    iq, cnt, measured = head.instance_quality_of(res, gts, logits, torch.zeros(n, 9 * 4))
    ious = torch.tensor([360 / 440, 300 / 500])  # horizontal IoU of the two shifted proposals
    assert cnt.tolist() == [2] and measured.tolist() == [3]
    assert iq.item() == pytest.approx(0.75 * ious.mean().item(), abs=1e-5)
    # no prediction at all (only the gt itself among the positives): IQ 0, count 0, no reshape error
    only_gt = SamplingResult(torch.arange(1), torch.zeros(0, dtype=torch.long), priors[:1], gt,
                             AssignResult(1, torch.ones(1, dtype=torch.long), torch.ones(1), torch.full((1, ), 2)),
                             torch.tensor([1], dtype=torch.uint8))
    iq, cnt, measured = head.instance_quality_of(only_gt, gts, logits[:1], torch.zeros(1, 36))
    assert iq.tolist() == [0.0] and cnt.tolist() == [0] and measured.tolist() == [0]  # no quality measured
