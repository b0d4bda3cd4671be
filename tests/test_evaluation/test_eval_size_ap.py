"""SODA-A evaluator core: hand-built cases with exactly known AP/AR, and a cross-check against COCOeval."""
import numpy as np
import pytest

from cfinet_rotated.evaluation.size_ap import DEFAULT_AREA_RANGES, STAT_NAMES, evaluate_detections, pairwise_iou

R = 101  # recall points


def rb(x1, y1, x2, y2, a=0.0):
    """Axis-aligned rectangle as a rotated box (cx, cy, w, h, a)."""
    return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, a]


def img(gt_boxes, gt_labels, det_boxes=(), det_scores=(), det_labels=(), dim=5):
    return (dict(bboxes=np.asarray(gt_boxes, np.float64).reshape(-1, dim), labels=np.asarray(gt_labels)),
            dict(bboxes=np.asarray(det_boxes, np.float64).reshape(-1, dim), scores=np.asarray(det_scores),
                 labels=np.asarray(det_labels, dtype=np.int64)))


def run(images, num_classes=1, box_type='rbox', **kw):
    gts, dets = zip(*images)
    return evaluate_detections(list(gts), list(dets), num_classes, box_type=box_type, **kw)


def test_perfect_predictions_give_one_and_undefined_subsets_minus_one():
    # areas 100 (eS), 300 (rS), 600 (gS), rotated 30 degrees
    boxes = [[50, 50, 10, 10, 0.5], [150, 50, 30, 10, 0.5], [300, 50, 30, 20, -0.3]]
    res = run([img(boxes, [0, 0, 1], boxes, [0.9, 0.8, 0.7], [0, 0, 1])], num_classes=2)
    s = res.stats()
    assert list(s) == list(STAT_NAMES)
    for k in ('AP', 'AP50', 'AP75', 'AP_eS', 'AP_rS', 'AP_gS', 'AR', 'AR_eS', 'AR_rS', 'AR_gS'):
        assert s[k] == pytest.approx(1.0), k
    assert s['AP_N'] == -1 and s['AR_N'] == -1  # no ground truth in [1024, 2000]
    assert res.per_class_ap() == {'0': pytest.approx(1.0), '1': pytest.approx(1.0)}
    d = res.to_dict()
    assert d['AP_N'] is None and d['AP'] == pytest.approx(1.0)


def test_detection_matching_only_an_area_ignored_gt_is_ignored():
    # g_out: 40x26 = 1040 px^2, outside Small [0, 1024]; its detection 40x25.5 = 1020 lies inside Small,
    # IoU 1020/1040 = 0.98 >= every threshold -> matched to an ignored gt -> ignored (not a false positive)
    g_in, g_out = rb(0, 0, 30, 30), rb(100, 100, 140, 126)
    d_out = rb(100, 100, 140, 125.5)
    res = run([img([g_in, g_out], [0, 0], [d_out, g_in], [0.9, 0.8], [0, 0])])
    assert res.stats()['AP'] == pytest.approx(1.0)
    # counted as a false positive it would give precision 1/2 at every recall: AP 0.5
    assert res.stats()['AP_N'] == pytest.approx(1.0)  # in Normal [1024, 2000] the roles swap:
    # g_in (900) is ignored, and g_in's detection (900, outside Normal, matched to it) is ignored too


def test_duplicate_detection_is_a_false_positive():
    g1, g2 = rb(0, 0, 10, 10), rb(50, 0, 60, 10)
    # TP (0.9), duplicate of g1 (0.8) -> FP, TP (0.7): recall .5 .5 1, precision 1 .5 2/3
    res = run([img([g1, g2], [0, 0], [g1, g1, g2], [0.9, 0.8, 0.7], [0, 0, 0])])
    # interpolated precision: 1 for the 51 recall points <= 0.5, 2/3 for the 50 above
    expected = (51 * 1 + 50 * 2 / 3) / R
    assert res.stats()['AP'] == pytest.approx(expected, abs=1e-12)
    assert res.stats()['AR'] == pytest.approx(1.0)


def test_image_with_ground_truth_but_no_detections_lowers_recall():
    g = rb(0, 0, 10, 10)
    res = run([img([g], [0], [g], [0.9], [0]), img([g], [0])])
    s = res.stats()
    assert s['AR'] == pytest.approx(0.5)
    assert s['AP'] == pytest.approx(51 / R, abs=1e-12)  # precision 1 up to recall 0.5, then 0
    # without the second image everything would be perfect
    assert run([img([g], [0], [g], [0.9], [0])]).stats()['AR'] == pytest.approx(1.0)


