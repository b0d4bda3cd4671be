"""The package layout: one registration route, old module paths resolved or explained, no tool shelling from the
package, the size subsets defined once."""
import importlib
import re
import subprocess
import sys

import pytest

from conftest import ROOT

PACKAGE = ROOT / 'cfinet_rotated'
SOURCES = sorted(PACKAGE.rglob('*.py'))


def test_one_registration_route():
    """Only cfinet_rotated/registry.py calls a registry's register_module; everything else uses its decorator."""
    offenders = [str(p.relative_to(ROOT)) for p in SOURCES if p.name != 'registry.py'
                 and re.search(r'[A-Z_]+\.register_module\(', p.read_text())]
    assert not offenders, offenders


def test_our_classes_are_in_both_scopes_and_root_ones_in_root():
    import mmdet.registry
    import mmengine.registry
    import mmrotate.registry

    import cfinet_rotated  # noqa: F401
    from cfinet_rotated.registry import ROOT as ROOT_REGISTRIES
    from cfinet_rotated.registry import SCOPED, registries
    ours = 0
    for name in SCOPED:
        rot, det = getattr(mmrotate.registry, name), getattr(mmdet.registry, name)
        for key, cls in rot.module_dict.items():
            if cls.__module__.startswith('cfinet_rotated'):
                ours += 1
                assert det.module_dict.get(key) is cls, f'{key} is in mmrotate {name} but not in mmdet {name}'
        for key, cls in det.module_dict.items():
            if cls.__module__.startswith('cfinet_rotated'):
                assert rot.module_dict.get(key) is cls, f'{key} is in mmdet {name} but not in mmrotate {name}'
    assert ours >= 15
    for name in ROOT_REGISTRIES:
        assert registries(name) == [getattr(mmengine.registry, name)]
    for key in ('NonFiniteGuardHook', 'RNGStateHook', 'MemoryTrimHook'):
        assert mmengine.registry.HOOKS.get(key).__module__.startswith('cfinet_rotated.engine.hooks.')
    assert mmengine.registry.MODEL_WRAPPERS.get('CPUDistributedDataParallel') is not None
    with pytest.raises(ValueError, match='unknown registry'):
        registries('TRANSFORMZ')


def test_crpn_stages_build_by_plain_names_in_either_scope():
    """The stage types need no 'mmrotate.' prefix (registered in both libraries)."""
    from mmengine.registry import DefaultScope

    import cfinet_rotated  # noqa: F401
    from cfinet_rotated.models import CoarseToFineRPNHead
    stage = dict(type='CoarseToFineRPNStage', in_channels=8, feat_channels=8,
                 adapt_cfg=dict(type='dilation', dilation=3), with_cls=False, reg_decoded_bbox=True)
    for scope in ('mmrotate', 'mmdet'):
        with DefaultScope.overwrite_default_scope(scope):
            head = CoarseToFineRPNHead(stages=[stage, dict(stage, adapt_cfg=dict(type='offset'), with_cls=True)],
                                       in_channels=8, feat_channels=8)
        assert [type(s).__name__ for s in head.stages] == ['CoarseToFineRPNStage'] * 2


def test_the_package_neither_edits_sys_path_nor_runs_our_tools():
    for p in SOURCES:
        text = p.read_text()
        assert 'sys.path' not in text, f'{p}: edits sys.path'
        assert 'subprocess' not in text, f'{p}: runs a subprocess (importable code belongs in the package)'


def test_docstrings_reference_only_files_of_the_repository():
    for p in SOURCES:
        for ref in re.findall(r'([\w./-]+\.md)\b', p.read_text()):
            assert (ROOT / ref).is_file() or ref in ('README.md',), f'{p}: refers to {ref}, not in the repository'


def test_renamed_module_keeps_working_with_a_warning():
    import cfinet_rotated  # noqa: F401
    sys.modules.pop('cfinet_rotated.datasets.split', None)
    with pytest.warns(FutureWarning, match='cfinet_rotated.datasets.sodaa_split'):
        old = importlib.import_module('cfinet_rotated.datasets.split')
    new = importlib.import_module('cfinet_rotated.datasets.sodaa_split')
    assert old is new and old.sliding_windows is new.sliding_windows


def test_removed_module_names_the_new_place():
    import cfinet_rotated  # noqa: F401
    with pytest.raises(ImportError, match=r'cfinet_rotated\.ops_check.*tools/setup/mmcv_build\.py'):
        importlib.import_module('cfinet_rotated.mmcv_build')


def test_old_path_in_custom_imports_of_a_config(tmp_path):
    """A user config with the old module path in custom_imports still loads (in a fresh interpreter)."""
    cfg = tmp_path / 'old.py'
    cfg.write_text("custom_imports = dict(imports=['cfinet_rotated', 'cfinet_rotated.datasets.split'], "
                   "allow_failed_imports=False)\nx = 1\n")
    code = ('import warnings; warnings.simplefilter("error", FutureWarning)\n'
            'from mmengine.config import Config\n'
            'import cfinet_rotated\n'
            'warnings.simplefilter("default", FutureWarning)\n'
            f'print(Config.fromfile({str(cfg)!r}).x)')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith('1'), out.stderr[-2000:]


def test_size_subsets_defined_once_with_hand_values():
    from cfinet_rotated.evaluation import size_ap
    from cfinet_rotated.evaluation.plot import SUBSETS as PLOT_SUBSETS
    from cfinet_rotated.structures.size_subsets import AREA_RANGES, size_subset, size_subset_names, stat_key
    assert size_ap.DEFAULT_AREA_RANGES is AREA_RANGES
    assert list(AREA_RANGES.items()) == [('Small', (0, 1024)), ('eS', (0, 144)), ('rS', (144, 400)),
                                         ('gS', (400, 1024)), ('Normal', (1024, 2000))]
    assert [size_subset(a) for a in (0, 12 * 12, 144.01, 20 * 20, 400.5, 32 * 32, 1024.5, 2000, 2000.5)] == \
        ['eS', 'eS', 'rS', 'rS', 'gS', 'gS', 'Normal', 'Normal', 'larger']
    assert list(size_subset_names([100, 300, 5000])) == ['eS', 'rS', 'larger']
    assert stat_key('AP', 'Small') == 'AP' and stat_key('AR', 'Normal') == 'AR_N' and stat_key('AP', 'eS') == 'AP_eS'
    assert PLOT_SUBSETS[0] == ('Small', 'AP', 'AR') and PLOT_SUBSETS[-1] == ('Normal', 'AP_N', 'AR_N')
    # no other module spells the bounds out as a table of its own
    table = re.compile(r"\(\s*'eS'\s*,\s*\(?0\s*,\s*144")
    for p in list(SOURCES) + sorted((ROOT / 'tools').rglob('*.py')):
        if p.name != 'size_subsets.py':
            assert not table.search(p.read_text()), f'{p}: a second definition of the size subsets'
