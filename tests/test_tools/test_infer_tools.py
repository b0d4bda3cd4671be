"""tools/infer.py, tools/analysis_tools/browse_dataset.py, tools/model_converters/publish_model.py and the pictures
they draw."""
import hashlib
import json
import os

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from cfinet_rotated.visualization import SUBSET_COLORS, draw_detections, draw_ground_truth, size_subset_names

from conftest import ROOT, run_tool

CFINET = 'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'
#: random weights score every class about 1/10: few proposals and no score threshold keep the box head's NMS cheap
FAST = dict(model=dict(test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=20), rcnn=dict(score_thr=0.0))))
FAST_ARGS = ['model.test_cfg.rpn.nms_pre=200', 'model.test_cfg.rpn.max_per_img=20', 'model.test_cfg.rcnn.score_thr=0.0']


def _result(bboxes, scores, labels):
    r = DetDataSample()
    r.pred_instances = InstanceData(bboxes=torch.tensor(bboxes, dtype=torch.float32),
                                    scores=torch.tensor(scores, dtype=torch.float32),
                                    labels=torch.tensor(labels))
    return r


def _lit(img, y, x, r=2):
    return img[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].max() > 40


def test_drawn_detections_have_the_image_size_and_pixels_on_the_boxes():
    img = np.zeros((200, 300, 3), np.uint8)
    res = _result([[100, 80, 60, 30, 0.0], [240, 150, 40, 40, 0.0]], [0.9, 0.1], [0, 1])
    pic = draw_detections(img, res, ('a', 'b'), palette=[(255, 0, 0), (0, 255, 0)], score_thr=0.3)
    assert pic.shape == (200, 300, 3)
    assert _lit(pic, 80 - 15, 100) and _lit(pic, 80, 70) and _lit(pic, 80, 130)  # edges of the kept box
    assert not _lit(pic, 150 - 20, 260) and not _lit(pic, 150 + 20, 240)  # the 0.1 box is below --score-thr
    assert not _lit(pic, 10, 10) and not _lit(pic, 190, 290)  # background stays
    # ignore regions are shaded, a large image is drawn downscaled with its boxes
    shaded = draw_detections(img, res, ('a', 'b'), score_thr=0.3, ignore_polygons=[np.array([[0, 0], [40, 0],
                                                                                              [40, 40], [0, 40]])])
    assert shaded[20, 20].min() > 30 and shaded[100, 250].max() == 0
    small = draw_detections(img, res, ('a', 'b'), score_thr=0.3, max_side=150)
    assert small.shape == (100, 150, 3) and _lit(small, 40 - 7, 50)


def test_dense_label_mode_draws_boxes_in_class_colour_and_a_legend_without_box_text():
    """labels='none': box edges in the class colour, no text at the box centre (the 'score' mode writes there),
    a legend at the top left; 'auto' switches to it above AUTO_LABEL_MAX boxes."""
    from cfinet_rotated.visualization import AUTO_LABEL_MAX
    img = np.zeros((200, 300, 3), np.uint8)
    res = _result([[150, 120, 80, 40, 0.0]], [0.9], [1])
    pal = [(255, 0, 0), (0, 255, 0)]
    none = draw_detections(img, res, ('a', 'b'), palette=pal, labels='none')
    score = draw_detections(img, res, ('a', 'b'), palette=pal, labels='score')
    assert _lit(none, 120 - 20, 150) and none[120 - 20, 150].argmax() == 1  # the box edge, green for class 'b'
    assert not _lit(none, 121, 152, r=4) and _lit(score, 121, 152, r=4)  # no label at the box in 'none'
    assert _lit(none, 10, 12, r=4) and not _lit(score, 10, 12, r=4)  # the legend 'b: 1'
    with pytest.raises(ValueError, match='labels must be one of'):
        draw_detections(img, res, ('a', 'b'), labels='all')
    n = AUTO_LABEL_MAX + 1
    many = _result([[150, 120, 4, 4, 0.0]] * n, [0.9] * n, [1] * n)
    assert np.array_equal(draw_detections(img, many, ('a', 'b'), palette=pal, labels='auto'),
                          draw_detections(img, many, ('a', 'b'), palette=pal, labels='none'))


def test_ground_truth_colours_follow_the_size_subsets():
    assert size_subset_names([0, 144, 145, 400, 401, 1024, 1025, 2000, 2001]).tolist() == \
        ['eS', 'eS', 'rS', 'rS', 'gS', 'gS', 'Normal', 'Normal', 'larger']
    img = np.zeros((300, 400, 3), np.uint8)
    # areas 100 (eS) and 1600 (Normal), away from the legend in the top-left corner
    boxes = np.array([[330, 250, 10, 10, 0], [250, 200, 40, 40, 0]], np.float32)
    pic = draw_ground_truth(img, boxes, 'rbox', [100, 1600], line_width=2)
    assert pic.shape == (300, 400, 3)
    np.testing.assert_allclose(pic[200, 230], SUBSET_COLORS['Normal'], atol=60)  # left edge of the Normal box
    np.testing.assert_allclose(pic[250, 325], SUBSET_COLORS['eS'], atol=60)
    assert pic[100, 300].max() == 0


