"""SODA-D evaluation: the 14 statistics against pycocotools COCOeval (as SODADeval configures it), hand-computed
cases (ignore flag, JSON area, maxDets, iscrowd, category 10), SODADMetric and tools/analysis_tools/eval_sodad.py."""
import json
import pickle
from collections import Counter

import numpy as np
import pytest
import torch

from cfinet_rotated.evaluation.size_ap import DEFAULT_AREA_RANGES
from cfinet_rotated.evaluation.sodad_eval import (
    SODAD_MAX_DETS,
    SODAD_STAT_NAMES,
    SODAD_STAT_SPEC,
    evaluate_sodad,
    load_sodad_ground_truth,
)

EVAL = 'tools/analysis_tools/eval_sodad.py'
R = 101
CATS = [dict(id=i, name=n) for i, n in enumerate(
    ('people', 'rider', 'bicycle', 'motor', 'vehicle', 'traffic-sign', 'traffic-light', 'traffic-camera',
     'warning-cone', 'ignore'), 1)]


def write_gt(path, images, anns):
    """A full-image SODA-D JSON; ``anns``: (image_id, category_id, [x, y, w, h], extra dict)."""
    data = dict(images=[dict(id=i, file_name=f'{i}.jpg', width=1000, height=1000) for i in images],
                annotations=[dict(dict(id=k + 1, image_id=i, category_id=c, bbox=list(b), iscrowd=0,
                                       area=float(b[2] * b[3])), **extra) for k, (i, c, b, extra) in enumerate(anns)],
                categories=CATS)
    path.write_text(json.dumps(data))
    return path


def preds_of(rows):
    """``{str(image_id): dict}`` from (image_id, label, [x1, y1, x2, y2], score) rows (full-image detections)."""
    out = {}
    for i, label, box, score in rows:
        d = out.setdefault(str(i), dict(bboxes=[], scores=[], labels=[]))
        d['bboxes'].append(box), d['scores'].append(score), d['labels'].append(label)
    return {k: dict(bboxes=np.asarray(v['bboxes'], np.float32).reshape(-1, 4), scores=np.asarray(v['scores']),
                    labels=np.asarray(v['labels'])) for k, v in out.items()}


def stats_of(tmp_path, anns, rows, images=(1, )):
    gts, _ = load_sodad_ground_truth(write_gt(tmp_path / 'gt.json', images, anns))
    return evaluate_sodad(gts, preds_of(rows)).stats()


# ---------------------------------------------------------------------------------------------------
# hand-computed cases
# ---------------------------------------------------------------------------------------------------
def test_ignore_flag_is_honoured(tmp_path):
    # g1 regular, g2 flagged ignore. Detections: on g2 (0.9, matched to an ignored gt: neither TP nor FP), a false
    # positive (0.85), on g1 (0.8). Honoured: FP, TP -> precision 1/2 at every recall -> AP 0.5. Overwritten by
    # iscrowd (plain COCOeval): TP, FP, TP over two gts -> (51 * 1 + 50 * 2/3) / 101.
    anns = [(1, 1, [10, 10, 10, 10], {}), (1, 1, [100, 100, 10, 10], dict(ignore=1))]
    rows = [(1, 0, [100, 100, 110, 110], 0.9), (1, 0, [500, 500, 510, 510], 0.85), (1, 0, [10, 10, 20, 20], 0.8)]
    s = stats_of(tmp_path, anns, rows)
    assert s['AP'] == pytest.approx(0.5, abs=1e-12)
    assert s['AR_100'] == pytest.approx(1.0)


