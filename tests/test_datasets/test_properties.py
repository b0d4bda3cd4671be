"""Property-based tests (hypothesis) of every reader and tool that takes user files: the SODA-A JSON reader and
dataset, the SODA-D COCO reader and dataset, the DOTA Task1 reader, both split tools and both evaluators.

Inputs: malformed and truncated JSON, wrong types, missing keys, huge and non-finite coordinates, self-intersecting,
zero-area and out-of-image polygons, duplicate objects, zero-byte and non-image files, Unicode and spaces in file
names (10,000 objects in one image: a separate example test). Every case either works (and then no object of a valid
image is lost: the counts add up) or stops with one clear message that names the file; no exception from inside a
library escapes.
"""
import json
import math
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfinet_rotated.datasets.sodaa_io import SKIP_REASONS, SODAA_CLASSES, AnnotationError, load_sodaa, polygon_area

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))

# ------------------------------------------------------------------------------------------------ strategies
finite = st.floats(-2000, 2000, allow_nan=False)
weird_number = st.one_of(
    finite, st.integers(-10 ** 6, 10 ** 6), st.just(float('nan')), st.just(float('inf')), st.just(-float('inf')),
    st.floats(1e15, 1e300), st.floats(-1e300, -1e15), st.booleans(), st.text(max_size=3), st.none(),
    st.lists(st.integers(0, 5), max_size=2))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=True),
                        st.text(max_size=5))
json_any = st.recursive(json_scalar, lambda c: st.one_of(st.lists(c, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), c, max_size=3)),
                        max_leaves=8)
# file stems: Unicode and spaces (no path separators, no '__', which patch names reserve)
stem = st.text(st.characters(blacklist_categories=('Cs', 'Cc'), blacklist_characters='/\\_\x00.'),
               min_size=1, max_size=12).map(str.strip).filter(lambda s: s not in ('', '.', '..'))


def rect(x1, y1, x2, y2):
    return [x1, y1, x2, y1, x2, y2, x1, y2]


@st.composite
def good_poly(draw, extent=300):
    """A valid quadrilateral (rotated rectangle) in or around an ``extent`` px image, sometimes out of it."""
    cx, cy = draw(st.floats(-50, extent + 50)), draw(st.floats(-50, extent + 50))
    w, h = draw(st.floats(2, 80)), draw(st.floats(2, 80))
    a = draw(st.floats(0, math.pi))
    c, s = math.cos(a), math.sin(a)
    pts = [(cx + c * dx - s * dy, cy + s * dx + c * dy) for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2),
                                                                      (w / 2, h / 2), (-w / 2, h / 2))]
    return [round(v, 2) for p in pts for v in p]


@st.composite
def sodaa_annotation(draw, extent=300):
    kind = draw(st.sampled_from(['good', 'good', 'good', 'ignore', 'bowtie', 'zero', 'weird', 'short', 'class']))
    cat = draw(st.integers(0, 8))
    if kind == 'good':
        return dict(poly=draw(good_poly(extent)), category_id=cat)
    if kind == 'ignore':
        return dict(poly=draw(good_poly(extent)), category_id=9)
    if kind == 'bowtie':  # self-intersecting
        x, y = draw(finite), draw(finite)
        return dict(poly=[x, y, x + 20, y + 20, x + 20, y, x, y + 20], category_id=cat)
    if kind == 'zero':  # zero area: repeated or collinear points
        x, y = draw(finite), draw(finite)
        return dict(poly=[x, y, x + 5, y, x + 10, y, x + 5, y], category_id=cat)
    if kind == 'weird':
        return dict(poly=draw(st.lists(weird_number, min_size=8, max_size=8)), category_id=cat)
    if kind == 'short':
        return dict(poly=draw(st.lists(finite, max_size=10)), category_id=cat)
    return dict(poly=draw(good_poly(extent)), category_id=draw(weird_number))


