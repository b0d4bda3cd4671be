"""Training-engine pieces: the DDP wrapper for distributed runs on CPU (gloo)."""
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


# MMEngine's root registry: the runner looks wrappers up with ``MODEL_WRAPPERS.get``, which does not search the
# scoped child registries (mmrotate's)
@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for processes without a GPU.

    MMEngine's runner passes ``device_ids=[LOCAL_RANK]`` to every DDP wrapper, which torch's DDP refuses for a
    CPU module; CPU DDP takes ``device_ids=None``. Selected by :func:`cfinet_rotated.utils.setup_cpu_distributed`.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)
