"""Deterministic synthetic aerial scenes in the SODA-A raw format (and their axis-aligned SODA-D variant), for the
embedded samples, the tests and the benchmarks; ``tools/data/make_sample.py`` is the command line around it.

Scenes look loosely aerial: textured ground, fields, water, roads, buildings (unlabelled distractors), and objects
of the nine SODA-A classes drawn as oriented shapes with a shadow and a per-class appearance, so a small detector
can learn them (the drawing styles are listed in ``tools/data/make_sample.py``). Every image has its own generator
``default_rng([seed, index])``, so the output is byte-for-byte reproducible, image by image.
"""
import math

import cv2
import numpy as np

from ..datasets.sodaa_io import IGNORE_ID, SODAA_CLASSES, polygon_area
from ..datasets.sodaa_split import sliding_windows
from ..structures.size_subsets import LARGER, SUBSETS, size_subset  # noqa: F401  (size_subset: part of the API)

#: image sizes (W, H) of the first images; later ones are drawn at random
SIZES = ((1600, 1000), (1400, 1200), (1200, 700), (2000, 1300))
#: per class: (min, max) of sqrt(box area) in px, (min, max) aspect ratio length/width, sampling weight
CLASS_SPECS = (
    ((16, 44), (0.9, 1.15), 0.06),   # airplane
    ((10, 30), (0.95, 1.1), 0.05),   # helicopter
    ((4, 14), (1.8, 2.4), 0.28),     # small-vehicle
    ((10, 28), (2.6, 3.4), 0.10),    # large-vehicle
    ((8, 44), (3.0, 4.5), 0.09),     # ship
    ((8, 26), (2.5, 3.6), 0.12),     # container
    ((6, 44), (1.0, 1.0), 0.11),     # storage-tank
    ((6, 30), (1.3, 2.0), 0.11),     # swimming-pool
    ((10, 44), (1.0, 1.0), 0.08),    # windmill
)
SHIFT = 4  # sub-pixel bits for cv2 drawing
SHADOW = (38, 40, 42)


def _fill(img, pts, color):
    pts = np.round(np.asarray(pts, dtype=np.float64) * (1 << SHIFT)).astype(np.int32)
    cv2.fillPoly(img, [pts], tuple(int(c) for c in color), cv2.LINE_AA, SHIFT)


def _to_img(cx, cy, theta, uv):
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    c, s = math.cos(theta), math.sin(theta)
    return np.stack([cx + uv[:, 0] * c - uv[:, 1] * s, cy + uv[:, 0] * s + uv[:, 1] * c], axis=1)


def _rect(u0, v0, u1, v1):
    return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]


def _ellipse(cu, cv, ru, rv, n=20):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cu + ru * np.cos(t), cv + rv * np.sin(t)], axis=1)


def _rand_color(rng, lo, hi):
    return tuple(int(v) for v in rng.integers(lo, hi, size=3))


