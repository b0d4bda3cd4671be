"""The small-object levers of issue 23: focal loss, context RoIs, multi-scale TTA merge, the CRPN overrides, the
rotation and class-balanced configs, hand-computed where there is a formula."""
import math
from collections import Counter

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmrotate.registry import DATASETS, MODELS

import cfinet_rotated  # noqa: F401
from cfinet_rotated.datasets.sodaa_io import SODAA_CLASSES

LEVERS = 'configs/levers'


# --------------------------------------------------------------------------------------- 1. focal loss
def test_roi_focal_loss_hand_computed():
    """Two RoIs, two classes: logits (0, 0) of class 0 and (2, -1) of background (label 2), gamma 2, alpha 0.25.
    RoI 1: 0.25 * 0.5^2 * ln 2 (class 0, positive) + 0.75 * 0.5^2 * ln 2 (class 1) = 0.25 ln 2 = 0.17329;
    RoI 2: 0.75 * s(2)^2 * -ln(1 - s(2)) + 0.75 * s(-1)^2 * -ln(1 - s(-1)) = 1.23756 + 0.01699.
    Sum 1.42784 over one foreground RoI ('pos'), or over the head's avg_factor 2 ('all')."""
    from cfinet_rotated.models.levers import RoIFocalLoss
    x, t = torch.tensor([[0., 0.], [2., -1.]]), torch.tensor([0, 2])
    s2, sm1 = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(1))
    expected = 0.25 * math.log(2) + 0.75 * s2 ** 2 * -math.log(1 - s2) + 0.75 * sm1 ** 2 * -math.log(1 - sm1)
    assert expected == pytest.approx(1.42784, abs=1e-5)
    assert float(RoIFocalLoss()(x, t)) == pytest.approx(expected, rel=1e-5)
    assert float(RoIFocalLoss(normalize='all')(x, t, avg_factor=2)) == pytest.approx(expected / 2, rel=1e-5)
    assert float(RoIFocalLoss(loss_weight=2.0)(x, t, weight=torch.tensor([1., 0.]))) == pytest.approx(
        2 * 0.25 * math.log(2), rel=1e-5)  # RoI 2 weighted out
    # scores: the C sigmoids and background prod(1 - p); accuracy over the C + 1 columns
    scores = RoIFocalLoss.get_activation(x)
    torch.testing.assert_close(scores[1], torch.tensor([s2, sm1, (1 - s2) * (1 - sm1)]))
    assert RoIFocalLoss.get_cls_channels(9) == 9
    assert float(RoIFocalLoss().get_accuracy(x, t)['acc']) == pytest.approx(50.0)  # RoI 2 argmax is class 0
    with pytest.raises(ValueError, match='use_sigmoid'):
        RoIFocalLoss(use_sigmoid=False)
    with pytest.raises(ValueError, match='normalize'):
        RoIFocalLoss(normalize='mean')


def test_focal_configs_build_sigmoid_heads_and_train_a_step():
    """Baseline and CFINet focal configs: RPN / CRPN stage 2 with FocalLoss (CRPN's weight still alpha2 = 0.9), a
    RoI classifier with num_classes outputs; a training step with finite losses and C + 1 scores at inference
    (the FI head's instance quality reads them through the head's activation)."""
    from mmdet.models.losses import FocalLoss
    from mmengine.optim import build_optim_wrapper

    from cfinet_rotated.models.levers import RoIFocalLoss

    from conftest import load_tool
    batch = load_tool('tools/analysis_tools/benchmark_speed.py').synthetic_batch(1, 256, 8)
    for name in ('rotated-faster-rcnn_focal_tiny_sample.py', 'rotated-faster-rcnn_cfinet_focal_tiny_sample.py'):
        cfg = Config.fromfile(f'{LEVERS}/{name}')
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        head = model.roi_head.bbox_head
        assert isinstance(head.loss_cls, RoIFocalLoss) and head.fc_cls.out_features == 9
        if 'cfinet' in name:
            s1, s2 = model.rpn_head.stages
            assert not s1.with_cls and isinstance(s2.loss_cls, FocalLoss) and s2.loss_cls.loss_weight == 0.9
        else:
            assert isinstance(model.rpn_head.loss_cls, FocalLoss)
        model.train()
        log = model.train_step(batch, build_optim_wrapper(model, cfg.optim_wrapper))
        assert torch.isfinite(log['loss']) and 'acc' in log
        model.eval()
        with torch.no_grad():
            feats = model.extract_feat(model.data_preprocessor(batch, False)['inputs'])
            cls_score = model.roi_head._bbox_forward(feats, torch.tensor([[0., 10., 10., 60., 50.]]))['cls_score']
        assert cls_score.shape == (1, 9) and head.loss_cls.get_activation(cls_score).shape == (1, 10)


