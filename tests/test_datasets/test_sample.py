"""The committed synthetic SODA-A sample (data/sample) and its generator (tools/data/make_sample.py)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from cfinet_rotated.datasets.sodaa_io import SODAA_CLASSES, list_annotation_files, load_sodaa, polygon_area
from cfinet_rotated.datasets.sodaa_split import polygon_iof, sliding_windows

from conftest import ROOT, load_tool

SAMPLE = ROOT / 'data' / 'sample'


@pytest.fixture(scope='module')
def sample():
    anns = [load_sodaa(p) for p in list_annotation_files(SAMPLE / 'Annotations')]
    imgs = {Path(a.path).stem: cv2.imread(str(SAMPLE / 'Images' / (Path(a.path).stem + '.jpg'))) for a in anns}
    return anns, imgs


def test_sample_parses_cleanly_and_is_dense(sample):
    anns, imgs = sample
    assert len(anns) == 4
    for a in anns:
        stem = Path(a.path).stem
        assert not a.skipped, f'{a.path}: {a.skipped}'
        assert imgs[stem] is not None
        h, w = imgs[stem].shape[:2]
        assert (w, h) == (a.meta['images']['width'], a.meta['images']['height'])
        assert 80 <= len(a.labels) <= 220
        assert a.polys.min() >= 0 and a.polys[:, 0::2].max() <= w and a.polys[:, 1::2].max() <= h
    assert any(min(img.shape[:2]) < 800 for img in imgs.values())  # one image smaller than a window


def test_sample_covers_classes_and_size_subsets(sample):
    anns, _ = sample
    labels = np.concatenate([a.labels for a in anns])
    assert set(labels.tolist()) == set(range(len(SODAA_CLASSES)))
    areas = np.array([polygon_area(p) for a in anns for p in a.polys])
    assert areas.max() <= 2000
    subsets = [(areas <= 144), (areas > 144) & (areas <= 400), (areas > 400) & (areas <= 1024),
               (areas > 1024) & (areas <= 2000)]
    assert all(s.sum() >= 10 for s in subsets), [int(s.sum()) for s in subsets]
    assert np.sqrt(areas).min() < 6  # extremely small objects are there


def test_sample_has_ignore_regions_with_objects_inside(sample):
    anns, _ = sample
    inside = 0
    for a in anns:
        assert len(a.ignore_polys) >= 2
        centres = a.polys.reshape(-1, 4, 2).mean(1)
        for ign in a.ignore_polys:
            inside += sum(cv2.pointPolygonTest(ign.astype(np.float32), (float(x), float(y)), False) > 0
                          for x, y in centres)
    assert inside >= 4


def test_sample_has_objects_crossing_window_borders(sample):
    anns, imgs = sample
    for a in anns:
        h, w = imgs[Path(a.path).stem].shape[:2]
        iof = polygon_iof(a.polys, sliding_windows(w, h))
        crossing = ((iof > 0) & (iof < 1)).any(1)
        assert crossing.sum() >= 3, a.path


def test_sample_size_budget():
    total = sum(p.stat().st_size for p in SAMPLE.rglob('*') if p.is_file())
    assert total < 5 * 1024 * 1024


def test_generator_reproduces_sample_byte_for_byte(tmp_path):
    tool = load_tool('tools/data/make_sample.py')
    assert tool.main(['--out', str(tmp_path), '--num-images', '4', '--seed', '0']) == 0
    for sub, pattern in (('Images', '*.jpg'), ('Annotations', '*.json')):
        ref = sorted((SAMPLE / sub).glob(pattern))
        new = sorted((tmp_path / sub).glob(pattern))
        assert [p.name for p in ref] == [p.name for p in new]
        for r, n in zip(ref, new):
            assert r.read_bytes() == n.read_bytes(), f'{n.name} differs from the committed sample'
    # another seed gives another sample
    assert tool.main(['--out', str(tmp_path / 's1'), '--num-images', '1', '--seed', '1']) == 0
    assert (tmp_path / 's1' / 'Images' / 'sample_0001.jpg').read_bytes() != \
        (SAMPLE / 'Images' / 'sample_0001.jpg').read_bytes()


def test_generator_image_size_and_prefix_for_held_out_sets(tmp_path):
    """tools/analysis_tools/benchmark_accuracy.py draws train and test sets at one size with distinct names and
    seeds."""
    tool = load_tool('tools/data/make_sample.py')
    assert tool.main(['--out', str(tmp_path / 'test'), '--num-images', '1', '--seed', '200', '--image-size', '900',
                      '700', '--prefix', 'test']) == 0
    img = cv2.imread(str(tmp_path / 'test' / 'Images' / 'test_0001.jpg'))
    assert img.shape[:2] == (700, 900)
    ann = load_sodaa(str(tmp_path / 'test' / 'Annotations' / 'test_0001.json'))
    assert ann.meta['images']['width'] == 900 and len(ann.labels) >= 60
    assert '--image-size 900 700 --prefix test' in (tmp_path / 'test' / 'README.md').read_text()
    with pytest.raises(SystemExit):
        tool.parse_args(['--image-size', '0', '700'])
