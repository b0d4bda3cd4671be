"""Which flavour of mmcv's compiled ops to build, and whether the installed ones fit (setup tooling).

mmcv's setup.py compiles the CUDA kernels only when ``FORCE_CUDA=1`` or when torch sees a GPU at build time, so
a setup on a login node without a GPU used to produce CPU-only ops silently. The decisions live here, as plain
functions that are unit-tested on CPU (``tests/test_tools/test_setup_checks.py``):

* :func:`decide_build` -- the requested flavour (``cpu``/``cuda``), CUDA version and ``TORCH_CUDA_ARCH_LIST``
  from ``FORCE_CUDA``, ``TORCH_CUDA_ARCH_LIST``, torch's CUDA, the visible GPUs and ``nvcc --version``; a
  :class:`BuildError` with the fix when the request cannot be built (no nvcc, nvcc of another CUDA major).
* :func:`record_satisfies` -- whether the installed build (the record ``<venv>/.cfinet-mmcv-build.json``
  written after installing it, or a probe of the installed mmcv) is what was requested, else setup rebuilds.

The run-time side (``tools/train.py``/``test.py`` refuse a CUDA device with CPU-only ops) is
:func:`cfinet_rotated.ops_check.check_ops_for_device`. ``tools/setup/setup_env.sh`` runs this file
(``python tools/setup/mmcv_build.py plan|record ...``) before this package is installed, so it reads
``cfinet_rotated/ops_check.py`` by its file path, and imports only the standard library at module level.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field


def _load_ops_check():
    path = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'cfinet_rotated', 'ops_check.py')
    spec = importlib.util.spec_from_file_location('_cfinet_ops_check', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ops = _load_ops_check()
NO_CUDA, compiled_cuda_version, _major = _ops.NO_CUDA, _ops.compiled_cuda_version, _ops._major

RECORD_NAME = '.cfinet-mmcv-build.json'

class BuildError(RuntimeError):
    """The requested build is impossible here; the message says why and what to do."""


@dataclass
class BuildRequest:
    """What setup_env.sh should install. ``explicit``: asked for by ``FORCE_CUDA`` (else chosen automatically)."""
    flavour: str                      # 'cpu' or 'cuda'
    explicit: bool = False
    cuda: str = None                  # torch's CUDA version the ops are built for ('13.0'); None for cpu
    arch_list: str = None             # TORCH_CUDA_ARCH_LIST for the build ('9.0', '8.0;9.0'); None for cpu
    reason: str = ''
    warnings: list = field(default_factory=list)
    cuda_home: str = None             # the toolkit of the nvcc found (set by live_request)

    def cache_key(self, mmcv, torch, py):
        """Wheel-cache folder name. The CPU key is the one older setups used, so their cached wheel is reused."""
        key = f'mmcv-{mmcv}-torch{torch}-py{py}-{self.flavour}'
        if self.flavour == 'cuda':
            key += self.cuda + '-sm' + '_'.join(a.replace('.', '') for a in split_arch_list(self.arch_list))
        return key


def split_arch_list(arch_list):
    """``'8.0;9.0+PTX'`` or ``'8.0 9.0'`` -> ``['8.0', '9.0+PTX']`` (the separators torch accepts)."""
    return [a for a in re.split(r'[;\s,]+', arch_list or '') if a]


def parse_nvcc_version(text):
    """``'Cuda compilation tools, release 13.0, V13.0.88'`` -> ``'13.0'``; None if there is no release line."""
    m = re.search(r'release (\d+)\.(\d+)', text or '')
    return f'{m.group(1)}.{m.group(2)}' if m else None


def decide_build(force_cuda, arch_list, torch_cuda, gpu_arches, nvcc_version, torch_arch_list=()):
    """The build to request.

    Args:
        force_cuda: the ``FORCE_CUDA`` environment value (None/'' unset, '1' CUDA, '0' CPU-only on purpose).
        arch_list: ``TORCH_CUDA_ARCH_LIST`` (None/'' unset).
        torch_cuda: ``torch.version.cuda`` (None for a CPU-only torch).
        gpu_arches: compute capabilities of the visible GPUs (``['9.0']``); empty without a visible GPU.
        nvcc_version: from :func:`parse_nvcc_version`, None when nvcc was not found.
        torch_arch_list: ``torch.cuda.get_arch_list()`` (``['sm_80', 'sm_90']``), the fallback architectures
            for a CUDA build without a visible GPU and without ``TORCH_CUDA_ARCH_LIST``.
    Rules: ``FORCE_CUDA=0`` -> cpu. ``FORCE_CUDA=1`` or a visible GPU -> cuda, which needs a CUDA torch and an
    nvcc of the same CUDA major as torch (a different minor is a warning). Otherwise cpu, with a warning that
    GPU runs will be refused. A visible GPU without nvcc is an error, not a silent CPU build.
    """
    fc = (force_cuda or '').strip()
    if fc not in ('', '0', '1'):
        raise BuildError(f'FORCE_CUDA={force_cuda!r}: use FORCE_CUDA=1 (build the CUDA kernels) or FORCE_CUDA=0 '
                         '(CPU-only ops on purpose)')
    if fc == '0':
        return BuildRequest('cpu', explicit=True, reason='FORCE_CUDA=0')
    if fc != '1' and not gpu_arches:
        return BuildRequest('cpu', reason='no GPU visible and FORCE_CUDA not set', warnings=[
            'building CPU-only mmcv ops: GPU runs will be refused at startup. On a login node without a GPU, '
            'build the CUDA kernels with FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=<your GPUs> (README, "GPU setup").'])
    reason = 'FORCE_CUDA=1' if fc == '1' else f'GPU visible (compute capability {", ".join(gpu_arches)})'
    how_cpu = ('or set FORCE_CUDA=0 to build CPU-only ops on purpose (runs on a GPU will then be refused)')
    if not torch_cuda:
        raise BuildError(f'CUDA ops requested ({reason}) but the installed torch is a CPU-only build '
                         f'(torch.version.cuda is None): install a CUDA build of torch, {how_cpu}')
    if nvcc_version is None:
        raise BuildError(f'CUDA ops requested ({reason}) but nvcc was not found (looked in $CUDA_HOME/bin and on '
                         f'PATH): install the CUDA toolkit {torch_cuda} (torch.version.cuda) and put its bin/ on PATH '
                         f'or set CUDA_HOME (e.g. module load cuda/{torch_cuda}), {how_cpu}')
    warnings = []
    if _major(nvcc_version) != _major(torch_cuda):
        raise BuildError(f'nvcc is CUDA {nvcc_version} but torch was built with CUDA {torch_cuda}: the CUDA majors '
                         f'must match (torch refuses to compile extensions otherwise). Put the CUDA {torch_cuda} '
                         f'toolkit first on PATH / in CUDA_HOME, {how_cpu}')
    if nvcc_version != torch_cuda:
        warnings.append(f'nvcc is CUDA {nvcc_version}, torch was built with CUDA {torch_cuda}: same major, '
                        'usually fine; use the same version if the build or the kernels fail')
    if split_arch_list(arch_list):
        arches = ';'.join(split_arch_list(arch_list))
    elif gpu_arches:
        arches = ';'.join(sorted(set(gpu_arches)))
    else:
        arches = ';'.join(f'{a[3:-1]}.{a[-1]}' for a in torch_arch_list if re.fullmatch(r'sm_\d{2,3}', a))
        if not arches:
            raise BuildError('no GPU visible and TORCH_CUDA_ARCH_LIST not set: set it to the compute capability '
                             'of the GPUs you will use, e.g. TORCH_CUDA_ARCH_LIST=9.0')
        warnings.append(f'no GPU visible and TORCH_CUDA_ARCH_LIST not set: building for every architecture of '
                        f'this torch ({arches}), which takes several times longer; set TORCH_CUDA_ARCH_LIST to '
                        'your GPUs\' compute capability (e.g. 9.0) to build only that')
    return BuildRequest('cuda', explicit=fc == '1', cuda=torch_cuda, arch_list=arches, reason=reason,
                        warnings=warnings)


def record_satisfies(record, request):
    """Whether the installed build (``record``: a dict as written by :func:`make_record`, or None when unknown)
    is what ``request`` asks for. An automatic CPU request (no GPU, no FORCE_CUDA) keeps an installed CUDA build:
    setting up again on a login node must not downgrade it."""
    if not record:
        return False
    if request.flavour == 'cpu':
        return record.get('flavour') == 'cpu' or (record.get('flavour') == 'cuda' and not request.explicit)
    return (record.get('flavour') == 'cuda' and _major(record.get('cuda') or '') == _major(request.cuda)
            and split_arch_list(record.get('arch_list')) == split_arch_list(request.arch_list))


def make_record(request, compiled_cuda, mmcv, torch):
    """The record of an installed build; ``compiled_cuda``: mmcv's ``get_compiling_cuda_version()``.
    A build whose ops do not match the request (e.g. CUDA asked for, CPU-only built) is a :class:`BuildError`."""
    built = 'cpu' if compiled_cuda in (None, '', NO_CUDA) else 'cuda'
    kept = built == 'cuda' and request.flavour == 'cpu' and not request.explicit  # see record_satisfies
    if built != request.flavour and not kept:
        raise BuildError(f'mmcv was built with {built} ops although {request.flavour} ops were requested '
                         f'({request.reason}); remove the cached wheel and rerun tools/setup/setup_env.sh')
    return dict(flavour=built, cuda=None if built == 'cpu' else compiled_cuda,
                arch_list=request.arch_list if built == request.flavour == 'cuda' else None, mmcv=mmcv, torch=torch,
                reason=request.reason)


def read_record(venv):
    path = osp.join(venv, RECORD_NAME)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_record(venv, record):
    with open(osp.join(venv, RECORD_NAME), 'w') as f:
        json.dump(record, f, indent=1)


# ---------------------------------------------------------------------------------- used by setup_env.sh
def find_nvcc():
    """``(version, toolkit folder)`` of ``$CUDA_HOME/bin/nvcc`` or the nvcc on PATH (``nvcc --version`` parsed; the
    folder with ``include/cuda.h``, for CUDA_HOME, or None); ``(None, None)`` when there is no nvcc."""
    candidates = [osp.join(os.environ[k], 'bin', 'nvcc') for k in ('CUDA_HOME', 'CUDA_PATH') if os.environ.get(k)]
    candidates.append(shutil.which('nvcc'))
    for nvcc in candidates:
        if nvcc and osp.isfile(nvcc):
            try:
                out = subprocess.run([nvcc, '--version'], capture_output=True, text=True, timeout=60).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            version = parse_nvcc_version(out)
            # the toolkit holds include/cuda.h; nvcc on PATH may be a symlink or a wrapper script elsewhere
            homes = [osp.dirname(osp.dirname(osp.realpath(nvcc))), f'/usr/local/cuda-{version}', '/usr/local/cuda']
            return version, next((h for h in homes if osp.isfile(osp.join(h, 'include', 'cuda.h'))), None)
    return None, None


def live_request():
    """:func:`decide_build` with this machine's environment, torch and nvcc (the request's ``cuda_home``: the
    toolkit of that nvcc, exported as CUDA_HOME for the build unless set)."""
    import torch
    gpu_arches = []
    if torch.cuda.is_available():
        gpu_arches = ['%d.%d' % torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    torch_arch_list = torch.cuda.get_arch_list() if torch.version.cuda else []
    needs_nvcc = os.environ.get('FORCE_CUDA', '').strip() == '1' or gpu_arches
    nvcc_version, cuda_home = find_nvcc() if needs_nvcc else (None, None)
    request = decide_build(os.environ.get('FORCE_CUDA'), os.environ.get('TORCH_CUDA_ARCH_LIST'), torch.version.cuda,
                           gpu_arches, nvcc_version, torch_arch_list)
    request.cuda_home = cuda_home if request.flavour == 'cuda' else None
    return request


def installed_record(venv, mmcv_version):
    """The record of the installed mmcv, or one probed from it for installs made before records existed;
    None when mmcv is missing, of another version, or broken."""
    from importlib import metadata
    try:
        if metadata.version('mmcv') != mmcv_version:
            return None
    except metadata.PackageNotFoundError:
        return None
    record = read_record(venv)
    if record and record.get('mmcv') == mmcv_version:
        return record
    compiled = compiled_cuda_version()
    if compiled is None:
        return None
    return dict(flavour='cpu' if compiled == NO_CUDA else 'cuda', cuda=None if compiled == NO_CUDA else compiled,
                arch_list=None, mmcv=mmcv_version, probed=True)


def main(argv=None):
    p = argparse.ArgumentParser(
        description='mmcv build decisions for tools/setup/setup_env.sh.\n\n'
                    'example: python tools/setup/mmcv_build.py plan --venv .venv --mmcv 2.1.0 --torch 2.14.1 '
                    '--py 3.11',
        formatter_class=type('F', (argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter), {}))
    p.add_argument('command', choices=['plan', 'record'],
                   help='plan: print shell assignments (FLAVOUR, KEY, BUILD_ARCH_LIST, MMCV_OK, INSTALLED); '
                        'record: write the record of the freshly installed mmcv')
    p.add_argument('--venv', required=True, help='the virtual environment')
    p.add_argument('--mmcv', required=True, help='mmcv version')
    p.add_argument('--torch', required=True, help='torch version')
    p.add_argument('--py', required=True, help='Python major.minor')
    args = p.parse_args(argv)
    try:
        request = live_request()
        if args.command == 'plan':
            record = installed_record(args.venv, args.mmcv)
            if not record_satisfies(record, request):  # about to build or install: say what and why
                for w in request.warnings:
                    print(f'setup: WARNING: {w}', file=sys.stderr)
            installed = 'none' if not record else record['flavour'] + (
                f' (CUDA {record.get("cuda")}, arch {record.get("arch_list") or "unknown"})'
                if record['flavour'] == 'cuda' else '')
            values = dict(FLAVOUR=request.flavour, KEY=request.cache_key(args.mmcv, args.torch, args.py),
                          BUILD_ARCH_LIST=request.arch_list or '', BUILD_CUDA_HOME=request.cuda_home or '',
                          REASON=request.reason,
                          MMCV_OK=int(record_satisfies(record, request)), INSTALLED=installed)
            print('\n'.join(f'{k}={shlex.quote(str(v))}' for k, v in values.items()))
        else:
            import torch
            old = read_record(args.venv)
            if old and old.get('mmcv') == args.mmcv and record_satisfies(old, request):
                print(f'setup: mmcv ops: {old["flavour"]}, as recorded in {osp.join(args.venv, RECORD_NAME)}')
                return 0
            record = make_record(request, compiled_cuda_version(), args.mmcv, torch.__version__)
            write_record(args.venv, record)
            print(f'setup: mmcv ops: {record["flavour"]}' + (
                f' (CUDA {record["cuda"]}, TORCH_CUDA_ARCH_LIST={record["arch_list"]})'
                if record['flavour'] == 'cuda' else '') + f', recorded in {osp.join(args.venv, RECORD_NAME)}')
    except BuildError as e:
        print(f'setup: ERROR: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
