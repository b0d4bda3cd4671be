"""Evaluate saved SODA-D predictions without rerunning the model (the official SODA-D protocol, 14 statistics).

    python tools/analysis_tools/eval_sodad.py --ann data/SODA-D/rawData/Annotations/test.json --pred results.pkl \
        --out metrics.json
    python tools/analysis_tools/eval_sodad.py --ann RAW/Annotations/test.json --pred results.bbox.json \
        --plot size_ap.png

PRED is either the per-patch pickle saved by ``tools/test.py --out results.pkl`` (merged here: shift by the patch
origin, class-wise horizontal NMS 0.5) or a COCO results JSON of full-image detections (``[{image_id,
category_id, bbox: [x, y, w, h], score}]``, e.g. written by ``SODADMetric(outfile_prefix=...)`` or
``--merged-out``). Prints the 14 statistics and the per-class AP, and writes them to ``--out`` as fractions in
[0, 1] (null where a subset has no ground truth).

The options mean the same in tools/analysis_tools/eval_sodaa.py (``--ann``, ``--pred``, ``--out``, ``--merged-out``,
``--plot``, ``--nms-iou-thr``, ``--merge-device``, ``--nproc``); the older spellings ``--ann-file`` and
``--coco-out`` work too.
"""
import os.path as osp
import sys

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.datasets.sodad_io import SODAD_CLASSES
from cfinet_rotated.evaluation.cli import add_common_args, merge_pickle, run_evaluation
from cfinet_rotated.evaluation.plot import plot_size_ap
from cfinet_rotated.evaluation.sodad_eval import (
    evaluate_sodad,
    load_sodad_ground_truth,
    read_coco_results,
    write_coco_results,
)


def parse_args(argv=None):
    p = tool_parser(__doc__)
    p.add_argument('--ann', '--ann-file', dest='ann', required=True,
                   help='full-image COCO JSON of the split (rawData/Annotations/test.json)')
    add_common_args(p, merged='also write the merged full-image detections as a COCO results JSON to this file',
                    merged_alias='--coco-out', pred='per-patch results .pkl of tools/test.py, or a COCO results .json')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def evaluate(warnings):
        print(f'reading ground truth from {args.ann}')
        gts, image_ids = load_sodad_ground_truth(args.ann, warnings)
        if not osp.isfile(args.pred):
            raise ValueError(f'{args.pred}: no such file')
        if args.pred.endswith('.json'):
            print(f'reading full-image COCO results from {args.pred}')
            preds = read_coco_results(args.pred, len(SODAD_CLASSES), warnings)
        else:
            preds = merge_pickle(args, len(SODAD_CLASSES), 'hbox', warnings)
        if args.merged_out:
            n = write_coco_results(preds, args.merged_out, image_ids)
            print(f'\n{n} merged detections written to {args.merged_out}')
        print(f'\nevaluating {len(gts)} images ({len(preds)} with detections)')
        try:
            return evaluate_sodad(gts, preds, SODAD_CLASSES, nproc=args.nproc, progress=True)
        except ValueError as e:  # the predictions do not fit the ground truth: name both files
            raise ValueError(f'{args.pred} (predictions) vs {args.ann} (ground truth): {e}') from None

    result = run_evaluation('eval_sodad', evaluate, args.out, pred=args.pred, ann_file=args.ann)
    if result is None:
        return 2
    if args.plot:
        plot_size_ap([dict(result.to_dict(), AR=result.to_dict()['AR_1000'], dataset='SODA-D')],
                     [osp.basename(args.pred.rstrip('/'))], args.plot)
        print(f'plot written to {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
