"""DOTA labelTxt and DIOR-R XML (issue 22): the readers on hand-written files, the real example images of
tests/data/real (split counts checked against their labels), the datasets and the evaluator's ground truth."""
import json
from pathlib import Path

import numpy as np
import pytest

from cfinet_rotated.datasets.formats import (
    DIOR_CLASSES,
    DOTA_CLASSES,
    dota_lines,
    load_annotation,
    load_dior,
    load_dota,
    resolve_classes,
)
from cfinet_rotated.datasets.sodaa_io import AnnotationError

from conftest import ROOT, run_tool

REAL = ROOT / 'tests/data/real'


def _label_counts(path):
    """class -> objects in a DOTA label file, counted here by plain text splitting (not by our reader)."""
    counts = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 9 and ':' not in parts[0]:
            counts[parts[8]] = counts.get(parts[8], 0) + 1
    return counts


# ----------------------------------------------------------------------------------------------------- readers
def test_dota_reader_headers_difficult_and_counted_skips(tmp_path):
    f = tmp_path / 'P1.txt'
    f.write_text('imagesource:GoogleEarth\ngsd:0.15\n'
                 '10 10 20 10 20 20 10 20 plane 0\n'
                 '0 0 5 0 5 5 0 5 Small-Vehicle 1\n'  # class names match case-insensitively
                 '1 1 2 2 3 3 4 4 ship 0\n'  # collinear: degenerate
                 '1 2 3 4 ship\n'  # too short
                 '30 30 40 30 40 40 30 40 harbor\n')  # no difficult flag: 0
    ann = load_dota(f, DOTA_CLASSES['1.0'])
    assert ann.meta == dict(imagesource='GoogleEarth', gsd=0.15)
    assert ann.labels.tolist() == [0, 4, 12] and ann.difficult.tolist() == [0, 1, 0]
    assert ann.polys[0].tolist() == [10, 10, 20, 10, 20, 20, 10, 20]
    assert dict(ann.skipped) == {'degenerate': 1, 'wrong length': 1} and ann.entries == 5
    f.write_text('gsd:null\n10 10 20 10 20 20 10 20 plane 0\n')
    assert load_dota(f).meta == dict(gsd=None)


def test_unknown_class_is_an_error_that_names_file_line_and_class(tmp_path):
    f = tmp_path / 'P2.txt'
    f.write_text('imagesource:x\n10 10 20 10 20 20 10 20 plane 0\n10 10 20 10 20 20 10 20 container-crane 0\n')
    with pytest.raises(AnnotationError, match=r"P2.txt:3: unknown class 'container-crane'.*15"):
        load_dota(f, DOTA_CLASSES['1.0'])
    assert load_dota(f, DOTA_CLASSES['1.5']).labels.tolist() == [0, 15]
    x = tmp_path / 'd.xml'
    x.write_text('<annotation><object><name>spaceship</name><robndbox/></object></annotation>')
    with pytest.raises(AnnotationError, match=r"d.xml \(object #0\): unknown class 'spaceship'"):
        load_dior(x)
    x.write_text('<annotation><object>')
    with pytest.raises(AnnotationError, match='d.xml: malformed XML'):
        load_dior(x)


def test_class_lists_from_names_config_or_data():
    assert resolve_classes('dota1.5') == DOTA_CLASSES['1.5'] and resolve_classes('DIOR') == DIOR_CLASSES
    assert resolve_classes('a, b,c') == ('a', 'b', 'c')
    assert resolve_classes('auto', 'dota', {'plane', 'ship'}) == DOTA_CLASSES['1.0']
    assert resolve_classes('auto', 'dota', {'plane', 'helipad'}) == DOTA_CLASSES['2.0']
    assert resolve_classes('auto', 'dota', {'zeppelin', 'plane'}) == ('plane', 'zeppelin')
    with pytest.raises(ValueError, match='repeated'):
        resolve_classes('a,a')


def test_dior_reader_on_the_real_mmrotate_example():
    xml = REAL / 'dior/Annotations/Oriented Bounding Boxes/00001.xml'
    ann = load_annotation(xml, 'dior', DIOR_CLASSES)
    assert ann.meta == dict(width=800, height=800, filename='00001.jpg')
    assert ann.labels.tolist() == [DIOR_CLASSES.index('golffield')] and ann.difficult.tolist() == [0]
    assert ann.polys.tolist() == [[133, 237, 684, 237, 684, 672, 133, 672]]