# ---------------------------------------------------------------------------------------- 6. context
def test_context_extractors_pool_the_enlarged_roi_at_the_roi_own_level():
    """context_factor k = the plain extractor called with roi_scale_factor k (MMDetection maps the level first):
    a 60 x 60 RoI (level 0 under finest_scale 56) pooled as 120 x 120 from level 0, not from level 1."""
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
    from mmrotate.models.roi_heads.roi_extractors import RotatedSingleRoIExtractor

    from cfinet_rotated.models.levers import ContextRoIExtractor, RotatedContextRoIExtractor
    torch.manual_seed(0)
    feats = tuple(torch.randn(1, 4, 64 // 2 ** i, 64 // 2 ** i) for i in range(4))
    common = dict(out_channels=4, featmap_strides=[4, 8, 16, 32])
    plain = SingleRoIExtractor(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2), **common)
    ctx = ContextRoIExtractor(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2), context_factor=2.0,
                              **common)
    rois = torch.tensor([[0., 90., 90., 150., 150.]])
    assert plain.map_roi_levels(rois, 4).tolist() == [0]
    out = ctx(feats, rois)
    torch.testing.assert_close(out, plain(feats, rois, roi_scale_factor=2.0))
    big = torch.tensor([[0., 60., 60., 180., 180.]])  # the enlarged box as a RoI of its own: level 1
    assert plain.map_roi_levels(big, 4).tolist() == [1]
    assert not torch.allclose(out, plain(feats, big))
    assert torch.allclose(ctx(feats, rois, roi_scale_factor=1.0), plain(feats, rois))  # an explicit factor wins
    rplain = RotatedSingleRoIExtractor(roi_layer=dict(type='RoIAlignRotated', output_size=7, sampling_ratio=2,
                                                      clockwise=True), **common)
    rctx = RotatedContextRoIExtractor(roi_layer=dict(type='RoIAlignRotated', output_size=7, sampling_ratio=2,
                                                     clockwise=True), context_factor=1.5, **common)
    rrois = torch.tensor([[0., 120., 120., 40., 20., 0.5]])
    torch.testing.assert_close(rctx(feats, rrois), rplain(feats, rrois, roi_scale_factor=1.5))
    with pytest.raises(ValueError, match='context_factor'):
        ContextRoIExtractor(roi_layer=dict(type='RoIAlign', output_size=7), context_factor=0, **common)


# -------------------------------------------------------------------------------- 5. multi-scale testing
def test_rotated_tta_merges_views_with_rotated_nms_and_flips_back():
    """Two views of one patch: the same box found at both scales (IoU 1) is kept once, with the higher score; a
    horizontally flipped view's box (cx, cy, w, h, t) comes back as (W - cx, cy, w, h, -t)."""
    from mmdet.structures import DetDataSample
    from mmrotate.structures.bbox import RotatedBoxes

    from cfinet_rotated.models.levers import RotatedTTAModel
    class Detector(torch.nn.Module):  # the merge only; BaseTTAModel asks for a test_step
        def test_step(self, data):
            return data

    tta = RotatedTTAModel(module=Detector(),
                          tta_cfg=dict(nms=dict(type='nms_rotated', iou_threshold=0.5), max_per_img=10))
    views = []
    for score, flip, cx in ((0.9, False, 30.), (0.6, False, 30.), (0.8, True, 100. - 70.)):
        s = DetDataSample(metainfo=dict(ori_shape=(100, 100), flip=flip, flip_direction='horizontal'))
        box = torch.tensor([[cx, 20., 10., 4., 0.3 if not flip else -0.3]])
        if flip:
            box[0, 0] = 70.
        s.pred_instances = InstanceData(bboxes=RotatedBoxes(box), scores=torch.tensor([score]),
                                        labels=torch.tensor([0 if not flip else 1]))
        views.append(s)
    merged = tta._merge_single_sample(views).pred_instances
    rows = sorted(zip(merged.labels.tolist(), merged.scores.tolist(), merged.bboxes.tolist()))
    assert [(label, round(score, 2)) for label, score, _ in rows] == [(0, 0.9), (1, 0.8)]
    np.testing.assert_allclose(rows[1][2], [30., 20., 10., 4., 0.3], atol=1e-5)


def test_apply_tta_rewrites_the_test_pipeline_and_wraps_the_model():
    from cfinet_rotated.utils import apply_tta
    cfg = Config.fromfile('configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py')
    inner = cfg.model.copy()
    assert apply_tta(cfg, [1, 1.5]) == [1.0, 1.5]
    assert cfg.model.type == 'RotatedTTAModel' and cfg.model.module == inner
    assert cfg.model.tta_cfg.nms.type == 'nms_rotated' and cfg.model.tta_cfg.max_per_img == 2000
    pipe = cfg.test_dataloader.dataset.pipeline
    assert [t['type'] for t in pipe] == ['mmdet.LoadImageFromFile', 'TestTimeAug']
    views, pack = pipe[1]['transforms']
    assert [v['scale'] for v in views] == [(800, 800), (1200, 1200)] and pack[0]['type'] == 'mmdet.PackDetInputs'
    sodad = Config.fromfile('configs/sodad/faster-rcnn_tiny_sample.py')
    apply_tta(sodad, [2])
    assert sodad.model.tta_cfg.nms.type == 'nms'  # horizontal boxes
    with pytest.raises(ValueError, match='> 0'):
        apply_tta(Config.fromfile('configs/baselines/rotated-faster-rcnn_tiny_sample.py'), [0])


