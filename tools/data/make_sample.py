"""Generate a deterministic synthetic SODA-A-format raw sample (no downloads), or its SODA-D variant.

    python tools/data/make_sample.py --out data/sample --num-images 4 --seed 0
    python tools/data/make_sample.py --format sodad     # data/sample_sodad: 3 images, one COCO JSON

Writes ``OUT/Images/<stem>.jpg``, ``OUT/Annotations/<stem>.json`` (raw SODA-A layout: ``annotations:
[{poly: [8 floats], category_id: 0..9}]``, 9 = ignore region) and ``OUT/README.md`` with the command and
object counts. Scenes look loosely aerial: textured ground, fields, water, roads, buildings (unlabelled
distractors), and objects of the nine SODA-A classes drawn as oriented shapes with a shadow and a
per-class appearance, so a small detector can learn them:

    airplane       white cross (fuselage, swept wings, tail)
    helicopter     dark body with tail boom and a two-blade rotor
    small-vehicle  small bright rectangle with dark windows (often in parking rows)
    large-vehicle  long light trailer with a coloured cab
    ship           pointed grey hull with superstructure, on water
    container      long saturated rectangle with ribs (often in rows)
    storage-tank   light circle with an inner ring
    swimming-pool  cyan-blue rectangle with a white rim (no shadow)
    windmill       three white blades around a hub

Object sizes (sqrt of box area) run from 4 to 44 px, so the SODA size subsets eS (area <= 144),
rS (144..400], gS (400..1024] and Normal (1024..2000] all occur. Each image has ignore regions (category 9)
covering unlabelled clutter, some with labelled objects inside, and objects centred on the 800/650 px
split-window edges. Every image has its own generator ``default_rng([seed, index])``, so the output is
byte-for-byte reproducible, image by image.

``--format sodad`` draws the same scenes with the labelled objects and ignore regions at multiples of 90 degrees
and writes the SODA-D layout: ``OUT/Images/sodad_<k>.jpg`` and one COCO JSON ``OUT/Annotations/sample.json``
(``bbox`` = horizontal hull [x, y, w, h], categories 1..9 = the SODA-D classes in the order of the drawing
styles above, 10 = ignore region). Image sizes 1920x1080, 1200x900 and 700x600 (smaller than a patch).
"""
import json
import sys
from pathlib import Path

import cv2

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.sodaa_io import IGNORE_ID, SODAA_CLASSES
from cfinet_rotated.structures.size_subsets import LARGER, SUBSETS
from cfinet_rotated.testing.synthetic import SIZES, count_objects, generate_image, sodaa_items, sodad_items, to_sodad


def readme(args, stems, datas, coco=None):
    """README of a generated sample (SODA-A, or SODA-D when ``coco`` is given)."""
    sodad = coco is not None
    if sodad:
        from cfinet_rotated.datasets.sodad_io import SODAD_CLASSES
        counts, ignore = count_objects(sodad_items(coco), SODAD_CLASSES)
    else:
        counts, ignore = count_objects(sodaa_items(datas), SODAA_CLASSES)
    subsets = list(SUBSETS) + [LARGER]
    cmd = (f'python tools/data/make_sample.py --out {args.out} --num-images {args.num_images} --seed {args.seed} '
           f'--min-size {args.min_size} --max-size {args.max_size} --quality {args.quality}'
           + (' --format sodad' if sodad else '')
           + ('' if getattr(args, 'image_size', None) is None else ' --image-size {} {}'.format(*args.image_size))
           + ('' if getattr(args, 'prefix', None) is None else f' --prefix {args.prefix}'))
    if sodad:
        layout = [
            '# Synthetic SODA-D sample',
            '',
            'Generated (deterministically, no downloads) by `tools/data/make_sample.py --format sodad`; regenerate with',
            '', '```', cmd, '```', '',
            'Raw SODA-D layout: `Images/<stem>.jpg` and one COCO JSON `Annotations/sample.json` (the sample is both',
            'the training and the test set) with `bbox: [x, y, w, h]`, `area` = w * h, category 1..9 = the SODA-D',
            'classes, 10 = ignore region. The scenes are those of the SODA-A sample (the same drawing code) with',
            'objects and ignore regions axis-aligned: a format and pipeline check, not street scenes. Objects lie on',
            'the 650/800 px patch borders, one image is smaller than a patch (padding). Split it with',
            '`python tools/data/sodad_split.py --ann data/sample_sodad/Annotations/sample.json --img-dir '
            'data/sample_sodad/Images --dst data/sample_sodad_split --mode train` (and `--mode test`).',
        ]
    else:
        layout = [
            '# Synthetic SODA-A sample',
            '',
            'Generated (deterministically, no downloads) by `tools/data/make_sample.py`; regenerate with',
            '', '```', cmd, '```', '',
            'Raw SODA-A layout: `Images/<stem>.jpg` and `Annotations/<stem>.json` with '
            '`annotations: [{poly: [8 floats], category_id}]`, category 0..8 = the SODA-A classes, 9 = ignore region.',
            'Scenes: textured ground, fields, a water band, roads, unlabelled buildings; objects drawn as oriented',
            'shapes with a class-specific look (see the generator docstring). Ignore regions cover unlabelled',
            'clutter (the first two of each image also contain labelled objects), and objects are centred on the',
            '650/800 px split-window edges so the split truncates some of them. Split it with',
            '`python tools/data/sodaa_split.py --src data/sample --dst data/sample_split`.',
        ]
    lines = layout + [
        '',
        'Images: ' + ', '.join(f"{s} ({d['images']['width']}x{d['images']['height']})" for s, d in zip(stems, datas)),
        '',
        f'Objects per class and SODA size subset (box area: eS <= 144 < rS <= 400 < gS <= 1024 < Normal <= 2000); '
        f'ignore regions: {ignore}.',
        '',
        '| class | ' + ' | '.join(subsets) + ' | total |',
        '|---' * (len(subsets) + 2) + '|',
    ]
    for c, row in counts.items():
        lines.append(f'| {c} | ' + ' | '.join(str(row[s]) for s in subsets) + f' | {sum(row.values())} |')
    tot = {s: sum(r[s] for r in counts.values()) for s in subsets}
    lines.append('| **total** | ' + ' | '.join(str(tot[s]) for s in subsets) + f' | {sum(tot.values())} |')
    return '\n'.join(lines) + '\n'