def test_dota_lines_round_trip(tmp_path):
    text = dota_lines([[1.5, 2, 3, 4.25, 5, 6, 7, 8]], ['ship'], [1], dict(imagesource='GE', gsd=None))
    assert text == 'imagesource:GE\ngsd:null\n1.5 2 3 4.25 5 6 7 8 ship 1\n'
    (tmp_path / 'a.txt').write_text(text)
    ann = load_dota(tmp_path / 'a.txt')
    assert ann.polys.tolist() == [[1.5, 2, 3, 4.25, 5, 6, 7, 8]] and ann.difficult.tolist() == [1]


# ------------------------------------------------------------------------------------------- real images: split
@pytest.fixture(scope='module')
def dota_split(tmp_path_factory):
    out = tmp_path_factory.mktemp('dota') / 'split'
    proc = run_tool('tools/data/sodaa_split.py', '--format', 'dota', '--src', REAL / 'dota', '--dst', out,
                    '--workers', 1)
    return out, proc.stdout


def test_split_of_the_real_dota_images_accounts_for_every_labelled_object(dota_split):
    out, log = dota_split
    summary = json.loads((out / 'split_summary.json').read_text())
    expected = {}
    for f in sorted((REAL / 'dota/labelTxt').glob('*.txt')):
        for k, v in _label_counts(f).items():
            expected[k] = expected.get(k, 0) + v
    assert expected == {'ship': 531, 'harbor': 5, 'small-vehicle': 14, 'large-vehicle': 50}
    assert summary['annotations'] == sum(expected.values()) == 600
    got = {c: sum(v.values()) for c, v in summary['objects_per_class'].items() if sum(v.values())}
    assert got == expected
    assert summary['settings']['classes'] == list(DOTA_CLASSES['1.0'])
    assert summary['difficult_objects'] == sum(
        1 for f in (REAL / 'dota/labelTxt').glob('*.txt') for line in f.read_text().splitlines()
        if len(line.split()) == 10 and line.split()[9] != '0')
    # patches: DOTA layout, png, the source header kept, names that carry the origin
    stems = sorted(p.stem for p in (out / 'labelTxt').glob('*.txt'))
    assert stems == sorted(p.stem for p in (out / 'images').glob('*.png')) and 'P1888__800__0___0' in stems
    first = (out / 'labelTxt' / 'P1888__800__0___0.txt').read_text().splitlines()
    assert first[:2] == ['imagesource:GoogleEarth', 'gsd:0.266170468393']
    assert 'classes (15)' in log


def test_patch_dataset_reads_the_split_and_keeps_the_origin(dota_split):

    from cfinet_rotated.datasets import DOTAPatchDataset
    out, _ = dota_split
    ds = DOTAPatchDataset(data_root=str(out), ann_file='labelTxt/', data_prefix=dict(img_path='images/'),
                          pipeline=[], test_mode=True)
    infos = {d['img_id']: d for d in (ds.get_data_info(i) for i in range(len(ds)))}
    p = infos['P0706__800__311___382']
    assert (p['ori_id'], p['x_start'], p['y_start']) == ('P0706', 311, 382) and p['gsd'] == pytest.approx(0.2556,
                                                                                                       abs=1e-3)
    # every object of P1888 (one patch, the image fits) with its class
    labels = [i['bbox_label'] for i in infos['P1888__800__0___0']['instances']]
    classes = ds.metainfo['classes']
    assert {classes[k]: labels.count(k) for k in set(labels)} == _label_counts(REAL / 'dota/labelTxt/P1888.txt')
    with pytest.raises(AnnotationError, match=r"unknown class 'ship'"):
        DOTAPatchDataset(data_root=str(out), ann_file='labelTxt/', data_prefix=dict(img_path='images/'),
                         metainfo=dict(classes=('plane', 'harbor')), pipeline=[], test_mode=True)


def test_dior_dataset_and_missing_image(tmp_path):

    from cfinet_rotated.datasets import DIORRDataset
    images = dict(img_path=str(REAL / 'dior/JPEGImages'))
    ds = DIORRDataset(data_root=str(REAL / 'dior'), ann_file='', data_prefix=images, pipeline=[], test_mode=True)
    info = ds.get_data_info(0)
    assert (info['width'], info['height'], info['ori_id']) == (800, 800, '00001')
    assert [i['bbox_label'] for i in info['instances']] == [DIOR_CLASSES.index('golffield')]
    (tmp_path / 'ids.txt').write_text('00001\n99999\n')
    with pytest.raises(AnnotationError, match='99999.xml: annotation file does not exist'):
        DIORRDataset(data_root=str(REAL / 'dior'), ann_file=str(tmp_path / 'ids.txt'),
                     data_prefix=dict(img_path=str(REAL / 'dior/JPEGImages')), pipeline=[], test_mode=True)


