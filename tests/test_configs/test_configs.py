"""Every config in configs/ loads, registers its modules through custom_imports and builds its model."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert {'rotated-faster-rcnn_r50_fpn_1x_sodaa.py', 'oriented-rcnn_r50_fpn_1x_sodaa.py',
            'rotated-faster-rcnn_tiny_sample.py', 'oriented-rcnn_tiny_sample.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[str(p.relative_to(ROOT / 'configs')) for p in CONFIGS])
def test_config_builds(path):
    from mmengine.utils import import_modules_from_strings
    from mmrotate.registry import MODELS

    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmrotate'
    assert 'cfinet_rotated' in cfg.custom_imports['imports']
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    sodad = path.parent.name == 'sodad'  # SODA-D: MMDetection's Faster R-CNN, horizontal boxes
    # DOTA v1.0 and DIOR-R (issue 22): their datasets, class lists and ground-truth formats
    data = {'dota': ('DOTAPatchDataset', 15, 'dota'), 'dior': ('DIORRDataset', 20, 'dior')}.get(path.parent.name)
    expected_type, expected_classes = ('SODADDataset' if sodad else 'SODAADataset'), 9
    if data:
        expected_type, expected_classes, ann_format = data
        assert cfg.test_evaluator.ann_format == ann_format
        assert len(cfg.test_evaluator.classes) == expected_classes
    train_set = cfg.train_dataloader.dataset
    while 'dataset' in train_set:  # dataset wrappers (the class-balanced lever, configs/levers/)
        train_set = train_set.dataset
    assert train_set.type == expected_type
    assert cfg.test_evaluator.type == ('SODADMetric' if sodad else 'SODAAMetric')
    n_cls = cfg.model.roi_head.bbox_head.num_classes
    assert n_cls == expected_classes
    model = MODELS.build(cfg.model)
    assert model.roi_head.bbox_head.num_classes == expected_classes
    if 'tiny' in path.name:
        assert cfg.model.backbone.init_cfg is None, 'tiny configs must not need ImageNet weights'
        # the release config trains on its own generated set (tools/misc/make_release_checkpoint.sh), the others on
        # the sample
        train_root = 'data/release_train_split/' if path.name.endswith('_tiny_release.py') else \
            ('data/sample_sodad_split/' if sodad else 'data/dota_example_split/' if data else 'data/sample_split/')
        assert train_set.data_root == train_root
        assert cfg.auto_scale_lr.enable is False  # lr 0.01 for the batch of 1, as written
    else:
        # the paper's schedule: 4 images per step at lr 0.01, scaled by MMEngine for other GPU counts
        assert cfg.train_dataloader.batch_size == 4 and cfg.optim_wrapper.optimizer.lr == 0.01
        assert cfg.auto_scale_lr.enable is True and cfg.auto_scale_lr.base_batch_size == 4
        assert cfg.model.backbone.init_cfg.type == 'Pretrained'
        assert not str(cfg.model.backbone.init_cfg.checkpoint).startswith(('torchvision://', 'http')), \
            'full configs take ImageNet weights from a local path'


@pytest.mark.parametrize('folder', ['cfinet', 'reconstruction', 'levers'])
def test_metafile_lists_every_config_of_its_folder(folder):
    """configs/<folder>/metafile.yml (OpenMMLab model index) names each config of the folder, and only existing ones;
    its README exists."""
    import yaml
    meta = yaml.safe_load((ROOT / f'configs/{folder}/metafile.yml').read_text(encoding='utf-8'))
    listed = {m['Config'] for m in meta['Models']}
    on_disk = {str(p.relative_to(ROOT)) for p in CONFIGS if p.parts[len(ROOT.parts) + 1] == folder}
    assert listed == on_disk, (sorted(on_disk - listed), sorted(listed - on_disk))
    assert len(listed) == len(meta['Models']), 'a config is listed twice'
    assert all((ROOT / c['README']).is_file() for c in meta['Collections'])
