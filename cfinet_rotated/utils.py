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
    return cfg


def parse_args_with_common(parser):
    """Add the options MMRotate's train.py and test.py share, parse, and export ``LOCAL_RANK``."""
    parser.add_argument('--work-dir', help='the directory to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. key=value or key="[a,b]"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_runner(cfg):
    """The runner a config asks for (``runner_type``), MMEngine's ``Runner`` by default."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
