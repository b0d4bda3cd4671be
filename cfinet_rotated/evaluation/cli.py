"""What the evaluation tools (``tools/analysis_tools/eval_sodaa.py``, ``tools/analysis_tools/eval_sodad.py``)
share: the merge options, reading
and merging a ``tools/test.py --out`` pickle, and running the evaluation with its error handling and report."""
import sys
import time
from collections import Counter

from ..datasets.sodaa_io import AnnotationError
from .merge import load_patch_pickle, merge_patch_predictions
from .sodaa_eval import report, save_metrics


def add_common_args(parser, merged, merged_alias, pred='per-patch results .pkl of tools/test.py, or a Task1 folder'):
    """The options both evaluation tools share, under the same names: ``--pred``, ``--out``, ``--merged-out``
    (``merged``: its help; ``merged_alias``: the tool's older spelling), ``--plot`` and :func:`add_merge_args`."""
    parser.add_argument('--pred', required=True, help=pred)
    parser.add_argument('--out', help='metrics JSON to write (unset: only printed)')
    parser.add_argument('--merged-out', merged_alias, dest='merged_out', help=merged)
    parser.add_argument('--plot', help='also write a PNG bar chart of AP/AR per size subset')
    add_merge_args(parser)


def add_merge_args(parser):
    """``--nms-iou-thr``, ``--merge-device`` and ``--nproc``."""
    parser.add_argument('--nms-iou-thr', type=float, default=0.5,
                        help='class-wise NMS IoU when merging patches (.pkl input); <= 0 disables the NMS')
    parser.add_argument('--merge-device', default='cpu', help="device of the merge NMS, e.g. 'cuda'")
    parser.add_argument('--nproc', type=int, default=2, help='evaluation worker processes (over classes)')


def merge_pickle(args, num_classes, box_type, warnings):
    """Per-patch predictions of ``args.pred`` merged per original image (ori_id -> dict), with progress."""
    print(f'reading per-patch predictions from {args.pred}')
    samples = load_patch_pickle(args.pred)
    nms = args.nms_iou_thr if args.nms_iou_thr > 0 else None
    print(f'merging {len(samples)} patches (class-wise NMS {nms})')
    return merge_patch_predictions(samples, num_classes, box_type, nms, device=args.merge_device,
                                   warnings=warnings, progress=True)


def print_and_save(result, warnings, out=None, **extra):
    """Print the summary, per-class table and counted warnings; write them to ``out`` (JSON) when given."""
    print('\n' + report(result, warnings))
    if out:
        save_metrics(result, out, extra=dict(skipped=dict(warnings), **extra))
        print(f'metrics written to {out}')


def run_evaluation(tool, evaluate, out=None, **extra):
    """``evaluate(warnings) -> EvalResult``, then the report (and ``out``) as :func:`print_and_save`.

    Bad input (``ValueError``/``AnnotationError``, whose messages name the file) prints ``<tool>: error: ...``
    and returns None (the tools exit with 2); otherwise returns the result.
    """
    warnings = Counter()
    t0 = time.time()
    try:
        result = evaluate(warnings)
    except (ValueError, AnnotationError) as e:
        print(f'{tool}: error: {e}', file=sys.stderr)
        return None
    print_and_save(result, warnings, out, **extra)
    print(f'done in {time.time() - t0:.1f} s')
    return result