# ----------------------------------------------------------------------- CRPN overrides (levers 1 and 4)
def test_crpn_head_level_overrides_reach_its_stages():
    cfg = Config.fromfile('configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py')
    cfg.model.rpn_head.update(loss_cls=dict(type='mmdet.FocalLoss', use_sigmoid=True, loss_weight=3.0),
                              anchor_generator=dict(scales=[1.0]))
    model = MODELS.build(cfg.model)
    s1, s2 = model.rpn_head.stages
    assert type(s2.loss_cls).__name__ == 'FocalLoss' and s2.loss_cls.loss_weight == 0.9  # alpha2 wins
    assert s1.prior_generator.scales.tolist() == s2.prior_generator.scales.tolist() == [1.0]
    assert s1.prior_generator.strides == [(4, 4), (8, 8), (16, 16), (32, 32)]  # the rest of the generator kept


# ------------------------------------------------------------------------------------ 2. rotation
def test_rotate_configs_put_random_rotate_before_the_flip_with_storage_tanks_rectangular():
    for name, resize in (('rotated-faster-rcnn_rotate_tiny_sample.py', False),
                         ('rotated-faster-rcnn_r50_fpn_cfinet_rotate_1x_sodaa.py', True)):
        pipe = Config.fromfile(f'{LEVERS}/{name}').train_dataloader.dataset.pipeline
        types = [t['type'].split('.')[-1] for t in pipe]
        assert types == ['LoadImageFromFile', 'LoadAnnotations', 'ConvertBoxType', 'RandomRotate'] + \
            (['Resize'] if resize else []) + ['RandomFlip', 'PackDetInputs']
        rot = pipe[3]
        assert rot['rect_obj_labels'] == [SODAA_CLASSES.index('storage-tank')] and rot['angle_range'] == 180


def test_random_rotate_turns_a_patch_and_keeps_box_areas(sample_split):
    """Through the lever's pipeline (prob 1): boxes rotate with the image (each kept box has the area of one of the
    patch's boxes; those whose centre leaves the patch are dropped), a patch with a storage tank turns by a multiple
    of 90 degrees and the same patch without its tanks by any angle."""
    from mmcv.transforms import Compose
    from mmrotate.structures.bbox import qbox2rbox
    cfg = Config.fromfile(f'{LEVERS}/rotated-faster-rcnn_rotate_tiny_sample.py')
    ds_cfg = cfg.train_dataloader.dataset
    ds = DATASETS.build(dict(ds_cfg, data_root=f'{sample_split}/', pipeline=[]))
    pipe = Compose([dict(t, prob=1.0) if t['type'] == 'RandomRotate' else dict(t) for t in ds_cfg.pipeline[:4]])
    tank = SODAA_CLASSES.index('storage-tank')
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if any(x['bbox_label'] == tank for x in ds.get_data_info(i)['instances']))
    no_tank = dict(info, instances=[x for x in info['instances'] if x['bbox_label'] != tank])

    def angles(sample, n=8):
        out = []
        for seed in range(n):
            np.random.seed(seed)
            res = pipe(dict(sample))
            h = res['homography_matrix']
            out.append(math.degrees(math.atan2(h[1, 0], h[0, 0])))
            before = torch.tensor([x['bbox'] for x in sample['instances']], dtype=torch.float32)
            before = qbox2rbox(before)[:, 2:4].prod(dim=1)
            after = res['gt_bboxes'].areas
            assert 0 < len(after) <= len(before)
            assert torch.cdist(after[:, None], before[:, None]).min(dim=1).values.max() < 1e-2 * before.max()
        return out
    assert all(abs(a - 90 * round(a / 90)) < 1e-3 for a in angles(info))
    assert any(abs(a - 90 * round(a / 90)) > 1 for a in angles(no_tank))


# ------------------------------------------------------------------------------ 3. class-balanced sampling
def test_class_balanced_config_repeats_rare_class_patches(sample_split):
    """Repeat factor r_I = max(1, max_c sqrt(t / f_c)) over the classes c of image I (t = 0.1; f_c = share of
    images with class c), computed here by hand from the sample; MMEngine repeats each image ceil(r_I) times."""
    cfg = Config.fromfile(f'{LEVERS}/rotated-faster-rcnn_balanced_tiny_sample.py')
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.type == 'mmdet.ClassBalancedDataset' and ds_cfg.oversample_thr == 0.1
    inner = dict(ds_cfg.dataset, data_root=f'{sample_split}/', pipeline=[])
    ds = DATASETS.build(dict(ds_cfg, dataset=inner))
    plain = DATASETS.build(inner)
    n = len(plain)
    cats = [set(plain.get_cat_ids(i)) for i in range(n)]
    freq = Counter(c for s in cats for c in s)
    factors = [max([1.0] + [math.sqrt(0.1 / (freq[c] / n)) for c in s]) for s in cats]
    assert len(ds) == sum(math.ceil(f) for f in factors)
    assert (len(ds) > n) == any(f > 1 for f in factors)
