import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    """Configs use paths relative to the repository root, as the tools do."""
    monkeypatch.chdir(ROOT)


def run_tool(*args, timeout=600, check=True):
    """Run a repository tool as a user would; return the CompletedProcess (stdout+stderr in .stdout)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '2'))
    proc = subprocess.run([PY, *map(str, args)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited with {proc.returncode}:\n{proc.stdout[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def sample_split(tmp_path_factory):
    """The embedded raw sample split with the split tool, once per test session."""
    out = tmp_path_factory.mktemp('sample') / 'split'
    run_tool('tools/data/sodaa_split.py', '--src', ROOT / 'data/sample', '--dst', out, '--workers', 2)
    return out
