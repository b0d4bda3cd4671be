"""`make demo` (tools/misc/demo_sample.sh) as a newcomer sees it: the steps, the AP tables, where the results are;
no deprecation noise of the stack and no MMEngine environment dump (those go to the logs)."""
import pytest

from conftest import PY, run_tool


@pytest.mark.slow
def test_demo_output_is_readable():
    out = run_tool('tools/misc/demo_sample.sh', env=dict(PYTHON=PY), timeout=1200).stdout
    assert 'pkg_resources' not in out and 'DeprecationWarning' not in out
    assert 'PyTorch compiling details' not in out and 'System environment' not in out  # MMEngine's dump: in train.log
    for step in ('== 1/5', '== 2/5', '== 3/5', '== 4/5', '== 5/5'):
        assert step in out
    assert out.count('Average Precision  (AP) @[ IoU=0.50:0.95 | area=    eS') == 2  # the smoke run and the release
    last = out.strip().splitlines()
    assert last[-1].startswith('== done: pictures of the detections in ')
    assert any(line.startswith('| windmill') for line in last[-12:])  # the per-class AP table just before