def test_json_area_decides_the_range_detection_area_is_w_h(tmp_path):
    # a 40 x 40 box (1600 px^2, Normal) whose JSON area says 900 (Small, gS): it is a Small / gS object; its exact
    # detection (w*h 1600) matches it and counts as a true positive there
    anns = [(1, 2, [10, 10, 40, 40], dict(area=900.0))]
    s = stats_of(tmp_path, anns, [(1, 1, [10, 10, 50, 50], 0.9)])
    assert s['AP'] == pytest.approx(1.0) and s['AP_gS'] == pytest.approx(1.0)
    assert s['AP_N'] == -1 and s['AP_eS'] == -1  # no ground truth of those ranges
    # with the geometric area (1600) it would be a Normal object and Small would be empty
    s = stats_of(tmp_path, [(1, 2, [10, 10, 40, 40], {})], [(1, 1, [10, 10, 50, 50], 0.9)])
    assert s['AP'] == -1 and s['AP_N'] == pytest.approx(1.0)


def test_max_dets_100_300_1000(tmp_path):
    # one object found only by the 151st detection: AR@100 0, AR@300 = AR@1000 = 1; AP (maxDets 100) 0,
    # AR_eS (maxDets 1000) 1
    far = [(1, 0, [900 - k, 900, 905 - k, 905], 0.99 - k * 1e-3) for k in range(150)]
    rows = far + [(1, 0, [10, 10, 20, 20], 0.5)]
    s = stats_of(tmp_path, [(1, 1, [10, 10, 10, 10], {})], rows)
    assert (s['AR_100'], s['AR_300'], s['AR_1000'], s['AR_eS']) == (0.0, 1.0, 1.0, 1.0)
    assert s['AP'] == 0.0
    assert list(s) == list(SODAD_STAT_NAMES) and len(s) == 14


def test_iscrowd_forced_zero_and_category_10_excluded(tmp_path):
    # an iscrowd box is an ordinary object (a second detection on it is a false positive, not absorbed by a crowd);
    # the category-10 region is not a ground truth, so a detection on it is a false positive
    anns = [(1, 1, [10, 10, 10, 10], dict(iscrowd=1)), (1, 10, [300, 300, 50, 50], {})]
    rows = [(1, 0, [10, 10, 20, 20], 0.9), (1, 0, [10, 10, 20, 20], 0.8), (1, 0, [300, 300, 350, 350], 0.7)]
    warnings = Counter()
    gts, ids = load_sodad_ground_truth(write_gt(tmp_path / 'gt.json', (1, ), anns), warnings)
    assert len(gts['1']['labels']) == 1 and warnings == {'ground truth: iscrowd=1 treated as 0': 1}
    assert ids == {'1': 1}
    s = evaluate_sodad(gts, preds_of(rows)).stats()
    assert s['AP'] == pytest.approx(1.0) and s['AR_100'] == pytest.approx(1.0)  # precision 1 at recall 1 first
    res = evaluate_sodad(gts, preds_of(rows))
    assert res.num_gts == 1 and res.num_dets == 3


def test_missing_area_falls_back_to_w_h_and_is_counted(tmp_path):
    p = write_gt(tmp_path / 'gt.json', (1, ), [(1, 1, [10, 10, 50, 50], {})])
    data = json.loads(p.read_text())
    del data['annotations'][0]['area']
    p.write_text(json.dumps(data))
    warnings = Counter()
    gts, _ = load_sodad_ground_truth(p, warnings)
    assert gts['1']['areas'].tolist() == [2500.0]
    assert warnings == {'ground truth: area missing, w*h used': 1}


def test_summary_lines_and_per_class_use_the_official_max_dets(tmp_path):
    gts, _ = load_sodad_ground_truth(write_gt(tmp_path / 'gt.json', (1, ), [(1, 1, [10, 10, 10, 10], {})]))
    res = evaluate_sodad(gts, preds_of([(1, 0, [10, 10, 20, 20], 0.9)]))
    lines = res.summary_lines()
    assert len(lines) == 14
    assert 'area= Small | maxDets=  100 ] = 1.000' in lines[0]
    assert 'area= Small | maxDets=  300 ]' in lines[8] and 'area=    eS | maxDets= 1000 ]' in lines[10]
    assert res.per_class_ap()['people'] == pytest.approx(1.0)
    assert res.to_dict()['protocol']['max_dets'] == [100, 300, 1000]


