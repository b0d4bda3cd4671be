"""A split killed midway (SIGKILL) and re-run with --overwrite gives byte-identical output to an uninterrupted run;
without --overwrite the re-run refuses the partial output. Both split tools, on the embedded samples copied three
times (more images, so that the kill lands midway)."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import PY, ROOT, run_tool

pytestmark = pytest.mark.slow  # end-to-end: `make test-quick` (pytest -m 'not slow') leaves it out

COPIES = 3


def _tree(d):
    """{relative path: bytes} of every file under ``d``."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()}


def _sodaa_src(tmp_path):
    src = tmp_path / 'raw'
    for sub in ('Images', 'Annotations'):
        (src / sub).mkdir(parents=True)
    for k in range(COPIES):
        for p in sorted((ROOT / 'data/sample/Annotations').glob('*.json')):
            shutil.copy(p, src / 'Annotations' / f'{p.stem}-c{k}.json')
            shutil.copy(ROOT / 'data/sample/Images' / f'{p.stem}.jpg', src / 'Images' / f'{p.stem}-c{k}.jpg')
    return ['tools/data/sodaa_split.py', '--src', src, '--workers', 1], 'Images'


def _sodad_src(tmp_path):
    src = tmp_path / 'raw'
    (src / 'Images').mkdir(parents=True)
    data = json.loads((ROOT / 'data/sample_sodad/Annotations/sample.json').read_text())
    images, anns = [], []
    for k in range(COPIES):
        for im in data['images']:
            stem, ext = os.path.splitext(im['file_name'])
            new = dict(im, id=im['id'] + 1000 * k, file_name=f'{stem}-c{k}{ext}')
            shutil.copy(ROOT / 'data/sample_sodad/Images' / im['file_name'], src / 'Images' / new['file_name'])
            images.append(new)
        anns += [dict(a, id=a['id'] + 100000 * k, image_id=a['image_id'] + 1000 * k) for a in data['annotations']]
    (src / 'train.json').write_text(json.dumps(dict(data, images=images, annotations=anns)))
    return ['tools/data/sodad_split.py', '--ann', src / 'train.json', '--img-dir', src / 'Images', '--mode', 'val',
            '--workers', 1], 'Images/val'


def _kill_midway(cmd, watch):
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
    proc = subprocess.Popen([PY, *map(str, cmd)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            if watch.is_dir() and any(watch.iterdir()):
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()


def _check(tmp_path, make_src):
    cmd, images = make_src(tmp_path)
    dst = tmp_path / 'out'
    run_tool(*cmd, '--dst', dst)
    reference = _tree(dst)
    n_images = sum(k.startswith(images + '/') for k in reference)
    assert n_images > 4 * COPIES, n_images
    shutil.rmtree(dst)

    rc = _kill_midway([*cmd, '--dst', dst], dst / images)
    partial = _tree(dst)
    assert rc == -signal.SIGKILL, 'the split finished before it could be killed'
    assert 0 < sum(k.startswith(images + '/') for k in partial) < n_images and partial != reference

    refused = run_tool(*cmd, '--dst', dst, check=False)
    assert refused.returncode == 2 and '--overwrite' in refused.stdout, refused.stdout[-2000:]
    assert _tree(dst) == partial  # refusing touched nothing

    run_tool(*cmd, '--dst', dst, '--overwrite')
    again = _tree(dst)
    assert again.keys() == reference.keys(), set(again) ^ set(reference)
    different = [k for k in reference if again[k] != reference[k]]
    assert not different, f'{len(different)} files differ, e.g. {different[:3]}'


def test_sodaa_split_killed_and_rerun_with_overwrite_is_byte_identical(tmp_path):
    _check(tmp_path, _sodaa_src)


def test_sodad_split_killed_and_rerun_with_overwrite_is_byte_identical(tmp_path):
    _check(tmp_path, _sodad_src)
