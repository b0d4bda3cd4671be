"""The reconstruction configs (issue 21): what each one sets (the slides' ablations, CRPN / FI composition)."""
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
DIR = ROOT / 'configs/reconstruction'
CONFIGS = sorted(p for p in DIR.rglob('*.py') if '_base_' not in p.parts)


def test_every_pipeline_has_the_full_set():
    names = {str(p.relative_to(DIR)) for p in CONFIGS}
    for pipe in ('rotated-faster-rcnn', 'oriented-rcnn', 'sodad/faster-rcnn'):
        for variant in ('recon', 'recon_no-recon-loss', 'recon_no-adv', 'recon_no-cls', 'crpn_recon', 'cfinet_recon'):
            assert f'{pipe}_{variant}_tiny_sample.py' in names
    assert {'rotated-faster-rcnn_r50_fpn_recon_1x_sodaa.py', 'oriented-rcnn_r50_fpn_recon_1x_sodaa.py',
            'rotated-faster-rcnn_r50_fpn_cfinet_recon_1x_sodaa.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[str(p.relative_to(DIR)) for p in CONFIGS])
def test_config_values(path):
    cfg = Config.fromfile(str(path))
    name = path.name
    model, roi = cfg.model, cfg.model.roi_head
    assert model.type == 'ReconstructionFasterRCNN'
    assert roi.type == ('ReconstructionFIRoIHead' if '_cfinet_' in name else 'ReconstructionRoIHead')
    assert (model.rpn_head.type == 'CoarseToFineRPNHead') == ('_crpn_' in name or '_cfinet_' in name)
    if '_cfinet_' in name:  # FI settings of the CFINet config kept
        assert roi.loss_fi.loss_weight == 0.5 and roi.instance_quality.high_thr == 0.65
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys['roi_head.feat2embed.mlp'].lr_mult == 0.05
    assert (roi.loss_mse is None and roi.loss_tv is None) == ('no-recon-loss' in name)
    assert (roi.loss_adv is None) == ('no-adv' in name)
    assert (roi.loss_sr_cls is None) == ('no-cls' in name)
    assert roi.loss_sr_reg.loss_weight == 0.1 and roi.lr_features.factor == 2
    assert roi.sr_subsets == ['eS', 'rS'] and roi.hr_subsets == ['gS', 'Normal', 'larger']
    if roi.loss_adv is not None:
        assert roi.loss_adv.loss_weight == 1e-3 and roi.loss_disc.fake_weight == 1.0
    if roi.loss_mse is not None:
        assert roi.loss_mse.reduction == 'mean'
    # alternating updates: the detector's usual wrapper at the top, D's Adam beside it
    ow = cfg.optim_wrapper
    assert ow.constructor == 'ReconstructionOptimWrapperConstructor' and ow.optimizer.type == 'SGD'
    assert ow.discriminator.optimizer.type == 'Adam'
    tiny = 'tiny' in name
    assert roi.generator.mid_channels == (8 if tiny else 64)
    assert (roi.bbox_roi_extractor.type == 'RotatedSingleRoIExtractor') == name.startswith('oriented')
