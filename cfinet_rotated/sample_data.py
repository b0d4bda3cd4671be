"""Make the embedded samples' patch splits when a tool needs them (``data/sample_split``,
``data/sample_sodad_split``; generated, gitignored), so every tool works on a fresh clone without first running
``make demo``. Each split is made with the project's own split tool, exactly as the README's commands do."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SODAA_RAW, SODAA_SPLIT = 'data/sample', 'data/sample_split'
SODAD_RAW, SODAD_SPLIT = 'data/sample_sodad', 'data/sample_sodad_split'


def _run(args):
    subprocess.run([sys.executable, *args], check=True, cwd=ROOT)


def ensure_sodaa_sample_split(raw=SODAA_RAW, split=SODAA_SPLIT):
    """``tools/data/sodaa_split.py --src RAW --dst SPLIT`` unless ``SPLIT/Annotations`` exists; returns SPLIT."""
    raw, split = (p if osp.isabs(p) else osp.join(ROOT, p) for p in (raw, split))
    if osp.isdir(osp.join(split, 'Annotations')):
        return split
    if not osp.isdir(osp.join(raw, 'Annotations')):
        raise FileNotFoundError(f'{raw}/Annotations: no raw sample there (python tools/data/make_sample.py --out {raw})')
    print(f'splitting {raw} into {split} (tools/data/sodaa_split.py) ...', flush=True)
    _run(['tools/data/sodaa_split.py', '--src', raw, '--dst', split])
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
        print(f'splitting {raw} into {split} ({mode}; tools/data/sodad_split.py) ...', flush=True)
        _run(['tools/data/sodad_split.py', '--ann', ann, '--img-dir', osp.join(raw, 'Images'), '--dst', split,
              '--mode', mode])
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