@st.composite
def sodaa_file(draw, extent=300):
    """The text of a SODA-A JSON file: mostly well-formed with messy annotations, sometimes broken."""
    anns = draw(st.lists(sodaa_annotation(extent), max_size=8))
    if anns and draw(st.booleans()):
        anns.append(dict(anns[0]))  # a duplicate object
    doc = dict(images=dict(file_name='x.jpg'), annotations=anns)
    mode = draw(st.sampled_from(['ok'] * 6 + ['truncated', 'garbage', 'wrong type', 'missing key', 'bad entry']))
    text = json.dumps(doc)
    if mode == 'truncated':
        return text[:draw(st.integers(0, max(0, len(text) - 1)))]
    if mode == 'garbage':
        return draw(st.text(max_size=20))
    if mode == 'wrong type':
        return json.dumps(dict(annotations=draw(json_any)))
    if mode == 'missing key':
        return json.dumps(dict(annotations=[{k: v for k, v in a.items() if k != 'poly'} for a in anns] or [{}]))
    if mode == 'bad entry':
        return json.dumps(dict(annotations=anns + [draw(json_any)]))
    return text


def clear_error(e, *names):
    """The message of a refused input: one line of text naming one of ``names`` (a file)."""
    msg = str(e)
    assert any(str(n) in msg for n in names), f'the error does not name the file: {msg}'
    assert 'Traceback' not in msg, msg


def _tmp():
    return Path(tempfile.mkdtemp(prefix='prop_'))


# ------------------------------------------------------------------------------------------- SODA-A reader
@SETTINGS
@given(text=sodaa_file(), name=stem)
def test_sodaa_reader(text, name):
    d = _tmp()
    try:
        path = d / f'{name}.json'
        path.write_text(text, encoding='utf-8')
        try:
            ann = load_sodaa(path)
        except AnnotationError as e:
            clear_error(e, path)
            return
        raw = json.loads(text)['annotations']
        # every entry is an object, an ignore region or a skip with a reason
        assert len(ann.polys) + len(ann.ignore_polys) + sum(ann.skipped.values()) == len(raw)
        assert set(ann.skipped) <= set(SKIP_REASONS)
        assert ((ann.labels >= 0) & (ann.labels < len(SODAA_CLASSES))).all()
        # finite also in float32, the dtype of the boxes in the model (1e300 would become inf there)
        assert np.isfinite(ann.polys.astype(np.float32)).all()
        assert all(polygon_area(p) >= 1.0 for p in ann.polys)
        # valid objects are never lost
        good = [a for a in raw if isinstance(a.get('category_id'), int) and not isinstance(a['category_id'], bool)
                and 0 <= a['category_id'] <= 8 and isinstance(a['poly'], list) and len(a['poly']) == 8
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e6 for v in a['poly'])
                and polygon_area(a['poly']) >= 1.0]
        assert len(ann.polys) >= len(good)
    finally:
        shutil.rmtree(d)


# ------------------------------------------------------------------------------------------ SODA-A dataset
def _image_bytes(kind, w=64, h=48):
    if kind == 'ok':
        return cv2.imencode('.jpg', np.full((h, w, 3), 90, np.uint8))[1].tobytes()
    return b'' if kind == 'empty' else b'this is not an image\n'


@FEW
@given(files=st.lists(st.tuples(stem, sodaa_file(64), st.sampled_from(['ok', 'ok', 'ok', 'empty', 'text', 'none'])),
                      min_size=1, max_size=4, unique_by=lambda f: f[0]))
def test_sodaa_dataset(files):
    from cfinet_rotated.datasets import SODAADataset
    d = _tmp()
    try:
        (d / 'Annotations').mkdir()
        (d / 'Images').mkdir()
        for name, text, img in files:
            (d / 'Annotations' / f'{name}.json').write_text(text, encoding='utf-8')
            if img != 'none':
                (d / 'Images' / f'{name}.jpg').write_bytes(_image_bytes(img))
        try:
            ds = SODAADataset(data_root=str(d), ann_file='Annotations/', data_prefix=dict(img_path='Images/'),
                              pipeline=[], test_mode=True)
        except AnnotationError as e:
            clear_error(e, *[d / 'Annotations' / f'{n}.json' for n, _, _ in files],
                        *[d / 'Images' / f'{n}.jpg' for n, _, _ in files])
            return
        assert len(ds) == len(files)
        for (name, text, img), info in zip(sorted(files, key=lambda f: f[0] + '.json'), ds):
            assert img in ('ok',)  # a missing, empty or non-image file is an error at load time
            ann = load_sodaa(d / 'Annotations' / f'{name}.json')
            assert len(info['instances']) == len(ann.polys)  # no object dropped on the way
    finally:
        shutil.rmtree(d)


