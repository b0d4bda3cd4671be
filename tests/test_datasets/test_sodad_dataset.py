"""SODADDataset: parsing of the patch JSON (official skip rules), patch origins, counted skips, errors naming the
file, and registration in both libraries' registries."""
import json

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from cfinet_rotated.datasets import AnnotationError, SODADDataset
from cfinet_rotated.datasets.sodad_io import load_sodad, sodad_categories


def write_split(root, images, anns, categories=None, missing=()):
    """A patch-level JSON ``root/ann.json`` and black 800 px images in ``root/img`` (except ``missing``)."""
    (root / 'img').mkdir(parents=True, exist_ok=True)
    for im in images:
        if im['file_name'] not in missing:
            cv2.imwrite(str(root / 'img' / im['file_name']), np.zeros((8, 8, 3), np.uint8))
    data = dict(images=images, annotations=[dict(dict(id=k + 1, iscrowd=0), **a) for k, a in enumerate(anns)],
                categories=sodad_categories() if categories is None else categories)
    (root / 'ann.json').write_text(json.dumps(data))
    return root


def patch(pid, ori=3, x0=0, y0=0):
    return dict(id=pid, file_name=f'p{pid}.jpg', width=800, height=800, ori_id=ori, start_coord=[x0, y0])


def box(img, cat, bbox, **kw):
    return dict(image_id=img, category_id=cat, bbox=bbox, area=float(bbox[2] * bbox[3]), **kw)


def dataset(root, scope='mmdet', **kw):
    from mmdet.registry import DATASETS
    init_default_scope(scope)
    cfg = dict(type='SODADDataset', data_root=str(root), ann_file='ann.json', data_prefix=dict(img='img/'),
               pipeline=[], **kw)
    return DATASETS.build(cfg)


def test_official_skip_rules_and_patch_origin(tmp_path):
    anns = [box(0, 1, [10, 10, 20, 10]),                  # person -> label 0
            box(0, 9, [700, 700, 50, 30]),                # warning-cone -> label 8
            box(0, 5, [790, 10, 40, 40], ignore=1),       # clipped to <= 40 %: flagged ignore by the splitter
            box(0, 10, [300, 300, 80, 80]),               # ignore region (only in unfilled splits)
            box(0, 2, [100, 100, 0.5, 10]),               # narrower than 1 px
            box(0, 3, [900, 900, 10, 10])]                # outside the 800 px patch
    root = write_split(tmp_path, [patch(0, ori=3, x0=650, y0=280), patch(1, ori=4)], anns)
    ds = dataset(root, filter_cfg=dict(filter_empty_gt=True, min_size=32))
    assert len(ds) == 1  # patch 1 has no annotation: not a training image
    info = ds.get_data_info(0)
    assert [i['bbox_label'] for i in info['instances']] == [0, 8]
    assert info['instances'][0]['bbox'] == [10, 10, 30, 20]  # xyxy, no -1
    assert all(i['ignore_flag'] == 0 for i in info['instances'])
    assert (info['ori_id'], info['start_coord'], info['x_start'], info['y_start']) == (3, (650, 280), 650, 280)
    assert ds.skipped == {'ignore flag': 1, 'ignore region (category 10)': 1, 'degenerate box': 1,
                          'outside the image': 1}
    assert ds.metainfo['classes'][5] == 'traffic-sign'
    test = dataset(root, test_mode=True)
    assert len(test) == 2 and test.get_data_info(1)['ori_id'] == 4  # every patch is tested


def test_built_from_either_scope_and_unsplit_images_are_their_own_original(tmp_path):
    root = write_split(tmp_path, [dict(id=5, file_name='full.jpg', width=1920, height=1080)],
                       [box(5, 1, [10, 10, 20, 10])])
    for scope in ('mmdet', 'mmrotate'):
        ds = dataset(root, scope)
        assert isinstance(ds, SODADDataset)
        info = ds.get_data_info(0)
        assert (info['ori_id'], info['x_start'], info['y_start']) == (5, 0, 0)


def test_missing_images_are_listed_in_one_error(tmp_path):
    root = write_split(tmp_path, [patch(0), patch(1), patch(2)], [box(0, 1, [1, 1, 5, 5])],
                       missing=('p1.jpg', 'p2.jpg'))
    with pytest.raises(AnnotationError) as e:
        dataset(root)
    msg = str(e.value)
    assert 'ann.json: 2 of 3 images are unusable' in msg and 'p1.jpg (id 1) does not exist' in msg and 'p2.jpg' in msg


@pytest.mark.parametrize('anns,expected', [
    ([box(0, 12, [1, 1, 5, 5])], 'ann.json: unknown category_id 12 (annotation ids 1)'),
    ([dict(image_id=0, category_id=1, bbox=[1, 2, 3], area=3)], 'ann.json: "bbox" must be 4 numbers'),
    ([box(7, 1, [1, 1, 5, 5])], 'ann.json: annotations of unknown image ids (annotation ids 1: image_id 7)'),
    ([dict(image_id=0, bbox=[1, 1, 5, 5])], 'annotations without "image_id", "category_id" or "bbox"'),
])
def test_bad_annotations_name_the_file(tmp_path, anns, expected):
    root = write_split(tmp_path, [patch(0)], anns)
    with pytest.raises(AnnotationError, match='ann.json: '):
        dataset(root)
    with pytest.raises(AnnotationError) as e:
        load_sodad(root / 'ann.json')
    assert expected in str(e.value)


def test_malformed_json_and_missing_classes(tmp_path):
    root = write_split(tmp_path, [patch(0)], [])
    (root / 'ann.json').write_text('{"images": [')
    with pytest.raises(AnnotationError, match='ann.json: malformed JSON'):
        dataset(root)
    write_split(tmp_path, [patch(0)], [box(0, 1, [1, 1, 5, 5])],
                categories=[dict(id=1, name='people'), dict(id=2, name='cyclist')])
    with pytest.raises(AnnotationError, match='classes rider, bicycle, .* are not in its "categories"'):
        dataset(root)


def test_missing_area_is_filled_and_counted(tmp_path):
    a = box(0, 1, [10, 10, 20, 10])
    del a['area']
    ds = dataset(write_split(tmp_path, [patch(0)], [a]))
    assert len(ds.get_data_info(0)['instances']) == 1
    assert ds.skipped == {'area missing: w*h used': 1}