def test_infer_tool_writes_task1_json_and_pictures(tmp_path, run_main):
    img = cv2.imread(str(ROOT / 'data/sample/Images/sample_0003.jpg'))[:, :900]  # 900 x 700: two windows
    os.makedirs(tmp_path / 'imgs')
    cv2.imwrite(str(tmp_path / 'imgs' / 'sample_0003.png'), img)
    torch.manual_seed(0)
    ckpt = tmp_path / 'random.pth'
    from cfinet_rotated.apis import init_detector
    model = init_detector(CFINET, None)
    torch.save(dict(meta=dict(dataset_meta=model.dataset_meta), state_dict=model.state_dict()), ckpt)
    out, vis = tmp_path / 'out', tmp_path / 'vis'
    r = run_main('tools/infer.py', tmp_path / 'imgs', CFINET, ckpt, '--out-dir', out, '--show-dir', vis,
                 '--score-thr', 0.0, '--ignore-ann', ROOT / 'data/sample/Annotations', '--batch-size', 2,
                 '--cfg-options', *FAST_ARGS)
    assert r.returncode == 0, r.stderr
    assert '1 image(s)' in r.stdout
    # a tiny model is trained on synthetic scenes and says so (configs/_base_/tiny.py: trained_on)
    assert 'trained on synthetic scenes of tools/data/make_sample.py, not on real imagery' in r.stderr
    det = json.loads((out / 'json' / 'sample_0003.json').read_text())
    assert (det['width'], det['height'], det['windows'], det['box_type']) == (900, 700, 2, 'rbox')
    assert len(det['detections']) > 0 and len(det['detections'][0]['poly']) == 8
    pic = cv2.imread(str(vis / 'sample_0003.png'))
    assert pic.shape == img.shape and (pic != img).any()
    # the Task1 files hold the same detections and tools/analysis_tools/eval_sodaa.py reads them
    from cfinet_rotated.evaluation.sodaa_eval import read_task1
    t1 = read_task1(str(out / 'Task1'))
    assert len(t1['sample_0003']['scores']) == len(det['detections'])
    np.testing.assert_allclose(np.sort(t1['sample_0003']['scores']), np.sort([d['score'] for d in det['detections']]),
                               atol=1e-5)
    e = run_main('tools/analysis_tools/eval_sodaa.py', '--ann', ROOT / 'data/sample/Annotations',
                 '--pred', out / 'Task1',
                 '--nproc', 1)
    assert e.returncode == 0, e.stderr
    assert 'Average Precision' in e.stdout or 'AP' in e.stdout
    # bad input names the problem
    bad = run_main('tools/infer.py', tmp_path / 'nothing', CFINET, ckpt, '--out-dir', out)
    assert bad.returncode == 2 and 'nothing: no such file or folder' in bad.stderr


def test_browse_dataset_sodaa_and_sodad(tmp_path, run_main):
    r = run_main('tools/analysis_tools/browse_dataset.py', ROOT / 'data/sample/Annotations',
                 '--out-dir', tmp_path / 'a',
                 '--names', 'sample_0003')
    assert r.returncode == 0, r.stderr
    pic = cv2.imread(str(tmp_path / 'a' / 'sample_0003.png'))
    assert pic.shape[:2] == (700, 1200)
    # the printed counts are the evaluator's subsets of that image
    from cfinet_rotated.evaluation.size_ap import box_areas
    from cfinet_rotated.evaluation.sodaa_eval import load_ground_truth
    gt = load_ground_truth(ROOT / 'data/sample/Annotations', min_size=0)['sample_0003']
    names = size_subset_names(box_areas(gt['bboxes']))
    for k in ('eS', 'rS', 'gS'):
        assert f'{k} {int((names == k).sum())}' in r.stdout
    r = run_main('tools/analysis_tools/browse_dataset.py', ROOT / 'data/sample_sodad/Annotations/sample.json',
                 '--img-dir',
                 ROOT / 'data/sample_sodad/Images', '--out-dir', tmp_path / 'd', '--names', 'sodad_0003')
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(tmp_path / 'd' / 'sodad_0003.png')).shape[:2] == (600, 700)
    bad = run_main('tools/analysis_tools/browse_dataset.py', ROOT / 'data/sample_sodad/Annotations/sample.json',
                   '--out-dir',
                   tmp_path / 'd')
    assert bad.returncode == 2 and '--img-dir is required' in bad.stderr


