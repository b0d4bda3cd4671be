"""Train a detector (MMEngine Runner), after checking that the data, the weights and mmcv's ops are usable.

    python tools/train.py configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py --auto-scale-lr
    SODAA_ROOT=/scratch/SODA-A python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options tensorboard=True
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume          # from the latest checkpoint there
    python tools/train.py CONFIG --accumulate 2 --cfg-options train_dataloader.batch_size=2   # 4 images per step

Several GPUs: tools/dist_train.sh (torchrun) or tools/slurm_train.sh (README, "Commands").

Exit status 2: a checkpoint given by ``--resume``/``--load-from`` (or the work dir's ``last_checkpoint``) cannot be
used (missing, truncated, corrupted, saved by another config); 3: the non-finite guard stopped the run.
"""
import logging
import sys

from mmengine.logging import print_log

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.engine import NonFiniteError
from cfinet_rotated.utils import (
    CheckpointError,
    apply_amp,
    apply_grad_accumulation,
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
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr linearly by the total batch size (GPUs x images per GPU) '
                        'relative to the config\'s auto_scale_lr.base_batch_size')
    parser.add_argument('--accumulate', type=int, default=None, metavar='K',
                        help='gradient accumulation: one optimizer step every K iterations (the effective batch is '
                        'GPUs x images per GPU x K; auto_scale_lr counts it); default: the config\'s '
                        'optim_wrapper.accumulative_counts, else 1')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given')
    parser.add_argument('--load-from', metavar='CKPT',
                        help='initialise the weights from CKPT (e.g. fine-tuning); optimizer and iteration start '
                             'afresh (the config\'s load_from)')
    return parse_args_with_common(parser)


def main():
    args = parse_args()
    cfg = load_config(args)

    if args.amp:
        from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
        if not (is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()):
            # measured (issue 24): CPU autocast is bfloat16 only, and mmcv's CPU RoIAlign / nms kernels have no
            # BFloat16 implementation, MMRotate's box converters go through numpy, which has no bfloat16
            raise SystemExit('train.py: error: --amp needs a GPU (CUDA, NPU, MLU or MUSA): on CPU, autocast is '
                             "bfloat16 only, which mmcv's CPU RoIAlign and MMRotate's box converters do not take")
        if not apply_amp(cfg):
            print_log('AMP is already enabled in the config, or its optimizer wrappers are per model part '
                      '(reconstruction): the config is used as it is.', logger='current', level=logging.WARNING)
    apply_grad_accumulation(cfg, args.accumulate)
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError(f'{args.config}: --auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    if args.load_from is not None:
        if args.resume is not None:
            raise SystemExit('train.py: error: give either --resume or --load-from, not both')
        cfg.load_from = args.load_from
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    run_preflight(cfg, 'train', args.config)
    runner = build_runner(cfg)
    with mmengine_checkpoint_globals():
        try:
            check_runner_checkpoint(runner, cfg, 'train')
        except CheckpointError as e:
            print(f'train.py: error: {e}', file=sys.stderr)
            return 2
        try:
            runner.train()
        except NonFiniteError as e:
            print(f'train.py: error: {e}', file=sys.stderr)
            return 3
    finish_distributed()
    return 0


if __name__ == '__main__':
    sys.exit(main())
