"""Split full SODA-D images into overlapping 800 px patches with one patch-level COCO JSON (official settings).

    python tools/data/sodad_split.py --ann RAW/Annotations/train.json --img-dir RAW/Images --dst OUT --mode train

Writes ``OUT/Images/<mode>/<stem>__800__<x>___<y>.jpg``, ``OUT/Annotations/<mode>.json`` (COCO: patch images with
``ori_id`` and ``start_coord``, clipped boxes with ``ignore`` = at most 40 % of the box inside the patch) and
``OUT/Annotations/<mode>_split_summary.json``, and prints where every annotation went.

Official ``split_configs/split_train.json``: 800 px patches, overlap 150 (stride 650), black padding and
ignore fill, ``interAreaIgnThr`` 0.40. ``--mode train`` drops patches without annotations; ``val``/``test`` keep
every patch. Exit status: 0 = all images split; 1 = some images failed (missing or unreadable; listed at the
end, the others are written); 2 = unusable input (malformed JSON, unknown category or image id, existing output).
"""
import sys

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.sodaa_io import AnnotationError
from cfinet_rotated.datasets.sodad_split import MODES, SodadSplitConfig, format_summary, split_sodad
from cfinet_rotated.datasets.sodaa_split import default_workers


def parse_args(argv=None):
    p = tool_parser(__doc__)
    p.add_argument('--ann', required=True, help='full-image COCO JSON, e.g. rawData/Annotations/train.json')
    p.add_argument('--img-dir', required=True, help='folder of the full images (rawData/Images)')
    p.add_argument('--dst', required=True, help='output folder (receives Images/<mode>/ and Annotations/<mode>.json)')
    p.add_argument('--mode', choices=MODES, default='train',
                   help='train drops patches without annotations; val/test keep all')
    p.add_argument('--size', type=int, default=800, help='patch size in px')
    p.add_argument('--gap', type=int, default=150,
                   help='OVERLAP between neighbouring patches in px (official stepSz 150: stride 650)')
    p.add_argument('--ignore-thr', type=float, default=0.40,
                   help='a clipped box is flagged ignore when clipped/original area <= this')
    p.add_argument('--workers', type=int, default=default_workers(), help='worker processes (min(4, CPUs))')
    p.add_argument('--ext', default='.jpg', help='patch image extension')
    p.add_argument('--overwrite', action='store_true', help='replace an existing split of this mode in --dst')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = SodadSplitConfig(size=args.size, gap=args.gap, ignore_thr=args.ignore_thr, mode=args.mode, ext=args.ext)
        print(f'splitting {args.ann} ({args.mode} mode) into {args.dst}: patch {cfg.size}, overlap {cfg.gap}, '
              f'stride {cfg.step}, ignore when <= {cfg.ignore_thr:.0%} of a box is inside')
        summary = split_sodad(args.ann, args.img_dir, args.dst, cfg, workers=args.workers, overwrite=args.overwrite)
    except (ValueError, AnnotationError, FileExistsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print('\n'.join(format_summary(summary)))
    out = summary['output']
    print(f"patches in {out['img_dir']}, annotations in {out['ann_file']}, summary in {out['summary']}")
    return 1 if summary['failed_images'] else 0


if __name__ == '__main__':
    sys.exit(main())
