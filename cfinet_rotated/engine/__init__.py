"""Training-engine pieces: the hooks (``engine/hooks/``, one per file) and the CPU DDP wrapper."""
from .hooks import MemoryTrimHook, NonFiniteError, NonFiniteGuardHook, RNGStateHook, get_rng_state, set_rng_state
from .model_wrappers import CPUDistributedDataParallel

__all__ = ['CPUDistributedDataParallel', 'NonFiniteGuardHook', 'NonFiniteError', 'RNGStateHook', 'get_rng_state',
           'set_rng_state', 'MemoryTrimHook']
