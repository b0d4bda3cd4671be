"""Every tool's ``--help`` (tools/**/*.py, found by globbing, so new tools are covered):
it exits 0, shows every option's default, has help text for every option and a usage example in the description.

All tools run ``--help`` in one child process (one import of torch/mmdet instead of one per tool), each through
``runpy`` as ``__main__`` with ``argparse.ArgumentParser.parse_known_args`` wrapped to keep the parser it was
called on, so the checks read the parser itself, not only its text.

A tool without a command line declares it with a line ``# tool-without-argparse: <reason>`` in its source; it is
then skipped with that reason (no tool needs it at present).
"""
import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT

NO_ARGPARSE = re.compile(r'^# tool-without-argparse: (.+)$', re.M)
TOOLS = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob('tools/**/*.py'))

CHILD = r'''
import argparse, contextlib, io, json, runpy, sys
tools = json.loads(sys.argv[1])
orig = argparse.ArgumentParser.parse_known_args
seen = []
def spy(self, args=None, namespace=None):
    seen.append(self)
    return orig(self, args, namespace)
argparse.ArgumentParser.parse_known_args = spy
report = {}
for tool in tools:
    seen.clear()
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [tool, '--help']
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(tool, run_name='__main__')
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException as e:  # noqa: BLE001
            code, err = -1, io.StringIO(f'{type(e).__name__}: {e}')
    p = seen[0] if seen else None
    report[tool] = dict(
        code=code, out=out.getvalue(), err=err.getvalue()[-3000:],
        parser=None if p is None else dict(
            description=p.description or '',
            defaults_formatter=issubclass(p.formatter_class, argparse.ArgumentDefaultsHelpFormatter),
            actions=[dict(option_strings=a.option_strings, dest=a.dest, help=a.help,
                          default=repr(a.default), required=a.required,
                          is_help=isinstance(a, argparse._HelpAction) or argparse.SUPPRESS in (a.default, a.help))
                     for a in p._actions]))
print('@@REPORT@@' + json.dumps(report))
'''


@pytest.fixture(scope='module')
def help_report():
    tools = [t for t in TOOLS if not NO_ARGPARSE.search((ROOT / t).read_text())]
    proc = subprocess.run([sys.executable, '-c', CHILD, json.dumps(tools)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**__import__('os').environ, 'PYTHONPATH': str(ROOT)})
    assert '@@REPORT@@' in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.split('@@REPORT@@', 1)[1])


def test_tools_are_found():
    for tool in ('tools/train.py', 'tools/data/sodaa_split.py', 'tools/analysis_tools/plot_size_ap.py',
                 'tools/model_converters/publish_model.py', 'tools/setup/mmcv_build.py'):
        assert tool in TOOLS
    assert len(TOOLS) >= 20


@pytest.mark.parametrize('tool', TOOLS)
def test_help_shows_defaults_help_texts_and_an_example(tool, help_report):
    declared = NO_ARGPARSE.search((ROOT / tool).read_text())
    if declared:
        pytest.skip(f'{tool} has no command line: {declared.group(1)}')
    r = help_report[tool]
    assert r['code'] == 0, f'{tool} --help exited with {r["code"]}: {r["err"]}'
    assert r['out'].startswith('usage:'), r['out'][:500]
    p = r['parser']
    assert p is not None, f'{tool}: no argparse parser was used'
    # a usage example: the tool's own command line in the description
    assert re.search(rf'(python|bash) {re.escape(tool)}', p['description']), \
        f'{tool}: the description has no usage example "python {tool} ..."'
    for a in p['actions']:
        if a['is_help']:
            continue
        name = '/'.join(a['option_strings']) or a['dest']
        assert a['help'] and a['help'].strip(), f'{tool}: option {name} has no help text'
        assert p['defaults_formatter'] or '%(default)' in a['help'], \
            f'{tool}: --help does not show the default of {name} (use cfinet_rotated.cli.tool_parser)'
    # and the defaults really are printed, one '(default: ...)' per optional argument (unset/off included),
    # e.g. eval_sodaa's --max-dets 20000 and plot_size_ap's --labels (unset)
    options = [a for a in p['actions'] if a['option_strings'] and not a['is_help'] and not a['required']]
    shown = len(re.findall(r'\(default:\s', r['out']))  # argparse may wrap '(default:' and its value apart
    assert shown >= len(options), f"{tool}: {len(options)} options but {shown} defaults shown:\n{r['out']}"
