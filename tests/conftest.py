import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# under pytest-xdist (`make test`: 2 workers on 2 cores) each worker and the tools it starts use one thread, so the
# workers do not oversubscribe the cores; a tool test that wants more threads passes OMP_NUM_THREADS itself
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = '1'
    torch.set_num_threads(1)


# tests that need a GPU: skipped without one, selected on a GPU machine with `pytest -m cuda` (tools/device_check.sh)
CUDA_MARKS = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason='needs a CUDA GPU (tools/device_check.sh runs it on one)')]


def CUDA_ONLY(test):  # noqa: N802 (a decorator, named as the marks it applies)
    for mark in CUDA_MARKS:
        test = mark(test)
    return test


@pytest.fixture(params=['cpu', pytest.param('cuda', marks=CUDA_MARKS)])
def device(request):
    """Each device torch can use: 'cpu' always, 'cuda' where a GPU is visible (issue 24)."""
    return request.param


@pytest.fixture(autouse=True)
def _mmrotate_scope():
    """Every test starts in MMRotate's registry scope, whatever scope the previous test left behind: under
    pytest-xdist a worker runs the files in another order than a serial run, so a scope set at import time or by an
    earlier test is not enough. A test that builds in MMDetection's scope (SODA-D) sets it in its own body."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmrotate')


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    """Configs use paths relative to the repository root, as the tools do."""
    monkeypatch.chdir(ROOT)


def run_tool(*args, timeout=600, check=True, env=None):
    """Run a repository tool as a user would (a ``.py`` with this Python, a ``.sh`` with bash and this Python
    as ``PYTHON``); return the CompletedProcess (stdout+stderr in .stdout). ``env``: extra variables."""
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '2'),
           'PYTHON': PY, **(env or {})}
    program = ['bash'] if str(args[0]).endswith('.sh') else [PY]
    proc = subprocess.run([*program, *map(str, args)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited with {proc.returncode}:\n{proc.stdout[-6000:]}')
    return proc


def data_options(split):
    """``--cfg-options`` that point a tiny sample config's train and test data at ``split``."""
    return [f'train_dataloader.dataset.data_root={split}/', f'test_dataloader.dataset.data_root={split}/']


@pytest.fixture(scope='session')
def sample_split(tmp_path_factory):
    """The embedded raw sample split with the split tool, once per test session."""
    out = tmp_path_factory.mktemp('sample') / 'split'
    run_tool('tools/data/sodaa_split.py', '--src', ROOT / 'data/sample', '--dst', out, '--workers', 2)
    return out


def load_tool(path):
    """A repository tool (``tools/....py``) loaded as a module, to call its ``main(argv)`` in this process."""
    path = ROOT / path
    spec = importlib.util.spec_from_file_location(f'_tool_{path.stem}', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def run_main(capsys):
    """Run a tool's ``main(argv)`` in this process (no interpreter start-up): -> (returncode, stdout, stderr)."""
    def run(script, *args):
        rc = load_tool(script).main([str(a) for a in args])
        cap = capsys.readouterr()
        return SimpleNamespace(returncode=rc, stdout=cap.out, stderr=cap.err)
    return run
