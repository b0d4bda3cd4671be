"""Train a detector (MMEngine Runner), after checking that the data, the weights and mmcv's ops are usable.

    python tools/train.py configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py --auto-scale-lr
    SODAA_ROOT=/scratch/SODA-A python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options tensorboard=True
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume          # from the latest checkpoint there

Several GPUs: tools/dist_train.sh (torchrun) or tools/slurm_train.sh (README, "Commands").
"""
import logging

from mmengine.logging import print_log

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.utils import (build_runner, finish_distributed, load_config, mmengine_checkpoint_globals,
                                  parse_args_with_common, run_preflight)


def parse_args():
    parser = tool_parser(__doc__)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr linearly by the total batch size (GPUs x images per GPU) '
                        'relative to the config\'s auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given')
    return parse_args_with_common(parser)


def main():
    args = parse_args()
    cfg = load_config(args)

    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP is already enabled in the config.', logger='current', level=logging.WARNING)
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError(f'{args.config}: --auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    run_preflight(cfg, 'train', args.config)
    runner = build_runner(cfg)
    with mmengine_checkpoint_globals():
        runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