def test_inclusive_range_boundaries_count_in_both_neighbouring_ranges():
    # areas exactly 144, 400 and 1024 (rotated), only the 144 one is detected
    b144, b400, b1024 = [20, 20, 16, 9, 0.4], [100, 100, 20, 20, -0.7], [300, 300, 64, 16, 1.1]
    res = run([img([b144, b400, b1024], [0, 0, 0], [b144], [0.9], [0])])
    s = res.stats()
    assert s['AR_eS'] == pytest.approx(1.0)  # eS [0, 144]: {144}
    assert s['AR_rS'] == pytest.approx(0.5)  # rS [144, 400]: {144, 400}
    assert s['AR_gS'] == pytest.approx(0.0)  # gS [400, 1024]: {400, 1024}
    assert s['AR_N'] == pytest.approx(0.0)  # Normal [1024, 2000]: {1024}
    assert s['AR'] == pytest.approx(1 / 3)  # Small [0, 1024]: all three
    assert s['AP_rS'] == pytest.approx(51 / R, abs=1e-12)
    assert s['AP_gS'] == pytest.approx(0.0)  # the 144 detection is out of gS and unmatched: ignored


def test_exact_coco_matching_falls_back_to_the_next_unmatched_gt():
    # hbox, exact IoUs: d1 = g1 (IoU 1); d2's best gt is g1 (90/120 = 0.75, already taken), next g2 (80/130)
    g1, g2 = [0, 0, 10, 10], [4, 0, 14, 10]
    d1, d2 = [0, 0, 10, 10], [1, 0, 12, 10]
    res = run([img([g1, g2], [0, 0], [d1, d2], [0.9, 0.8], [0, 0], dim=4)], box_type='hbox')
    # t in {.50, .55, .60}: both TP -> AP 1; t in {.65 .. .95}: TP, FP -> 51/101
    s = res.stats()
    assert s['AP50'] == pytest.approx(1.0)  # the 2025 arg-max matching would give 51/101 here
    assert s['AP75'] == pytest.approx(51 / R, abs=1e-12)
    assert s['AP'] == pytest.approx((3 + 7 * 51 / R) / 10, abs=1e-12)


def test_equal_iou_tie_goes_to_the_later_gt_as_coco():
    # d1 overlaps g1 and g2 equally (90/110); COCO's `<` comparison gives it the later one, g2.
    # d2 = g2 (IoU 1) then falls back to g1 (80/120 = 0.667).
    g1, g2 = [0, 0, 10, 10], [2, 0, 12, 10]
    d1, d2 = [1, 0, 11, 10], [2, 0, 12, 10]
    res = run([img([g1, g2], [0, 0], [d1, d2], [0.9, 0.8], [0, 0], dim=4)], box_type='hbox')
    # t .50-.65: TP TP -> 1; t .70-.80: TP FP -> 51/101; t .85-.95: FP TP -> precision 1/2 up to recall 1/2
    expected = (4 + 3 * 51 / R + 3 * 25.5 / R) / 10  # (with the tie going to g1: 1 for t <= .80)
    assert res.stats()['AP'] == pytest.approx(expected, abs=1e-12)


def test_max_dets_truncates_per_image_and_class():
    g1, g2 = rb(0, 0, 10, 10), rb(50, 0, 60, 10)
    # the lower-scored detection is dropped with max_dets=1: recall 0.5
    res = run([img([g1, g2], [0, 0], [g1, g2], [0.9, 0.8], [0, 0])], max_dets=(1, 20000))
    assert res.stats(max_det_index=0)['AR'] == pytest.approx(0.5)
    assert res.stats(max_det_index=1)['AR'] == pytest.approx(1.0)


def test_bad_input_is_reported():
    g = rb(0, 0, 10, 10)
    with pytest.raises(ValueError, match='class index 3 out of range'):
        run([img([g], [0], [g], [0.9], [3])], num_classes=2)
    with pytest.raises(ValueError, match='non-finite'):
        run([img([g], [0], [[np.nan, 0, 1, 1, 0]], [0.9], [0])])


# ---------------------------------------------------------------------------------------------------
# cross-check against pycocotools COCOeval
# ---------------------------------------------------------------------------------------------------
def random_set(rng, n_img, n_cls, integer):
    """Crowded small images: overlapping ground truths (multi-gt matching components), duplicates, ties."""
    images = []
    for i in range(n_img):
        n_g = int(rng.integers(0, 25))
        n_d = int(rng.integers(0, 40)) if i % 5 else 0  # every fifth image has no detections
        def boxes(n):
            xy = rng.uniform(0, 80, (n, 2))
            wh = rng.uniform(2, 50, (n, 2))
            b = np.concatenate([xy, xy + wh], 1)
            return np.round(b) if integer else b
        g = boxes(n_g)
        # detections: jittered copies of ground truths plus random boxes
        n_copy = min(n_d, 2 * n_g) if n_g else 0
        src = rng.integers(0, max(n_g, 1), n_copy)
        jit = rng.normal(0, 2, (n_copy, 4))
        d = np.concatenate([g[src] + (np.round(jit) if integer else jit), boxes(n_d - n_copy)]) if n_d else \
            np.zeros((0, 4))
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        scores = np.round(rng.random(len(d)), 2)  # rounded: equal scores across images and within one
        images.append((g, rng.integers(0, n_cls, n_g), d, scores, rng.integers(0, n_cls, len(d))))
    return images


