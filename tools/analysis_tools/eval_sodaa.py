"""Evaluate saved SODA-A predictions without rerunning the model.

    python tools/analysis_tools/eval_sodaa.py --ann data/SODA-A/rawData/test/Annotations --pred results.pkl \
        --out metrics.json
    python tools/analysis_tools/eval_sodaa.py --ann RAW/Annotations --pred Task1_dir/ --out metrics.json \
        --plot size_ap.png

PRED is either the per-patch pickle saved by ``tools/test.py --out results.pkl`` (merged here: shift by the
patch origin, class-wise rotated NMS) or a folder of full-image DOTA Task1 files (``Task1_<class>.txt``,
lines ``<image stem> <score> x1 y1 x2 y2 x3 y3 x4 y4``). Prints the 12 statistics and the per-class AP, and
writes them to ``--out`` as fractions in [0, 1] (null where a subset has no ground truth).

Ground truth in DOTA (``--format dota --ann DOTA/val/labelTxt``) or DIOR-R (``--format dior --ann
'DIOR/Annotations/Oriented Bounding Boxes'``) form: ``--classes`` gives the class list (a named one, names separated
by commas, or ``auto``: from the labels), the model's label order; difficult objects are ignored ground truths.

The options mean the same in tools/analysis_tools/eval_sodad.py (``--ann``, ``--pred``, ``--out``, ``--merged-out``,
``--plot``, ``--nms-iou-thr``, ``--merge-device``, ``--nproc``); the older spellings ``--ann-dir`` and
``--dota-dir`` still work.
"""
import os.path as osp
import sys

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.formats import FORMATS, NAMED_CLASSES, class_names_in, list_files, resolve_classes
from cfinet_rotated.datasets.sodaa_io import AnnotationError
from cfinet_rotated.evaluation.cli import add_common_args, merge_pickle, run_evaluation
from cfinet_rotated.evaluation.plot import plot_size_ap
from cfinet_rotated.evaluation.sodaa_eval import evaluate_sodaa, load_ground_truth, read_task1, write_task1


def parse_args(argv=None):
    p = tool_parser(__doc__)
    p.add_argument('--ann', '--ann-dir', dest='ann', required=True,
                   help='raw SODA-A Annotations folder of the split (one JSON per image)')
    p.add_argument('--format', choices=FORMATS, default='sodaa', help='annotation format of --ann')
    p.add_argument('--classes', default='auto',
                   help=f'class list of dota/dior ground truth and of the predictions\' labels: '
                        f'{", ".join(NAMED_CLASSES)}, names separated by commas, or auto (from --ann)')
    p.add_argument('--box-type', default='rbox', choices=['rbox', 'hbox'],
                   help='rbox: rotated IoU (the SODA-A protocol); hbox: horizontal boxes')
    p.add_argument('--max-dets', type=int, default=20000, help='detections per image and class')
    p.add_argument('--min-gt-size', type=float, default=2.0,
                   help='drop ground truths with a box side below this (official: 2 px); 0 keeps all')
    add_common_args(p, merged='also write the merged full-image detections as DOTA Task1 files to this folder',
                    merged_alias='--dota-dir')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        names = ()
        if args.format != 'sodaa' and args.classes == 'auto':
            names = class_names_in(list_files(args.ann, args.format), args.format)
        classes = resolve_classes(args.classes, args.format, names)
    except (ValueError, AnnotationError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2

    def evaluate(warnings):
        if osp.isdir(args.pred):
            print(f'reading Task1 files from {args.pred}')
            preds = read_task1(args.pred, classes, args.box_type, warnings, progress=True)
        elif osp.isfile(args.pred):
            preds = merge_pickle(args, len(classes), args.box_type, warnings)
        else:
            raise ValueError(f'{args.pred}: no such file or folder')
        if args.merged_out:
            write_task1(preds, args.merged_out, classes, args.box_type)
            print(f'\nmerged detections written as DOTA Task1 files to {args.merged_out}')
        print(f'\nreading ground truth from {args.ann}')
        gts = load_ground_truth(args.ann, args.box_type, args.min_gt_size, warnings, progress=True, fmt=args.format,
                                classes=classes)
        print(f'\nevaluating {len(gts)} images ({len(preds)} with detections)')
        try:
            return evaluate_sodaa(gts, preds, classes, args.box_type, max_dets=args.max_dets,
                                  nproc=args.nproc, progress=True)
        except ValueError as e:  # the predictions do not fit the ground truth: name both files
            raise ValueError(f'{args.pred} (predictions) vs {args.ann} (ground truth): {e}') from None

    result = run_evaluation('eval_sodaa', evaluate, args.out, pred=args.pred, ann_dir=args.ann)
    if result is None:
        return 2
    if args.plot:
        plot_size_ap([result.to_dict()], [osp.basename(args.pred.rstrip('/'))], args.plot)
        print(f'plot written to {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
