"""Full-image inference: windows, lazy patch reading, the sliding-window merge, the API on tiny configs."""
import itertools

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from cfinet_rotated.apis import PatchReader, detect_large_image, detect_with_predictor, init_detector, patch_windows
from cfinet_rotated.datasets.sodaa_split import sliding_windows

BASELINE = 'configs/baselines/rotated-faster-rcnn_tiny_sample.py'
SODAD = 'configs/sodad/faster-rcnn_tiny_sample.py'
#: random weights score every class about 1/10: few proposals and no score threshold keep the box head's NMS cheap
#: and still give detections to merge
FAST = dict(model=dict(test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=20), rcnn=dict(score_thr=0.0))))


# ------------------------------------------------------------------------------------------------ windows
@pytest.mark.parametrize('w, h, xs, ys', [
    (500, 300, [0], [0]),                # smaller than a patch: one padded window
    (800, 800, [0], [0]),                # exactly one patch
    (801, 800, [0, 1], [0]),             # one pixel more: a second window snapped to the border
    (1457, 1450, [0, 650, 657], [0, 650]),  # odd size: ceil((1457 - 800) / 650 + 1) = 3, last one snapped
    (2000, 300, [0, 650, 1200], [0]),
])
def test_windows_hand_computed_and_cover_the_image(w, h, xs, ys):
    win = patch_windows(w, h, 800, 150)
    assert sorted({int(v) for v in win[:, 0]}) == xs and sorted({int(v) for v in win[:, 1]}) == ys
    assert len(win) == len(xs) * len(ys)
    assert ((win[:, 2] - win[:, 0]) == 800).all() and ((win[:, 3] - win[:, 1]) == 800).all()
    covered = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in win:
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    # the training split's windows (its ratio filter keeps all of them) and MMRotate's slide_window
    np.testing.assert_array_equal(win, sliding_windows(w, h, 800, 150))
    from mmrotate.utils import slide_window
    np.testing.assert_array_equal(np.asarray(sorted(map(tuple, win))),
                                  np.asarray(sorted(map(tuple, slide_window(w, h, [800], [650])))))


def test_window_arguments_are_checked():
    with pytest.raises(ValueError, match='overlap'):
        patch_windows(1000, 1000, 800, 800)
    with pytest.raises(ValueError, match='patch'):
        patch_windows(1000, 1000, 0, 0)


# ------------------------------------------------------------------------------------------------ reader
@pytest.fixture(scope='module')
def picture():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)


def test_reader_array_gives_views(picture):
    r = PatchReader(picture)
    assert (r.mode, r.width, r.height) == ('array', 53, 37)
    crop = r.read((10, 5, 30, 100))  # clipped at the bottom
    assert crop.shape == (32, 20, 3) and np.shares_memory(crop, picture)
    np.testing.assert_array_equal(crop, picture[5:, 10:30])
    grey = PatchReader(picture[..., 0]).read((0, 0, 4, 4))
    np.testing.assert_array_equal(grey, np.repeat(picture[:4, :4, :1], 3, axis=2))


@pytest.mark.parametrize('ext, mode', [('.bmp', 'memmap'), ('.ppm', 'memmap'), ('.tif', 'memmap'),
                                       ('.png', 'decoded'), ('.npy', 'memmap')])
def test_reader_files_memory_map_uncompressed_formats(tmp_path, picture, ext, mode):
    path = str(tmp_path / f'img{ext}')
    if ext == '.npy':
        np.save(path, picture)
    elif ext == '.tif':
        from PIL import Image
        Image.fromarray(picture[..., ::-1]).save(path, compression='raw')  # RGB file, uncompressed strips
    else:
        assert cv2.imwrite(path, picture)
    r = PatchReader(path)
    if ext == '.tif':  # with rasterio installed a TIFF is read window by window through GDAL (test_geotiff.py)
        import importlib.util
        mode = 'rasterio' if importlib.util.find_spec('rasterio') else mode
    assert r.mode == mode and (r.width, r.height) == (53, 37)
    for win in [(0, 0, 53, 37), (7, 3, 40, 20), (50, 30, 900, 900)]:
        x1, y1, x2, y2 = win
        np.testing.assert_array_equal(r.read(win), picture[y1:y2, x1:x2], err_msg=f'{ext} {win}')


