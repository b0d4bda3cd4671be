"""SODAADataset: parsing of split patches, patch origins, counted skips and errors that name the file."""
import json

import cv2
import numpy as np
import pytest

from cfinet_rotated.datasets import AnnotationError, SODAADataset
from cfinet_rotated.datasets.sodaa import _patch_origin


def _write_patch(root, pid, anns, image=True, extra=None):
    (root / 'Annotations').mkdir(parents=True, exist_ok=True)
    (root / 'Images').mkdir(parents=True, exist_ok=True)
    stem, _, rest = pid.partition('__800__')
    x, _, y = rest.partition('___')
    data = dict(filename=f'{pid}.jpg', x_start=int(x), y_start=int(y), id=pid, ori_id=stem, height=800,
                width=800, annotations=anns, categories=[])
    data.update(extra or {})
    (root / 'Annotations' / f'{pid}.json').write_text(json.dumps(data))
    if image:
        cv2.imwrite(str(root / 'Images' / f'{pid}.jpg'), np.zeros((800, 800, 3), np.uint8))


def _ann(poly, cat):
    return dict(poly=poly, cat_id=cat, trunc=0)


SQUARE = [10, 10, 30, 10, 30, 20, 10, 20]  # 20 x 10 px


def _dataset(root, **kw):
    return SODAADataset(data_root=str(root), ann_file='Annotations/', data_prefix=dict(img_path='Images/'),
                        pipeline=[], **kw)


def test_parses_patches_and_origin(tmp_path):
    _write_patch(tmp_path, 'P0001__800__650___0', [_ann(SQUARE, 2), _ann(SQUARE, 8)])
    _write_patch(tmp_path, 'P0001__800__0___0', [])
    ds = _dataset(tmp_path, filter_cfg=dict(filter_empty_gt=True))
    assert len(ds) == 1  # the empty patch is filtered for training
    info = ds.get_data_info(0)
    assert info['img_id'] == 'P0001__800__650___0'
    assert (info['ori_id'], info['x_start'], info['y_start']) == ('P0001', 650, 0)
    assert [i['bbox_label'] for i in info['instances']] == [2, 8]
    assert info['instances'][0]['bbox'] == [float(v) for v in SQUARE]
    assert ds.metainfo['classes'][8] == 'windmill'
    assert len(_dataset(tmp_path, test_mode=True)) == 2  # every patch is tested


def test_invalid_polygons_are_skipped_and_counted(tmp_path):
    anns = [_ann(SQUARE, 0), _ann([1, 2, 3], 0), _ann([0, 0, float('nan'), 0, 1, 1, 0, 1], 1),
            _ann([0, 0, 10, 0, 20, 0, 30, 0], 1), _ann(SQUARE, 12)]
    _write_patch(tmp_path, 'P0002__800__0___0', anns)
    ds = _dataset(tmp_path)
    assert len(ds.get_data_info(0)['instances']) == 1
    assert ds.skipped == {'degenerate': 1, 'non-finite': 1, 'unknown class': 1, 'wrong length': 1}


def test_malformed_json_and_missing_image_name_the_files(tmp_path):
    _write_patch(tmp_path, 'P0003__800__0___0', [_ann(SQUARE, 0)])
    _write_patch(tmp_path, 'P0004__800__0___0', [_ann(SQUARE, 0)], image=False)
    (tmp_path / 'Annotations' / 'P0005__800__0___0.json').write_text('{"annotations": [')
    with pytest.raises(AnnotationError) as e:
        _dataset(tmp_path)
    msg = str(e.value)
    assert '2 of 3' in msg
    assert 'P0004__800__0___0.jpg does not exist' in msg
    assert 'P0005__800__0___0.json: malformed JSON' in msg


def test_empty_annotation_folder_is_an_error(tmp_path):
    (tmp_path / 'Annotations').mkdir()
    with pytest.raises(AnnotationError, match='no \\*.json'):
        _dataset(tmp_path)


@pytest.mark.parametrize('pid,expected', [
    ('P0001__800__650___1300', ('P0001', 650, 1300)),
    ('my__odd__name__800__0___3040', ('my__odd__name', 0, 3040)),  # stems may contain '__'
    ('P0009', ('P0009', 0, 0)),  # an unsplit image is its own original
])
def test_patch_origin_from_name(pid, expected):
    assert _patch_origin(pid, {}) == expected
