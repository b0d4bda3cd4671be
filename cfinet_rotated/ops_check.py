"""The startup check of ``tools/train.py`` and ``tools/test.py``: do mmcv's compiled ops fit the device?

mmcv's setup.py compiles the CUDA kernels only when ``FORCE_CUDA=1`` or when torch sees a GPU at build time, so a
setup on a login node without a GPU can produce CPU-only ops; a CUDA run then fails deep inside the first
iteration. :func:`check_ops_for_device` refuses such a run at startup and says how to rebuild. The build decisions
themselves are setup tooling (``tools/setup/mmcv_build.py``, run by ``tools/setup/setup_env.sh``), which also reads
:func:`compiled_cuda_version` and :data:`NO_CUDA` from this file; so this module imports only the standard library at
module level (torch and mmcv inside the functions).
"""
NO_CUDA = 'not available'  # what mmcv's get_compiling_cuda_version() returns for ops built without CUDA
REBUILD_HINT = ('rebuild mmcv\'s ops with CUDA on a machine with the CUDA toolkit (nvcc of torch\'s CUDA version): '
                'FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="<compute capability of your GPUs, e.g. 8.0 for A100, 9.0 for '
                'H100/H200>" bash tools/setup/setup_env.sh  (docs/get_started.md, "GPU setup")')


class OpsDeviceError(RuntimeError):
    """The installed mmcv ops cannot serve the device this run would use."""


def _major(version):
    return str(version).split('.')[0]



def compiled_cuda_version():
    """mmcv's ``get_compiling_cuda_version()`` ('not available' for CPU-only ops); None if mmcv.ops fails."""
    try:
        from mmcv.ops import get_compiling_cuda_version
        return get_compiling_cuda_version()
    except Exception:  # noqa: BLE001  (no or a broken mmcv: unknown, setup reinstalls it)
        return None


def check_ops_for_device(cuda_available=None, compiled_cuda=None, torch_cuda=None):
    """Refuse a run on a CUDA device when mmcv's ops were built without CUDA (or for another CUDA major).

    MMEngine puts the model on the GPU whenever ``torch.cuda.is_available()``; mmcv's CPU-only ops then fail
    inside the first iteration (``nms_impl: implementation for device cuda:0 not found``). Arguments default to
    the live values (torch, mmcv); tests pass them. Returns the compiled CUDA version (or None)."""
    if cuda_available is None:
        import torch
        cuda_available, torch_cuda = torch.cuda.is_available(), torch.version.cuda
    if not cuda_available:
        return None
    if compiled_cuda is None:
        compiled_cuda = compiled_cuda_version()
    if compiled_cuda is None:
        return None  # mmcv.ops does not even import: its own error will say why
    hide = 'To run on the CPU on purpose, hide the GPUs: CUDA_VISIBLE_DEVICES= python tools/...'
    if compiled_cuda == NO_CUDA:
        raise OpsDeviceError(
            'a GPU is visible, so this run would use it, but mmcv\'s compiled ops were built without CUDA '
            '(mmcv.ops.get_compiling_cuda_version() = "not available"): NMS, RoIAlign(Rotated) and CRPN\'s '
            f'deformable convolution would fail in the first iteration. To fix it, {REBUILD_HINT}. {hide}')
    if torch_cuda and _major(compiled_cuda) != _major(torch_cuda):
        raise OpsDeviceError(f'mmcv\'s ops were compiled with CUDA {compiled_cuda} but torch uses CUDA {torch_cuda}: '
                             f'{REBUILD_HINT}. {hide}')
    return compiled_cuda
