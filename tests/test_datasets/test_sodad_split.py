"""SODA-D split: official window positions, clipping and the 40 % ignore rule, ignore fill, train/test modes, the
patch JSON, and the CLI's accounting of every annotation (on hand-built cases)."""
import json

import cv2
import numpy as np
import pytest

from cfinet_rotated.datasets.sodaa_split import sliding_windows
from cfinet_rotated.datasets.sodad_io import sodad_categories
from cfinet_rotated.datasets.sodad_split import (
    SodadSplitConfig,
    clip_to_windows,
    object_fates,
    split_sodad,
    split_sodad_image,
)


@pytest.mark.parametrize('w,h,xs,ys', [
    (1920, 1080, [0, 650, 1120], [0, 280]),  # official example
    (3840, 2160, [0, 650, 1300, 1950, 2600, 3040], [0, 650, 1300, 1360]),  # official example
    (1450, 800, [0, 650], [0]),  # last window exactly at the border
    (700, 600, [0], [0]),  # smaller than a patch: one window, padded
])
def test_window_positions_are_the_official_ones(w, h, xs, ys):
    cfg = SodadSplitConfig()
    win = sliding_windows(w, h, cfg.size, cfg.gap, cfg.img_rate_thr)
    assert cfg.step == 650
    assert win[:, 0].tolist() == [x for x in xs for _ in ys] and win[:, 1].tolist() == ys * len(xs)  # x-major
    assert ((win[:, 2:] - win[:, :2]) == 800).all()


def test_clipping_and_the_40_percent_ignore_rule():
    img = np.full((1080, 1920, 3), 200, np.uint8)
    boxes = np.array([[780, 100, 50, 10],    # 20/50 = 40 % inside window x0=0 -> ignore (<=), whole in x0=650
                      [770, 200, 50, 10],    # 30/50 = 60 % inside x0=0 -> kept, not ignore
                      [100, 790, 10, 20],    # 10/20 = 50 % inside y0=0, whole in y0=280
                      [10, 10, 5, 5]])
    patches, best = split_sodad_image(img, boxes, [1, 2, 3, 4], [False, False, False, True], np.zeros((0, 4)),
                                      'img', SodadSplitConfig(mode='test'))
    by_origin = {(x0, y0): anns for _, _, x0, y0, anns in patches}
    a = by_origin[(0, 0)]
    rows = {int(i): k for k, i in enumerate(a['index'])}
    np.testing.assert_allclose(a['bbox'][rows[0]], [780, 100, 20, 10])
    np.testing.assert_allclose(a['bbox'][rows[1]], [770, 200, 30, 10])
    np.testing.assert_allclose(a['bbox'][rows[2]], [100, 790, 10, 10])
    assert a['ignore'][rows[0]] and not a['ignore'][rows[1]] and not a['ignore'][rows[2]]
    assert a['area'][rows[0]] == 200.0 and a['area'][rows[2]] == 100.0
    assert a['ignore'][rows[3]]  # already flagged ignore in the input: stays ignored
    b = by_origin[(650, 0)]
    np.testing.assert_allclose(b['bbox'][list(b['index']).index(0)], [130, 100, 50, 10])  # whole, shifted
    assert not b['ignore'][list(b['index']).index(0)]
    c = by_origin[(0, 280)]
    np.testing.assert_allclose(c['bbox'][list(c['index']).index(2)], [100, 510, 10, 20])
    assert best.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert object_fates([1.0, 0.6, 0.4, 0.0], 0.4).tolist() == [0, 1, 2, 3]


def test_clip_to_windows_hand_values():
    clipped, inter = clip_to_windows([[790, 795, 810, 805]], [[0, 0, 800, 800], [650, 0, 1450, 800], [0, 900, 10, 910]])
    np.testing.assert_allclose(clipped[0, 0], [790, 795, 800, 800])
    np.testing.assert_allclose(clipped[0, 1], [140, 795, 160, 800])
    assert inter[0].tolist() == [50.0, 100.0, 0.0]


