"""RNGStateHook: the random generators' states in every checkpoint, restored on ``--resume`` (bit-identical resume)."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from ...registry import register_module


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


@register_module('HOOKS')
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
    resume instead of continuing (not restored; see docs/deviations.md). In distributed runs every rank's state is
    saved (gathered when the CheckpointHook is about to save) and each rank gets its own back.
    """

    # before MMEngine's CheckpointHook (VERY_LOW) in after_train_iter / after_train_epoch, so that every rank's state
    # is gathered in the iteration (epoch) whose end rank 0 saves
    priority = 'LOW'

    def __init__(self):
        self._state = None
        self._gathered = None

    # ------------------------------------------------------------------ save
    @staticmethod
    def _saves_now(runner, by_epoch):
        """Whether the runner's CheckpointHook saves at the end of this iteration (epoch): its own rule."""
        from mmengine.hooks import CheckpointHook
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.by_epoch == by_epoch:
                if by_epoch:
                    return hook.every_n_epochs(runner, hook.interval, hook.save_begin) or (
                        hook.save_last and hook.is_last_train_epoch(runner))
                return hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner))
        return False

    def _gather(self, runner, by_epoch):
        from mmengine.dist import all_gather_object, get_world_size
        if get_world_size() > 1 and self._saves_now(runner, by_epoch):
            self._gathered = all_gather_object(get_rng_state())  # a collective: every rank runs this hook

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._gather(runner, by_epoch=False)

    def after_train_epoch(self, runner):
        self._gather(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint):
        # rank 0 only (``Runner.save_checkpoint`` is master-only: no collective may run here): its own state, and
        # in a distributed run every rank's, gathered at the end of this iteration (epoch) by :meth:`_gather`
        checkpoint['rng_state'] = get_rng_state()
        if self._gathered is not None:
            checkpoint['rng_state_per_rank'] = self._gathered
            self._gathered = None

    # ------------------------------------------------------------------ resume
    def after_load_checkpoint(self, runner, checkpoint):
        # only when resuming a training run (load_from of weights, test.py: nothing to restore); each rank takes its
        # own saved state, or, from a checkpoint of another world size (or one saved before per-rank states),
        # rank 0's, with a warning
        if not (runner._resume and 'rng_state' in checkpoint):
            return
        from mmengine.dist import get_dist_info
        from mmengine.logging import print_log
        rank, world = get_dist_info()
        per_rank = checkpoint.get('rng_state_per_rank')
        if per_rank is not None and len(per_rank) == world:
            self._state = per_rank[rank]
            return
        self._state = checkpoint['rng_state']
        if world > 1:
            saved = f'{len(per_rank)} ranks' if per_rank is not None else 'rank 0 only'
            print_log(f'RNGStateHook: the checkpoint has the generator states of {saved}, this run has {world} ranks: '
                      'every rank resumes with rank 0\'s state (the resume is not bit-identical)', logger='current',
                      level=30)

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