def test_reader_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        PatchReader(str(tmp_path / 'nope.jpg'))
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='bad.jpg: cannot be read'):
        PatchReader(str(bad))
    with pytest.raises(ValueError, match='uint8'):
        PatchReader(np.zeros((5, 5, 3), np.float32))
    with pytest.raises(ValueError, match='outside'):
        PatchReader(np.zeros((5, 5, 3), np.uint8)).read((10, 10, 20, 20))


# ------------------------------------------------------------------------------ merge (stand-in detector)
class StandIn:
    """Returns, for each window, the objects it would have been trained on: those with >= 70 % of their area
    inside (the split's IoF rule), clipped to the window, in window coordinates; score 0.5 + 0.4 * IoF."""

    def __init__(self, boxes, labels):
        self.boxes = np.asarray(boxes, np.float32)
        self.labels = np.asarray(labels)
        self.calls = []

    def __call__(self, crops, windows):
        self.calls.append(len(windows))
        out = []
        for crop, (x1, y1, x2, y2) in zip(crops, windows):
            assert crop.shape[:2] == (min(y2, self.height) - y1, min(x2, self.width) - x1)
            b = self.boxes
            clip = np.stack([np.clip(b[:, 0], x1, x2), np.clip(b[:, 1], y1, y2),
                             np.clip(b[:, 2], x1, x2), np.clip(b[:, 3], y1, y2)], 1)
            iof = np.prod(np.clip(clip[:, 2:] - clip[:, :2], 0, None), 1) / np.prod(b[:, 2:] - b[:, :2], 1)
            k = iof >= 0.7
            out.append(InstanceData(bboxes=torch.from_numpy(clip[k] - [x1, y1, x1, y1]),
                                    scores=torch.from_numpy((0.5 + 0.4 * iof[k]).astype(np.float32)),
                                    labels=torch.from_numpy(self.labels[k])))
        return out


OBJECTS = np.array([
    [700, 700, 740, 740],   # in the overlap of all four windows: seen whole four times
    [770, 300, 810, 330],   # crosses x = 800 (right edge of the first column): 75 % inside it, clipped there
    [630, 400, 670, 430],   # crosses x = 650 (left edge of the second column): 50 % inside it, whole in the first
    [300, 785, 330, 815],   # crosses y = 800: 50 % in the first row, whole in the second
    [1000, 1000, 1020, 1012],  # inside one window only
], np.float32)


@pytest.mark.parametrize('batch_size', [1, 3, 4])
def test_straddling_objects_are_found_exactly_once(batch_size):
    img = np.zeros((1450, 1450, 3), np.uint8)  # windows x, y in {0, 650}
    det = StandIn(OBJECTS, [0, 1, 2, 3, 0])
    det.width = det.height = 1450
    merged, windows, box_type = detect_with_predictor(PatchReader(img), det, 9, batch_size=batch_size)
    assert box_type == 'hbox' and len(windows) == 4
    assert det.calls == [min(batch_size, 4 - i) for i in range(0, 4, batch_size)]
    order = np.argsort(merged['bboxes'][:, 0] * 10000 + merged['bboxes'][:, 1])
    expect = OBJECTS[np.argsort(OBJECTS[:, 0] * 10000 + OBJECTS[:, 1])]
    np.testing.assert_allclose(merged['bboxes'][order], expect, atol=1e-4)  # each once, whole, image coords
    np.testing.assert_allclose(np.sort(merged['scores']), 0.9, atol=1e-6)  # the whole views won
    # the test can fail: without the merge NMS the duplicates stay
    raw, _, _ = detect_with_predictor(PatchReader(img), det, 9, batch_size=batch_size, nms_iou_thr=None)
    assert len(raw['scores']) == 4 + 2 + 1 + 1 + 1