def test_ignore_regions_are_blacked_out_except_object_pixels_and_removed():
    img = np.full((600, 700, 3), 200, np.uint8)
    obj = np.array([[120, 120, 20, 10], [400, 400, 10, 10]])
    region = np.array([[100, 100, 100, 100]])
    patches, _ = split_sodad_image(img, obj, [1, 2], [False, False], region, 'small', SodadSplitConfig())
    (_, patch, x0, y0, anns), = patches
    assert patch.shape == (800, 800, 3) and (x0, y0) == (0, 0)
    assert (patch[150:190, 150:190] == 0).all()  # inside the region
    assert (patch[122:128, 122:138] == 200).all()  # the object inside the region keeps its pixels
    assert (patch[300:350, 300:350] == 200).all()  # outside the region
    assert (patch[600:, :] == 0).all() and (patch[:, 700:] == 0).all()  # black padding of a small image
    assert anns['index'].tolist() == [0, 1]  # the region itself is not an annotation


def test_train_mode_drops_patches_without_annotations():
    img = np.zeros((1080, 1920, 3), np.uint8)
    boxes = np.array([[10, 10, 10, 10]])
    train, _ = split_sodad_image(img.copy(), boxes, [1], [False], np.zeros((0, 4)), 'a', SodadSplitConfig())
    test, _ = split_sodad_image(img.copy(), boxes, [1], [False], np.zeros((0, 4)), 'a', SodadSplitConfig(mode='val'))
    assert [p[0] for p in train] == ['a__800__0___0']
    assert len(test) == 6


def write_raw(root, extra_anns=(), missing_image=False):
    """Two images (1920 x 1080 and 700 x 600) and a full-image SODA-D JSON."""
    (root / 'Images').mkdir(parents=True)
    cv2.imwrite(str(root / 'Images' / 'a.jpg'), np.full((1080, 1920, 3), 120, np.uint8))
    if not missing_image:
        cv2.imwrite(str(root / 'Images' / 'b.jpg'), np.full((600, 700, 3), 120, np.uint8))
    anns = [dict(image_id=1, category_id=1, bbox=[780, 100, 50, 10]),    # 40 % / whole
            dict(image_id=1, category_id=5, bbox=[1500, 900, 30, 30]),   # whole in x0=1120, y0=280
            dict(image_id=1, category_id=10, bbox=[300, 300, 80, 80]),   # ignore region
            dict(image_id=1, category_id=2, bbox=[50, 50, 0, 10]),       # degenerate: skipped
            dict(image_id=2, category_id=9, bbox=[10, 10, 20, 20])] + list(extra_anns)
    data = dict(images=[dict(id=1, file_name='a.jpg', width=1920, height=1080),
                        dict(id=2, file_name='b.jpg', width=700, height=600)],
                annotations=[dict(dict(id=k + 1, iscrowd=0, area=a['bbox'][2] * a['bbox'][3]), **a)
                             for k, a in enumerate(anns)],
                categories=sodad_categories(with_ignore=True))
    (root / 'train.json').write_text(json.dumps(data))
    return root


