"""Make the embedded samples' patch splits when a tool needs them (``data/sample_split``,
``data/sample_sodad_split``; generated, gitignored), so every tool works on a fresh clone without first running
``make demo``. Each split is made with the split functions that ``tools/data/sodaa_split.py`` and
``tools/data/sodad_split.py`` run, with their default settings, exactly as the README's commands do."""
import os.path as osp

from .datasets.sodaa_split import SplitConfig, default_workers, split_sodaa
from .datasets.sodad_split import SodadSplitConfig, split_sodad

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SODAA_RAW, SODAA_SPLIT = 'data/sample', 'data/sample_split'
SODAD_RAW, SODAD_SPLIT = 'data/sample_sodad', 'data/sample_sodad_split'


def ensure_sodaa_sample_split(raw=SODAA_RAW, split=SODAA_SPLIT):
    """What ``tools/data/sodaa_split.py --src RAW --dst SPLIT`` does, unless ``SPLIT/Annotations`` exists; returns
    SPLIT."""
    raw, split = (p if osp.isabs(p) else osp.join(ROOT, p) for p in (raw, split))
    if osp.isdir(osp.join(split, 'Annotations')):
        return split
    if not osp.isdir(osp.join(raw, 'Annotations')):
        raise FileNotFoundError(f'{raw}/Annotations: no raw sample there '
                                f'(python tools/data/make_sample.py --out {raw})')
    print(f'splitting {raw} into {split} (as tools/data/sodaa_split.py) ...', flush=True)
    summary = split_sodaa(raw, split, SplitConfig(), workers=default_workers())
    if summary['failed_files']:
        raise RuntimeError(f'{raw}: {len(summary["failed_files"])} file(s) failed to split: {summary["failed_files"]}')
    return split


def ensure_sodad_sample_split(raw=SODAD_RAW, split=SODAD_SPLIT, modes=('train', 'test')):
    """``tools/data/sodad_split.py`` of ``RAW/Annotations/sample.json`` for each mode whose JSON is missing."""
    raw, split = (p if osp.isabs(p) else osp.join(ROOT, p) for p in (raw, split))
    for mode in modes:
        if osp.isfile(osp.join(split, 'Annotations', f'{mode}.json')):
            continue
        ann = osp.join(raw, 'Annotations', 'sample.json')
        if not osp.isfile(ann):
            raise FileNotFoundError(f'{ann}: no raw SODA-D sample there '
                                    f'(python tools/data/make_sample.py --format sodad --out {raw})')
        print(f'splitting {raw} into {split} ({mode}; as tools/data/sodad_split.py) ...', flush=True)
        summary = split_sodad(ann, osp.join(raw, 'Images'), split, SodadSplitConfig(mode=mode),
                              workers=default_workers())
        if summary['failed_images']:
            raise RuntimeError(f'{ann}: {len(summary["failed_images"])} image(s) failed to split: '
                               f'{summary["failed_images"]}')
    return split


def prepare_sample_data(cfg):
    """Make the sample split that any dataloader of ``cfg`` reads (by its ``data_root``), when missing.
    Returns the splits made or found; other data roots are left alone (``preflight.check_inputs`` names them)."""
    made = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = (cfg.get(key) or {}).get('dataset') or {}
        root = osp.normpath(str(ds.get('data_root') or '.'))
        if root in (SODAA_SPLIT, osp.join(ROOT, SODAA_SPLIT)):
            made.append(ensure_sodaa_sample_split())
        elif root in (SODAD_SPLIT, osp.join(ROOT, SODAD_SPLIT)):
            made.append(ensure_sodad_sample_split())
    return sorted(set(made))
