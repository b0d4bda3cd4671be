"""Split raw SODA-A (or DOTA, DIOR-R) images into overlapping 800 px patches (official settings, official layout).

    python tools/data/sodaa_split.py --src RAW --dst OUT [--size 800] [--gap 150] [--workers 4]
    python tools/data/sodaa_split.py --format dota --src DOTA/train --dst OUT --size 1024 --gap 200 \
        [--classes dota1.0|dota1.5|dota2.0|auto|a,b,c]
    python tools/data/sodaa_split.py --format dior --src DIOR --img-dir DIOR/JPEGImages-trainval --dst OUT

RAW holds ``Images/<stem>.jpg`` and ``Annotations/<stem>.json`` (the official ``rawData/<split>`` layout);
OUT receives ``Images/<stem>__800__<x>___<y>.jpg``, ``Annotations/<same>.json`` (the official ``divData``
layout, interchangeable with SODA-mmrotate's splitter) and ``split_summary.json``.

``--format dota`` reads ``RAW/images`` and ``RAW/labelTxt/*.txt`` (DOTA v1.0/v1.5/v2.0: ``imagesource``/``gsd``
header lines, a difficult flag per object); ``--format dior`` reads ``RAW/JPEGImages`` and
``RAW/Annotations/Oriented Bounding Boxes/*.xml`` (DIOR-R ``robndbox``); ``--img-dir``/``--ann-dir`` override the
folders. Both write DOTA patches, ``OUT/images`` and ``OUT/labelTxt`` (the header and each object's difficult flag
kept), which ``DOTAPatchDataset`` reads. Classes come from ``--classes`` (a named list or names separated by
commas; ``auto``, the default: the smallest DOTA/DIOR-R list that holds every class name in the labels); a name
outside the list is an error naming the file and line.

``--gap`` is the OVERLAP between neighbouring windows (official ``split_configs/sodaa_train.json``:
gaps [150], so the step is 800 - 150 = 650). Beware: the official script's argparse default
``--gaps 650`` means step 150 when it is run without its JSON config.

Bad input never stops the run: every good image is split; each failed file (malformed JSON, missing or
unreadable image, image without annotation file) is reported at the end and the exit status is 1;
invalid polygons (NaN, wrong number of points, unknown category) are skipped and counted per file.
"""
import os.path as osp
import sys

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.formats import FORMATS, LAYOUTS, NAMED_CLASSES, class_names_in, list_files, resolve_classes
from cfinet_rotated.datasets.sodaa_io import AnnotationError
from cfinet_rotated.datasets.sodaa_split import SplitConfig, default_workers, split_sodaa


def parse_args(argv=None):
    p = tool_parser(__doc__)
    p.add_argument('--src', required=True,
                   help='raw folder with Images/ and Annotations/ (dota: images/, labelTxt/; dior: JPEGImages/, '
                        'Annotations/Oriented Bounding Boxes/)')
    p.add_argument('--dst', required=True,
                   help='output folder (receives Images/, Annotations/; dota and dior: images/, labelTxt/)')
    p.add_argument('--format', choices=FORMATS, default='sodaa', help='annotation format of --src')
    p.add_argument('--classes', default='auto',
                   help=f'class list for dota/dior: {", ".join(n for n in NAMED_CLASSES if n != "sodaa")}, names '
                        'separated by commas, or auto (from the labels)')
    p.add_argument('--img-dir', default=None, help='image folder (default: the format\'s folder under --src)')
    p.add_argument('--ann-dir', default=None, help='annotation folder (default: the format\'s folder under --src)')
    p.add_argument('--size', type=int, default=800, help='window (patch) size in px')
    p.add_argument('--gap', type=int, default=150,
                   help='OVERLAP between neighbouring windows in px; step = size - gap (default 150 -> step '
                        '650, as the official sodaa_train.json; NOT the official argparse default 650)')
    p.add_argument('--img-rate-thr', type=float, default=0.6,
                   help='keep windows whose image-area ratio exceeds this')
    p.add_argument('--iof-thr', type=float, default=0.7,
                   help='an object belongs to a window iff area(object ∩ window)/area(object) >= this')
    p.add_argument('--padding-value', type=int, nargs=3, default=[104, 116, 124], metavar=('B', 'G', 'R'),
                   help='BGR fill of the bottom/right padding of border patches')
    p.add_argument('--no-padding', action='store_true', help='write border patches at their cropped size')
    p.add_argument('--workers', type=int, default=default_workers(),
                   help='worker processes (min(4, CPUs))')
    p.add_argument('--ext', default=None,
                   help='patch image extension (default .jpg for sodaa, .png for dota and dior, as DOTA)')
    p.add_argument('--overwrite', action='store_true',
                   help='allow a non-empty --dst: its Images/ and Annotations/ are cleared first')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        classes = None
        if args.format != 'sodaa':
            names = ()
            if args.classes == 'auto':
                ann_dir = args.ann_dir or osp.join(args.src, LAYOUTS[args.format][1])
                names = class_names_in(list_files(ann_dir, args.format), args.format)
            classes = resolve_classes(args.classes, args.format, names)
            print(f'classes ({len(classes)}): {", ".join(classes)}')
        elif args.classes != 'auto':
            raise ValueError('--classes is for --format dota/dior; SODA-A has its 9 category ids')
        cfg = SplitConfig(size=args.size, gap=args.gap, img_rate_thr=args.img_rate_thr, iof_thr=args.iof_thr,
                          padding=not args.no_padding, padding_value=tuple(args.padding_value),
                          ext=args.ext or ('.jpg' if args.format == 'sodaa' else '.png'),
                          fmt=args.format, **({} if classes is None else dict(classes=classes)))
        summary = split_sodaa(args.src, args.dst, cfg, workers=args.workers, overwrite=args.overwrite,
                              img_dir=args.img_dir, ann_dir=args.ann_dir)
    except (ValueError, AnnotationError, FileExistsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 1 if summary['failed_files'] else 0


if __name__ == '__main__':
    sys.exit(main())
