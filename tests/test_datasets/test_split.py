"""Tests of the SODA-A split (cfinet_rotated/datasets/sodaa_split.py, tools/data/sodaa_split.py).

All expected values are computed by hand from the official rules: size 800, overlap (gap) 150, step 650.
"""
import json

import cv2
import numpy as np
import pytest
from shapely.geometry import Polygon, box

from cfinet_rotated.datasets.sodaa_io import SODAA_CLASSES, load_sodaa
from cfinet_rotated.datasets.sodaa_split import (
    SplitConfig,
    clip_polygon_to_window,
    crop_patch,
    fill_ignore,
    filter_windows,
    object_fates,
    patch_name,
    polygon_iof,
    sliding_windows,
    split_image,
    window_starts,
)

from conftest import load_tool


def rect(x1, y1, x2, y2):
    return [x1, y1, x2, y1, x2, y2, x1, y2]


# ---------------------------------------------------------------- windows

def test_window_starts_hand_computed():
    assert window_starts(3840, 800, 650) == [0, 650, 1300, 1950, 2600, 3040]
    assert window_starts(2160, 800, 650) == [0, 650, 1300, 1360]
    assert window_starts(700, 800, 650) == [0]
    assert window_starts(900, 800, 650) == [0, 100]
    assert window_starts(800, 800, 650) == [0]  # W == size: one window
    assert window_starts(1450, 800, 650) == [0, 650]  # last window ends exactly at the border


def test_sliding_windows_x_major_and_sizes():
    w = sliding_windows(3840, 2160)
    assert w.shape == (24, 4)
    assert w[:4, :2].tolist() == [[0, 0], [0, 650], [0, 1300], [0, 1360]]
    assert w[4:8, 0].tolist() == [650] * 4
    assert ((w[:, 2] - w[:, 0]) == 800).all() and ((w[:, 3] - w[:, 1]) == 800).all()
    assert sliding_windows(700, 900).tolist() == [[0, 0, 800, 800], [0, 100, 800, 900]]
    assert sliding_windows(500, 600).tolist() == [[0, 0, 800, 800]]  # W, H < size: one (padded) window


def test_img_rate_filter():
    # rates: 1.0, 0.5 (half outside the 1000x1000 image), 0.25
    wins = [[0, 0, 800, 800], [600, 0, 1400, 800], [600, 600, 1400, 1400]]
    assert filter_windows(wins, 1000, 1000, 0.6).tolist() == [[0, 0, 800, 800]]
    assert filter_windows(wins, 1000, 1000, 0.4).tolist() == wins[:2]
    # none above the threshold: keep those within 0.01 of the best rate (0.5 and 0.495)
    assert filter_windows([[0, 0, 800, 800], [0, 4, 800, 804]], 400, 800, 0.6).shape == (2, 4)
    assert filter_windows([[0, 0, 800, 800], [0, 40, 800, 840]], 400, 800, 0.6).tolist() == [[0, 0, 800, 800]]
    # a 1000x450 image: window rate 0.5625 < 0.6, the fallback keeps both windows
    assert sliding_windows(1000, 450).tolist() == [[0, 0, 800, 800], [200, 0, 1000, 800]]


def test_split_config_rejects_bad_gap():
    assert SplitConfig().step == 650
    with pytest.raises(ValueError, match='overlap'):
        SplitConfig(gap=800)


# ---------------------------------------------------------------- object assignment

def test_iof_boundary_and_clear_cases():
    win = [[0, 0, 800, 800]]
    polys = [rect(100, 100, 110, 110),   # inside: 1
             rect(900, 100, 910, 110),   # outside: 0
             rect(793, 100, 803, 110),   # 7 of 10 columns inside: exactly 0.7
             rect(793.5, 100, 803.5, 110),  # 0.65
             rect(795, 100, 805, 110)]   # 0.5
    iof = polygon_iof(polys, win)[:, 0]
    np.testing.assert_allclose(iof, [1.0, 0.0, 0.7, 0.65, 0.5], atol=1e-12)
    assert (iof >= 0.7).tolist() == [True, False, True, False, False]
    # a diamond centred on the window edge: half inside (shapely path, not the box shortcut)
    diamond = [790, 400, 800, 390, 810, 400, 800, 410]
    assert polygon_iof([diamond], win)[0, 0] == pytest.approx(0.5)
    assert object_fates([1.0, 0.7, 0.69, 0.0], 0.7).tolist() == [0, 1, 2, 2]


def test_truncated_axis_aligned_object_is_clipped_exactly():
    local = clip_polygon_to_window(rect(793, 100, 803, 110), [0, 0, 800, 800])
    pts = {tuple(p) for p in local.reshape(4, 2).round(6).tolist()}
    assert pts == {(793, 100), (800, 100), (800, 110), (793, 110)}
    # window with origin (0, 100): y is shifted by 100
    local = clip_polygon_to_window(rect(793, 100, 803, 110), [0, 100, 800, 900])
    assert {tuple(p) for p in local.reshape(4, 2).round(6).tolist()} == {(793, 0), (800, 0), (800, 10), (793, 10)}