def coco_eval(images, n_cls, area_ranges, max_dets):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = dict(images=[dict(id=i + 1) for i in range(len(images))],
              categories=[dict(id=c + 1, name=str(c)) for c in range(n_cls)], annotations=[])
    dts = []
    for i, (g, gl, d, ds, dl) in enumerate(images):
        for b, lab in zip(g, gl):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            gt['annotations'].append(dict(id=len(gt['annotations']) + 1, image_id=i + 1, category_id=int(lab) + 1,
                                          bbox=[float(b[0]), float(b[1]), w, h], area=w * h, iscrowd=0))
        for b, s, lab in zip(d, ds, dl):
            dts.append(dict(image_id=i + 1, category_id=int(lab) + 1, score=float(s),
                            bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]))
    coco = COCO()
    coco.dataset = gt
    coco.createIndex()
    ev = COCOeval(coco, coco.loadRes(dts) if dts else COCO(), 'bbox')
    ev.params.areaRng = [list(v) for v in area_ranges.values()]
    ev.params.areaRngLbl = list(area_ranges)
    ev.params.maxDets = list(max_dets)
    ev.evaluate()
    ev.accumulate()
    return ev.eval['precision'], ev.eval['recall']


def ours(images, n_cls, box_type, max_dets):
    gts, dets = [], []
    for g, gl, d, ds, dl in images:
        if box_type == 'rbox':  # the same rectangles at angle 0
            g = np.column_stack([(g[:, :2] + g[:, 2:]) / 2, g[:, 2:] - g[:, :2], np.zeros(len(g))])
            d = np.column_stack([(d[:, :2] + d[:, 2:]) / 2, d[:, 2:] - d[:, :2], np.zeros(len(d))])
        gts.append(dict(bboxes=g, labels=gl))
        dets.append(dict(bboxes=d, scores=ds, labels=dl))
    return evaluate_detections(gts, dets, n_cls, box_type=box_type, max_dets=max_dets)


@pytest.mark.parametrize('box_type,integer', [('hbox', True), ('rbox', False)])
def test_matches_pycocotools_cocoeval(box_type, integer):
    pytest.importorskip('pycocotools')
    rng = np.random.default_rng(3 if integer else 4)
    n_cls = 4  # class 3 never gets ground truth in the first image set -> -1 entries are compared too
    images = random_set(rng, 40, n_cls, integer)
    images = [(g, np.minimum(gl, 2), d, ds, dl) for g, gl, d, ds, dl in images]
    # the data must exercise the multi-gt matching path: some detection with IoU >= 0.5 to two gts
    multi = sum(int(((pairwise_iou(d, g, 'hbox') >= 0.5).sum(1) >= 2).sum()) for g, _, d, _, _ in images)
    assert multi >= 10
    max_dets = (10, 20000)
    p_ref, r_ref = coco_eval(images, n_cls, DEFAULT_AREA_RANGES, max_dets)
    res = ours(images, n_cls, box_type, max_dets)
    assert res.precision.shape == p_ref.shape
    assert (p_ref == -1).any() and (p_ref > 0).any()
    np.testing.assert_allclose(res.precision, p_ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.recall, r_ref, atol=1e-6, rtol=0)


