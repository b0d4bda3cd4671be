"""NonFiniteGuardHook: stop (or skip) a training step whose loss or gradient is NaN/inf, before any weight changes."""
import logging

import torch
from mmengine import dist
from mmengine.device import get_device
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict

from ...registry import register_module


class NonFiniteError(RuntimeError):
    """Raised by :class:`NonFiniteGuardHook` (mode ``'stop'``) before a step with a NaN/inf loss or gradient."""


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@register_module('HOOKS')
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
