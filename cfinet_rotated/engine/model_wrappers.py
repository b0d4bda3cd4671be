"""The DDP wrapper for distributed runs on machines without a GPU (gloo)."""
from mmengine.model import MMDistributedDataParallel

from ..registry import register_module


@register_module('MODEL_WRAPPERS')
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for processes without a GPU.

    MMEngine's runner passes ``device_ids=[LOCAL_RANK]`` to every DDP wrapper, which torch's DDP refuses for a
    CPU module; CPU DDP takes ``device_ids=None``. Selected by :func:`cfinet_rotated.utils.setup_cpu_distributed`.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)