def test_rotated_predictions_are_shifted_and_merged_with_rotated_nms():
    """A rotated object in the overlap of four windows: four window-coordinate boxes -> one image box."""
    obj = np.array([720., 710., 30., 12., 0.4], np.float32)

    def det(crops, windows):
        out = []
        for x1, y1, _, _ in windows:
            b = obj.copy()
            b[:2] -= [x1, y1]
            out.append(InstanceData(bboxes=torch.from_numpy(np.stack([b, b + [3, 0, 0, 0, 0]])),
                                    scores=torch.tensor([0.9, 0.2]), labels=torch.tensor([4, 4])))
        return out

    merged, _, box_type = detect_with_predictor(PatchReader(np.zeros((1450, 1450, 3), np.uint8)), det, 9)
    assert box_type == 'rbox'
    np.testing.assert_allclose(merged['bboxes'], obj[None], atol=1e-4)
    assert merged['labels'].tolist() == [4]


# ------------------------------------------------------------------------------------ API on tiny configs
@pytest.fixture(scope='module')
def scene():
    img = cv2.imread('data/sample/Images/sample_0003.jpg')  # 1200 x 700
    return np.ascontiguousarray(img[:, :1000])  # 1000 x 700: two windows


def test_api_runs_a_tiny_rotated_model_on_an_image_larger_than_a_patch(scene):
    torch.manual_seed(0)
    model = init_detector(BASELINE, None, device='cpu', cfg_options=FAST)
    assert model.dataset_meta['classes'][0] == 'airplane' and len(model.dataset_meta['classes']) == 9
    res = detect_large_image(model, scene, batch_size=2)
    assert res.metainfo['num_windows'] == 2 and res.metainfo['ori_shape'] == (700, 1000)
    assert res.metainfo['box_type'] == 'rbox'
    pred = res.pred_instances
    assert pred.bboxes.shape[1] == 5 and len(pred) > 0
    assert torch.isfinite(pred.bboxes).all() and ((pred.labels >= 0) & (pred.labels < 9)).all()
    assert (pred.bboxes[:, 0] > -50).all() and (pred.bboxes[:, 0] < 1050).all()
    # batching does not change the result
    res1 = detect_large_image(model, scene, batch_size=1)
    torch.testing.assert_close(res1.pred_instances.bboxes, pred.bboxes, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(res1.pred_instances.scores, pred.scores, atol=1e-5, rtol=1e-4)


def test_api_horizontal_model_merges_with_horizontal_boxes(scene):
    torch.manual_seed(0)
    model = init_detector(SODAD, None, device='cpu', cfg_options=FAST)
    res = detect_large_image(model, scene[:500, :900], batch_size=2)  # 900 x 500: two windows, padded black
    assert res.metainfo['box_type'] == 'hbox' and res.metainfo['num_windows'] == 2
    assert res.pred_instances.bboxes.shape[1] == 4 and len(res.pred_instances) > 0


def test_init_detector_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        init_detector(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_detector(BASELINE, str(tmp_path / 'nope.pth'))


def test_every_window_combination_is_read_once(scene):
    """The windows the reader serves are exactly the layout's, each once (no whole-image reads)."""
    reads = []

    class Spy(PatchReader):
        def read(self, window):
            reads.append(tuple(int(v) for v in window))
            return super().read(window)

    def det(crops, windows):
        return [InstanceData(bboxes=torch.zeros(0, 5), scores=torch.zeros(0), labels=torch.zeros(0, dtype=torch.long))
                for _ in windows]

    big = np.zeros((1500, 2100, 3), np.uint8)
    detect_with_predictor(Spy(big), det, 9, batch_size=5)
    expect = [(x, y, x + 800, y + 800) for x, y in itertools.product([0, 650, 1300], [0, 650, 700])]
    assert sorted(reads) == sorted(expect)
