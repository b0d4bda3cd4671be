"""Annotation formats that rotated-detection users have: SODA-A JSON, DOTA ``labelTxt`` and DIOR-R XML, read into one
structure, so that the split tool, the datasets and the evaluator agree on what is an object
(docs/get_started.md, "Using it on DOTA and DIOR-R").

* **DOTA** (v1.0, v1.5, v2.0): one ``labelTxt/<stem>.txt`` per image, optional header lines ``imagesource:<s>`` and
  ``gsd:<metres per px or null>``, then ``x1 y1 x2 y2 x3 y3 x4 y4 <class> <difficult>`` per object (the difficult
  flag may be missing: 0). The versions differ by their class lists (:data:`DOTA_CLASSES`).
* **DIOR-R**: one VOC-style XML per image, ``<object><name>`` and ``<robndbox>`` with ``x_left_top ...
  y_left_bottom`` (the four corners), ``<difficult>`` optional; ``<size>`` gives width and height.
* **SODA-A**: :mod:`.sodaa_io` (category ids, 9 = ignore region).

Class names are matched case-insensitively to the class list (from the config or, with ``classes='auto'``, from
the data: the smallest known list that holds every name found, else the names found, sorted). A name not in the
list is an :class:`AnnotationError` that names the file, the line (DOTA) and the class, and lists the known
classes: a wrong class list must not turn into silently missing objects. Polygons that cannot be objects
(wrong number of coordinates, non-finite, degenerate) are skipped and counted by reason, as for SODA-A.
"""
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np

from .sodaa_io import SODAA_CLASSES, AnnotationError, SodaaAnnotation, check_polygon, load_sodaa

DOTA_CLASSES = {
    '1.0': ('plane', 'baseball-diamond', 'bridge', 'ground-track-field', 'small-vehicle', 'large-vehicle', 'ship',
            'tennis-court', 'basketball-court', 'storage-tank', 'soccer-ball-field', 'roundabout', 'harbor',
            'swimming-pool', 'helicopter'),
}
DOTA_CLASSES['1.5'] = DOTA_CLASSES['1.0'] + ('container-crane', )
DOTA_CLASSES['2.0'] = DOTA_CLASSES['1.5'] + ('airport', 'helipad')
#: MMRotate's DIORDataset class list (DIOR-R's 20 classes, lower case as its XML names)
DIOR_CLASSES = ('airplane', 'airport', 'baseballfield', 'basketballcourt', 'bridge', 'chimney',
                'expressway-service-area', 'expressway-toll-station', 'dam', 'golffield', 'groundtrackfield',
                'harbor', 'overpass', 'ship', 'stadium', 'storagetank', 'tenniscourt', 'trainstation', 'vehicle',
                'windmill')
#: named class lists accepted wherever a class list is (``--classes dota1.5``)
NAMED_CLASSES = {'sodaa': SODAA_CLASSES, 'dota1.0': DOTA_CLASSES['1.0'], 'dota1.5': DOTA_CLASSES['1.5'],
                 'dota2.0': DOTA_CLASSES['2.0'], 'dior': DIOR_CLASSES}
FORMATS = ('sodaa', 'dota', 'dior')
#: per format: (image folder, annotation folder, annotation suffix) of a raw data folder
LAYOUTS = {'sodaa': ('Images', 'Annotations', '.json'),
           'dota': ('images', 'labelTxt', '.txt'),
           'dior': ('JPEGImages', 'Annotations/Oriented Bounding Boxes', '.xml')}
DIOR_CORNERS = ('x_left_top', 'y_left_top', 'x_right_top', 'y_right_top', 'x_right_bottom', 'y_right_bottom',
                'x_left_bottom', 'y_left_bottom')


def check_format(fmt):
    if fmt not in FORMATS:
        raise ValueError(f'unknown annotation format {fmt!r}; one of {", ".join(FORMATS)}')
    return fmt