# --------------------------------------------------------------------------------------------- split tools
@FEW
@given(files=st.lists(st.tuples(stem, sodaa_file(300), st.sampled_from(['ok', 'ok', 'ok', 'empty', 'text', 'none']),
                                st.integers(40, 300), st.integers(40, 300)),
                      min_size=1, max_size=3, unique_by=lambda f: f[0]))
def test_sodaa_split_tool(files, run_main):
    d = _tmp()
    try:
        src, dst = d / 'raw', d / 'out'
        (src / 'Annotations').mkdir(parents=True)
        (src / 'Images').mkdir()
        for name, text, img, w, h in files:
            (src / 'Annotations' / f'{name}.json').write_text(text, encoding='utf-8')
            if img == 'ok':
                cv2.imwrite(str(src / 'Images' / f'{name}.jpg'), np.full((h, w, 3), 90, np.uint8))
            elif img != 'none':
                (src / 'Images' / f'{name}.jpg').write_bytes(_image_bytes(img))
        r = run_main('tools/data/sodaa_split.py', '--src', src, '--dst', dst, '--workers', 1, '--size', 128,
                     '--gap', 32)
        assert r.returncode in (0, 1), r.stderr
        assert 'Traceback' not in r.stdout + r.stderr, r.stdout[-3000:]
        s = json.loads((dst / 'split_summary.json').read_text())
        failed = {Path(f['file']).stem for f in s['failed_files']}
        assert (r.returncode == 1) == bool(failed)
        for f in s['failed_files']:
            assert f['problem'].startswith(str(src)), f  # names the file
        expect = Counter()  # valid objects of the images that split: every one has a fate
        for name, text, img, w, h in files:
            if name in failed:
                continue
            assert img == 'ok', (name, img)
            expect['objects'] += len(load_sodaa(src / 'Annotations' / f'{name}.json').polys)
        assert s['objects']['total'] == expect['objects']
        assert s['images']['split'] + s['images']['failed'] == s['images']['total'] == len(files)
    finally:
        shutil.rmtree(d)


@st.composite
def sodad_doc(draw):
    """A SODA-D COCO dict: images of random sizes (some files missing/empty/not images), messy annotations."""
    n_img = draw(st.integers(1, 3))
    names = draw(st.lists(stem, min_size=n_img, max_size=n_img, unique=True))
    images = [dict(id=i + 1, file_name=f'{n}.jpg', width=draw(st.integers(40, 300)), height=draw(st.integers(40, 300)))
              for i, n in enumerate(names)]
    anns = []
    for k in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(['good'] * 5 + ['weird', 'zero', 'huge', 'ignore', 'dup']))
        box = [draw(st.floats(-20, 300)), draw(st.floats(-20, 300)), draw(st.floats(1, 60)), draw(st.floats(1, 60))]
        if kind == 'weird':
            box = draw(st.lists(weird_number, min_size=4, max_size=4))
        elif kind == 'zero':
            box[2] = 0
        elif kind == 'huge':
            box = [1e300, -1e300, 1e300, 1e300]
        ann = dict(id=k + 1, image_id=draw(st.integers(1, n_img)),
                   category_id=10 if kind == 'ignore' else draw(st.integers(1, 9)), bbox=box, iscrowd=0)
        if draw(st.booleans()):
            ann['area'] = draw(st.one_of(st.floats(0, 5000), weird_number))
        anns.append(ann)
        if kind == 'dup':
            anns.append(dict(ann, id=1000 + k))
    from cfinet_rotated.datasets.sodad_io import sodad_categories
    doc = dict(images=images, annotations=anns, categories=sodad_categories(with_ignore=True))
    mode = draw(st.sampled_from(['ok'] * 6 + ['truncated', 'wrong type', 'missing key', 'bad image', 'bad ann']))
    if mode == 'wrong type':
        doc[draw(st.sampled_from(['images', 'annotations', 'categories']))] = draw(json_any)
    elif mode == 'missing key' and anns:
        del doc['annotations'][0][draw(st.sampled_from(['image_id', 'category_id', 'bbox']))]
    elif mode == 'bad image':
        doc['images'][0][draw(st.sampled_from(['id', 'file_name', 'width', 'height']))] = draw(json_any)
    elif mode == 'bad ann' and anns:
        doc['annotations'][0][draw(st.sampled_from(['image_id', 'category_id', 'area', 'id', 'ignore']))] = \
            draw(json_any)
    text = json.dumps(doc)
    if mode == 'truncated':
        text = text[:draw(st.integers(0, len(text) - 1))]
    return text, [(n, draw(st.sampled_from(['ok', 'ok', 'ok', 'empty', 'text', 'none']))) for n in names]


