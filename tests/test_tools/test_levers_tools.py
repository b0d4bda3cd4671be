"""Small-object levers 4 and 5 (issue 23) in the tools: anchors fitted by analyze_anchors.py --propose, and
upscaled sliced inference (detect_large_image / infer.py scales)."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, load_tool, run_tool


def test_centred_iou_and_anchor_shapes_hand_computed():
    aa = load_tool('tools/analysis_tools/analyze_anchors.py')
    # MMDetection's generator: w = stride * scale / sqrt(ratio), h = stride * scale * sqrt(ratio)
    np.testing.assert_allclose(aa.anchor_shapes([2], [4], [4]), [[4, 16]])
    np.testing.assert_allclose(aa.anchor_shapes([1, 2], [1], [4, 8]), [[4, 4], [8, 8], [8, 8], [16, 16]])
    # (4, 4) in (4, 8): intersection 16, union 16 + 32 - 16 = 32 -> 0.5; in (8, 8) of the other shape: 16 / 64
    best = aa.best_centred_iou(np.array([[4., 4.], [8., 8.]]), np.array([[4., 8.], [8., 8.]]))
    np.testing.assert_allclose(best, [0.5, 1.0])


def test_propose_anchors_finds_the_matching_shape_with_fewest_anchors():
    aa = load_tool('tools/analysis_tools/analyze_anchors.py')
    wh = np.array([[8., 8.]] * 10 + [[8., 16.]] * 5)
    rows = aa.propose_anchors(wh, [4], [1, 2, 3], max_anchors=3)
    best_iou, share, scales, ratios = rows[0]
    # scale 2 x ratio 1 (one 8 x 8 anchor): IoU 1 for the squares, 64 / 128 = 0.5 for the 8 x 16 boxes
    assert best_iou == pytest.approx(max(r[0] for r in rows))
    assert len(scales) * len(ratios) <= 3
    single = [r for r in rows if r[2] == [2.0] and r[3] == [1.0]][0]
    assert single[0] == pytest.approx((10 * 1.0 + 5 * 0.5) / 15)
    assert aa.propose_anchors(wh, [4], [2], max_anchors=1)[0][2:] == ([2.0], [1.0])
    assert [1.0] in aa.ratio_candidates(wh) and [0.5, 1.0, 2.0] in aa.ratio_candidates(wh)


def test_propose_writes_the_committed_sample_override(sample_split, tmp_path):
    """configs/levers/_base_/anchors_sample.py is what the tool writes for the embedded sample's split, and the
    anchors lever config uses it."""
    out = tmp_path / 'anchors.py'
    proc = run_tool('tools/analysis_tools/analyze_anchors.py', sample_split / 'Annotations', '--config',
                    'configs/baselines/rotated-faster-rcnn_tiny_sample.py', '--propose', '--write-override', out,
                    '--out', tmp_path / 'a.png')
    assert 'proposed: scales' in proc.stdout and 'override written to' in proc.stdout
    fitted = Config.fromfile(str(out)).fitted_anchor_generator
    committed = Config.fromfile(str(ROOT / 'configs/levers/_base_/anchors_sample.py')).fitted_anchor_generator
    assert fitted == committed
    lever = Config.fromfile(str(ROOT / 'configs/levers/rotated-faster-rcnn_anchors_tiny_sample.py'))
    gen = lever.model.rpn_head.anchor_generator
    assert (gen.scales, gen.ratios) == (committed.scales, committed.ratios) and gen.strides == [4, 8, 16, 32, 64]
    bad = run_tool('tools/analysis_tools/analyze_anchors.py', sample_split / 'Annotations', '--write-override', out,
                   check=False)
    assert bad.returncode != 0 and '--write-override needs --propose' in bad.stdout


def test_upscaled_sliced_inference_concatenates_the_views():
    from cfinet_rotated.apis import ModelPatchPredictor, detect_large_image, init_detector
    fast = dict(model=dict(test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=20), rcnn=dict(score_thr=0.0))))
    torch.manual_seed(0)
    model = init_detector('configs/baselines/rotated-faster-rcnn_tiny_sample.py', None, device='cpu',
                          cfg_options=fast)
    crop = np.ascontiguousarray(cv2.imread(str(ROOT / 'data/sample/Images/sample_0003.jpg'))[:400, :400])
    win = np.array([[0, 0, 400, 400]])
    one = ModelPatchPredictor(model, (104, 116, 124))([crop], win)[0]
    up = ModelPatchPredictor(model, (104, 116, 124), scales=(1.5, ))([crop], win)[0]
    both = ModelPatchPredictor(model, (104, 116, 124), scales=(1, 1.5))([crop], win)[0]
    assert len(both) == len(one) + len(up) and len(one) > 0
    torch.testing.assert_close(both.scores, torch.cat([one.scores, up.scores]))
    resize = [t for t in ModelPatchPredictor(model, (0, 0, 0), scales=(1.5, )).pipelines[0].transforms
              if type(t).__name__ == 'Resize'][0]
    assert tuple(resize.scale) == (1200, 1200)  # the tiny configs' test scale 800 x 1.5
    res = detect_large_image(model, crop, scales=(1, 1.5))
    assert res.pred_instances.bboxes.shape[1] == 5
    with pytest.raises(ValueError, match='scales must be > 0'):
        ModelPatchPredictor(model, (0, 0, 0), scales=())