def resolve_classes(classes, fmt='sodaa', names_found=()):
    """A tuple of class names from ``classes``: a sequence of names, a name of :data:`NAMED_CLASSES`, a
    comma-separated string, or ``'auto'``/``None`` (SODA-A: its 9 classes; DOTA/DIOR: from ``names_found``, the
    smallest known list of the format that holds them all, else the names found in sorted order)."""
    if classes is None or classes == 'auto':
        if fmt == 'sodaa':
            return SODAA_CLASSES
        found = {n.lower() for n in names_found}
        if not found:
            raise ValueError('classes="auto" found no class names in the annotations; give the class list')
        known = [DOTA_CLASSES[v] for v in ('1.0', '1.5', '2.0')] if fmt == 'dota' else [DIOR_CLASSES]
        for cands in known:
            if found <= set(cands):
                return tuple(cands)
        return tuple(sorted(found))
    if isinstance(classes, str):
        if classes.lower() in NAMED_CLASSES:
            return NAMED_CLASSES[classes.lower()]
        classes = [c.strip() for c in classes.split(',') if c.strip()]
    out = tuple(str(c).lower() for c in classes)
    if len(set(out)) != len(out) or not out:
        raise ValueError(f'class list {list(classes)!r}: empty or with repeated names')
    return out


def _unknown(path, where, name, classes):
    return AnnotationError(f'{path}{where}: unknown class {name!r}; the class list has {len(classes)}: '
                           f'{", ".join(classes)} (set the dataset\'s metainfo classes or the tool\'s --classes)')


def _annotation(path, polys, labels, difficult, skipped, meta, entries):
    ann = SodaaAnnotation(path=str(path), polys=np.asarray(polys, np.float64).reshape(-1, 8),
                          labels=np.asarray(labels, np.int64), ignore_polys=[], skipped=skipped, meta=meta)
    ann.difficult = np.asarray(difficult, np.int64).reshape(-1)
    ann.entries = entries
    return ann


def _checked_polygon(parse, parse_failure, skipped, min_area):
    """``parse()``'s 8 coordinates if they make a usable polygon, else None with the reason counted in ``skipped``
    (``parse_failure`` when ``parse`` raises, else :func:`check_polygon`'s)."""
    try:
        coords = parse()
    except (TypeError, ValueError):
        skipped[parse_failure] += 1
        return None
    reason = check_polygon(coords, min_area=min_area)
    if reason is not None:
        skipped[reason] += 1
        return None
    return coords


def _read_text(path):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise AnnotationError(f'{path}: not a UTF-8 text file ({e.reason})') from None
    except OSError as e:
        raise AnnotationError(f'{path}: cannot be read ({e.strerror})') from None


def dota_class_names(path):
    """The class names used in one DOTA label file (for ``classes='auto'``)."""
    names = set()
    for line in _read_text(path).splitlines():
        parts = line.split()
        if len(parts) >= 9 and ':' not in parts[0]:
            names.add(parts[8].lower())
    return names


def load_dota(path, classes=DOTA_CLASSES['1.0'], min_area=1.0):
    """One DOTA ``labelTxt`` file -> annotation with ``polys`` (N, 8), ``labels``, ``difficult`` (N,),
    ``meta`` (``imagesource``, ``gsd`` as found; ``gsd`` a float or None), ``entries`` (object lines)."""
    classes = tuple(c.lower() for c in classes)
    index = {c: i for i, c in enumerate(classes)}
    polys, labels, difficult, skipped, meta, entries = [], [], [], Counter(), {}, 0
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition(':')
        if sep and key.strip().lower() in ('imagesource', 'gsd') and len(line.split()) < 9:
            value = value.strip()
            if key.strip().lower() == 'gsd':
                try:
                    value = float(value)
                    value = value if math.isfinite(value) else None
                except ValueError:
                    value = None  # 'null' or 'None' in some releases
            meta[key.strip().lower()] = value
            continue
        parts = line.split()
        entries += 1
        if len(parts) < 9:
            skipped['wrong length'] += 1
            continue
        name = parts[8].lower()
        if name not in index:
            raise _unknown(path, f':{lineno}', parts[8], classes)
        coords = _checked_polygon(lambda: [float(v) for v in parts[:8]], 'non-finite', skipped, min_area)
        if coords is None:
            continue
        diff = 0
        if len(parts) > 9:
            try:
                diff = int(float(parts[9]))
            except ValueError:
                raise AnnotationError(f'{path}:{lineno}: difficult flag {parts[9]!r} is not a number') from None
        polys.append(coords)
        labels.append(index[name])
        difficult.append(diff)
    return _annotation(path, polys, labels, difficult, skipped, meta, entries)


