"""SODAAMetric (registered) and the command-line tools on a tiny hand-built SODA-A folder."""
import json
import pickle

import pytest
import torch

R = 101


def rect(x1, y1, x2, y2):
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def write_raw(tmp_path):
    """P0001: two small vehicles (200 and 144 px^2), an ignore region, a degenerate polygon and a 1.5-px-wide
    sliver (dropped like the official le90 conversion); P0002: one small vehicle, never detected."""
    ann = tmp_path / 'raw' / 'Annotations'
    ann.mkdir(parents=True)
    p1 = [dict(poly=rect(100, 100, 120, 110), category_id=2), dict(poly=rect(700, 700, 712, 712), category_id=2),
          dict(poly=rect(300, 300, 400, 400), category_id=9), dict(poly=[0, 0, 1, 1, 2, 2, 3, 3], category_id=1),
          dict(poly=rect(500, 500, 501.5, 530), category_id=2)]
    (ann / 'P0001.json').write_text(json.dumps(dict(annotations=p1)))
    (ann / 'P0002.json').write_text(json.dumps(dict(annotations=[dict(poly=rect(10, 10, 30, 20), category_id=2)])))
    return ann


def patch_samples():
    """Per-patch predictions in patch pixels; the 144-px^2 object lies in two windows and is found twice."""
    def s(stem, boxes, scores, labels):
        return dict(img_id=stem, pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 5),
                                                     scores=torch.tensor(scores), labels=torch.tensor(labels)))
    return [s('P0001__800__0___0', [[110, 105, 20, 10, 0], [706, 706, 12, 12, 0]], [0.9, 0.8], [2, 2]),
            s('P0001__800__650___650', [[56, 56, 12, 12, 0]], [0.85], [2]),
            s('P0002__800__0___0', [], [], [])]


# class 2 has 3 ground truths; 2 true positives (0.9, 0.85; the 0.8 duplicate is suppressed by the merge NMS):
# precision 1 up to recall 2/3 -> 67 of 101 recall points at every IoU threshold.
EXPECTED_AP = 67 / R


def test_metric_merges_patches_and_evaluates_original_images(tmp_path):
    from mmrotate.registry import METRICS

    import cfinet_rotated  # noqa: F401  (registration)
    ann = write_raw(tmp_path)
    metric = METRICS.build(dict(type='SODAAMetric', ann_dir=str(ann), outfile_prefix=str(tmp_path / 'res'),
                                dota_txt_dir=str(tmp_path / 'task1')))
    metric.process({}, patch_samples())
    out = metric.evaluate(size=3)
    assert out['sodaa/AP'] == pytest.approx(round(EXPECTED_AP, 4))
    assert out['sodaa/AR'] == pytest.approx(round(2 / 3, 4))
    assert out['sodaa/AP_N'] == -1.0
    assert set(out) == {f'sodaa/{k}' for k in ('AP', 'AP50', 'AP75', 'AP_eS', 'AP_rS', 'AP_gS', 'AP_N', 'AR',
                                                'AR_eS', 'AR_rS', 'AR_gS', 'AR_N')}
    saved = json.loads((tmp_path / 'res.metrics.json').read_text())
    assert saved['AP'] == pytest.approx(EXPECTED_AP)
    assert saved['num_images'] == 2 and saved['num_gts'] == 3
    assert saved['skipped'] == {'ground truth: degenerate': 1, 'ground truth: side < 2 px': 1}
    assert saved['per_class_AP']['small-vehicle'] == pytest.approx(EXPECTED_AP)
    assert saved['per_class_AP']['airplane'] is None
    lines = (tmp_path / 'task1' / 'Task1_small-vehicle.txt').read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith('P0001 0.9 ')
    assert (tmp_path / 'task1' / 'Task1_airplane.txt').read_text() == ''


def test_metric_through_mmengine_evaluator_with_det_data_samples(tmp_path):
    """The real interface: MMEngine's Evaluator turns DetDataSamples (RotatedBoxes predictions, patch origin
    in the metainfo as SODAADataset provides it) into dicts for process()."""
    from mmdet.structures import DetDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData
    from mmrotate.structures.bbox import RotatedBoxes
    ann = write_raw(tmp_path)
    samples = []
    for s in patch_samples():
        stem = s['img_id']
        ori, rest = stem.split('__', 1)
        x, y = rest.split('__', 1)[1].split('___')
        ds = DetDataSample(metainfo=dict(img_id=stem, ori_id=ori, x_start=int(x), y_start=int(y)))
        p = s['pred_instances']
        ds.pred_instances = InstanceData(bboxes=RotatedBoxes(p['bboxes']), scores=p['scores'], labels=p['labels'])
        samples.append(ds)
    import cfinet_rotated  # noqa: F401  (registration, as custom_imports does)
    evaluator = Evaluator(dict(type='SODAAMetric', _scope_='mmrotate', ann_dir=str(ann)))
    evaluator.process(data_samples=samples, data_batch={})
    out = evaluator.evaluate(len(samples))
    assert out['sodaa/AP'] == pytest.approx(round(EXPECTED_AP, 4))