def object_parts(label, w, h, rng):
    """Coloured polygons (local u along the length w, v across, centred) of one object, and shadow on/off."""
    s = math.sqrt(w * h)
    thin = max(0.9, 0.05 * s)
    if label == 0:  # airplane
        body = _rand_color(rng, 200, 245)
        parts = [
            ([(0.06 * w, -0.07 * h), (-0.12 * w, -0.5 * h), (-0.24 * w, -0.5 * h), (-0.1 * w, -0.07 * h)], body),
            ([(0.06 * w, 0.07 * h), (-0.12 * w, 0.5 * h), (-0.24 * w, 0.5 * h), (-0.1 * w, 0.07 * h)], body),
            ([(-0.36 * w, -0.05 * h), (-0.46 * w, -0.2 * h), (-0.5 * w, -0.2 * h), (-0.46 * w, 0)], body),
            ([(-0.36 * w, 0.05 * h), (-0.46 * w, 0.2 * h), (-0.5 * w, 0.2 * h), (-0.46 * w, 0)], body),
            ([(-0.5 * w, -0.06 * h), (0.38 * w, -0.07 * h), (0.5 * w, 0), (0.38 * w, 0.07 * h),
              (-0.5 * w, 0.06 * h)], body),
        ]
        return parts, True
    if label == 1:  # helicopter
        body = _rand_color(rng, 30, 90)
        rotor = _rand_color(rng, 120, 160)
        r = 0.48 * min(w, h)
        d1 = _to_img(0.1 * w, 0, math.pi / 4 + rng.uniform(-0.3, 0.3), _rect(-r, -thin / 2, r, thin / 2))
        d2 = _to_img(0.1 * w, 0, -math.pi / 4 + rng.uniform(-0.3, 0.3), _rect(-r, -thin / 2, r, thin / 2))
        parts = [
            (_rect(-0.5 * w, -0.035 * h, 0.0, 0.035 * h), body),
            (_rect(-0.5 * w, -0.12 * h, -0.44 * w, 0.12 * h), body),
            (_ellipse(0.12 * w, 0, 0.24 * w, 0.14 * h), body),
            (d1, rotor), (d2, rotor),
        ]
        return parts, True
    if label == 2:  # small-vehicle
        palette = ((235, 235, 235), (40, 40, 200), (200, 90, 30), (40, 200, 230), (190, 190, 195),
                   (30, 150, 40), (60, 60, 60))
        body = palette[int(rng.integers(len(palette)))]
        glass = (50, 45, 40)
        parts = [(_rect(-0.5 * w, -0.5 * h, 0.5 * w, 0.5 * h), body),
                 (_rect(0.1 * w, -0.38 * h, 0.26 * w, 0.38 * h), glass),
                 (_rect(-0.36 * w, -0.36 * h, -0.26 * w, 0.36 * h), glass)]
        return parts, True
    if label == 3:  # large-vehicle
        trailer = _rand_color(rng, 190, 240)
        cab = ((30, 30, 190), (170, 80, 20), (20, 140, 220), (40, 120, 40))[int(rng.integers(4))]
        parts = [(_rect(-0.5 * w, -0.5 * h, 0.3 * w, 0.5 * h), trailer),
                 (_rect(0.34 * w, -0.45 * h, 0.5 * w, 0.45 * h), cab)]
        return parts, True
    if label == 4:  # ship
        hull = _rand_color(rng, 170, 215)
        deck = _rand_color(rng, 90, 130)
        top = ((240, 240, 240), (40, 40, 160), (150, 110, 40))[int(rng.integers(3))]
        parts = [([(-0.5 * w, -0.4 * h), (0.22 * w, -0.5 * h), (0.5 * w, 0), (0.22 * w, 0.5 * h),
                   (-0.5 * w, 0.4 * h)], hull),
                 (_rect(-0.05 * w, -0.22 * h, 0.22 * w, 0.22 * h), deck),
                 (_rect(-0.42 * w, -0.3 * h, -0.18 * w, 0.3 * h), top)]
        return parts, True
    if label == 5:  # container
        palette = ((40, 40, 190), (160, 70, 20), (20, 120, 230), (40, 140, 40), (140, 140, 30), (120, 40, 120))
        body = palette[int(rng.integers(len(palette)))]
        rib = tuple(int(c * 0.6) for c in body)
        parts = [(_rect(-0.5 * w, -0.5 * h, 0.5 * w, 0.5 * h), body)]
        for u in np.linspace(-0.3, 0.3, 4):
            parts.append((_rect(u * w - thin / 2, -0.5 * h, u * w + thin / 2, 0.5 * h), rib))
        return parts, True
    if label == 6:  # storage-tank
        outer = _rand_color(rng, 200, 240)
        ring = tuple(int(c * 0.8) for c in outer)
        parts = [(_ellipse(0, 0, 0.5 * w, 0.5 * h, 28), outer),
                 (_ellipse(0, 0, 0.4 * w, 0.4 * h, 24), ring),
                 (_ellipse(0, 0, 0.3 * w, 0.3 * h, 20), outer)]
        return parts, True
    if label == 7:  # swimming-pool
        water = (int(rng.integers(200, 245)), int(rng.integers(160, 205)), int(rng.integers(30, 90)))
        rim = max(0.8, 0.08 * min(w, h))
        parts = [(_rect(-0.5 * w, -0.5 * h, 0.5 * w, 0.5 * h), (235, 235, 230)),
                 (_rect(-0.5 * w + rim, -0.5 * h + rim, 0.5 * w - rim, 0.5 * h - rim), water)]
        return parts, False
    if label == 8:  # windmill
        blade = _rand_color(rng, 215, 250)
        parts = []
        for k in range(3):
            a = 2 * math.pi * k / 3
            tip = (0.5 * w * math.cos(a), 0.5 * h * math.sin(a))
            side = (-math.sin(a) * 0.07 * s, math.cos(a) * 0.07 * s)
            parts.append(([(side[0], side[1]), tip, (-side[0], -side[1])], blade))
        parts.append((_ellipse(0, 0, 0.08 * s, 0.08 * s, 12), blade))
        return parts, True
    raise ValueError(f'unknown label {label}')


