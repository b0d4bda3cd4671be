"""GeoTIFF input (issue 22): windowed reads with rasterio (tiled, compressed), georeferencing kept, GeoJSON output
of tools/infer.py in the image's CRS, and clear errors for what the detectors cannot take."""
import json

import cv2
import numpy as np
import pytest
import torch

from cfinet_rotated.apis import PatchReader

from conftest import ROOT

rasterio = pytest.importorskip('rasterio')
from rasterio.transform import from_origin  # noqa: E402

REAL_PNG = ROOT / 'tests/data/real/dota/images/P1888.png'
#: a UTM pixel grid: 0.3 m pixels, top-left corner at (500000, 4100000)
TRANSFORM = from_origin(500000.0, 4100000.0, 0.3, 0.3)


def write_geotiff(path, bgr, dtype='uint8', crs='EPSG:32633'):
    rgb = bgr[..., ::-1].transpose(2, 0, 1).astype(dtype)
    with rasterio.open(path, 'w', driver='GTiff', width=rgb.shape[2], height=rgb.shape[1], count=3, dtype=dtype,
                       crs=crs, transform=TRANSFORM, tiled=True, blockxsize=256, blockysize=256,
                       compress='deflate') as dst:
        dst.write(rgb)


def test_windowed_reads_equal_the_pixels_and_keep_the_georeferencing(tmp_path):
    bgr = cv2.imread(str(REAL_PNG))
    tif = tmp_path / 'scene.tif'
    write_geotiff(tif, bgr)
    r = PatchReader(str(tif))
    assert r.mode == 'rasterio' and (r.width, r.height) == (712, 557) and r.crs == 'EPSG:32633'
    assert np.array_equal(r.read((100, 50, 500, 400)), bgr[50:400, 100:500])
    assert np.array_equal(r.read((600, 500, 1400, 1300)), bgr[500:, 600:])  # clipped at the border
    # pixel (x, y) -> (500000 + 0.3 x, 4100000 - 0.3 y), by hand
    assert np.allclose(r.pixel_to_crs([[0, 0], [10, 20]]), [[500000, 4100000], [500003, 4099994]])
    small = r.read_all(max_side=200)
    assert small.shape == (156, 200, 3)  # decimated by GDAL, never whole
    assert abs(float(small.mean()) - float(bgr.mean())) < 3
    r.close()


def test_geotiff_errors_name_the_file(tmp_path):
    bgr = cv2.imread(str(REAL_PNG))[:64, :64]
    tif = tmp_path / 'deep.tif'
    write_geotiff(tif, bgr, dtype='uint16')
    with pytest.raises(ValueError, match=r'deep.tif: uint16 samples.*gdal_translate -ot Byte -scale'):
        PatchReader(str(tif))
    bad = tmp_path / 'bad.tif'
    bad.write_bytes(b'not a tiff')
    with pytest.raises(ValueError, match='bad.tif'):
        PatchReader(str(bad))


def test_infer_writes_geojson_in_the_image_crs(tmp_path, run_main):
    bgr = cv2.imread(str(REAL_PNG))
    write_geotiff(tmp_path / 'scene.tif', bgr)
    cfg = 'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'
    from cfinet_rotated.apis import init_detector
    torch.manual_seed(0)
    model = init_detector(cfg, None)
    ckpt = tmp_path / 'random.pth'
    torch.save(dict(meta=dict(dataset_meta=model.dataset_meta), state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'out'
    r = run_main('tools/infer.py', tmp_path / 'scene.tif', cfg, ckpt, '--out-dir', out, '--cfg-options',
                 'model.test_cfg.rpn.nms_pre=200', 'model.test_cfg.rpn.max_per_img=20',
                 'model.test_cfg.rcnn.score_thr=0.0')
    assert r.returncode == 0, r.stderr
    assert 'GeoJSON of 1 georeferenced image(s)' in r.stdout
    det = json.loads((out / 'json/scene.json').read_text())
    geo = json.loads((out / 'geojson/scene.geojson').read_text())
    assert geo['type'] == 'FeatureCollection' and geo['crs']['properties']['name'] == 'EPSG:32633'
    assert len(geo['features']) == len(det['detections']) > 0
    f, d = geo['features'][0], det['detections'][0]
    ring = np.array(f['geometry']['coordinates'][0])
    poly = np.array(d['poly']).reshape(4, 2)
    assert ring.shape == (5, 2) and np.allclose(ring[0], ring[-1])
    assert np.allclose(ring[:4], np.stack([500000 + 0.3 * poly[:, 0], 4100000 - 0.3 * poly[:, 1]], 1))
    assert f['properties'] == dict(cls=d['cls'], label=d['label'], score=d['score'])
