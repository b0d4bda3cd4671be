"""Training hooks, one per file (registered in MMEngine's root ``HOOKS``, found from every scope)."""
from .memory_trim_hook import MemoryTrimHook
from .nonfinite_guard_hook import NonFiniteError, NonFiniteGuardHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = ['NonFiniteGuardHook', 'NonFiniteError', 'RNGStateHook', 'get_rng_state', 'set_rng_state',
           'MemoryTrimHook']
