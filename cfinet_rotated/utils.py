"""Helpers shared by the entry points in tools/."""
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction


def mmengine_checkpoint_globals():
    """A context in which ``torch.load(weights_only=True)`` (torch >= 2.6 default) reads MMEngine checkpoints.

    mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; its checkpoints pickle the message hub's
    ``HistoryBuffer`` (numpy arrays inside, and its statistics methods as ``getattr(HistoryBuffer, 'min')``)
    and numpy scalars, which the safe unpickler rejects, so ``--resume`` and ``tools/test.py`` fail
    (open-mmlab/mmengine#1655). Instead of turning the check off, this allow-lists exactly those globals,
    only while the entry point runs. ``getattr`` only reads attributes of objects that are themselves
    allow-listed; calling what it returns is still refused unless that is allow-listed too.
    """
    from mmengine.logging import HistoryBuffer
    core = getattr(np, '_core', None) or np.core
    allowed = [HistoryBuffer, np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar,
               getattr]
    allowed += [type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool')]
    return torch.serialization.safe_globals(allowed)


def load_config(args):
    """Config from ``args.config`` with ``--cfg-options``, ``--work-dir`` and ``--launcher`` applied."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    apply_tensorboard(cfg)
    return cfg


def apply_tensorboard(cfg):
    """``tensorboard = True`` in a config, or ``--cfg-options tensorboard=True``, adds MMEngine's
    ``TensorboardVisBackend`` to the visualizer (event files in ``WORK_DIR/<timestamp>/vis_data/``), beside the
    local backend. Needs the optional ``tensorboard`` package (``requirements/optional.txt``)."""
    if not cfg.get('tensorboard', False):
        return False
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise SystemExit('error: tensorboard=True needs the tensorboard package: '
                         'pip install -r requirements/optional.txt') from None
    if cfg.get('visualizer') is None:
        raise SystemExit('error: tensorboard=True: the config has no visualizer to add the TensorBoard backend to')
    backends = list(cfg.visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any('Tensorboard' in str(b.get('type', '')) for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer.vis_backends = backends
    return True


def apply_amp(cfg):
    """Mixed precision (``tools/train.py --amp``, ``benchmark_speed.py --amp``): the config's optimizer wrapper
    becomes MMEngine's ``AmpOptimWrapper`` (float16 autocast on the GPU) with a dynamic loss scale. The
    reconstruction's wrapper dict (``optim_wrapper.discriminator``: one wrapper per model part, built by
    ``ReconstructionOptimWrapperConstructor``) is left as it is. Returns False when nothing changed: AMP already
    set in the config, or the wrapper dict."""
    if 'discriminator' in cfg.optim_wrapper or cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        return False
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'
    return True


def apply_grad_accumulation(cfg, counts=None):
    """Gradient accumulation: one optimizer step every ``counts`` iterations, MMEngine's
    ``optim_wrapper.accumulative_counts`` (each iteration's loss divided by ``counts``), so that fewer GPUs reach
    the reference batch: 1 GPU x 2 images x ``counts=2`` steps as 4 images per step.

    ``counts``: ``tools/train.py --accumulate``; None keeps the config's own ``accumulative_counts`` (1 if unset).
    MMEngine's ``auto_scale_lr`` scales the lr by GPUs x ``batch_size`` / ``base_batch_size`` and does not count the
    accumulated iterations, so ``base_batch_size`` is divided by ``counts``: the lr follows the effective batch
    GPUs x ``batch_size`` x ``counts``. Returns the counts in effect.
    """
    if counts is None:
        counts = int(cfg.optim_wrapper.get('accumulative_counts', 1))
    if counts < 1:
        raise ValueError(f'gradient accumulation: counts must be >= 1, got {counts}')
    if counts == 1:
        return 1
    cfg.optim_wrapper.accumulative_counts = counts
    if 'base_batch_size' in (cfg.get('auto_scale_lr') or {}):
        cfg.auto_scale_lr.base_batch_size = cfg.auto_scale_lr.base_batch_size / counts
    return counts


def apply_tta(cfg, scales):
    """Multi-scale test-time inference (small-object lever 5, issue 23): the test pipeline's ``Resize`` becomes
    MMCV's ``TestTimeAug`` over that Resize at each factor of ``scales`` (``tools/test.py --tta 1 1.5``: the patch
    at its test scale and upscaled 1.5x), and the model is wrapped in ``cfg.tta_model`` (default
    :class:`RotatedTTAModel`: class-wise NMS of the views, ``nms_rotated`` for rotated models, IoU 0.5, as many
    boxes as the model's ``test_cfg.rcnn.max_per_img``). The transforms after the Resize run on every view.
    """
    scales = [float(s) for s in scales]
    if not scales or min(scales) <= 0:
        raise ValueError(f'--tta: scale factors must be > 0, got {scales}')
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset.dataset
    from .apis.inference import scaled_resize, test_resize_index
    pipeline = list(dataset.pipeline)
    try:
        at = test_resize_index(pipeline)
    except ValueError as e:
        raise ValueError(f'--tta: {e}') from None
    views = [scaled_resize(pipeline[at], s) for s in scales]
    dataset.pipeline = pipeline[:at] + [dict(type='TestTimeAug', transforms=[views] + [[t] for t in
                                                                                   pipeline[at + 1:]])]
    rcnn = (cfg.model.get('test_cfg') or {}).get('rcnn') or {}
    rotated = cfg.model.roi_head.bbox_head.get('predict_box_type', 'hbox') == 'rbox'
    tta = dict(type='RotatedTTAModel', tta_cfg=dict(
        nms=dict(type='nms_rotated' if rotated else 'nms', iou_threshold=0.5),
        max_per_img=rcnn.get('max_per_img', 2000)))
    tta.update(cfg.get('tta_model') or {})
    tta['module'] = cfg.model
    cfg.model = tta
    return scales


def run_preflight(cfg, mode, config):
    """:func:`cfinet_rotated.preflight.preflight`; its errors end the program with their message (no traceback)."""
    from .ops_check import OpsDeviceError
    from .preflight import InputError, preflight
    try:
        preflight(cfg, mode, config)
    except (InputError, OpsDeviceError) as e:
        raise SystemExit(f'{mode}.py: error: {e}') from None


def parse_args_with_common(parser):
    """Add the options MMRotate's train.py and test.py share, parse, and export ``LOCAL_RANK``."""
    parser.add_argument('--work-dir', help='the directory to save logs and models (unset: work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. key=value or key="[a,b]"; '
             'tensorboard=True adds the TensorBoard backend, default_hooks.checkpoint.max_keep_ckpts=N')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch; torchrun uses the LOCAL_RANK variable instead')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def setup_cpu_distributed(cfg):
    """Let ``--launcher pytorch`` (``tools/dist_*.sh``, torchrun) run on machines without CUDA.

    MMEngine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and its runner wraps the model in DDP with
    ``device_ids=[LOCAL_RANK]``; both fail without a GPU. Without CUDA this joins the torchrun process group
    with the ``gloo`` backend first (the runner then skips its own ``init_dist``) and selects
    :class:`CPUDistributedDataParallel`, keeping the config's other wrapper options. With CUDA, or without a
    launcher, nothing changes. Returns True if it set up a CPU process group.
    """
    import torch.distributed as tdist
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return False
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} needs CUDA; without a GPU use --launcher pytorch '
                           '(tools/dist_train.sh / dist_test.sh), which runs on CPU with gloo')
    if not tdist.is_initialized():
        from datetime import timedelta
        timeout = timedelta(seconds=cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout', 1800))
        # one key space per torchrun restart (MAX_RESTARTS, elastic): the rendezvous store outlives a failed worker
        # group, and without the prefix the restarted ranks read the dead group's gloo addresses (measured:
        # 'Gloo connectFullMesh failed ... Connection refused' in 2 of 3 restarts)
        store, rank, world_size = next(tdist.rendezvous('env://', timeout=timeout))
        attempt = os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')
        tdist.init_process_group('gloo', store=tdist.PrefixStore(f'cfinet_rotated/attempt_{attempt}', store),
                                 rank=rank, world_size=world_size, timeout=timeout)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get('type', 'MMDistributedDataParallel') not in ('MMDistributedDataParallel',
                                                                 'CPUDistributedDataParallel'):
        raise RuntimeError(f'model_wrapper_cfg.type={wrapper["type"]} is not supported on CPU')
    wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper.setdefault('broadcast_buffers', False)  # MMEngine's default wrapper setting
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True


def build_runner(cfg):
    """The runner a config asks for (``runner_type``), MMEngine's ``Runner`` by default (distributed runs
    without CUDA are prepared by :func:`setup_cpu_distributed`)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    setup_cpu_distributed(cfg)
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def finish_distributed():
    """Leave the process group after a successful distributed run (all ranks reach this point).

    MMEngine never destroys the group. At interpreter exit a live gloo group can abort a process
    ("terminate called without an active exception", SIGABRT) after the work is done, which torchrun reports
    as a failed run; torch also warns about it. The barrier keeps a fast rank from leaving while another is
    still in the last collective.
    """
    import torch.distributed as tdist
    if tdist.is_available() and tdist.is_initialized():
        tdist.barrier()
        tdist.destroy_process_group()


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and what is wrong with it."""


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0] if text else ""}'.rstrip(': ')


