"""Training-engine pieces: the DDP wrapper for distributed runs on CPU (gloo), the non-finite loss/gradient
guard, the random-number-generator state in checkpoints (bit-identical resume) and the memory trim of long runs."""
import ctypes
import ctypes.util
import logging
import os
import random

import numpy as np
import torch
from mmengine import dist
from mmengine.device import get_device
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmengine.registry import HOOKS, MODEL_WRAPPERS
from mmengine.runner import IterBasedTrainLoop


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


class NonFiniteError(RuntimeError):
    """Raised by :class:`NonFiniteGuardHook` (mode ``'stop'``) before a step with a NaN/inf loss or gradient."""


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


# The root registry, searched from every scope (``mmrotate`` for our SODA-A and SODA-D configs, ``mmdet``)
@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop the run, or skip the step, when a loss term or a gradient is NaN or infinite, before any weight
    changes.

    Why not a plain ``after_train_iter`` check: MMEngine's ``model.train_step`` parses the losses, runs
    backward and steps the optimizer (``OptimWrapper.update_params``) in one call, so every hook point after
    it is too late. At ``before_train`` this hook therefore wraps two methods of the run's own objects (instance
    attributes only, undone at ``after_train``; the classes are untouched, so any optim wrapper type and
    ``--amp`` keep working):

    * the model's ``parse_losses``: records the loss terms (keys containing ``'loss'``, as MMEngine sums them)
      that are not finite, with the iteration;
    * the optim wrapper's ``step`` (called by ``update_params`` after backward, before gradient clipping and
      ``optimizer.step``): checks the gradients of all optimised parameters, then, if a loss term or a
      gradient was non-finite, either raises :class:`NonFiniteError` naming the loss term(s) or parameter(s)
      and the iteration (``mode='stop'``), or does not step (``mode='skip'``): ``update_params`` then zeroes the
      gradients as after every step, the skip is counted, logged as a warning and as the scalar
      ``train/nonfinite_skips``, and the count is saved in checkpoints.

    The decision is taken at ``step`` for both checks so that under DDP all ranks take the same one: the flag
    is all-reduced (max) there, where every rank arrives together; gradients are already all-reduced (a NaN on
    one rank is a NaN on all). With gradient accumulation a bad loss anywhere in the window stops or skips the
    window's one step. With :class:`~mmengine.optim.AmpOptimWrapper` infinite gradients are the loss scaler's
    business (it skips those steps and lowers the scale by design), so only loss terms are checked.

    What ``skip`` does not undo: the forward pass of the skipped iteration has already run, so state updated in
    forward (BatchNorm running statistics, FI exemplars pushed by the RoI head) is kept, and the parameter
    schedulers still advance (the iteration counts). ``stop`` raises before backward has any effect on weights,
    so the last checkpoint is a clean point to resume from (``--resume``) after fixing the cause.

    Args:
        mode (str): ``'stop'`` (default) or ``'skip'``.
        check_grads (bool): also check gradients (default True; one ``isfinite`` over the gradient norms per
            step, per-parameter only when that finds something).
    """

    priority = 'VERY_HIGH'

    def __init__(self, mode='stop', check_grads=True):
        if mode not in ('stop', 'skip'):
            raise ValueError(f"NonFiniteGuardHook: mode must be 'stop' or 'skip', got {mode!r}")
        self.mode = mode
        self.check_grads = check_grads
        self.num_skipped = 0
        self._pending = []  # (iteration, [loss term names]) since the last step
        self._restore = []

    # ------------------------------------------------------------------------------------------ install
    def before_train(self, runner):
        self._runner = runner
        model = _unwrap(runner.model)
        self._param_names = {id(p): n for n, p in model.named_parameters()}
        self._patch(model, 'parse_losses', self._guarded_parse_losses(model.parse_losses))
        wrappers = runner.optim_wrapper.values() if isinstance(runner.optim_wrapper, OptimWrapperDict) \
            else [runner.optim_wrapper]
        for ow in wrappers:
            self._patch(ow, 'step', self._guarded_step(ow, ow.step))

    def after_train(self, runner):
        for obj, name, previous in reversed(self._restore):
            if previous is None:
                delattr(obj, name)  # back to the class's method
            else:
                setattr(obj, name, previous)
        self._restore = []
        if self.num_skipped:
            print_log(f'NonFiniteGuardHook: {self.num_skipped} optimizer step(s) skipped for NaN/inf in this run',
                      logger='current', level=logging.WARNING)

    def _patch(self, obj, name, fn):
        # an instance attribute may be there already: MMEngine's parameter schedulers wrap ``optim_wrapper.step``
        # with a call counter (and check for its ``_with_counter`` mark); ours calls it and keeps the mark
        previous = vars(obj).get(name)
        if getattr(previous, '_nonfinite_guard', False):
            raise RuntimeError(f'NonFiniteGuardHook: {type(obj).__name__}.{name} is guarded twice (two guard hooks?)')
        fn._nonfinite_guard = True
        if getattr(previous, '_with_counter', False):
            fn._with_counter = True
        setattr(obj, name, fn)
        self._restore.append((obj, name, previous))

    # ---------------------------------------------------------------------------------------- the checks
    def _iteration(self):
        return self._runner.iter + 1  # 1-based, as the log prints it

    def _guarded_parse_losses(self, parse_losses):
        def wrapped(losses):
            loss, log_vars = parse_losses(losses)
            names = [k for k, v in log_vars.items() if k != 'loss' and 'loss' in k]
            values = torch.stack([log_vars[k].detach().float().reshape(()) for k in names] +
                                 [loss.detach().float().reshape(())])
            finite = torch.isfinite(values)
            if not bool(finite.all()):
                bad = [n for n, ok in zip(names, finite[:-1].tolist()) if not ok] or ['loss (the sum of finite '
                                                                                     'terms overflowed)']
                self._pending.append((self._iteration(), bad))
            return loss, log_vars
        return wrapped

    def _bad_grads(self, optim_wrapper):
        params = [p for g in optim_wrapper.optimizer.param_groups for p in g['params'] if p.grad is not None]
        if not params:
            return []
        norms = torch.stack([g.detach().float().norm() for g in (p.grad for p in params)])
        if bool(torch.isfinite(norms).all()):
            return []
        return [self._param_names.get(id(p), f'<parameter {i}>') for i, p in enumerate(params)
                if not bool(torch.isfinite(p.grad).all())]

    def _guarded_step(self, optim_wrapper, step):
        amp = isinstance(optim_wrapper, AmpOptimWrapper)

        def wrapped(**kwargs):
            pending, self._pending = self._pending, []
            bad_grads = self._bad_grads(optim_wrapper) if self.check_grads and not amp else []
            flag = torch.tensor(float(bool(pending or bad_grads)), device=get_device())
            if dist.is_distributed():
                dist.all_reduce(flag, op='max')
            if not bool(flag.item()):
                return step(**kwargs)
            what = []
            for it, names in pending:
                what.append(f'loss term(s) {", ".join(names)} at iteration {it}')
            if bad_grads:
                shown = ', '.join(bad_grads[:5]) + (f' and {len(bad_grads) - 5} more' if len(bad_grads) > 5 else '')
                what.append(f'gradient(s) of {shown} at iteration {self._iteration()}')
            if not what:
                what.append(f'a NaN/inf on another rank at iteration {self._iteration()}')
            msg = 'non-finite (NaN/inf) ' + '; '.join(what)
            if self.mode == 'stop':
                raise NonFiniteError(f'{msg}. The run stops before this optimizer step (weights unchanged); '
                                     "resume from the last checkpoint after fixing the cause, or set "
                                     "NonFiniteGuardHook mode='skip' to skip such steps")
            self.num_skipped += 1
            self._runner.message_hub.update_scalar('train/nonfinite_skips', self.num_skipped)
            print_log(f'NonFiniteGuardHook: {msg}: optimizer step skipped ({self.num_skipped} skipped so far)',
                      logger='current', level=logging.WARNING)
        return wrapped

    # --------------------------------------------------------------------------------- checkpoint state
    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint.setdefault('meta', {})['nonfinite_skips'] = self.num_skipped

    def after_load_checkpoint(self, runner, checkpoint):
        if runner._resume:  # training resumed (not --load-from, not test.py)
            self.num_skipped = int(checkpoint.get('meta', {}).get('nonfinite_skips', 0))


def get_rng_state():
    """The states of Python's, NumPy's and torch's global generators, as plain lists and tensors (loadable under
    ``torch.load(weights_only=True)``)."""
    np_state = np.random.get_state()
    state = dict(python=random.getstate(),
                 numpy=[np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore what :func:`get_rng_state` returned."""
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the global random generators' states in every checkpoint and restore them on ``--resume``, so that a
    resumed run draws the same random numbers as the uninterrupted one (data augmentation in the main process,
    RoI sampling, the FI head's negative sampling).

    MMEngine saves model, optimizer, schedulers, message hub and the iteration, but no generator state: after a
    resume the runner re-seeds from ``randomness.seed``, which is the state of iteration 0, not of the checkpoint.
    Where the state is put back matters: :class:`~mmengine.runner.IterBasedTrainLoop` replays the first ``iter``
    batches of the data loader after resuming (``Advance dataloader ... steps``), which runs the data pipeline and
    so draws random numbers; the saved state is therefore restored right before the first batch that is actually
    trained, by wrapping the loop's data-loader iterator until then. Epoch-based loops resume at an epoch start
    and get the state back at ``before_train_epoch``. Data-loader workers (``num_workers > 0``) keep their own
    generators, seeded by MMEngine's ``worker_init_fn`` (seed, rank and worker id) and advanced by the replay, so
    iteration-based runs also match with workers; persistent workers of an epoch-based run are re-seeded at
    resume instead of continuing (not restored; see docs/deviations.md).
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._state = None

    def before_save_checkpoint(self, runner, checkpoint):
        # rank 0 only (``Runner.save_checkpoint`` is master-only: no collective may run here)
        checkpoint['rng_state'] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint):
        # only when resuming a training run (load_from of weights, test.py: nothing to restore); in distributed
        # runs every rank gets rank 0's state (the other ranks' states are not saved)
        if runner._resume and 'rng_state' in checkpoint:
            self._state = checkpoint['rng_state']

    def before_train_epoch(self, runner):
        if self._state is None:
            return
        state, self._state = self._state, None
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfter(loop.dataloader_iterator, loop.iter, state)
        else:
            set_rng_state(state)


class _RestoreAfter:
    """Iterator proxy: passes ``skip`` items through, restores ``state`` before fetching the next one, and from
    then on is transparent."""

    def __init__(self, it, skip, state):
        self._it, self._skip, self._state = it, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self._state is not None:
            if self._skip == 0:
                set_rng_state(self._state)
                self._state = None
            else:
                self._skip -= 1
        return next(self._it)

    def __getattr__(self, name):
        return getattr(self._it, name)


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


@HOOKS.register_module()
class MemoryTrimHook(Hook):
    """Keep the resident memory of a long training run flat: every ``interval`` iterations give the heap memory
    that the process has freed back to the operating system, and cap the message hub's per-iteration scalar
    history of the training run.

    Why (measured with ``tools/soak.py``, tiny CFINet, one thread; numbers in docs/deviations.md): without this
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
