"""Train the tiny baseline and CFINet configs on the embedded sample and print their size-subset AP side by side.

    python tools/analysis_tools/compare_on_sample.py [--iters 300] [--pipeline rotated-faster-rcnn|oriented-rcnn|sodad]
                                      [--work-dir work_dirs/compare_on_sample] [--seed 0]

Each model is trained for ``--iters`` iterations (the tiny configs' batch, CPU, random initialisation) on
data/sample_split (made from data/sample with tools/data/sodaa_split.py when missing), exactly as
tools/train.py would (MMEngine Runner from the config), then tested on the same patches with SODAAMetric
(patch merge, COCO-style rotated AP over Small / eS / rS / gS / Normal against data/sample/Annotations).
A smoke-scale comparison, not a benchmark: the sample has a handful of images and training and test
images coincide. ``--pipeline sodad``: the horizontal SODA-D tiny configs on data/sample_sodad (split into
data/sample_sodad_split in train and test mode with tools/data/sodad_split.py when missing), SODADMetric.
"""
import os.path as osp

from mmengine.config import Config

from cfinet_rotated.cli import tool_parser
from cfinet_rotated.sample_data import SODAD_RAW, SODAD_SPLIT, ensure_sodaa_sample_split, ensure_sodad_sample_split
from cfinet_rotated.utils import build_runner, mmengine_checkpoint_globals

CONFIGS = {
    'rotated-faster-rcnn': dict(baseline='configs/baselines/rotated-faster-rcnn_tiny_sample.py',
                                cfinet='configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'),
    'oriented-rcnn': dict(baseline='configs/baselines/oriented-rcnn_tiny_sample.py',
                          cfinet='configs/cfinet/oriented-rcnn_cfinet_tiny_sample.py'),
    # the SODA-D configs point to data/sample_sodad_split and data/sample_sodad themselves
    'sodad': dict(baseline='configs/sodad/faster-rcnn_tiny_sample.py',
                  cfinet='configs/sodad/faster-rcnn_cfinet_tiny_sample.py'),
}


def parse_args():
    p = tool_parser(__doc__)
    p.add_argument('--iters', type=int, default=300, help='training iterations per model')
    p.add_argument('--pipeline', choices=sorted(CONFIGS), default='rotated-faster-rcnn',
                   help='which pair of tiny configs (baseline and CFINet) to compare')
    p.add_argument('--work-dir', default='work_dirs/compare_on_sample', help='logs and checkpoints of both runs')
    p.add_argument('--seed', type=int, default=0, help='random seed of both runs')
    p.add_argument('--raw', default='data/sample', help='raw SODA-A sample (Images/, Annotations/)')
    p.add_argument('--split', default='data/sample_split', help='SODA-A split patches (made when missing)')
    return p.parse_args()


def train_and_test(name, cfg_path, args):
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = osp.join(args.work_dir, name)
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=args.seed)
    cfg.train_cfg.max_iters = args.iters
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=args.iters,
                                        max_keep_ckpts=1)
    if args.pipeline != 'sodad':
        for loader in ('train_dataloader', 'test_dataloader'):
            cfg[loader].dataset.data_root = args.split.rstrip('/') + '/'
        cfg.test_evaluator.ann_dir = osp.join(args.raw, 'Annotations') + '/'
    runner = build_runner(cfg)
    runner.train()
    return runner.test()


def main():
    args = parse_args()
    if args.pipeline == 'sodad':
        ensure_sodad_sample_split(SODAD_RAW, SODAD_SPLIT)
    else:
        ensure_sodaa_sample_split(args.raw, args.split)
    with mmengine_checkpoint_globals():
        results = {name: train_and_test(name, path, args) for name, path in CONFIGS[args.pipeline].items()}
    keys = [k for k in results['baseline'] if k in results['cfinet']]
    sample = SODAD_SPLIT if args.pipeline == 'sodad' else args.split
    print(f'\n{args.pipeline} tiny configs, {args.iters} iterations each, sample {sample}')
    print(f'{"metric":22s} {"baseline":>9s} {"cfinet":>9s}')
    for k in keys:
        print(f'{k:22s} {results["baseline"][k]:9.4f} {results["cfinet"][k]:9.4f}')


if __name__ == '__main__':
    main()