def test_metric_format_only_writes_task1_and_no_metrics(tmp_path):
    from cfinet_rotated.evaluation import SODAAMetric
    metric = SODAAMetric(ann_dir=str(write_raw(tmp_path)), format_only=True, outfile_prefix=str(tmp_path / 'sub'))
    metric.process({}, patch_samples())
    assert metric.evaluate(size=3) == {}
    assert len((tmp_path / 'sub_Task1' / 'Task1_small-vehicle.txt').read_text().splitlines()) == 2
    assert not (tmp_path / 'sub.metrics.json').exists()
    with pytest.raises(ValueError, match='format_only needs'):
        SODAAMetric(ann_dir='x', format_only=True)


def test_metric_rejects_predictions_for_unknown_images(tmp_path):
    from cfinet_rotated.evaluation import SODAAMetric
    ann = write_raw(tmp_path)
    metric = SODAAMetric(ann_dir=str(ann))
    bad = patch_samples()[:1]
    bad[0]['img_id'] = 'P0777__800__0___0'
    metric.process({}, bad)
    with pytest.raises(ValueError, match="1 image\\(s\\) without an annotation file.*'P0777'"):
        metric.evaluate(size=1)


def test_eval_tool_on_pickle_and_task1_folder_and_plot(tmp_path, run_main):
    ann = write_raw(tmp_path)
    pkl = tmp_path / 'results.pkl'
    pkl.write_bytes(pickle.dumps(patch_samples()))
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(pkl), '--out',
                 str(tmp_path / 'm1.json'), '--dota-dir', str(tmp_path / 'task1'), '--nproc', '1')
    assert r.returncode == 0, r.stderr
    m1 = json.loads((tmp_path / 'm1.json').read_text())
    assert m1['AP'] == pytest.approx(EXPECTED_AP) and m1['AR'] == pytest.approx(2 / 3)
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area= Small | maxDets=20000 ] = 0.663' in r.stdout
    # the Task1 files written from the merged pickle give the same numbers as full-image input
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(tmp_path / 'task1'),
                 '--out',
                 str(tmp_path / 'm2.json'), '--nproc', '1', '--plot', str(tmp_path / 'one.png'))
    assert r.returncode == 0, r.stderr
    m2 = json.loads((tmp_path / 'm2.json').read_text())
    for k in ('AP', 'AP50', 'AP75', 'AP_eS', 'AP_rS', 'AR'):
        assert m2[k] == pytest.approx(m1[k]), k
    r = run_main('tools/analysis_tools/plot_size_ap.py', str(tmp_path / 'm1.json'), str(tmp_path / 'm2.json'),
                 '--labels',
                 'baseline', 'cfinet', '--out', str(tmp_path / 'cmp.png'))
    assert r.returncode == 0, r.stderr
    for png in ('one.png', 'cmp.png'):
        assert (tmp_path / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_eval_tool_bad_inputs(tmp_path, run_main):
    ann = write_raw(tmp_path)
    empty = tmp_path / 'empty.pkl'
    empty.write_bytes(b'')
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(empty))
    assert r.returncode == 2 and 'empty.pkl: the prediction file is empty' in r.stderr
    task1 = tmp_path / 't1'
    task1.mkdir()
    (task1 / 'Task1_small-vehicle.txt').write_text('P0001 0.9 100 100 120 100 120 110 100 110\n'
                                                   'P0001 0.8 nan 1 2 3 4 5 6 7\n')
    (task1 / 'Task1_airplane.txt').write_text('P0009 0.9 100 100 120 100 120 110 100 110\n')
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(task1))
    assert r.returncode == 2 and "predictions for 1 image(s) without an annotation file" in r.stderr \
        and "'P0009'" in r.stderr
    (task1 / 'Task1_airplane.txt').write_text('')
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(task1), '--out',
                 str(tmp_path / 'm.json'))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / 'm.json').read_text())['skipped']['non-finite detection'] == 1
    (task1 / 'Task1_truck.txt').write_text('')
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(task1))
    assert r.returncode == 2 and "unknown class 'truck'" in r.stderr
    pkl = tmp_path / 'r.pkl'
    s = patch_samples()
    s[0]['pred_instances']['labels'] = torch.tensor([2, 14])
    pkl.write_bytes(pickle.dumps(s))
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', str(ann), '--pred', str(pkl))
    assert r.returncode == 2 and 'P0001__800__0___0: class index 14 out of range [0, 9)' in r.stderr
