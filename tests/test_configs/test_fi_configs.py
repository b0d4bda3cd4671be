"""The FI-only and CFINet configs: what they set, and one CPU training step + prediction of the tiny ones."""

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmrotate.registry import MODELS

import cfinet_rotated  # noqa: F401

from conftest import load_tool

FULL = ['configs/fi/rotated-faster-rcnn_r50_fpn_fi_1x_sodaa.py', 'configs/fi/oriented-rcnn_r50_fpn_fi_1x_sodaa.py',
        'configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py',
        'configs/cfinet/oriented-rcnn_r50_fpn_cfinet_1x_sodaa.py']
TINY = ['configs/fi/rotated-faster-rcnn_fi_tiny_sample.py', 'configs/fi/oriented-rcnn_fi_tiny_sample.py',
        'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py',
        'configs/cfinet/oriented-rcnn_cfinet_tiny_sample.py']


@pytest.mark.parametrize('path', FULL + TINY)
def test_config_values(path):
    cfg = Config.fromfile(path)
    roi = cfg.model.roi_head
    assert roi.type == 'FIRoIHead' and roi.feature_reweight is False
    assert roi.instance_quality.mode == 'official' and roi.instance_quality.high_thr == 0.65
    assert roi.instance_quality.min_num_preds == 8
    assert roi.loss_fi.temperature == 0.6 and roi.loss_fi.loss_weight == 0.5
    assert roi.quality_weights == (0.5, 0.1, 0.05) and roi.exemplar_capacity == 256
    assert roi.feat2embed.hidden_channels == 512 and roi.feat2embed.embed_channels == 128
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['roi_head.feat2embed.mlp'].lr_mult == 0.05
    sampler = cfg.model.train_cfg.rcnn.sampler
    assert (sampler.num, sampler.pos_fraction, sampler.add_gt_as_proposals) == (256, 0.5, True)
    rotated_rois = 'oriented' in path
    assert (roi.bbox_roi_extractor.type == 'RotatedSingleRoIExtractor') == rotated_rois
    assert (cfg.model.rpn_head.type == 'CoarseToFineRPNHead') == ('cfinet' in path)
    assert roi.feat2embed.norm_cfg.num_groups == (32 if path in FULL else 8)  # >= 2 channels per group
    if path in FULL:
        assert cfg.model.backbone.depth == 50 and cfg.optim_wrapper.optimizer.lr == 0.01
        assert cfg.train_cfg.max_epochs == 12
        # the paper's schedule: 4 images per step at lr 0.01, scaled for other GPU counts
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.auto_scale_lr.enable is True and cfg.auto_scale_lr.base_batch_size == 4
    else:
        assert cfg.auto_scale_lr.enable is False  # the tiny configs keep lr 0.01 for their batch of 1


@pytest.mark.parametrize('path', TINY)
def test_tiny_fi_detectors_train_and_predict(path):
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    mlp_group = [g for g in optim.optimizer.param_groups
                 if any(p is model.roi_head.feat2embed.mlp[0].weight for p in g['params'])]
    assert mlp_group[0]['lr'] == pytest.approx(cfg.optim_wrapper.optimizer.lr * 0.05)
    batch = load_tool('tools/analysis_tools/benchmark_speed.py').synthetic_batch(2, 256, 8)
    model.roi_head.instance_quality.high_thr = 0.0  # make exemplars from the first step
    model.roi_head.instance_quality.min_num_preds = 0
    model.train()
    log = model.train_step(batch, optim)
    assert 'loss_fi' in log and torch.isfinite(log['loss_fi'])
    # a random RPN rarely puts a proposal on a gt: only gts with a sampled prediction can become exemplars
    # (test_fi_roi_head.py covers filling the set); the counts are logged either way
    assert log['fi_exemplars'] == len(model.roi_head.exemplar_set)
    assert 0 <= log['fi_unmeasured_gts'] <= 16 and 'fi_exemplars_c8' in log
    model.eval()
    with torch.no_grad():
        out = model.test_step(dict(inputs=batch['inputs'][:1], data_samples=[batch['data_samples'][0]]))
    assert out[0].pred_instances.bboxes.shape[-1] == 5