# ---------------------------------------------------------------------------------------------------
# cross-check against pycocotools COCOeval configured as the official SODADeval
# ---------------------------------------------------------------------------------------------------
def sodad_cocoeval(gt_json, det_rows):
    """COCOeval with SODADeval's changes: area ranges and labels, maxDets [100, 300, 1000], ``ignore`` honoured and
    ``iscrowd`` forced to 0 (plain COCOeval overwrites ``ignore`` with ``iscrowd``)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    class SODADCOCOeval(COCOeval):
        def _prepare(self):
            super()._prepare()
            for gts in self._gts.values():
                for g in gts:
                    g['ignore'] = int(g.get('sodad_ignore', 0))
                    g['iscrowd'] = 0

    coco = COCO()
    coco.dataset = gt_json
    coco.createIndex()
    ev = SODADCOCOeval(coco, coco.loadRes(det_rows), 'bbox')
    ev.params.areaRng = [list(v) for v in DEFAULT_AREA_RANGES.values()]
    ev.params.areaRngLbl = list(DEFAULT_AREA_RANGES)
    ev.params.maxDets = list(SODAD_MAX_DETS)
    ev.evaluate()
    ev.accumulate()
    return ev


def official_stats(ev):
    """SODADeval.summarize's 14 numbers from COCOeval's arrays (COCO's _summarize formula)."""
    p, out = ev.params, {}
    for key, kind, thr, area, md in SODAD_STAT_SPEC:
        a, m = p.areaRngLbl.index(area), p.maxDets.index(md)
        s = ev.eval['precision'][..., a, m] if kind == 'AP' else ev.eval['recall'][..., a, m]
        if thr is not None:
            s = s[np.where(np.abs(p.iouThrs - thr) < 1e-12)[0]]
        s = s[s > -1]
        out[key] = float(np.mean(s)) if s.size else -1.0
    return out


def random_sodad(rng, n_img=25, n_cls=3):
    images, anns, rows = [], [], []
    for i in range(1, n_img + 1):
        images.append(dict(id=i, file_name=f'{i}.jpg', width=200, height=200))
        n_g = int(rng.integers(0, 20))
        xy = rng.uniform(0, 150, (n_g, 2))
        wh = rng.uniform(2, 55, (n_g, 2))
        for b, c in zip(np.concatenate([xy, wh], 1), rng.integers(1, n_cls + 1, n_g)):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=int(c), bbox=b.tolist(), iscrowd=0,
                             area=float(b[2] * b[3] * rng.uniform(0.6, 1.3)),  # JSON area != w*h
                             sodad_ignore=int(rng.random() < 0.15), ignore=0))
        gi = [a for a in anns if a['image_id'] == i]
        n_d = int(rng.integers(0, 450)) if i % 4 else 0  # some images above 100 and 300 detections per class
        for _ in range(n_d):
            if gi and rng.random() < 0.6:
                g = gi[int(rng.integers(len(gi)))]
                b = np.asarray(g['bbox']) + rng.normal(0, 2, 4)
                c = g['category_id'] if rng.random() < 0.9 else int(rng.integers(1, n_cls + 1))
            else:
                b = np.concatenate([rng.uniform(0, 150, 2), rng.uniform(2, 55, 2)])
                c = int(rng.integers(1, n_cls + 1))
            b[2:] = np.maximum(b[2:], 1)
            rows.append(dict(image_id=i, category_id=c, bbox=b.tolist(), score=float(np.round(rng.random(), 3))))
    # one more category without any ground truth or detection: its precision/recall entries are -1
    return dict(images=images, annotations=anns, categories=CATS[:n_cls + 1]), rows