# --------------------------------------------------------------------------------------------- publish
@pytest.fixture(scope='module')
def trained_like_checkpoint(tmp_path_factory):
    """A tiny CFINet checkpoint as MMEngine writes it (meta, state_dict, optimizer, message_hub) with a filled
    exemplar set."""
    from mmengine.logging import HistoryBuffer

    from cfinet_rotated.apis import init_detector
    torch.manual_seed(0)
    model = init_detector(CFINET, None)
    ex = model.roi_head.exemplar_set
    ex.push(torch.randn(20, *ex.feat_shape), torch.arange(20) % 9)
    sd = model.state_dict()
    path = tmp_path_factory.mktemp('ckpt') / 'iter_5.pth'
    torch.save(dict(meta=dict(dataset_meta=model.dataset_meta, iter=5), state_dict=sd,
                    optimizer=dict(state={0: dict(momentum_buffer=torch.ones(3))}, param_groups=[dict(lr=0.01)]),
                    message_hub=dict(log_scalars=dict(loss=HistoryBuffer([1.0, 2.0], [1, 1])))), path)
    return path


def test_publish_model_strips_training_state_and_predicts_the_same(trained_like_checkpoint, tmp_path, run_main,
                                                                  capsys):
    from cfinet_rotated.apis import detect_large_image, init_detector
    r = run_main('tools/model_converters/publish_model.py', trained_like_checkpoint, tmp_path / 'pub.pth')
    assert r.returncode == 0, r.stderr
    files = list(tmp_path.glob('pub-*.pth'))
    assert len(files) == 1
    sha = hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert files[0].name == f'pub-{sha[:8]}.pth' and f'sha256 {sha}' in r.stdout
    pub = torch.load(files[0], weights_only=True)
    assert set(pub) == {'meta', 'state_dict'}
    assert not [k for k in pub['state_dict'] if 'exemplar_set' in k]
    assert 'removed optimizer' in r.stdout and 'removed state_dict.roi_head.exemplar_set.feats' in r.stdout
    # loads without missing-key messages, the exemplar set starts empty, predictions are identical
    full = init_detector(CFINET, str(trained_like_checkpoint), cfg_options=FAST)
    assert int(full.roi_head.exemplar_set.count.sum()) == 20
    capsys.readouterr()
    slim = init_detector(CFINET, str(files[0]), cfg_options=FAST)
    assert 'missing keys' not in capsys.readouterr().out  # MMEngine prints them (load_checkpoint, strict=False)
    assert int(slim.roi_head.exemplar_set.count.sum()) == 0 and not slim.roi_head.exemplar_set.feats.any()
    img = cv2.imread(str(ROOT / 'data/sample/Images/sample_0003.jpg'))[:600, :900]
    a = detect_large_image(full, img).pred_instances
    b = detect_large_image(slim, img).pred_instances
    assert len(a) > 0
    torch.testing.assert_close(a.bboxes, b.bboxes)
    torch.testing.assert_close(a.scores, b.scores)
    # strict loading: all three buffers absent is fine and empties a filled set; one present alone reports the
    # other two missing
    full.load_state_dict(pub['state_dict'], strict=True)
    assert int(full.roi_head.exemplar_set.count.sum()) == 0 and not full.roi_head.exemplar_set.feats.any()
    partial = dict(pub['state_dict'], **{'roi_head.exemplar_set.feats': slim.roi_head.exemplar_set.feats})
    with pytest.raises(RuntimeError, match='exemplar_set.ptr'):
        slim.load_state_dict(partial, strict=True)


def test_publish_model_bad_input(tmp_path, run_main):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'garbage')
    r = run_main('tools/model_converters/publish_model.py', bad, tmp_path / 'o.pth')
    assert r.returncode == 2 and 'bad.pth: not a readable checkpoint' in r.stderr
    torch.save(dict(weights=torch.ones(2)), tmp_path / 'foreign.pth')
    r = run_main('tools/model_converters/publish_model.py', tmp_path / 'foreign.pth', tmp_path / 'o.pth')
    assert r.returncode == 2 and 'state_dict' in r.stderr


@pytest.mark.slow
def test_release_script_end_to_end_with_one_iteration(tmp_path):
    out = tmp_path / 'ckpt' / 'release.pth'
    run_tool('tools/misc/make_release_checkpoint.sh', 1, 1, timeout=900,
             env=dict(OUT=str(out), WORK=str(tmp_path / 'work'), RAW=str(tmp_path / 'raw'),
                      SPLIT=str(tmp_path / 'split')))
    files = list(out.parent.glob('release-*.pth'))
    assert len(files) == 1
    assert not [k for k in torch.load(files[0], weights_only=True)['state_dict'] if 'exemplar_set' in k]
    assert (tmp_path / 'raw' / 'Images' / 'train_0001.jpg').is_file()