def test_split_writes_the_official_patch_json(tmp_path):
    raw = write_raw(tmp_path / 'raw')
    s = split_sodad(raw / 'train.json', raw / 'Images', tmp_path / 'out', SodadSplitConfig(mode='train'))
    coco = json.loads((tmp_path / 'out' / 'Annotations' / 'train.json').read_text())
    names = [im['file_name'] for im in coco['images']]
    # train mode: image a has annotations in 3 of its 6 patches (the 40 % box in x0=0 and x0=650, the category-5
    # box at y 900..930 only in the bottom row at x0=1120), image b in its single padded patch
    assert names == ['a__800__0___0.jpg', 'a__800__650___0.jpg', 'a__800__1120___280.jpg', 'b__800__0___0.jpg']
    assert all((tmp_path / 'out' / 'Images' / 'train' / n).is_file() for n in names)
    im = coco['images'][0]
    assert (im['id'], im['ori_id'], im['start_coord'], im['width'], im['height']) == (0, 1, [0, 0], 800, 800)
    assert coco['images'][2]['start_coord'] == [1120, 280] and coco['images'][3]['ori_id'] == 2
    a = coco['annotations'][0]
    assert a['bbox'] == [780, 100, 20, 10] and a['area'] == 200 and a['ignore'] == 1 and a['iscrowd'] == 0
    assert a['segmentation'] == [[780, 100, 800, 100, 800, 110, 780, 110]] and a['category_id'] == 1
    assert [x['id'] for x in coco['annotations']] == list(range(1, len(coco['annotations']) + 1))
    assert {c['id'] for c in coco['categories']} == set(range(1, 10))  # ignore regions were filled and removed
    assert all(x['category_id'] != 10 for x in coco['annotations'])
    assert s['objects'] == dict(whole=3, clipped=0, ignore_only=0, outside=0, total=3)
    assert s['ignore_regions_filled'] == 1 and s['skipped_invalid'] == {'degenerate box': 1}
    assert s['patches'] == dict(windows=7, written=4, dropped_empty=3)
    with pytest.raises(FileExistsError, match='a train split exists'):
        split_sodad(raw / 'train.json', raw / 'Images', tmp_path / 'out', SodadSplitConfig(mode='train'))
    s = split_sodad(raw / 'train.json', raw / 'Images', tmp_path / 'out', SodadSplitConfig(mode='test'))
    assert s['patches']['written'] == 7  # test mode keeps every patch, next to the train split


def split_tool(run_main, *args):
    r = run_main('tools/data/sodad_split.py', *args, '--workers', '1')
    return r.returncode, r


def test_cli_accounts_for_every_annotation_and_reports_failures(tmp_path, run_main):
    raw = write_raw(tmp_path / 'raw', missing_image=True)
    rc, out = split_tool(run_main, '--ann', raw / 'train.json', '--img-dir', raw / 'Images', '--dst', tmp_path / 'out')
    assert rc == 1  # image b is missing: reported, image a still split
    assert 'image ' in out.stdout and 'b.jpg (id 2) does not exist' in out.stdout
    assert ('annotations read: 5 = objects kept whole 2 + kept clipped only 0 + kept only as ignore (<= 40% inside) '
            '0 + outside every patch 0 + ignore regions filled 1 + skipped invalid 1 + lost with failed images 1') \
        in out.stdout
    summary = json.loads((tmp_path / 'out' / 'Annotations' / 'train_split_summary.json').read_text())
    assert summary['images'] == dict(total=2, split=1, failed=1, size_mismatch=0)
    assert summary['objects_per_class']['people'] == dict(whole=1, clipped=0, ignore_only=0, outside=0)


def test_cli_rejects_unusable_input(tmp_path, run_main):
    raw = write_raw(tmp_path / 'raw', extra_anns=[dict(image_id=1, category_id=11, bbox=[0, 0, 5, 5])])
    rc, out = split_tool(run_main, '--ann', raw / 'train.json', '--img-dir', raw / 'Images', '--dst', tmp_path / 'out')
    assert rc == 2 and 'train.json: unknown category_id 11' in out.stderr
    (raw / 'bad.json').write_text('{"images": [}')
    rc, out = split_tool(run_main, '--ann', raw / 'bad.json', '--img-dir', raw / 'Images', '--dst', tmp_path / 'out')
    assert rc == 2 and 'bad.json: malformed JSON' in out.stderr
    rc, out = split_tool(run_main, '--ann', raw / 'train.json', '--img-dir', raw / 'Images', '--dst', tmp_path / 'out',
                         '--ignore-thr', '1.5')
    assert rc == 2 and 'ignore_thr must lie in [0, 1)' in out.stderr