def test_truncated_rotated_object_lies_inside_window():
    c, s = np.cos(0.5), np.sin(0.5)
    corners = np.array([[-10, -6], [10, -6], [10, 6], [-10, 6]]) @ np.array([[c, s], [-s, c]]) + [796, 795]
    poly = corners.reshape(8)
    iof = polygon_iof([poly], [[0, 0, 800, 800]])[0, 0]
    assert 0.5 < iof < 0.7  # cut by two window edges: the visible part is a pentagon
    local = clip_polygon_to_window(poly, [0, 0, 800, 800])
    assert local.min() >= 0 and local.max() <= 800
    # the written quadrilateral is a good description of the visible part (IoU > 0.75)
    visible = Polygon(corners).intersection(box(0, 0, 800, 800))
    written = Polygon(local.reshape(4, 2))
    assert written.is_valid
    assert written.intersection(visible).area / written.union(visible).area > 0.75


def test_split_image_truncated_object_and_whole_copy():
    img = np.full((900, 1000, 3), 200, np.uint8)
    polys = np.array([rect(793, 300, 803, 310)], float)
    patches, best = split_image(img, polys, [4], [], 'img')
    by_id = {pid: info for pid, _, info in patches}
    a0 = by_id['img__800__0___0']['annotations']
    assert len(a0) == 1 and a0[0]['trunc'] == 1 and a0[0]['cat_id'] == 4
    assert max(a0[0]['poly']) <= 800 and min(a0[0]['poly']) >= 0
    a1 = by_id['img__800__200___0']['annotations']
    assert a1 == [dict(poly=[593.0, 300.0, 603.0, 300.0, 603.0, 310.0, 593.0, 310.0], cat_id=4, trunc=0)]
    assert best.tolist() == [1.0]


def test_single_object_image_keeps_its_object():
    """Regression: the official loader squeezed a (1, 8) array to (8,) and lost the object."""
    img = np.zeros((700, 700, 3), np.uint8)
    patches, best = split_image(img, [rect(10, 20, 30, 28)], [2], [], 'one')
    assert len(patches) == 1
    assert patches[0][2]['annotations'] == [dict(poly=[10.0, 20.0, 30.0, 20.0, 30.0, 28.0, 10.0, 28.0],
                                                 cat_id=2, trunc=0)]


# ---------------------------------------------------------------- pixels

def test_ignore_fill_keeps_object_pixels():
    img = np.full((900, 1000, 3), 200, np.uint8)
    ign = [np.array([[100, 100], [300, 100], [300, 300], [100, 300]], float)]
    obj = [rect(150, 150, 170, 170)]
    fill_ignore(img, ign, obj)
    assert img[250, 200].tolist() == [0, 0, 0]  # ignore region, no object
    assert img[160, 160].tolist() == [200, 200, 200]  # object inside the ignore region
    assert img[400, 400].tolist() == [200, 200, 200]  # outside
    assert int((img[..., 0] == 0).sum()) == 201 * 201 - 21 * 21  # fillPoly includes the border pixels


def test_padding_value_and_no_padding():
    img = np.full((700, 1000, 3), 7, np.uint8)
    cfg = SplitConfig()
    patches, _ = split_image(img.copy(), np.zeros((0, 8)), [], [], 'p', cfg)
    assert [p[0] for p in patches] == ['p__800__0___0', 'p__800__200___0']
    patch, info = patches[0][1], patches[0][2]
    assert patch.shape == (800, 800, 3) and (info['height'], info['width']) == (800, 800)
    assert (patch[700:] == [104, 116, 124]).all() and (patch[:700] == 7).all()
    patches, _ = split_image(img.copy(), np.zeros((0, 8)), [], [], 'p', SplitConfig(padding=False))
    assert patches[0][1].shape == (700, 800, 3) and patches[0][2]['height'] == 700
    assert crop_patch(img, [0, 0, 800, 800], True, (1, 2, 3))[799, 0].tolist() == [1, 2, 3]


def test_patch_naming_and_json_layout():
    assert patch_name('P0001', 800, 650, 1300) == 'P0001__800__650___1300'
    img = np.zeros((900, 1000, 3), np.uint8)
    patches, _ = split_image(img, [rect(10, 10, 20, 20)], [0], [], 'img')
    assert [p[0] for p in patches] == ['img__800__0___0', 'img__800__0___100', 'img__800__200___0',
                                       'img__800__200___100']
    info = patches[1][2]
    assert list(info) == ['filename', 'x_start', 'y_start', 'id', 'ori_id', 'height', 'width', 'annotations',
                          'categories']
    assert (info['filename'], info['x_start'], info['y_start'], info['id'], info['ori_id']) == \
        ('img__800__0___100.jpg', 0, 100, 'img__800__0___100', 'img')
    assert info['categories'] == [dict(id=i, name=n) for i, n in enumerate(SODAA_CLASSES)]
    assert patches[1][2]['annotations'] == []  # empty patches are still produced
    assert list(patches[0][2]['annotations'][0]) == ['poly', 'cat_id', 'trunc']


# ---------------------------------------------------------------- the tool