#: image sizes of the SODA-D sample: a full-HD frame (patch x {0, 650, 1120}, y {0, 280}), a medium one and one
#: smaller than a patch (padded)
SODAD_SIZES = ((1920, 1080), (1200, 900), (700, 600))
FORMATS = dict(sodaa=dict(out='data/sample', num_images=4, prefix='sample', sizes=SIZES),
               sodad=dict(out='data/sample_sodad', num_images=3, prefix='sodad', sizes=SODAD_SIZES))


def parse_args(argv=None):
    p = tool_parser(__doc__.split('\n\n')[0] + '\n\n' + __doc__.split('\n\n')[1])
    p.add_argument('--format', choices=sorted(FORMATS), default='sodaa',
                   help='sodaa: rotated boxes, one JSON per image; sodad: axis-aligned objects, one COCO '
                        'JSON with horizontal boxes')
    p.add_argument('--out', default=None, help='output folder (unset: data/sample or data/sample_sodad)')
    p.add_argument('--num-images', type=int, default=None, help='number of images (unset: 4 for sodaa, 3 for sodad)')
    p.add_argument('--seed', type=int, default=0, help='random seed (the embedded samples use 0)')
    p.add_argument('--min-size', type=float, default=4, help='smallest object sqrt(area) in px')
    p.add_argument('--max-size', type=float, default=44, help='largest object sqrt(area) in px')
    p.add_argument('--quality', type=int, default=90, help='JPEG quality')
    p.add_argument('--only', type=int, default=None, help='generate only image INDEX (0-based; unset: all); no README')
    p.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'), default=None,
                   help='draw every image at W x H px (unset: the fixed sizes of the sample, then random sizes)')
    p.add_argument('--prefix', default=None,
                   help='file stem prefix, <prefix>_0001 ... (unset: sample / sodad); distinct prefixes keep '
                        'the image names of separately generated sets (e.g. train and test) apart')
    args = p.parse_args(argv)
    if args.image_size is not None and min(args.image_size) <= 0:
        p.error(f'--image-size must be positive, got {args.image_size}')
    fmt = FORMATS[args.format]
    args.out = fmt['out'] if args.out is None else args.out
    args.num_images = fmt['num_images'] if args.num_images is None else args.num_images
    return args


def main(argv=None):
    args = parse_args(argv)
    if not 0 < args.min_size <= args.max_size:
        print(f'error: need 0 < --min-size <= --max-size, got {args.min_size}, {args.max_size}', file=sys.stderr)
        return 2
    sodad = args.format == 'sodad'
    fmt = FORMATS[args.format]
    out = Path(args.out)
    (out / 'Images').mkdir(parents=True, exist_ok=True)
    (out / 'Annotations').mkdir(parents=True, exist_ok=True)
    indices = range(args.num_images) if args.only is None else [args.only]
    stems, datas = [], []
    for i in indices:
        stem, img, data = generate_image(args.seed, i, args.min_size, args.max_size,
                                         size=None if args.image_size is None else tuple(args.image_size),
                                         axis_aligned=sodad, prefix=args.prefix or fmt['prefix'],
                                         sizes=fmt['sizes'])
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        if not ok:
            print(f'error: JPEG encoding of {stem} failed', file=sys.stderr)
            return 1
        (out / 'Images' / f'{stem}.jpg').write_bytes(buf.tobytes())
        if not sodad:
            with open(out / 'Annotations' / f'{stem}.json', 'w', encoding='utf-8') as f:
                json.dump(data, f, indent=1)
                f.write('\n')
        stems.append(stem)
        datas.append(data)
        n = sum(a['category_id'] != IGNORE_ID for a in data['annotations'])
        print(f'{stem}: {img.shape[1]}x{img.shape[0]}, {n} objects, '
              f'{len(data["annotations"]) - n} ignore regions')
    coco = None
    if sodad:
        coco = to_sodad(datas)
        name = 'sample.json' if args.only is None else f'{stems[0]}.json'
        with open(out / 'Annotations' / name, 'w', encoding='utf-8') as f:
            json.dump(coco, f, indent=1)
            f.write('\n')
    if args.only is None:
        (out / 'README.md').write_text(readme(args, stems, datas, coco), encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