def test_matches_pycocotools_cocoeval_as_sodadeval(tmp_path):
    pytest.importorskip('pycocotools')
    rng = np.random.default_rng(11)
    gt_json, rows = random_sodad(rng)
    ev = sodad_cocoeval(json.loads(json.dumps(gt_json)), json.loads(json.dumps(rows)))
    # ours reads the same JSON (its 'ignore' key: the SODA-D flag)
    for a in gt_json['annotations']:
        a['ignore'] = a.pop('sodad_ignore')
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(gt_json))
    gts, _ = load_sodad_ground_truth(path)
    preds = {}
    for r in rows:
        d = preds.setdefault(str(r['image_id']), dict(bboxes=[], scores=[], labels=[]))
        x, y, w, h = r['bbox']
        d['bboxes'].append([x, y, x + w, y + h]), d['scores'].append(r['score'])
        d['labels'].append(r['category_id'] - 1)
    preds = {k: {n: np.asarray(v) for n, v in d.items()} for k, d in preds.items()}
    res = evaluate_sodad(gts, preds, classes=('people', 'rider', 'bicycle', 'motor'))
    assert (ev.eval['precision'] > 0).sum() > 1000 and (ev.eval['precision'] == -1).any()
    # maxDets matters on this data: recall grows from 100 to 300 detections per image and class
    assert (res.recall[..., 0, 1] > res.recall[..., 0, 0] + 1e-9).any()
    np.testing.assert_allclose(res.precision, ev.eval['precision'], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.recall, ev.eval['recall'], atol=1e-6, rtol=0)
    ours, ref = res.stats(), official_stats(ev)
    assert list(ours) == list(SODAD_STAT_NAMES)
    for k in SODAD_STAT_NAMES:
        assert ours[k] == pytest.approx(ref[k], abs=1e-6), k


# ---------------------------------------------------------------------------------------------------
# SODADMetric and tools/analysis_tools/eval_sodad.py
# ---------------------------------------------------------------------------------------------------
def metric_gt(tmp_path):
    """Image 7: two people (100 and 144 px^2) and an ignore region; image 8: one person, never detected."""
    return write_gt(tmp_path / 'gt.json', (7, 8), [
        (7, 1, [100, 100, 10, 10], {}), (7, 1, [796, 300, 12, 12], {}), (7, 10, [0, 0, 50, 50], {}),
        (8, 1, [10, 10, 20, 20], {})])


def patch_samples():
    """Per-patch predictions in patch pixels; the object at x 796..808 lies in patches x0 = 0 and x0 = 650 and is
    found in both (the merge NMS keeps one)."""
    def s(pid, ori, x0, boxes, scores, labels):
        return dict(img_id=pid, ori_id=ori, x_start=x0, y_start=0,
                    pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                        scores=torch.tensor(scores), labels=torch.tensor(labels)))
    return [s(0, 7, 0, [[100, 100, 110, 110], [796, 300, 800, 312]], [0.9, 0.6], [0, 0]),
            s(1, 7, 650, [[146, 300, 158, 312]], [0.85], [0]),
            s(2, 8, 0, [], [], [])]


# class people: 3 ground truths, 2 true positives (0.9, 0.85); the clipped 0.6 copy from patch x0 = 0 overlaps the
# merged box by 48/144 < 0.5, survives the NMS and is a false positive after both: precision 1 up to recall 2/3
EXPECTED_AP = 67 / R


def test_metric_merges_patches_and_reports_14_statistics(tmp_path):
    from mmdet.registry import METRICS as MMDET_METRICS
    from mmrotate.registry import METRICS

    import cfinet_rotated  # noqa: F401  (registration)
    assert METRICS.get('SODADMetric') is MMDET_METRICS.get('SODADMetric')  # reachable from both scopes
    metric = METRICS.build(dict(type='SODADMetric', ann_file=str(metric_gt(tmp_path)),
                                outfile_prefix=str(tmp_path / 'res')))
    metric.process({}, patch_samples())
    out = metric.evaluate(size=3)
    assert set(out) == {f'sodad/{k}' for k in SODAD_STAT_NAMES}
    assert out['sodad/AP'] == pytest.approx(round(EXPECTED_AP, 4))
    assert out['sodad/AR_100'] == pytest.approx(round(2 / 3, 4)) and out['sodad/AP_N'] == -1.0
    saved = json.loads((tmp_path / 'res.metrics.json').read_text())
    assert saved['num_images'] == 2 and saved['num_gts'] == 3 and saved['AP_N'] is None
    assert saved['per_class_AP']['people'] == pytest.approx(EXPECTED_AP)
    dets = json.loads((tmp_path / 'res.bbox.json').read_text())
    assert {d['image_id'] for d in dets} == {7} and len(dets) == 3
    assert [796.0, 300.0, 12.0, 12.0] in [d['bbox'] for d in dets]  # shifted back from patch x0 = 650


