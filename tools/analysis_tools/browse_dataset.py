"""Draw the ground truth of SODA-A, DOTA, DIOR-R or SODA-D data (raw or split) to PNGs, boxes coloured by size subset.

    python tools/analysis_tools/browse_dataset.py data/sample/Annotations --out-dir work_dirs/browse
    python tools/analysis_tools/browse_dataset.py data/sample_split/Annotations --out-dir work_dirs/browse_split \
        --max-images 6
    python tools/analysis_tools/browse_dataset.py data/sample_sodad/Annotations/sample.json \\
        --img-dir data/sample_sodad/Images --out-dir work_dirs/browse_sodad
    python tools/analysis_tools/browse_dataset.py tests/data/real/dota/labelTxt --out-dir work_dirs/browse_dota

ANN is a SODA-A annotation folder (one JSON per image or patch; images in ``--img-dir``, by default the ``Images``
folder next to it), a DOTA ``labelTxt`` folder (images: ``images`` next to it; difficult objects grey) or a DIOR-R
XML folder (``--img-dir`` needed), or a SODA-D COCO JSON (full images or the split's patch JSON). Every box is drawn
in the colour of its size subset, by the evaluators' areas and ranges (``w * h`` of the le90 box for SODA-A, DOTA
and DIOR-R, the JSON ``area`` for SODA-D; inclusive ranges eS 0-144, rS 144-400, gS 400-1024, Normal 1024-2000 px²,
first match wins; larger objects, which no subset evaluates, in violet); SODA-D boxes flagged ``ignore`` are grey,
ignore regions shaded. A legend in the corner gives the counts, so a split can be checked at a glance.
"""
import os
import os.path as osp
import sys
from collections import Counter

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')


def parse_args(argv=None):
    from cfinet_rotated.cli import tool_parser
    doc = __doc__.split('\n\n')
    p = tool_parser('\n\n'.join(doc[:2]))
    p.add_argument('ann', help='SODA-A annotation folder, DOTA labelTxt or DIOR-R XML folder, or SODA-D COCO .json')
    p.add_argument('--classes', default='auto',
                   help='class list of DOTA / DIOR-R labels (dota1.0, dota1.5, dota2.0, dior, names separated by '
                        'commas; auto: from the labels)')
    p.add_argument('--img-dir', help='image folder (default: the Images folder next to a SODA-A annotation '
                                     'folder; required for SODA-D)')
    p.add_argument('--out-dir', required=True, help='folder for the PNG files')
    p.add_argument('--names', nargs='+', help='only these image stems (unset: all)')
    p.add_argument('--max-images', type=int, default=0, help='draw at most this many images (0 = all)')
    p.add_argument('--max-side', type=int, default=4000, help='draw larger images downscaled; 0 = never')
    p.add_argument('--line-width', type=float, default=1.0, help='box line width in px')
    return p.parse_args(argv)


def find_image(img_dir, stem, file_name=None):
    if file_name:
        p = osp.join(img_dir, file_name)
        if osp.isfile(p):
            return p
    for ext in IMAGE_EXTS:
        p = osp.join(img_dir, stem + ext)
        if osp.isfile(p):
            return p
    return None


def main(argv=None):
    args = parse_args(argv)
    import cv2
    import mmcv
    from mmengine.utils import ProgressBar

    from cfinet_rotated.datasets.sodaa_io import AnnotationError
    from cfinet_rotated.visualization import GroundTruthSource, draw_ground_truth, size_subset_names
    try:
        src = GroundTruthSource(args.ann, classes=args.classes)
    except (ValueError, AnnotationError) as e:
        print(f'browse_dataset: error: {e}', file=sys.stderr)
        return 2
    img_dir = args.img_dir
    if img_dir is None:
        if src.kind == 'sodad':
            print('browse_dataset: error: --img-dir is required for a SODA-D COCO JSON', file=sys.stderr)
            return 2
        img_dir = osp.join(osp.dirname(osp.abspath(args.ann.rstrip('/'))),
                           'images' if src.kind == 'dota' else 'Images')
    if not osp.isdir(img_dir):
        print(f'browse_dataset: error: {img_dir}: image folder does not exist', file=sys.stderr)
        return 2
    stems = src.stems()
    if args.names:
        unknown = [n for n in args.names if n not in stems]
        if unknown:
            print(f'browse_dataset: error: not in {args.ann}: {", ".join(unknown)}', file=sys.stderr)
            return 2
        stems = list(args.names)
    if args.max_images > 0:
        stems = stems[:args.max_images]
    os.makedirs(args.out_dir, exist_ok=True)
    totals, failed = Counter(), []
    bar = ProgressBar(len(stems))
    for stem in stems:
        path = find_image(img_dir, stem, src.file_name(stem))
        img = cv2.imread(path, cv2.IMREAD_COLOR) if path else None
        if img is None:
            failed.append(f'{stem}: no readable image in {img_dir}')
            bar.update()
            continue
        gt = src.get(stem)
        names = size_subset_names(gt['areas'])
        names[gt['ignore']] = 'ignore'
        totals.update(names.tolist())
        totals['ignore regions'] += len(gt['ignore_polygons'])
        picture = draw_ground_truth(img, gt['boxes'], gt['box_type'], gt['areas'], gt['ignore'],
                                    gt['ignore_polygons'], args.max_side or None, args.line_width,
                                    title=f'{stem} ({img.shape[1]}x{img.shape[0]})')
        mmcv.imwrite(picture[..., ::-1], osp.join(args.out_dir, f'{stem}.png'))
        bar.update()
    print()
    order = ['eS', 'rS', 'gS', 'Normal', 'larger', 'ignore', 'ignore regions']
    print(f'{len(stems) - len(failed)} image(s) drawn to {args.out_dir}: '
          + ', '.join(f'{k} {totals[k]}' for k in order if totals[k] or k in ('eS', 'rS', 'gS', 'Normal')))
    if src.skipped:
        print('skipped invalid: ' + ', '.join(f'{n} {r}' for r, n in sorted(src.skipped.items())))
    for f in failed:
        print(f'FAILED: {f}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
