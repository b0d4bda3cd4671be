"""The CRPN configs: official settings, and one CPU training step + prediction of each tiny detector."""
import math

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS
from mmrotate.structures.bbox import RotatedBoxes

FULL = ['configs/crpn/rotated-faster-rcnn_r50_fpn_crpn_1x_sodaa.py',
        'configs/crpn/oriented-rcnn_r50_fpn_crpn_1x_sodaa.py']
TINY = ['configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py', 'configs/crpn/oriented-rcnn_crpn_tiny_sample.py']


@pytest.mark.parametrize('path', FULL + TINY)
def test_official_settings(path):
    cfg = Config.fromfile(path)
    m = cfg.model
    assert m.neck.num_outs == 4 and m.roi_head.bbox_roi_extractor.featmap_strides == [4, 8, 16, 32]
    head = m.rpn_head
    assert head.type == 'CoarseToFineRPNHead' and head.alpha1 == 9.0 and head.alpha2 == 0.9
    s1, s2 = head.stages
    assert s1.anchor_generator.scales == [2] and s1.anchor_generator.strides == [4, 8, 16, 32]
    assert s1.adapt_cfg == dict(type='dilation', dilation=3) and not s1.with_cls
    assert s1.bbox_coder.target_stds == (0.1, 0.1, 0.5, 0.5) and s2.adapt_cfg.type == 'offset'
    oriented = 'oriented' in path
    # horizontal: the official stage-2 stds; oriented: OrientedRPNHead's (SmoothL1 on the deltas)
    assert list(s2.bbox_coder.target_stds) == ([1.0] * 4 + [0.5] * 2 if oriented else [0.05, 0.05, 0.1, 0.1])
    assert s2.type == ('OrientedCoarseToFineRPNStage' if oriented else 'CoarseToFineRPNStage')
    assert head.in_channels == m.neck.out_channels
    rpn1, rpn2 = m.train_cfg.rpn
    assert rpn1.assigner.type == 'DynamicIoUAssigner' and rpn1.assigner.neg_iou_thr == 0.15
    assert rpn1.assigner.mode == 'official' and 'sampler' not in rpn1  # the rule behind the published numbers
    assert (rpn2.assigner.pos_iou_thr, rpn2.assigner.neg_iou_thr, rpn2.assigner.min_pos_iou) == (0.7, 0.7, 0.3)
    assert (rpn2.sampler.num, rpn2.sampler.pos_fraction) == (256, 0.5)
    p = m.train_cfg.rpn_proposal
    assert (p.nms_pre, p.max_per_img, p.nms.iou_threshold) == (2000, 300, 0.8)
    t = m.test_cfg.rpn
    assert (t.nms_pre, t.max_per_img, t.nms.iou_threshold) == (1000, 300, 0.5)
    assert 'rcnn' in m.train_cfg and 'rcnn' in m.test_cfg  # merged with the baseline, not replaced


PAPER_RULES = ['configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_paper-rules_1x_sodaa.py',
               'configs/cfinet/rotated-faster-rcnn_cfinet_paper-rules_tiny_sample.py',
               'configs/cfinet/oriented-rcnn_r50_fpn_cfinet_paper-rules_1x_sodaa.py',
               'configs/sodad/faster-rcnn_r50_fpn_cfinet_paper-rules_1x_sodad.py']


@pytest.mark.parametrize('path', PAPER_RULES)
def test_paper_rules_ablation_configs_switch_eq1_and_eq3_only(path):
    """The named ablation configs differ from their CFINet config only in the two modes."""
    cfg = Config.fromfile(path)
    ref = Config.fromfile(path.replace('_paper-rules', ''))
    m, r = cfg.model, ref.model
    assert m.train_cfg.rpn[0].assigner.mode == 'paper' and r.train_cfg.rpn[0].assigner.mode == 'official'
    assert m.roi_head.instance_quality.mode == 'paper' and r.roi_head.instance_quality.mode == 'official'
    m.train_cfg.rpn[0].assigner.mode = m.roi_head.instance_quality.mode = 'official'
    assert m.to_dict() == r.to_dict()


@pytest.mark.parametrize('path', TINY)
def test_tiny_detector_trains_and_predicts_on_cpu(path):
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    model.init_weights()
    size = 128
    samples = []
    for boxes in ([[40.0, 40.0, 12.0, 6.0, 0.4], [90.0, 70.0, 20.0, 20.0, -0.2]], []):
        s = DetDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size), ori_shape=(size, size),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(bboxes=RotatedBoxes(torch.tensor(boxes).reshape(-1, 5)),
                                      labels=torch.zeros(len(boxes), dtype=torch.long))
        samples.append(s)
    inputs = torch.rand(2, 3, size, size) * 255
    data = model.data_preprocessor(dict(inputs=list(inputs), data_samples=samples), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'s0.loss_rpn_reg', 's1.loss_rpn_cls', 's1.loss_rpn_reg', 'loss_cls', 'loss_bbox'} <= set(losses)
    total, _ = model.parse_losses(losses)
    assert math.isfinite(total.item())
    total.backward()
    model.eval()
    with torch.no_grad():
        x = model.extract_feat(data['inputs'][:1])
        proposals = model.rpn_head.predict(x, data['data_samples'][:1], rescale=False)
    expected = RotatedBoxes if 'oriented' in path else HorizontalBoxes
    assert isinstance(proposals[0].bboxes, expected) and 0 < len(proposals[0]) <= 300