def _write_sodad(d, text, images):
    (d / 'Images').mkdir(parents=True)
    ann = d / 'ann.json'
    ann.write_text(text, encoding='utf-8')
    for name, kind in images:
        if kind == 'ok':
            cv2.imwrite(str(d / 'Images' / f'{name}.jpg'), np.full((120, 150, 3), 90, np.uint8))
        elif kind != 'none':
            (d / 'Images' / f'{name}.jpg').write_bytes(_image_bytes(kind))
    return ann


@FEW
@given(case=sodad_doc())
def test_sodad_split_tool(case, run_main):
    text, images = case
    d = _tmp()
    try:
        ann = _write_sodad(d / 'raw', text, images)
        r = run_main('tools/data/sodad_split.py', '--ann', ann, '--img-dir', d / 'raw' / 'Images', '--dst', d / 'out',
                     '--workers', 1, '--size', 128, '--gap', 32, '--mode', 'val')
        assert 'Traceback' not in r.stdout + r.stderr, r.stdout[-3000:] + r.stderr[-3000:]
        if r.returncode == 2:
            clear_error(r.stderr, ann, d / 'raw' / 'Images')
            return
        assert r.returncode in (0, 1), r.stderr
        s = json.loads((d / 'out' / 'Annotations' / 'val_split_summary.json').read_text())
        failed = s['failed_images']
        assert (r.returncode == 1) == bool(failed)
        for f in failed:
            assert any(n in f for n, _ in images), f  # names the image
        assert s['images']['split'] + len(failed) == len(images)
    finally:
        shutil.rmtree(d)


@FEW
@given(case=sodad_doc())
def test_sodad_reader_and_dataset(case):
    from cfinet_rotated.datasets import SODADDataset
    from cfinet_rotated.datasets.sodad_io import load_sodad
    text, images = case
    d = _tmp()
    try:
        ann = _write_sodad(d, text, images)
        try:
            parsed = load_sodad(ann)
        except AnnotationError as e:
            clear_error(e, ann)
            return
        assert len(parsed.bbox) == len(json.loads(text)['annotations'])
        try:
            ds = SODADDataset(data_root=str(d), ann_file='ann.json', data_prefix=dict(img='Images/'), pipeline=[],
                              test_mode=True)
        except AnnotationError as e:
            clear_error(e, ann, *[d / 'Images' / f'{n}.jpg' for n, _ in images])
            return
        assert all(kind == 'ok' for _, kind in images)
        # every annotation is a training target or a counted skip
        targets = sum(len(info['instances']) for info in ds)
        skipped = sum(v for k, v in ds.skipped.items() if k != 'area missing: w*h used')
        assert targets + skipped == len(parsed.bbox)
    finally:
        shutil.rmtree(d)


# -------------------------------------------------------------------------------------------- evaluators
task1_line = st.one_of(
    st.tuples(stem, st.floats(0, 1), st.lists(finite, min_size=8, max_size=8)).map(
        lambda t: ' '.join([t[0], repr(t[1])] + [repr(v) for v in t[2]])),
    st.tuples(stem, st.lists(weird_number, min_size=9, max_size=9)).map(
        lambda t: ' '.join([t[0]] + [str(v) for v in t[1]])),
    st.text(max_size=30))


@SETTINGS
@given(lines=st.dictionaries(st.sampled_from(list(SODAA_CLASSES) + ['bogus']), st.lists(task1_line, max_size=6),
                             min_size=1, max_size=3),
       gt=st.lists(st.tuples(stem, sodaa_file(300)), min_size=1, max_size=3, unique_by=lambda f: f[0]))