def _write_image(root, stem, w=1000, h=900, value=120):
    (root / 'Images').mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'Images' / f'{stem}.jpg'), np.full((h, w, 3), value, np.uint8))


def _write_ann(root, stem, anns=None, text=None):
    (root / 'Annotations').mkdir(parents=True, exist_ok=True)
    path = root / 'Annotations' / f'{stem}.json'
    path.write_text(text if text is not None else json.dumps(dict(annotations=anns)))


def test_cli_accounting_and_outputs(tmp_path, capsys):
    src, dst = tmp_path / 'raw', tmp_path / 'out'
    _write_image(src, 'a')
    _write_ann(src, 'a', [
        dict(poly=rect(100, 100, 120, 110), category_id=0),     # whole
        dict(poly=rect(793, 300, 803, 310), category_id=4),     # whole (in window x=200)
        dict(poly=rect(992, 500, 1002, 510), category_id=5),    # truncated only: 8/10 inside the image
        dict(poly=rect(995, 600, 1005, 610), category_id=5),    # dropped: 0.5 everywhere
        dict(poly=[50, 50, 60, 50, float('nan'), 60, 50, 60], category_id=1),  # skipped: non-finite
        dict(poly=rect(10, 10, 20, 20), category_id=12),         # skipped: unknown class
        dict(poly=[10, 10, 20, 20], category_id=2),              # skipped: wrong length
        dict(poly=rect(400, 400, 500, 500), category_id=9),     # ignore region
    ])
    _write_image(src, 'b', w=700, h=600)
    _write_ann(src, 'b', [dict(poly=rect(10, 20, 30, 28), category_id=2)])  # single object
    tool = load_tool('tools/data/sodaa_split.py')
    assert tool.main(['--src', str(src), '--dst', str(dst), '--workers', '2']) == 0
    out = capsys.readouterr().out
    s = json.loads((dst / 'split_summary.json').read_text())
    assert s['annotations'] == 9
    assert s['objects'] == dict(whole=3, truncated=1, dropped=1, total=5)
    assert s['ignore_regions_filled'] == 1
    assert s['skipped_invalid'] == {'wrong length': 1, 'non-finite': 1, 'unknown class': 1}
    assert s['objects_per_class']['container'] == dict(whole=0, truncated=1, dropped=1)
    assert s['images'] == dict(total=2, split=2, failed=0)
    assert s['patches']['written'] == 5
    assert 'a.json' in out and 'non-finite' in out
    names = sorted(p.name for p in (dst / 'Annotations').iterdir())
    assert names == ['a__800__0___0.json', 'a__800__0___100.json', 'a__800__200___0.json',
                     'a__800__200___100.json', 'b__800__0___0.json']
    assert len(list((dst / 'Images').glob('*.jpg'))) == 5
    b = load_sodaa(dst / 'Annotations' / 'b__800__0___0.json')  # the shared reader accepts our patches
    assert b.labels.tolist() == [2] and b.meta['ori_id'] == 'b'
    img = cv2.imread(str(dst / 'Images' / 'a__800__0___0.jpg'))
    assert img[450, 450].max() < 10 and abs(int(img[200, 200, 0]) - 120) < 10  # ignore region blacked out
    # a second run refuses the non-empty folder unless --overwrite
    assert tool.main(['--src', str(src), '--dst', str(dst), '--workers', '1']) == 2
    assert 'not empty' in capsys.readouterr().err
    assert tool.main(['--src', str(src), '--dst', str(dst), '--workers', '1', '--overwrite']) == 0
    assert len(list((dst / 'Images').iterdir())) == 5


def test_cli_bad_files_reported_and_others_split(tmp_path, capsys):
    src, dst = tmp_path / 'raw', tmp_path / 'out'
    _write_image(src, 'good')
    _write_ann(src, 'good', [dict(poly=rect(100, 100, 120, 110), category_id=0),
                             dict(poly=[1, 2, 3], category_id=0)])
    _write_image(src, 'broken')
    _write_ann(src, 'broken', text='{"annotations": [ {"poly": [1, 2,')
    _write_ann(src, 'noimage', [dict(poly=rect(1, 1, 9, 9), category_id=3),
                                dict(poly=rect(20, 20, 90, 90), category_id=9)])
    _write_image(src, 'orphan')
    tool = load_tool('tools/data/sodaa_split.py')
    assert tool.main(['--src', str(src), '--dst', str(dst), '--workers', '1']) == 1
    out = capsys.readouterr().out
    assert 'broken.json: malformed JSON' in out
    assert 'noimage.json: no image noimage.jpg' in out
    assert 'orphan.jpg: image without annotation file' in out
    assert 'good.json: skipped 1 wrong length' in out
    s = json.loads((dst / 'split_summary.json').read_text())
    assert s['images'] == dict(total=4, split=1, failed=3)
    assert s['objects']['whole'] == 1 and s['lost_in_failed_files'] == 2
    assert s['annotations'] == 4  # good 2 + noimage 2 (broken could not be counted)
    assert len(list((dst / 'Annotations').glob('good__*.json'))) == 4
    assert not list((dst / 'Annotations').glob('noimage__*'))
