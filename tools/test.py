"""Test a detector: ``python tools/test.py CONFIG CHECKPOINT [--out results.pkl] [--show-dir DIR] ...``.

``--out`` saves the raw per-patch predictions (one dict per patch with ``img_id``, ``ori_id``, ``x_start``,
``y_start`` and ``pred_instances``) so that ``tools/eval_sodaa.py`` can evaluate them again later.

Exit status 2: the checkpoint cannot be used (missing, truncated, corrupted, saved by another config).
"""
import argparse
import os.path as osp
import sys

from mmdet.evaluation import DumpDetResults

from cfinet_rotated.utils import (CheckpointError, build_runner, check_runner_checkpoint, finish_distributed,
                                  load_config, mmengine_checkpoint_globals, parse_args_with_common)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument('--show', action='store_true', help='show the predictions')
    parser.add_argument('--show-dir', help='save images with drawn predictions to this folder')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of --show (s)')
    return parse_args_with_common(parser)


def main():
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        vis = cfg.default_hooks.get('visualization')
        if vis is None:
            raise RuntimeError(f'{args.config}: --show/--show-dir need default_hooks.visualization')
        vis['draw'] = True
        if args.show:
            vis['show'], vis['wait_time'] = True, args.wait_time
        if args.show_dir:
            vis['test_out_dir'] = osp.abspath(args.show_dir)

    runner = build_runner(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the output file must be a .pkl/.pickle file')
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