def test_metric_format_only_and_bad_predictions(tmp_path):
    from cfinet_rotated.evaluation import SODADMetric
    gt = str(metric_gt(tmp_path))
    metric = SODADMetric(ann_file=gt, format_only=True, outfile_prefix=str(tmp_path / 'sub'))
    metric.process({}, patch_samples())
    assert metric.evaluate(size=3) == {}
    assert (tmp_path / 'sub.bbox.json').exists() and not (tmp_path / 'sub.metrics.json').exists()
    with pytest.raises(ValueError, match='format_only needs outfile_prefix'):
        SODADMetric(ann_file=gt, format_only=True)
    metric = SODADMetric(ann_file=gt)
    bad = patch_samples()[:1]
    bad[0]['ori_id'] = 99
    metric.process({}, bad)
    with pytest.raises(ValueError, match="without an annotation file.*'99'"):
        metric.evaluate(size=1)
    bad = patch_samples()[:1]
    bad[0]['pred_instances']['labels'] = torch.tensor([0, 9])
    with pytest.raises(ValueError, match='class index 9 out of range'):
        SODADMetric(ann_file=gt).process({}, bad)


def test_eval_tool_pickle_and_coco_results_agree(tmp_path, run_main):
    gt = metric_gt(tmp_path)
    pkl = tmp_path / 'results.pkl'
    pkl.write_bytes(pickle.dumps(patch_samples()))
    r = run_main(EVAL, '--ann', gt, '--pred', pkl, '--out', tmp_path / 'm1.json', '--coco-out', tmp_path / 'dets.json',
                  '--nproc', 1)
    assert r.returncode == 0, r.stderr
    assert 'Average Recall     (AR) @[ IoU=0.50:0.95 | area= Small | maxDets=  300 ] = 0.667' in r.stdout
    m1 = json.loads((tmp_path / 'm1.json').read_text())
    assert m1['AP'] == pytest.approx(EXPECTED_AP)
    r = run_main(EVAL, '--ann', gt, '--pred', tmp_path / 'dets.json', '--out', tmp_path / 'm2.json', '--nproc', 1)
    assert r.returncode == 0, r.stderr
    m2 = json.loads((tmp_path / 'm2.json').read_text())
    for k in SODAD_STAT_NAMES:
        assert m2[k] == pytest.approx(m1[k], abs=1e-6), k


def test_eval_tool_bad_inputs(tmp_path, run_main):
    gt = metric_gt(tmp_path)
    dets = tmp_path / 'd.json'
    dets.write_text(json.dumps([dict(image_id=7, category_id=12, bbox=[0, 0, 5, 5], score=0.5)]))
    r = run_main(EVAL, '--ann', gt, '--pred', dets)
    assert r.returncode == 2 and 'category_id 12 outside 1..9' in r.stderr
    dets.write_text(json.dumps([dict(image_id=5, category_id=1, bbox=[0, 0, 5, 5], score=0.5)]))
    r = run_main(EVAL, '--ann', gt, '--pred', dets)
    assert r.returncode == 2 and "'5'" in r.stderr
    dets.write_text('[{"image_id": 7,')
    r = run_main(EVAL, '--ann', gt, '--pred', dets)
    assert r.returncode == 2 and 'd.json: malformed JSON' in r.stderr
    (tmp_path / 'bad_gt.json').write_text(json.dumps(dict(images=[dict(id=1, file_name='a.jpg')], annotations=[
        dict(id=1, image_id=1, category_id=11, bbox=[0, 0, 5, 5])], categories=CATS)))
    r = run_main(EVAL, '--ann', tmp_path / 'bad_gt.json', '--pred', dets)
    assert r.returncode == 2 and 'bad_gt.json: unknown category_id 11' in r.stderr
