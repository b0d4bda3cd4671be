"""Checks that ``tools/train.py`` and ``tools/test.py`` run before building anything slow.

Without them a missing ImageNet weights file surfaced only after the datasets had loaded, a missing validation
annotation folder only at the end of the first epoch, and CPU-only mmcv ops on a GPU inside the first iteration.
:func:`check_inputs` collects every missing path the config names (datasets, evaluators, backbone weights,
checkpoints) and raises one :class:`InputError` that lists them with the option that moves each one;
:func:`preflight` also runs :func:`cfinet_rotated.ops_check.check_ops_for_device`.
"""
import os.path as osp

from .ops_check import check_ops_for_device

WEIGHTS_URL = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
DATA_HINT = ('Put the data there (README, "Data and weights"), or point the config at it: the SODA-A configs take '
             'their data root from SODAA_ROOT and the SODA-D configs from SODAD_ROOT (e.g. '
             'SODAA_ROOT=/scratch/SODA-A python tools/train.py ...), or set each path shown above with '
             '--cfg-options KEY=PATH.')
WEIGHTS_HINT = (f'The ImageNet weights are torchvision\'s ResNet-50 file ({WEIGHTS_URL}); download it to that '
                'path, set CFINET_PRETRAINED=/path/to/resnet50-0676ba61.pth, or pass '
                '--cfg-options model.backbone.init_cfg.checkpoint=PATH.')


class InputError(FileNotFoundError):
    """Paths named by the config or the command line do not exist (the message lists them and the fixes)."""


def _is_remote(path):
    return '://' in str(path)


def _join(root, path):
    path = str(path)
    return path if not root or osp.isabs(path) or _is_remote(path) else osp.join(str(root), path)


def dataset_paths(ds, key):
    """``(path, option)`` for the annotation file/folder and every data prefix of a dataset config
    (dataset wrappers such as ``RepeatDataset`` and ``ConcatDataset`` are followed)."""
    if ds is None:
        return []
    if 'dataset' in ds:
        return dataset_paths(ds['dataset'], f'{key}.dataset')
    if 'datasets' in ds:
        return [p for i, d in enumerate(ds['datasets']) for p in dataset_paths(d, f'{key}.datasets.{i}')]
    root = ds.get('data_root') or ''
    paths = []
    if ds.get('ann_file'):
        opt = f'{key}.data_root' if root and not osp.isabs(str(ds['ann_file'])) else f'{key}.ann_file'
        paths.append((_join(root, ds['ann_file']), opt))
    for name, prefix in (ds.get('data_prefix') or {}).items():
        if isinstance(prefix, str) and (prefix or root):
            opt = f'{key}.data_root' if root and not osp.isabs(prefix) else f'{key}.data_prefix.{name}'
            paths.append((_join(root, prefix), opt))
    return paths


def evaluator_paths(evaluator, key):
    """``(path, option)`` for the ground truth an evaluator reads (``ann_file``/``ann_dir``)."""
    if evaluator is None:
        return []
    if isinstance(evaluator, (list, tuple)):
        return [p for i, e in enumerate(evaluator) for p in evaluator_paths(e, f'{key}.{i}')]
    if 'metrics' in evaluator:  # an Evaluator config
        return evaluator_paths(evaluator['metrics'], f'{key}.metrics')
    return [(evaluator[k], f'{key}.{k}') for k in ('ann_file', 'ann_dir') if evaluator.get(k)]


def weights_paths(cfg):
    """``(path, option)`` of local ``Pretrained`` init checkpoints of the backbone (URLs and the
    ``torchvision://``-style names are left to MMEngine)."""
    init = cfg.get('model', {}).get('backbone', {}).get('init_cfg')
    inits = init if isinstance(init, (list, tuple)) else [init]
    out = []
    for i, c in enumerate(inits):
        if c and c.get('type') == 'Pretrained' and c.get('checkpoint') and not _is_remote(c['checkpoint']):
            key = 'model.backbone.init_cfg' + (f'.{i}' if isinstance(init, (list, tuple)) else '')
            out.append((c['checkpoint'], f'{key}.checkpoint'))
    return out


def input_paths(cfg, mode):
    """Every ``(path, option, kind)`` a ``mode`` ('train' or 'test') run of ``cfg`` reads; kind is 'data',
    'weights' or 'checkpoint'."""
    items = []
    if mode == 'train':
        items += [(p, o, 'data') for p, o in dataset_paths(cfg.get('train_dataloader', {}).get('dataset'),
                                                             'train_dataloader.dataset')]
        if cfg.get('val_cfg') and cfg.get('val_dataloader'):
            items += [(p, o, 'data') for p, o in dataset_paths(cfg.val_dataloader.get('dataset'),
                                                                 'val_dataloader.dataset')]
            items += [(p, o, 'data') for p, o in evaluator_paths(cfg.get('val_evaluator'), 'val_evaluator')]
        # also when resuming: the runner initialises the weights before it loads the checkpoint
        items += [(p, o, 'weights') for p, o in weights_paths(cfg)]
    else:
        items += [(p, o, 'data') for p, o in dataset_paths(cfg.get('test_dataloader', {}).get('dataset'),
                                                             'test_dataloader.dataset')]
        items += [(p, o, 'data') for p, o in evaluator_paths(cfg.get('test_evaluator'), 'test_evaluator')]
    if cfg.get('load_from') and not _is_remote(cfg.load_from):
        items.append((cfg.load_from, 'the checkpoint argument' if mode == 'test' else '--resume CKPT / load_from',
                      'checkpoint'))
    return items


def check_inputs(cfg, mode, config_name=None):
    """Raise one :class:`InputError` naming every missing path of :func:`input_paths`, with the fix."""
    missing, seen = [], set()
    for path, option, kind in input_paths(cfg, mode):
        if path not in seen and not osp.exists(path):
            seen.add(path)
            missing.append((path, option, kind))
    if not missing:
        return
    name = config_name or cfg.filename or 'the config'
    rel = any(not osp.isabs(str(p)) for p, _, _ in missing)
    lines = [f'{name}: {len(missing)} input path{"s" if len(missing) > 1 else ""} missing (checked before building '
             'the datasets' + (f'; relative paths start from {osp.abspath(".")}' if rel else '') + '):']
    width = max(len(str(p)) for p, _, _ in missing)
    lines += [f'  {str(p):<{width}}  ({o})' for p, o, _ in missing]
    kinds = {k for _, _, k in missing}
    if 'data' in kinds:
        lines.append(DATA_HINT)
    if 'weights' in kinds:
        lines.append(WEIGHTS_HINT)
    if 'checkpoint' in kinds:
        lines.append('The checkpoint file does not exist: check the path (relative paths start from the '
                     'current folder).')
    raise InputError('\n'.join(lines))


def preflight(cfg, mode, config_name=None):
    """Everything the entry points check before building the runner: inputs, then mmcv's ops vs the device."""
    check_inputs(cfg, mode, config_name)
    check_ops_for_device()
