"""MemoryTrimHook: flat resident memory in long runs (freed heap back to the system, capped scalar history)."""
import ctypes
import ctypes.util
import logging
import os

from mmengine.hooks import Hook
from mmengine.logging import print_log

from ...registry import register_module


def _libc_function(name, argtypes):
    """A glibc function as a callable returning int, or None (not Linux/glibc: musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        fn = getattr(libc, name)
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes, fn.restype = argtypes, ctypes.c_int
    return fn


def _libc_malloc_trim():
    """glibc's ``malloc_trim(pad)``, or None."""
    return _libc_function('malloc_trim', [ctypes.c_size_t])


def _libc_mallopt():
    """glibc's ``mallopt(param, value)``, or None."""
    return _libc_function('mallopt', [ctypes.c_int, ctypes.c_int])


M_MMAP_THRESHOLD = -3  # glibc <malloc.h>


@register_module('HOOKS')
class MemoryTrimHook(Hook):
    """Keep the resident memory of a long training run flat: every ``interval`` iterations give the heap memory
    that the process has freed back to the operating system, and cap the message hub's per-iteration scalar
    history of the training run.

    Why (measured with ``tools/analysis_tools/soak.py``, tiny CFINet, one thread; numbers in docs/deviations.md):
    without this
    hook the resident set size (RSS) kept rising for thousands of iterations while the Python heap
    (``tracemalloc``) stayed flat and the RSS right after a ``malloc_trim(0)`` rose far less. The growth is memory
    that glibc's allocator keeps after tensors of varying shape (the numbers of proposals, ground truths and
    exemplars change every image) and the checkpoint serialisation buffer are freed, not live objects. A smaller
    source is MMEngine's own: every logged scalar appends to a ``HistoryBuffer`` that keeps up to a million values
    (16 bytes per key and iteration, 24 keys here) and is saved whole in every checkpoint.

    * ``malloc_trim(0)`` (glibc only; elsewhere this part is off and said once) after the iteration's other hooks,
      the checkpoint save included (priority ``LOWEST``, after ``CheckpointHook``), and after each validation.
      It costs a few milliseconds; the pages it returns are faulted in again when needed.
    * ``mmap_threshold`` (glibc only): at the start of training, allocations of at least this many bytes are
      pinned to ``mmap``, so that a freed large tensor goes back to the system at once. glibc starts at the same
      128 KiB but raises the threshold to the size of every large block freed (up to 32 MiB); after that, large
      tensors come from the heap, and the heap keeps growing with the mix of tensor sizes. Skipped when the
      user set ``MALLOC_MMAP_THRESHOLD_`` (the user's value stands); ``None``: glibc's dynamic threshold.
    * ``max_history``: the ``train/`` scalar histories keep their newest ``max_history`` values (at least the
      largest integer ``window_size`` of the log processor). Not applied, and said once, when the log processor
      has a ``'global'`` or ``'epoch'`` window, which reads the whole training history. ``None``: no cap.

    Args:
        interval (int): trim every this many training iterations (default 50).
        mmap_threshold (int | None): bytes from which allocations use ``mmap`` (default 131072, 128 KiB).
        max_history (int | None): newest values kept per training scalar (default 10,000).
    """

    priority = 'LOWEST'

    def __init__(self, interval=50, mmap_threshold=128 * 1024, max_history=10000):
        if interval < 1:
            raise ValueError(f'MemoryTrimHook: interval must be >= 1, got {interval}')
        if mmap_threshold is not None and not 0 < mmap_threshold <= 32 * 1024 * 1024:
            raise ValueError(f'MemoryTrimHook: mmap_threshold must be in (0, 32 MiB] or None, got {mmap_threshold}')
        if max_history is not None and max_history < 1:
            raise ValueError(f'MemoryTrimHook: max_history must be >= 1 or None, got {max_history}')
        self.interval = interval
        self.mmap_threshold = mmap_threshold
        self.max_history = max_history
        self._trim = _libc_malloc_trim()
        self._mallopt = _libc_mallopt()
        self._cap = max_history  # widened to the log processor's windows, or dropped, at before_train
        self.num_trims = 0

    def pin_mmap_threshold(self):
        """Pin glibc's mmap threshold to ``mmap_threshold``; returns whether it was set."""
        if self.mmap_threshold is None or self._mallopt is None or 'MALLOC_MMAP_THRESHOLD_' in os.environ:
            return False
        return bool(self._mallopt(M_MMAP_THRESHOLD, int(self.mmap_threshold)))

    def before_train(self, runner):
        if self._trim is None:
            print_log('MemoryTrimHook: malloc_trim is not available (not glibc): freed memory is left to the '
                      'allocator; only the scalar history is capped', logger='current', level=logging.INFO)
        self.pin_mmap_threshold()
        self._cap = self.max_history
        if self._cap is not None:
            custom = getattr(runner.log_processor, 'custom_cfg', None) or []
            windows = [c.get('window_size') for c in custom] + [getattr(runner.log_processor, 'window_size', 10)]
            if any(w in ('global', 'epoch') for w in windows):
                print_log("MemoryTrimHook: the log processor has a 'global' or 'epoch' window, which reads the "
                          'whole history: the scalar history is not capped', logger='current', level=logging.INFO)
                self._cap = None
            else:
                self._cap = max([self._cap] + [w for w in windows if isinstance(w, int)])

    def trim(self):
        """Return freed heap memory to the operating system now (no-op without glibc)."""
        if self._trim is not None:
            self._trim(0)
            self.num_trims += 1

    def _cap_history(self, runner):
        if self._cap is None:
            return
        for key, buf in runner.message_hub.log_scalars.items():
            if key.startswith('train/') and buf.max_length > self._cap:
                buf.max_length = self._cap  # MMEngine's own update() drops the oldest values from its next call

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.every_n_train_iters(runner, self.interval):
            self._cap_history(runner)
            self.trim()

    def after_val_epoch(self, runner, metrics=None):
        self.trim()