def test_sodaa_evaluator(lines, gt, run_main):
    d = _tmp()
    try:
        (d / 'pred').mkdir()
        (d / 'ann').mkdir()
        for cls, rows in lines.items():
            (d / 'pred' / f'Task1_{cls}.txt').write_text('\n'.join(rows) + '\n', encoding='utf-8')
        for name, text in gt:
            (d / 'ann' / f'{name}.json').write_text(text, encoding='utf-8')
        r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', d / 'ann', '--pred', d / 'pred', '--nproc', 1)
        assert 'Traceback' not in r.stdout + r.stderr, r.stderr[-3000:]
        if r.returncode == 2:
            clear_error(r.stderr, d / 'pred', d / 'ann')
            return
        assert r.returncode in (0, None), r.stderr
        assert 'images=' in r.stdout
    finally:
        shutil.rmtree(d)


@SETTINGS
@given(case=sodad_doc(), rows=st.lists(st.fixed_dictionaries(
    dict(image_id=st.one_of(st.integers(1, 3), json_scalar), category_id=st.one_of(st.integers(1, 9), json_scalar),
         bbox=st.one_of(st.lists(finite, min_size=4, max_size=4), st.lists(weird_number, max_size=5)),
         score=st.one_of(st.floats(0, 1), weird_number))), max_size=6), results_text=st.sampled_from(['ok', 'broken']))
def test_sodad_evaluator(case, rows, results_text, run_main):
    text, images = case
    d = _tmp()
    try:
        ann = d / 'ann.json'
        ann.write_text(text, encoding='utf-8')
        pred = d / 'pred.json'
        body = json.dumps(rows)
        pred.write_text(body if results_text == 'ok' else body[:len(body) // 2], encoding='utf-8')
        r = run_main('tools/analysis_tools/eval_sodad.py', '--ann', ann, '--pred', pred, '--nproc', 1)
        assert 'Traceback' not in r.stdout + r.stderr, r.stderr[-3000:]
        if r.returncode == 2:
            clear_error(r.stderr, ann, pred)
            return
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(d)


# ---------------------------------------------------------------------------------- 10,000 objects, one image
def test_ten_thousand_objects_in_one_image(tmp_path, run_main):
    rng = np.random.default_rng(0)
    src = tmp_path / 'raw'
    (src / 'Annotations').mkdir(parents=True)
    (src / 'Images').mkdir()
    xy = rng.uniform(0, 1000, (10000, 2))
    anns = [dict(poly=rect(x, y, x + 6, y + 5), category_id=int(c)) for (x, y), c in zip(xy.tolist(),
                                                                                          rng.integers(0, 9, 10000))]
    (src / 'Annotations' / 'many objects ü.json').write_text(json.dumps(dict(annotations=anns)), encoding='utf-8')
    cv2.imwrite(str(src / 'Images' / 'many objects ü.jpg'), np.full((1006, 1006, 3), 90, np.uint8))
    r = run_main('tools/data/sodaa_split.py', '--src', src, '--dst', tmp_path / 'out', '--workers', 1)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / 'out' / 'split_summary.json').read_text())
    assert s['annotations'] == 10000 and s['objects']['total'] == 10000
    assert s['objects']['whole'] + s['objects']['truncated'] == 10000  # none dropped: all lie inside the image
    # the evaluator with the ground truth as predictions: every object found
    from cfinet_rotated.evaluation import load_ground_truth, write_task1
    gts = load_ground_truth(src / 'Annotations')
    preds = {k: dict(bboxes=v['bboxes'], labels=v['labels'], scores=np.ones(len(v['labels']), np.float32))
             for k, v in gts.items()}
    write_task1(preds, tmp_path / 'pred')
    r = run_main('tools/analysis_tools/eval_sodaa.py', '--ann-dir', src / 'Annotations', '--pred', tmp_path / 'pred',
                 '--nproc', 1,
                 '--out', tmp_path / 'm.json')
    assert r.returncode in (0, None), r.stderr
    m = json.loads((tmp_path / 'm.json').read_text())
    assert m['num_gts'] == 10000 and m['AP50'] == pytest.approx(1.0, abs=1e-6), {k: m[k] for k in list(m)[:20]}