def _xml_root(path):
    try:
        return ET.parse(str(path)).getroot()
    except ET.ParseError as e:
        raise AnnotationError(f'{path}: malformed XML ({e})') from None
    except OSError as e:
        raise AnnotationError(f'{path}: cannot be read ({e.strerror})') from None


def dior_class_names(path):
    return {(o.findtext('name') or '').strip().lower() for o in _xml_root(path).iter('object')} - {''}


def load_dior(path, classes=DIOR_CLASSES, min_area=1.0):
    """One DIOR-R XML -> annotation (``robndbox`` corners; ``meta``: ``width``, ``height``, ``filename``)."""
    classes = tuple(c.lower() for c in classes)
    index = {c: i for i, c in enumerate(classes)}
    root = _xml_root(path)
    meta = {}
    size = root.find('size')
    for k in ('width', 'height'):
        v = size.findtext(k) if size is not None else None
        if v is not None:
            try:
                meta[k] = int(float(v))
            except ValueError:
                raise AnnotationError(f'{path}: <size><{k}> {v!r} is not a number') from None
    if root.findtext('filename'):
        meta['filename'] = root.findtext('filename').strip()
    polys, labels, difficult, skipped, entries = [], [], [], Counter(), 0
    for i, obj in enumerate(root.iter('object')):
        entries += 1
        name = (obj.findtext('name') or '').strip()
        if name.lower() not in index:
            raise _unknown(path, f' (object #{i})', name, classes)
        box = obj.find('robndbox')
        if box is None:
            skipped['wrong length'] += 1  # a horizontal-only <bndbox> object has no oriented box
            continue
        coords = _checked_polygon(lambda: [float(box.findtext(k)) for k in DIOR_CORNERS], 'wrong length', skipped,
                                  min_area)
        if coords is None:
            continue
        try:
            diff = int(float(obj.findtext('difficult') or 0))
        except ValueError:
            raise AnnotationError(f'{path} (object #{i}): <difficult> is not a number') from None
        polys.append(coords)
        labels.append(index[name.lower()])
        difficult.append(diff)
    return _annotation(path, polys, labels, difficult, skipped, meta, entries)


def load_annotation(path, fmt='sodaa', classes=None, min_area=1.0):
    """One annotation file of any format -> :class:`SodaaAnnotation` with ``difficult`` and ``entries`` too
    (SODA-A: no difficult objects; ``entries`` = objects + ignore regions + skipped)."""
    check_format(fmt)
    if fmt == 'sodaa':
        ann = load_sodaa(path, min_area=min_area)
        ann.difficult = np.zeros(len(ann.labels), np.int64)
        ann.entries = len(ann.labels) + len(ann.ignore_polys) + sum(ann.skipped.values())
        return ann
    if classes is None:
        raise ValueError(f'load_annotation({path}): {fmt} needs a class list (resolve_classes)')
    return (load_dota if fmt == 'dota' else load_dior)(path, classes, min_area=min_area)


def class_names_in(files, fmt):
    """Every class name used by the annotation ``files`` (DOTA/DIOR; for ``classes='auto'``)."""
    reader = dota_class_names if fmt == 'dota' else dior_class_names
    names = set()
    for f in files:
        names |= reader(f)
    return names


def list_files(ann_dir, fmt):
    """Sorted annotation files of a folder; a missing or empty folder is an error naming it."""
    suffix = LAYOUTS[check_format(fmt)][2]
    d = Path(ann_dir)
    if not d.is_dir():
        raise AnnotationError(f'{d}: annotation folder does not exist')
    files = sorted(d.glob('*' + suffix))
    if not files:
        raise AnnotationError(f'{d}: no *{suffix} annotation files ({fmt} format)')
    return files


def dota_lines(polys, names, difficult, meta=None):
    """The text of a DOTA label file: the header lines of ``meta`` (``imagesource``, ``gsd``), then one object a
    line (coordinates with up to 2 decimals)."""
    lines = []
    for k in ('imagesource', 'gsd'):
        if meta and k in meta:
            lines.append(f'{k}:{"null" if meta[k] is None else meta[k]}')
    for poly, name, diff in zip(polys, names, difficult):
        lines.append(' '.join(f'{float(v):.2f}'.rstrip('0').rstrip('.') for v in poly) + f' {name} {int(diff)}')
    return '\n'.join(lines) + ('\n' if lines else '')
