"""The mmcv build decisions of tools/setup/setup_env.sh and the startup checks of tools/train.py / test.py, on CPU.

``tools/setup/mmcv_build.py``: which ops to build (FORCE_CUDA, TORCH_CUDA_ARCH_LIST, nvcc vs torch's CUDA), the
record of the installed build and when it forces a rebuild, the refusal of a GPU run with CPU-only ops.
``cfinet_rotated/preflight.py``: every missing input path of a config in one message, before any dataset is built.
"""
import os
import re
import sys

import pytest
from mmengine.config import Config

from cfinet_rotated import ops_check
from cfinet_rotated.preflight import InputError, check_inputs, dataset_paths, input_paths
from cfinet_rotated.utils import run_preflight

from conftest import ROOT, load_tool, run_tool

# setup tooling, not part of the package: loaded from its file as tools/setup/setup_env.sh runs it
mb = load_tool('tools/setup/mmcv_build.py')

NVCC_OUT = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Wed_Aug_20_01:58:59_PM_PDT_2025
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0
"""
TORCH_ARCHES = ['sm_75', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120']


# ----------------------------------------------------------------------------------------- build decisions
def test_parse_nvcc_version():
    assert mb.parse_nvcc_version(NVCC_OUT) == '13.0'
    assert mb.parse_nvcc_version('Cuda compilation tools, release 12.4, V12.4.131') == '12.4'
    assert mb.parse_nvcc_version('command not found') is None


def test_no_gpu_no_force_cuda_is_cpu_with_a_warning_and_the_old_cache_key():
    r = mb.decide_build(None, None, '13.0', [], None, TORCH_ARCHES)
    assert (r.flavour, r.explicit, r.cuda, r.arch_list) == ('cpu', False, None, None)
    assert 'FORCE_CUDA=1' in r.warnings[0] and 'refused' in r.warnings[0]
    # the cached CPU wheel of earlier setups is found under exactly this key
    assert r.cache_key('2.1.0', '2.14.1', '3.11') == 'mmcv-2.1.0-torch2.14.1-py3.11-cpu'


def test_force_cuda_builds_cuda_without_a_visible_gpu():
    r = mb.decide_build('1', '9.0', '13.0', [], '13.0', TORCH_ARCHES)
    assert (r.flavour, r.explicit, r.cuda, r.arch_list, r.warnings) == ('cuda', True, '13.0', '9.0', [])
    assert r.cache_key('2.1.0', '2.14.1', '3.11') == 'mmcv-2.1.0-torch2.14.1-py3.11-cuda13.0-sm90'
    r = mb.decide_build('1', '8.0;9.0+PTX', '13.0', [], '13.0')
    assert r.arch_list == '8.0;9.0+PTX' and r.cache_key('m', 't', 'p').endswith('-sm80_90+PTX')
    # no arch list and no GPU: every architecture of this torch, with a warning about the build time
    r = mb.decide_build('1', '', '13.0', [], '13.0', TORCH_ARCHES)
    assert r.arch_list == '7.5;8.0;8.6;9.0;10.0;12.0' and 'TORCH_CUDA_ARCH_LIST' in r.warnings[0]


def test_a_visible_gpu_builds_for_its_architecture():
    r = mb.decide_build(None, None, '13.0', ['9.0', '9.0'], '13.0', TORCH_ARCHES)
    assert (r.flavour, r.explicit, r.arch_list) == ('cuda', False, '9.0') and 'GPU visible' in r.reason


def test_force_cuda_0_is_cpu_on_purpose():
    r = mb.decide_build('0', None, '13.0', ['9.0'], None)
    assert (r.flavour, r.explicit, r.warnings) == ('cpu', True, [])


@pytest.mark.parametrize('args, message', [
    (('1', '9.0', '13.0', [], None), 'nvcc was not found'),
    ((None, None, '13.0', ['8.0'], None), 'nvcc was not found'),       # a GPU but no toolkit: no silent CPU build
    (('1', '9.0', '13.0', [], '12.4'), 'majors\nmust match'),
    (('1', '9.0', None, [], '13.0'), 'CPU-only build'),
    (('yes', None, '13.0', [], '13.0'), 'FORCE_CUDA=1'),
])
def test_impossible_requests_are_errors_that_say_what_to_do(args, message):
    with pytest.raises(mb.BuildError) as e:
        mb.decide_build(*args)
    text = str(e.value)
    assert re.search(message.replace('\n', ' '), text), text
    if 'nvcc' in message:
        assert 'FORCE_CUDA=0' in text and 'CUDA_HOME' in text and '13.0' in text


def test_nvcc_of_another_minor_is_a_warning():
    r = mb.decide_build('1', '9.0', '13.0', [], '13.1')
    assert r.flavour == 'cuda' and '13.1' in r.warnings[0]


def test_record_decides_when_to_rebuild():
    cpu_rec = dict(flavour='cpu', cuda=None, arch_list=None)
    cuda_rec = dict(flavour='cuda', cuda='13.0', arch_list='9.0')
    auto_cpu = mb.decide_build(None, None, '13.0', [], None)
    forced_cuda = mb.decide_build('1', '9.0', '13.0', [], '13.0')
    # the case: a CPU-only build from a login node is rebuilt when CUDA is asked for
    assert not mb.record_satisfies(cpu_rec, forced_cuda)
    assert mb.record_satisfies(cuda_rec, forced_cuda)
    assert not mb.record_satisfies(dict(cuda_rec, arch_list='8.0'), forced_cuda)
    assert not mb.record_satisfies(dict(cuda_rec, cuda='12.4'), forced_cuda)
    # setting up again without a GPU keeps a CUDA build; FORCE_CUDA=0 replaces it
    assert mb.record_satisfies(cuda_rec, auto_cpu) and mb.record_satisfies(cpu_rec, auto_cpu)
    assert not mb.record_satisfies(cuda_rec, mb.decide_build('0', None, '13.0', [], None))
    assert not mb.record_satisfies(None, auto_cpu)


def test_make_record_checks_the_build_and_round_trips(tmp_path):
    forced_cuda = mb.decide_build('1', '9.0', '13.0', [], '13.0')
    with pytest.raises(mb.BuildError, match='built with cpu ops although cuda'):
        mb.make_record(forced_cuda, mb.NO_CUDA, '2.1.0', '2.14.1')
    rec = mb.make_record(forced_cuda, '13.0', '2.1.0', '2.14.1')
    assert (rec['flavour'], rec['cuda'], rec['arch_list']) == ('cuda', '13.0', '9.0')
    mb.write_record(str(tmp_path), rec)
    assert mb.read_record(str(tmp_path)) == rec and mb.record_satisfies(mb.read_record(str(tmp_path)), forced_cuda)
    assert mb.read_record(str(tmp_path / 'nothing')) is None


def test_plan_and_record_commands_against_the_installed_mmcv(tmp_path, monkeypatch, capsys):
    """What setup_env.sh evaluates: the installed mmcv is probed (no record yet), compared with the request."""
    import mmcv
    import torch
    compiled = mb.compiled_cuda_version()
    assert compiled == mb.NO_CUDA or re.fullmatch(r'\d+\.\d+', compiled), compiled
    installed = 'cpu' if compiled == mb.NO_CUDA else 'cuda'
    versions = ['--venv', str(tmp_path), '--mmcv', mmcv.__version__, '--torch', torch.__version__, '--py', '3.11']

    def plan(request):
        monkeypatch.setattr(mb, 'live_request', lambda: request)
        assert mb.main(['plan', *versions]) == 0
        out = capsys.readouterr().out
        return dict(re.findall(r'^(\w+)=(.*)$', out, re.M))

    cpu = plan(mb.BuildRequest('cpu', explicit=True, reason='FORCE_CUDA=0'))
    cuda = plan(mb.decide_build('1', '9.0', '13.0', [], '13.0'))
    assert cpu['FLAVOUR'] == 'cpu' and cpu['KEY'] == f'mmcv-{mmcv.__version__}-torch{torch.__version__}-py3.11-cpu'
    assert cuda['FLAVOUR'] == 'cuda' and cuda['BUILD_ARCH_LIST'] == '9.0' and cuda['KEY'].endswith('-cuda13.0-sm90')
    assert cpu['MMCV_OK'] == ('1' if installed == 'cpu' else '0')
    assert cuda['MMCV_OK'] == '0'  # a probed CUDA build has no known arch list either: rebuilt once, then recorded
    if installed == 'cpu':
        monkeypatch.setattr(mb, 'live_request', lambda: mb.BuildRequest('cpu', reason='no GPU'))
        assert mb.main(['record', *versions]) == 0
        assert mb.read_record(str(tmp_path))['flavour'] == 'cpu'
        # a CUDA request with CPU-only ops installed: the record step refuses (the build did not do what was asked)
        monkeypatch.setattr(mb, 'live_request', lambda: mb.decide_build('1', '9.0', '13.0', [], '13.0'))
        os.remove(tmp_path / mb.RECORD_NAME)
        assert mb.main(['record', *versions]) == 1
        assert 'built with cpu ops although cuda' in capsys.readouterr().err


# --------------------------------------------------------------------------------------- startup refusal
def test_a_gpu_run_with_cpu_only_ops_is_refused():
    assert ops_check.check_ops_for_device(False, mb.NO_CUDA, None) is None
    with pytest.raises(ops_check.OpsDeviceError) as e:
        ops_check.check_ops_for_device(True, mb.NO_CUDA, '13.0')
    msg = str(e.value)
    assert 'built without CUDA' in msg and 'FORCE_CUDA=1' in msg and 'tools/setup/setup_env.sh' in msg
    assert 'CUDA_VISIBLE_DEVICES=' in msg
    with pytest.raises(ops_check.OpsDeviceError, match='compiled with CUDA 12.4 but torch uses CUDA 13.0'):
        ops_check.check_ops_for_device(True, '12.4', '13.0')
    assert ops_check.check_ops_for_device(True, '13.0', '13.0') == '13.0'


def test_entry_points_refuse_before_building_anything(monkeypatch):
    """The wiring of tools/train.py and test.py (``run_preflight``) with torch.cuda mocked to see a GPU."""
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(ops_check, 'compiled_cuda_version', lambda: ops_check.NO_CUDA)
    cfg = Config.fromfile(ROOT / 'configs/baselines/rotated-faster-rcnn_tiny_sample.py')
    cfg.train_dataloader.dataset.data_root = str(ROOT / 'data/sample') + '/'  # exists: only the ops check fails
    cfg.train_dataloader.dataset.ann_file = 'Annotations/'
    cfg.train_dataloader.dataset.data_prefix = dict(img_path='Images/')
    with pytest.raises(SystemExit) as e:
        run_preflight(cfg, 'train', 'tiny.py')
    assert str(e.value).startswith('train.py: error: a GPU is visible') and 'FORCE_CUDA=1' in str(e.value)


# ------------------------------------------------------------------------------------------- input checks
FULL_SODAA = ROOT / 'configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py'
FULL_SODAD = ROOT / 'configs/sodad/faster-rcnn_r50_fpn_cfinet_1x_sodad.py'


def _clear_env(monkeypatch):
    for k in ('SODAA_ROOT', 'SODAD_ROOT', 'CFINET_PRETRAINED'):
        monkeypatch.delenv(k, raising=False)


def test_missing_data_and_weights_are_named_in_one_message(monkeypatch, tmp_path):
    _clear_env(monkeypatch)
    monkeypatch.chdir(tmp_path)  # a folder without data/
    cfg = Config.fromfile(FULL_SODAA)
    with pytest.raises(InputError) as e:
        check_inputs(cfg, 'train', 'cfinet.py')
    msg = str(e.value)
    for path, option in [('data/SODA-A/divData/train/Annotations/', 'train_dataloader.dataset.data_root'),
                         ('data/SODA-A/divData/train/Images/', 'train_dataloader.dataset.data_root'),
                         ('data/pretrained/resnet50-0676ba61.pth', 'model.backbone.init_cfg.checkpoint')]:
        assert re.search(rf'^  {re.escape(path)}\s+\({re.escape(option)}\)$', msg, re.M), msg
    assert msg.startswith('cfinet.py: ') and 'SODAA_ROOT=' in msg and 'resnet50-0676ba61.pth' in msg
    assert 'https://download.pytorch.org/models/resnet50-0676ba61.pth' in msg
    if cfg.get('val_cfg'):
        assert 'data/SODA-A/rawData/val/Annotations/' in msg and '(val_evaluator.ann_dir)' in msg
    # test mode: the test split, its evaluator's ground truth and the checkpoint; no weights needed
    cfg.load_from = 'work_dirs/x/epoch_12.pth'
    with pytest.raises(InputError) as e:
        check_inputs(cfg, 'test', 'cfinet.py')
    msg = str(e.value)
    assert 'data/SODA-A/divData/test/Images/' in msg and 'data/SODA-A/rawData/test/Annotations/' in msg
    assert 'work_dirs/x/epoch_12.pth' in msg and 'resnet50' not in msg


def _make(paths):
    for p in paths:
        if p.endswith('/'):
            os.makedirs(p, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, 'w').close()


@pytest.mark.parametrize('config, var', [(FULL_SODAA, 'SODAA_ROOT'), (FULL_SODAD, 'SODAD_ROOT')])
def test_data_root_and_weights_from_the_environment(config, var, monkeypatch, tmp_path):
    """The configs read SODAA_ROOT / SODAD_ROOT and CFINET_PRETRAINED, so data elsewhere needs no symlink; every
    path of the config (datasets and evaluators) follows."""
    _clear_env(monkeypatch)
    root, weights = tmp_path / 'somewhere' / 'data', tmp_path / 'w' / 'r50.pth'
    monkeypatch.setenv(var, str(root))  # without the trailing slash
    monkeypatch.setenv('CFINET_PRETRAINED', str(weights))
    cfg = Config.fromfile(config)
    paths = [p for mode in ('train', 'test') for p, _, _ in input_paths(cfg, mode)]
    assert paths and all(p.startswith(str(root) + '/') or p == str(weights) for p in paths), paths
    with pytest.raises(InputError):
        check_inputs(cfg, 'train')
    _make(paths)
    check_inputs(cfg, 'train')
    check_inputs(cfg, 'test')


def test_dataset_wrappers_and_absolute_paths():
    ds = dict(type='ConcatDataset', datasets=[
        dict(type='RepeatDataset', times=2, dataset=dict(data_root='r/', ann_file='a.json',
                                                         data_prefix=dict(img='img/'))),
        dict(data_root='r/', ann_file='/abs/b.json', data_prefix=dict(img='/abs/img/'))])
    assert dataset_paths(ds, 'train_dataloader.dataset') == [
        ('r/a.json', 'train_dataloader.dataset.datasets.0.dataset.data_root'),
        ('r/img/', 'train_dataloader.dataset.datasets.0.dataset.data_root'),
        ('/abs/b.json', 'train_dataloader.dataset.datasets.1.ann_file'),
        ('/abs/img/', 'train_dataloader.dataset.datasets.1.data_prefix.img')]


def test_train_tool_stops_with_the_message_before_loading_data(tmp_path):
    proc = run_tool('tools/train.py', 'configs/baselines/rotated-faster-rcnn_tiny_sample.py', '--work-dir', tmp_path,
                    '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/nowhere/', check=False,
                    timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert f'{tmp_path}/nowhere/Annotations/' in proc.stdout and 'train.py: error:' in proc.stdout
    assert 'Traceback' not in proc.stdout and 'SODAA_ROOT' in proc.stdout
    assert not list(tmp_path.glob('*/*.log')), 'the runner was built before the check'


def test_find_nvcc_reads_the_version_and_the_toolkit(tmp_path, monkeypatch):
    home = tmp_path / 'cuda-13.0'
    (home / 'bin').mkdir(parents=True)
    (home / 'include').mkdir()
    (home / 'include' / 'cuda.h').write_text('')
    nvcc = home / 'bin' / 'nvcc'
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")  # echo: a builtin
    nvcc.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    monkeypatch.delenv('CUDA_PATH', raising=False)
    monkeypatch.delenv('CUDA_HOME', raising=False)
    assert mb.find_nvcc() == (None, None)
    monkeypatch.setenv('CUDA_HOME', str(home))
    assert mb.find_nvcc() == ('13.0', str(home))


def test_device_check_scripts_parse_and_stop_without_a_gpu(tmp_path):
    """tools/device_check.sh (issue 24) is valid bash, names every step in its help, and on a machine whose Python
    sees no GPU stops at once with exit status 1 and a message in its report (here: no GPU)."""
    import subprocess

    import torch
    for script in ('tools/device_check.sh', 'tools/setup/device_bundle.sh'):
        assert subprocess.run(['bash', '-n', script], cwd=ROOT).returncode == 0, script
    text = (ROOT / 'tools/device_check.sh').read_text()
    for step in ('install', 'mmcv', 'ops', 'tests', 'speed', 'train'):
        assert f'step_{step}()' in text and f'#   {step}' in text, step
    if torch.cuda.is_available():
        pytest.skip('a GPU is visible: the script would run its steps')
    env = {**os.environ, 'OUT': str(tmp_path), 'DEVICE_WORK': str(tmp_path / 'work'), 'PYTHON': sys.executable}
    proc = subprocess.run(['bash', 'tools/device_check.sh'], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 1
    assert 'has no torch that sees a CUDA GPU' in (tmp_path / 'device_check.txt').read_text()