def draw_object(img, label, cx, cy, w, h, theta, rng):
    """Draw one object (shadow first) and return its annotation polygon (4 corners, 8 floats)."""
    parts, shadow = object_parts(label, w, h, rng)
    d = max(1.0, 0.12 * math.sqrt(w * h))
    if shadow:
        for uv, _ in parts:
            _fill(img, _to_img(cx + d, cy + d, theta, uv), SHADOW)
    for uv, color in parts:
        _fill(img, _to_img(cx, cy, theta, uv), color)
    return _to_img(cx, cy, theta, _rect(-w / 2, -h / 2, w / 2, h / 2)).reshape(8)


def _smooth_noise(rng, w, h, cell, sigma, channels=3):
    g = rng.normal(0, sigma, size=(h // cell + 2, w // cell + 2, channels))
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)


class Scene:
    """One synthetic image under construction, with the occupied boxes used for rejection sampling."""

    def __init__(self, rng, width, height, axis_aligned=False):
        self.rng, self.w, self.h = rng, width, height
        self.axis_aligned = axis_aligned  # SODA-D: labelled objects and ignore regions at multiples of 90 degrees
        base = np.array(((95, 118, 122), (80, 115, 105), (110, 125, 135), (85, 105, 95))[int(rng.integers(4))])
        img = (base + _smooth_noise(rng, width, height, 96, 14, 1) + _smooth_noise(rng, width, height, 96, 4)
               + _smooth_noise(rng, width, height, 12, 5, 1))
        img += rng.normal(0, 2.5, size=img.shape)
        self.img = np.clip(np.round(img), 0, 255).astype(np.uint8)
        self.water = np.zeros((height, width), np.uint8)
        self.occupied = []  # [x1, y1, x2, y2]
        self.anns = []  # (poly, category)

    def free(self, box, margin=2.0):
        x1, y1, x2, y2 = box
        if x1 < 1 or y1 < 1 or x2 > self.w - 1 or y2 > self.h - 1:
            return False
        for a in self.occupied:
            if x1 - margin < a[2] and a[0] < x2 + margin and y1 - margin < a[3] and a[1] < y2 + margin:
                return False
        return True

    def angle(self, lo=-np.pi, hi=np.pi):
        """A random orientation; snapped to a multiple of 90 degrees in axis-aligned scenes (one draw either way,
        so the SODA-A sample's random stream is unchanged)."""
        a = self.rng.uniform(lo, hi)
        return round(a / (np.pi / 2)) * (np.pi / 2) if self.axis_aligned else a

    def add_fields(self):
        rng = self.rng
        for _ in range(int(rng.integers(5, 10))):
            cx, cy = rng.uniform(0, self.w), rng.uniform(0, self.h)
            fw, fh, th = rng.uniform(150, 450), rng.uniform(120, 350), rng.uniform(0, np.pi)
            poly = _to_img(cx, cy, th, _rect(-fw / 2, -fh / 2, fw / 2, fh / 2))
            color = np.array(_rand_color(rng, 60, 140)) * np.array((0.7, 1.0, 0.9))
            mask = np.zeros((self.h, self.w), np.uint8)
            _fill(mask, poly, (1,))
            ys, xs = np.nonzero(mask)
            if not len(xs):
                continue
            period = rng.uniform(5, 10)
            stripes = ((xs * math.cos(th) + ys * math.sin(th)) / period) % 1.0 < 0.5
            vals = self.img[ys, xs].astype(np.float64) * 0.3 + color * 0.7
            vals[stripes] *= 0.92
            self.img[ys, xs] = np.clip(vals, 0, 255).astype(np.uint8)

    def add_water(self):
        rng = self.rng
        side = int(rng.integers(4))
        depth = rng.uniform(0.15, 0.25) * (self.h if side < 2 else self.w)
        n = 12
        if side < 2:  # top or bottom band
            xs = np.linspace(0, self.w, n)
            ys = depth + rng.normal(0, 15, n)
            ys = ys if side == 0 else self.h - ys
            edge = self.h if side == 1 else 0
            poly = np.concatenate([np.stack([xs, ys], 1), [[self.w, edge], [0, edge]]])
        else:  # left or right band
            ys = np.linspace(0, self.h, n)
            xs = depth + rng.normal(0, 15, n)
            xs = xs if side == 2 else self.w - xs
            edge = self.w if side == 3 else 0
            poly = np.concatenate([np.stack([xs, ys], 1), [[edge, self.h], [edge, 0]]])
        _fill(self.water, poly, (1,))
        color = np.array((95, 80, 45), np.float64)
        ys, xs = np.nonzero(self.water)
        self.img[ys, xs] = np.clip(color + (self.img[ys, xs] - self.img[ys, xs].mean(0)) * 0.25,
                                   0, 255).astype(np.uint8)

    def add_roads(self):
        rng = self.rng
        for _ in range(int(rng.integers(2, 5))):
            if rng.random() < 0.5:
                p1, p2 = (0, rng.uniform(0, self.h)), (self.w, rng.uniform(0, self.h))
            else:
                p1, p2 = (rng.uniform(0, self.w), 0), (rng.uniform(0, self.w), self.h)
            width = int(rng.integers(10, 22))
            gray = int(rng.integers(95, 125))
            pts = np.array([p1, p2]).round().astype(np.int32)
            cv2.polylines(self.img, [pts], False, (gray, gray, gray - 4), width, cv2.LINE_AA)
            cv2.polylines(self.img, [pts], False, (gray + 60,) * 3, 1, cv2.LINE_AA)

    def add_buildings(self):
        rng = self.rng
        city_angle = rng.uniform(0, np.pi / 2)
        for _ in range(int(rng.integers(15, 35))):
            bw, bh = rng.uniform(25, 90), rng.uniform(20, 70)
            cx, cy = rng.uniform(0, self.w), rng.uniform(0, self.h)
            th = city_angle + rng.choice([0, np.pi / 2])
            poly = _to_img(cx, cy, th, _rect(-bw / 2, -bh / 2, bw / 2, bh / 2))
            box = [*poly.min(0), *poly.max(0)]
            if not self.free(box, margin=4) or self.water[int(cy) % self.h, int(cx) % self.w]:
                continue
            roof = ((120, 120, 125), (60, 70, 150), (80, 95, 110), (150, 150, 150))[int(rng.integers(4))]
            _fill(self.img, poly + 6, SHADOW)
            _fill(self.img, poly, roof)
            _fill(self.img, _to_img(cx, cy, th, _rect(-bw / 2 + 3, -bh / 2 + 3, bw / 2 - 3, bh / 2 - 3)),
                  tuple(min(255, c + 18) for c in roof))
            self.occupied.append(box)

    def sample_shape(self, label, min_size, max_size):
        (lo, hi), (alo, ahi), _ = CLASS_SPECS[label]
        lo, hi = max(lo, min_size), min(hi, max_size)
        if lo > hi:
            lo = hi = min(max(CLASS_SPECS[label][0][0], min_size), max_size)
        s = math.exp(self.rng.uniform(math.log(lo), math.log(hi)))
        a = self.rng.uniform(alo, ahi)
        return s * math.sqrt(a), s / math.sqrt(a)

    def place(self, label, w, h, cx, cy, theta=None, inside=None):
        """Draw and annotate an object at (cx, cy) if its box is free (and inside ``inside`` when given)."""
        if theta is None:
            theta = 0.0 if label == 6 else self.angle()
        poly = _to_img(cx, cy, theta, _rect(-w / 2, -h / 2, w / 2, h / 2))
        box = [*poly.min(0), *poly.max(0)]
        if not self.free(box):
            return False
        if inside is not None and not all(cv2.pointPolygonTest(inside.astype(np.float32), (float(x), float(y)),
                                                               False) > 0 for x, y in poly):
            return False
        if label == 4 and not all(self.water[int(y), int(x)] for x, y in poly):
            return False
        if label != 4 and inside is None and self.water[int(cy), int(cx)]:
            return False
        poly = draw_object(self.img, label, cx, cy, w, h, theta, self.rng)
        self.occupied.append(box)
        self.anns.append((poly, label))
        return True

    def random_point(self, label):
        if label == 4:
            ys, xs = np.nonzero(self.water[::4, ::4])
            k = int(self.rng.integers(len(xs)))
            return xs[k] * 4 + self.rng.uniform(0, 4), ys[k] * 4 + self.rng.uniform(0, 4)
        return self.rng.uniform(0, self.w), self.rng.uniform(0, self.h)

    def add_ignore_regions(self, num, min_size, max_size):
        """Ignore regions (category 9) over unlabelled clutter; the first two also hold labelled objects."""
        rng = self.rng
        regions = []
        for k in range(200):
            if len(regions) == num:
                break
            rw, rh = rng.uniform(80, 220), rng.uniform(60, 160)
            cx, cy = rng.uniform(rw, self.w - rw), rng.uniform(rh, self.h - rh)
            th = self.angle(0, np.pi)
            noise = rng.normal(0, 3, (4, 2))
            poly = _to_img(cx, cy, th, _rect(-rw / 2, -rh / 2, rw / 2, rh / 2)) + (0 if self.axis_aligned else noise)
            box = [*poly.min(0), *poly.max(0)]
            if not self.free(box, margin=10) or self.water[int(cy), int(cx)]:
                continue
            # unlabelled clutter: a dense jumble of vehicle-like blobs
            for _ in range(int(rng.integers(10, 30))):
                u, v = rng.uniform(-0.38, 0.38) * rw, rng.uniform(-0.38, 0.38) * rh
                px, py = _to_img(cx, cy, th, [(u, v)])[0]
                draw_object(self.img, 2, px, py, *self.sample_shape(2, 4, 12), rng.uniform(0, np.pi), rng)
            if len(regions) < 2:
                for _ in range(60):
                    label = int(rng.choice([2, 3, 5]))
                    u, v = rng.uniform(-0.3, 0.3) * rw, rng.uniform(-0.3, 0.3) * rh
                    px, py = _to_img(cx, cy, th, [(u, v)])[0]
                    if self.place(label, *self.sample_shape(label, min_size, max_size), px, py, inside=poly):
                        break
            self.occupied.append(box)
            regions.append(poly.reshape(8))
        for poly in regions:
            self.anns.append((poly, IGNORE_ID))

    def add_border_objects(self, min_size, max_size, per_edge=2):
        """Objects centred on split-window edges, so that they are truncated in some windows."""
        wins = sliding_windows(self.w, self.h)
        xs = sorted({int(v) for v in wins[:, [0, 2]].ravel() if 0 < v < self.w})
        ys = sorted({int(v) for v in wins[:, [1, 3]].ravel() if 0 < v < self.h})
        for axis, edges in ((0, xs), (1, ys)):
            for e in edges:
                placed = 0
                for _ in range(50):
                    if placed == per_edge:
                        break
                    label = int(self.rng.choice([0, 3, 5, 6, 7, 8, 2]))
                    w, h = self.sample_shape(label, max(min_size, 10), max_size)
                    off = self.rng.uniform(-0.35, 0.35) * min(w, h)
                    c = (e + off, self.rng.uniform(0, self.h)) if axis == 0 else (self.rng.uniform(0, self.w), e + off)
                    placed += self.place(label, w, h, *c)

    def add_objects(self, num, min_size, max_size):
        rng = self.rng
        weights = np.array([c[2] for c in CLASS_SPECS])
        weights /= weights.sum()
        todo = list(range(len(SODAA_CLASSES)))  # one of each class first
        tries = 0
        while len(self.anns) < num and tries < 20 * num:
            tries += 1
            from_todo = bool(todo)
            label = todo.pop(0) if todo else int(rng.choice(len(CLASS_SPECS), p=weights))
            w, h = self.sample_shape(label, min_size, max_size)
            cx, cy = self.random_point(label)
            if label in (2, 5) and rng.random() < 0.5:  # a parking row / container row
                theta = self.angle()
                nx, ny = -math.sin(theta), math.cos(theta)
                placed = False
                for k in range(int(rng.integers(3, 9))):
                    step = (h + rng.uniform(1.5, 3.0)) * k
                    placed |= self.place(label, w, h, cx + nx * step, cy + ny * step, theta=theta)
            else:
                placed = self.place(label, w, h, cx, cy)
            if from_todo and not placed:
                todo.append(label)  # keep trying until every class is present


def generate_image(seed, index, min_size=4, max_size=44, size=None, axis_aligned=False, prefix='sample',
                   sizes=SIZES):
    """(stem, BGR image, annotation dict) of image ``index``; depends only on (seed, index, sizes, axis_aligned).

    ``axis_aligned`` (the SODA-D sample): labelled objects and ignore regions at multiples of 90 degrees, so
    that their horizontal boxes are tight.
    """
    rng = np.random.default_rng([seed, index])
    if size is None:
        size = sizes[index] if index < len(sizes) else (int(rng.integers(700, 2200)), int(rng.integers(700, 1600)))
    w, h = size
    stem = f'{prefix}_{index + 1:04d}'
    scene = Scene(rng, w, h, axis_aligned)
    scene.add_water()
    scene.add_fields()
    scene.add_roads()
    scene.add_buildings()
    scene.add_ignore_regions(int(rng.integers(3, 5)), min_size, max_size)
    scene.add_border_objects(min_size, max_size)
    target = int(np.clip(round(w * h / 1e6 * 95 * rng.uniform(0.9, 1.1)), 80, 200))
    scene.add_objects(target, min_size, max_size)
    anns = []
    for k, (poly, label) in enumerate(scene.anns):
        poly = [round(float(v), 2) for v in poly]
        anns.append(dict(poly=poly, area=round(polygon_area(poly), 2), category_id=int(label),
                         image_id=index + 1, id=k + 1))
    data = dict(images=dict(file_name=stem + '.jpg', height=h, width=w, id=index + 1), annotations=anns,
                categories=[dict(id=i, name=n) for i, n in enumerate(SODAA_CLASSES + ('ignore',))])
    return stem, scene.img, data


def to_sodad(datas):
    """SODA-A-style annotation dicts of axis-aligned scenes -> one SODA-D COCO dict: ``bbox`` = the polygon's
    horizontal hull [x, y, w, h], ``area`` = w * h, category = label + 1 (1..9), ignore regions -> 10."""
    from cfinet_rotated.datasets.sodad_io import SODAD_IGNORE_ID, sodad_categories
    coco = dict(images=[], annotations=[], categories=sodad_categories(with_ignore=True))
    for d in datas:
        coco['images'].append(d['images'])
        for a in d['annotations']:
            p = np.asarray(a['poly'], dtype=np.float64).reshape(4, 2)
            (x1, y1), (x2, y2) = p.min(0), p.max(0)
            bw, bh = round(x2 - x1, 2), round(y2 - y1, 2)
            coco['annotations'].append(dict(
                id=len(coco['annotations']) + 1, image_id=a['image_id'], bbox=[round(x1, 2), round(y1, 2), bw, bh],
                area=round(bw * bh, 2), iscrowd=0,
                category_id=SODAD_IGNORE_ID if a['category_id'] == IGNORE_ID else a['category_id'] + 1))
    return coco


def count_objects(items, classes):
    """{class: {subset: n}} over (class index or None for an ignore region, area) pairs, and the ignore count."""
    counts = {c: {s: 0 for s in SUBSETS} | {LARGER: 0} for c in classes}
    ignore = 0
    for label, area in items:
        if label is None:
            ignore += 1
        else:
            counts[classes[label]][size_subset(area)] += 1
    return counts, ignore


def sodaa_items(datas):
    """(class index or None for an ignore region, polygon area) of every annotation of SODA-A dicts."""
    return [(None if a['category_id'] == IGNORE_ID else a['category_id'], polygon_area(a['poly']))
            for d in datas for a in d['annotations']]


def sodad_items(coco):
    """(class index or None for an ignore region, JSON area) of every annotation of a SODA-D COCO dict."""
    from cfinet_rotated.datasets.sodad_io import SODAD_IGNORE_ID
    return [(None if a['category_id'] == SODAD_IGNORE_ID else a['category_id'] - 1, a['area'])
            for a in coco['annotations']]
