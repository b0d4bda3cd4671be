"""The committed synthetic SODA-D sample (data/sample_sodad) and its generator (make_sample.py --format sodad)."""
import json

import cv2
import numpy as np

from cfinet_rotated.datasets.sodaa_split import sliding_windows
from cfinet_rotated.datasets.sodad_io import SODAD_IGNORE_ID, load_sodad
from cfinet_rotated.datasets.sodad_split import SodadSplitConfig, clip_to_windows, xywh_to_xyxy

from conftest import ROOT, load_tool

SAMPLE = ROOT / 'data' / 'sample_sodad'


def test_sample_is_small_valid_and_covers_the_subsets():
    total = sum(p.stat().st_size for p in SAMPLE.rglob('*') if p.is_file())
    assert total < 1.5 * 1024 * 1024
    ann = load_sodad(SAMPLE / 'Annotations' / 'sample.json')
    sizes = {(im['width'], im['height']) for im in ann.images}
    assert (1920, 1080) in sizes and any(w < 800 and h < 800 for w, h in sizes)
    for im in ann.images:
        img = cv2.imread(str(SAMPLE / 'Images' / im['file_name']))
        assert img.shape[:2] == (im['height'], im['width'])
    obj = ann.category != SODAD_IGNORE_ID
    assert set(ann.category[obj].tolist()) == set(range(1, 10))
    assert (ann.category == SODAD_IGNORE_ID).sum() >= 6
    np.testing.assert_allclose(ann.area, ann.bbox[:, 2] * ann.bbox[:, 3], atol=0.02)
    a = ann.area[obj]
    for lo, hi in ((0, 144), (144, 400), (400, 1024), (1024, 2000)):
        assert ((a > lo) & (a <= hi)).sum() >= 10, (lo, hi)
    assert a.max() <= 2000
    # some objects cross the patch borders of the 1920 x 1080 image
    first = ann.ann_img == 0
    _, inter = clip_to_windows(xywh_to_xyxy(ann.bbox[first & obj]), sliding_windows(1920, 1080, 800, 150, 0))
    ratio = inter / (ann.bbox[first & obj, 2] * ann.bbox[first & obj, 3])[:, None]
    assert (((ratio > 0) & (ratio < 1)).any(1)).sum() >= 3
    assert SodadSplitConfig().padding_value == (0, 0, 0)


def test_generator_reproduces_the_sample(tmp_path):
    tool = load_tool('tools/data/make_sample.py')
    # the smallest image alone (the whole sample: python tools/data/make_sample.py --format sodad)
    assert tool.main(['--format', 'sodad', '--out', str(tmp_path), '--only', '2']) == 0
    assert (tmp_path / 'Images' / 'sodad_0003.jpg').read_bytes() == (SAMPLE / 'Images' / 'sodad_0003.jpg').read_bytes()
    new = json.loads((tmp_path / 'Annotations' / 'sodad_0003.json').read_text())
    ref = json.loads((SAMPLE / 'Annotations' / 'sample.json').read_text())
    key = ('image_id', 'category_id', 'bbox', 'area')
    assert [[a[k] for k in key] for a in new['annotations']] == \
        [[a[k] for k in key] for a in ref['annotations'] if a['image_id'] == 3]
    assert new['images'] == [im for im in ref['images'] if im['id'] == 3]