# ------------------------------------------------------------------------------------------------- evaluation
def test_ground_truth_from_dota_labels_marks_difficult_as_ignore():
    from cfinet_rotated.evaluation.sodaa_eval import load_ground_truth
    gts = load_ground_truth(REAL / 'dota/labelTxt', fmt='dota', classes=DOTA_CLASSES['1.0'], min_size=0)
    assert list(gts) == ['P0706', 'P1888']
    ann = load_dota(REAL / 'dota/labelTxt/P0706.txt')
    assert len(gts['P0706']['labels']) == len(ann.labels) == 536
    assert np.array_equal(gts['P0706']['ignore'], ann.difficult > 0) and gts['P0706']['ignore'].any()
    with pytest.raises(AnnotationError, match='listed image id'):
        load_ground_truth(REAL / 'dota/labelTxt', fmt='dota', classes=DOTA_CLASSES['1.0'], image_ids=['P9'])
    only = load_ground_truth(REAL / 'dota/labelTxt', fmt='dota', classes=DOTA_CLASSES['1.0'], image_ids=['P1888'])
    assert list(only) == ['P1888']


def test_eval_tool_scores_the_labels_themselves_as_perfect(tmp_path):
    """The real labels written as Task1 predictions (score 1) score AP 1 on every subset that has objects."""
    from cfinet_rotated.evaluation.sodaa_eval import load_ground_truth, write_task1
    gts = load_ground_truth(REAL / 'dota/labelTxt', fmt='dota', classes=DOTA_CLASSES['1.0'])
    preds = {k: dict(bboxes=v['bboxes'], labels=v['labels'], scores=np.ones(len(v['labels']), np.float32))
             for k, v in gts.items()}
    write_task1(preds, tmp_path / 'task1', DOTA_CLASSES['1.0'])
    run_tool('tools/analysis_tools/eval_sodaa.py', '--format', 'dota', '--ann', REAL / 'dota/labelTxt',
             '--pred', tmp_path / 'task1', '--out', tmp_path / 'm.json')
    m = json.loads((tmp_path / 'm.json').read_text())
    assert m['AP'] == pytest.approx(1.0) and m['AR'] == pytest.approx(1.0)
    bad = run_tool('tools/analysis_tools/eval_sodaa.py', '--format', 'dota', '--classes', 'plane,harbor', '--ann',
                   REAL / 'dota/labelTxt', '--pred', tmp_path / 'task1', '--out', tmp_path / 'x.json', check=False)
    assert bad.returncode != 0 and "unknown class 'baseball-diamond' (classes: plane, harbor)" in bad.stdout


def test_browse_draws_the_real_dota_labels_by_size_subset(tmp_path, run_main):
    """Every labelled object of the real images is drawn once: the legend counts add up to the labels, the 6
    difficult ships are grey ('ignore')."""
    r = run_main('tools/analysis_tools/browse_dataset.py', REAL / 'dota/labelTxt', '--out-dir', tmp_path)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1]
    counts = dict((k, int(v)) for k, v in (kv.split() for kv in line.split(': ', 1)[1].split(', ')))
    assert sum(counts.values()) == 600 and counts['ignore'] == 6
    assert sorted(p.name for p in tmp_path.glob('*.png')) == ['P0706.png', 'P1888.png']


@pytest.mark.slow
def test_real_dota_split_train_test_metrics(dota_split, tmp_path):
    """split -> train the tiny DOTA config a few iterations -> test on the patches -> SODA metrics on the raw
    labels of the real images (every labelled image is scored)."""
    out, _ = dota_split
    cfg = 'configs/dota/rotated-faster-rcnn_tiny_dota-example.py'
    opts = [f'train_dataloader.dataset.data_root={out}/', f'test_dataloader.dataset.data_root={out}/']
    run_tool('tools/train.py', cfg, '--work-dir', tmp_path, '--cfg-options', 'train_cfg.max_iters=4', *opts)
    proc = run_tool('tools/test.py', cfg, tmp_path / 'iter_4.pth', '--work-dir', tmp_path / 'test',
                    '--cfg-options', f'test_evaluator.outfile_prefix={tmp_path}/m', *opts)
    m = json.loads((tmp_path / 'm.metrics.json').read_text())
    assert set(m) >= {'AP', 'AP_eS', 'AR'} and 'images=2 gts=600' in proc.stdout