def check_checkpoint(path, model=None, purpose='load'):
    """Read a local checkpoint once, before MMEngine does, and turn what would be a deep pickle/torch traceback
    into a :class:`CheckpointError` naming the file and the problem. Returns the loaded checkpoint dict.

    * a missing or empty file; a truncated or corrupted one (torch's zip reader or the unpickler fails);
    * ``purpose='resume'``: no training state (``meta`` with the iteration, ``optimizer``): a weights-only file,
      usable with ``load_from`` but not with ``--resume``;
    * ``purpose`` ``'resume'`` or ``'test'``: parameters or buffers of ``model`` that the checkpoint lacks, has in
      addition, or has in another shape, i.e. it was saved by another config (the first few are named);
    * ``purpose='load'`` (``load_from``, fine-tuning from another model is allowed): at least one tensor must
      fit the model.

    URLs and ``scheme://`` paths are left to MMEngine. Must run inside :func:`mmengine_checkpoint_globals`
    (checkpoints are read with torch's ``weights_only`` default).
    """
    if '://' in str(path):
        return None
    if not osp.isfile(path):
        raise CheckpointError(f'{path}: checkpoint file does not exist')
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointError(f'{path}: checkpoint file is empty (0 bytes; was its writing interrupted?)')
    try:
        ckpt = torch.load(path, map_location='cpu')
    except Exception as e:  # noqa: BLE001  (zip reader, unpickler, EOF, ...: all mean the same to the user)
        if 'Weights only load failed' in str(e):
            raise CheckpointError(f'{path}: holds Python objects that are not allowed in a checkpoint (torch '
                                  f'weights_only loading refused it): {_first_line(e).splitlines()[0]}') from None
        raise CheckpointError(f'{path}: not a readable PyTorch checkpoint ({size} bytes; truncated or corrupted?): '
                              f'{_first_line(e)}') from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{path}: expected a checkpoint dict, got {type(ckpt).__name__}')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f'{path}: holds no model weights (no "state_dict" of tensors)')
    if purpose == 'resume':
        missing = [k for k in ('meta', 'optimizer', 'message_hub') if k not in ckpt]
        if missing or not isinstance(ckpt['meta'], dict) or 'iter' not in ckpt['meta']:
            raise CheckpointError(f'{path}: has no training state to resume ({", ".join(missing) or "meta.iter"} '
                                  'missing): a weights-only file, use it with load_from, not --resume')
    if model is None:
        return ckpt
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    fitting = [k for k, v in own.items() if k in state and tuple(state[k].shape) == tuple(v.shape)]
    if purpose == 'load':
        if not fitting:
            raise CheckpointError(f'{path}: none of its {len(state)} tensors fits the model (names or shapes '
                                  'differ everywhere): a checkpoint of another kind of model?')
        return ckpt
    problems = []
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in own.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    for what, items in (('missing', missing), ('unexpected', unexpected),
                        ('with another shape (checkpoint vs model)', shapes)):
        if items:
            problems.append(f'{len(items)} {what}: {", ".join(items[:3])}{" ..." if len(items) > 3 else ""}')
    if problems:
        saved = ckpt.get('meta', {}).get('experiment_name') if isinstance(ckpt.get('meta'), dict) else None
        raise CheckpointError(f'{path}: saved by another config{f" (run {saved})" if saved else ""}, its tensors do '
                              f'not match this model: ' + '; '.join(problems))
    return ckpt


def check_runner_checkpoint(runner, cfg, purpose):
    """:func:`check_checkpoint` for what ``runner.train()`` / ``runner.test()`` will load: ``cfg.load_from``, or with
    ``cfg.resume`` and no ``load_from`` the work dir's ``last_checkpoint`` (none there: MMEngine starts afresh).
    Must run inside :func:`mmengine_checkpoint_globals`."""
    from mmengine.model import is_model_wrapper
    from mmengine.runner import find_latest_checkpoint
    path = cfg.get('load_from')
    if purpose == 'train':
        purpose = 'resume' if cfg.get('resume') else 'load'
        if cfg.get('resume') and path is None:
            last = osp.join(cfg.work_dir, 'last_checkpoint')
            path = find_latest_checkpoint(cfg.work_dir) if osp.isfile(last) else None
            if path is not None and not osp.isfile(path):
                raise CheckpointError(f'{path}: named by {last} for --resume, but the file does not exist')
    if path is None:
        return None
    from mmengine.model import BaseTTAModel
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    if isinstance(model, BaseTTAModel):  # tools/test.py --tta: the detector inside
        model = model.module
    return check_checkpoint(path, model, purpose)