def test_rotated_matches_cocoeval_with_rotated_iou():
    """Random angles: pycocotools COCOeval with its IoU replaced by dense box_iou_rotated is the oracle
    (checks the rotated hull pre-filter and the matching on oriented boxes)."""
    pytest.importorskip('pycocotools')
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    class RotatedCOCOeval(COCOeval):
        def computeIoU(self, imgId, catId):
            gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
            if len(gt) == 0 and len(dt) == 0:
                return []
            dt = [dt[i] for i in np.argsort([-d['score'] for d in dt], kind='mergesort')][:self.params.maxDets[-1]]
            return pairwise_iou([d['rbox'] for d in dt], [g['rbox'] for g in gt], 'rbox')

    rng = np.random.default_rng(5)
    gts, dets, gt_json, dt_json = [], [], [], []
    for i in range(30):
        n_g, n_d = int(rng.integers(0, 20)), int(rng.integers(0, 40))
        g = np.column_stack([rng.uniform(0, 60, (n_g, 2)), rng.uniform(3, 45, (n_g, 2)), rng.uniform(-1.6, 1.6, n_g)])
        src = rng.integers(0, max(n_g, 1), n_d)
        d = np.column_stack([rng.uniform(0, 60, (n_d, 2)), rng.uniform(3, 45, (n_d, 2)), rng.uniform(-1.6, 1.6, n_d)])
        if n_g:
            near = rng.random(n_d) < 0.7
            d[near] = g[src[near]] + rng.normal(0, 1, (int(near.sum()), 5)) * [2, 2, 2, 2, 0.1]
            d[:, 2:4] = np.abs(d[:, 2:4]) + 1
        gl, dl, ds = rng.integers(0, 3, n_g), rng.integers(0, 3, n_d), np.round(rng.random(n_d), 2)
        gts.append(dict(bboxes=g, labels=gl))
        dets.append(dict(bboxes=d, scores=ds, labels=dl))
        for b, lab in zip(g, gl):
            gt_json.append(dict(id=len(gt_json) + 1, image_id=i + 1, category_id=int(lab) + 1, iscrowd=0,
                                bbox=[0, 0, 1, 1], area=float(b[2] * b[3]), rbox=b.tolist()))
        for b, lab, s in zip(d, dl, ds):
            dt_json.append(dict(image_id=i + 1, category_id=int(lab) + 1, score=float(s), bbox=[0, 0, 1, 1],
                                rbox=b.tolist()))
    coco = COCO()
    coco.dataset = dict(images=[dict(id=i + 1) for i in range(30)], annotations=gt_json,
                        categories=[dict(id=c + 1) for c in range(3)])
    coco.createIndex()
    res = coco.loadRes(dt_json)
    for a in res.anns.values():
        a['area'] = a['rbox'][2] * a['rbox'][3]  # loadRes set the hull area; the protocol uses w*h
    ev = RotatedCOCOeval(coco, res, 'bbox')
    ev.params.areaRng = [list(v) for v in DEFAULT_AREA_RANGES.values()]
    ev.params.areaRngLbl = list(DEFAULT_AREA_RANGES)
    ev.params.maxDets = [20000]
    ev.evaluate()
    ev.accumulate()
    ours_res = evaluate_detections(gts, dets, 3, box_type='rbox')
    assert (ev.eval['precision'] > 0).sum() > 1000
    np.testing.assert_allclose(ours_res.precision, ev.eval['precision'], atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours_res.recall, ev.eval['recall'], atol=1e-6, rtol=0)


def test_rotated_iou_matches_dotadevkit_polyiou():
    polyiou = pytest.importorskip('dotadevkit.polyiou.polyiou')
    import torch
    from mmrotate.structures.bbox import rbox2qbox
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(0, 30, (50, 2)), rng.uniform(5, 30, (50, 2)), rng.uniform(-1.5, 1.5, 50)])
    b = a + np.column_stack([rng.normal(0, 3, (50, 2)), rng.normal(0, 2, (50, 2)), rng.normal(0, 0.3, 50)])
    ours_iou = pairwise_iou(a, b, 'rbox', aligned=True)
    qa = rbox2qbox(torch.as_tensor(a)).numpy()
    qb = rbox2qbox(torch.as_tensor(b)).numpy()
    ref = [polyiou.iou_poly(polyiou.VectorDouble(list(map(float, p))), polyiou.VectorDouble(list(map(float, q))))
           for p, q in zip(qa, qb)]
    assert (np.asarray(ref) > 0.3).sum() > 10
    np.testing.assert_allclose(ours_iou, ref, atol=2e-5)


def test_worker_processes_give_identical_arrays():
    rng = np.random.default_rng(7)
    images = random_set(rng, 10, 3, integer=False)
    a = ours(images, 3, 'rbox', (20000, ))
    gts = [dict(bboxes=np.column_stack([(g[:, :2] + g[:, 2:]) / 2, g[:, 2:] - g[:, :2], np.zeros(len(g))]), labels=gl)
           for g, gl, _, _, _ in images]
    dets = [dict(bboxes=np.column_stack([(d[:, :2] + d[:, 2:]) / 2, d[:, 2:] - d[:, :2], np.zeros(len(d))]),
                 scores=ds, labels=dl) for _, _, d, ds, dl in images]
    b = evaluate_detections(gts, dets, 3, box_type='rbox', nproc=2)
    assert (a.precision > 0).any()
    np.testing.assert_array_equal(a.precision, b.precision)
    np.testing.assert_array_equal(a.recall, b.recall)
