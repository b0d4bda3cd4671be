"""Test (and evaluate) a detector, after checking that the data, the checkpoint and mmcv's ops are usable.

    python tools/test.py configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py \
        work_dirs/cfinet/epoch_12.pth --out work_dirs/cfinet/results.pkl \
        --cfg-options test_evaluator.outfile_prefix=work_dirs/cfinet/test   # metrics -> test.metrics.json

Several GPUs: tools/dist_test.sh (torchrun) or tools/slurm_test.sh (README, "Commands").
``--out`` saves the raw per-patch predictions (one dict per patch with ``img_id``, ``ori_id``, ``x_start``,
``y_start`` and ``pred_instances``) so that ``tools/analysis_tools/eval_sodaa.py`` can evaluate them again later.

Exit status 2: the checkpoint cannot be used (missing, truncated, corrupted, saved by another config).
"""
import os.path as osp
import sys

from mmdet.evaluation import DumpDetResults

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.utils import (
    CheckpointError,
    apply_tta,
    build_runner,
    check_runner_checkpoint,
    finish_distributed,
    load_config,
    mmengine_checkpoint_globals,
    parse_args_with_common,
    run_preflight,
)


def parse_args():
    parser = tool_parser(__doc__)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw per-patch predictions to this pickle file (for '
                        'tools/analysis_tools/eval_sodaa.py / eval_sodad.py)')
    parser.add_argument('--show', action='store_true', help='show the predictions')
    parser.add_argument('--show-dir', help='save images with drawn predictions to this folder')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of --show (s)')
    parser.add_argument('--tta', type=float, nargs='+', metavar='SCALE',
                        help='multi-scale test: each patch at these factors of the test scale (e.g. 1 1.5), views '
                             'merged by class-wise (rotated) NMS (RotatedTTAModel; configs/levers/README.md)')
    return parse_args_with_common(parser)


def main():
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.tta:
        try:
            apply_tta(cfg, args.tta)
        except ValueError as e:
            raise SystemExit(f'test.py: error: {e}') from None

    if args.show or args.show_dir:
        vis = cfg.default_hooks.get('visualization')
        if vis is None:
            raise RuntimeError(f'{args.config}: --show/--show-dir need default_hooks.visualization')
        vis['draw'] = True
        if args.show:
            vis['show'], vis['wait_time'] = True, args.wait_time
        if args.show_dir:
            vis['test_out_dir'] = osp.abspath(args.show_dir)

    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'test.py: error: --out {args.out}: the output file must be a .pkl/.pickle file')
    run_preflight(cfg, 'test', args.config)
    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    with mmengine_checkpoint_globals():
        try:
            check_runner_checkpoint(runner, cfg, 'test')
        except CheckpointError as e:
            print(f'test.py: error: {e}', file=sys.stderr)
            return 2
        runner.test()
    finish_distributed()
    return 0


if __name__ == '__main__':
    sys.exit(main())
