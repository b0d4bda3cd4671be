"""Accuracy on held-out synthetic data: tiny baseline, CRPN-only, FI-only, CFINet and reconstruction models of one
pipeline, several seeds.

    python tools/analysis_tools/benchmark_accuracy.py --pipeline rotated-faster-rcnn --iters 600 --seeds 0 1 2 \
        --jobs 2
    python tools/analysis_tools/benchmark_accuracy.py --models baseline cfinet --warmup-iters 300   # shared warm-up
    python tools/analysis_tools/benchmark_accuracy.py --models crpn cfinet --warmup-model crpn --warmup-iters 600 \
        --warm-parts backbone neck rpn_head roi_head --iters 400 --jobs 2 --work-dir work_dirs/fi_protocol
        # the Feature Imitation protocol: with and without FI from one converged CRPN (about 45 min on 2 cores)
    python tools/analysis_tools/benchmark_accuracy.py --recon-protocol --jobs 2
        # the reconstruction protocol: baseline, reconstruction and its three ablations from one converged baseline
    python tools/analysis_tools/benchmark_accuracy.py --fi-protocol --models crpn cfinet cfinet-recon --jobs 2
        # CFINet + reconstruction against CFINet and CRPN only

1. Data: a training set and a disjoint test set drawn by tools/data/make_sample.py with different seeds and file
   prefixes (default 30 + 10 images of 1600x1200, all nine classes and the four size subsets, parking and
   container rows of extremely small vehicles), split with the pipeline's split tool (tools/data/sodaa_split.py or
   tools/data/sodad_split.py). Made once per work dir and reused while the generation options are the same.
2. Optional shared warm-up (``--warmup-iters``): the baseline (or ``--warmup-model``) is trained once; every model
   then starts from its weights, loaded non-strictly: the keys of ``--warm-parts`` (default backbone, neck, RoI
   head) whose name and shape match the model. The RPN is not among the defaults, so every model, the baseline too,
   starts its RPN (or CRPN) from scratch, as CRPN must. The tool prints what each model took over. The Feature
   Imitation protocol warms up CRPN instead and adds ``rpn_head`` to the parts, so that CRPN-only and CFINet (CRPN +
   FI) both continue from one converged CRPN: FI then sees CRPN's high-quality proposals from its first iteration,
   the regime of the paper's late epochs, and the two arms differ only by the FI head and its sampler.
3. Each (model, seed): tools/train.py for ``--iters`` iterations, then tools/test.py on the test split, whose
   patch predictions are merged back to the original test images and evaluated (SODA-A or SODA-D protocol).
   Every run is its own process with one thread; ``--jobs`` runs that many at once (the CRPN-based models,
   the slowest, first). Results are cached in
   ``WORK_DIR/<model>/seed<k>/``: an interrupted benchmark continues where it stopped (a half-trained model
   resumes from its last checkpoint, every ``--ckpt-interval`` iterations), a finished one is not run again.
4. A table of mean and standard deviation over the seeds of AP, AP_eS, AR_eS, AR and the exemplar count at the
   end of training (FI models), the FI diagnostics (first iteration with exemplars, mean loss_fi per quarter of
   training), and the last line
   ``ap_es_baseline=<f> ap_es_cfinet=<f> ar_es_baseline=<f> ar_es_cfinet=<f> std_ap_es=<f>`` where
   ``std_ap_es`` is the larger of the two models' seed standard deviations of AP_eS (ddof 1).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
from mmengine.utils import ProgressBar

from cfinet_rotated.cli import tool_parser

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Feature Imitation variants (configs/fi/_base_/fi_variants.py), models 'cfinet-<name>' of the rotated pipelines
FI_VARIANTS = {'no-fi-loss': 'CFINet, alpha_3 = 0 (control)', 'fi-weight-2': 'CFINet, alpha_3 = 2.0',
               'iq-p90': 'CFINet, T_hq = min(0.65, P90 IQ)', 'min-preds-2': 'CFINet, >= 2 preds/exemplar',
               'gt-seed-32': 'CFINet, E seeded with 32 gts/class', 'small-anchors': 'CFINet, eS/rS anchors only'}
# generative-discriminative reconstruction models (configs/reconstruction/, issue 21): name -> config infix
# small-object levers (configs/levers/, issue 23): models 'baseline-<lever>' and 'cfinet-<lever>' of
# rotated-faster-rcnn (no cfinet-anchors: CRPN's one anchor per location already fits, mean centred IoU of the fit
# 0.655 against 0.652 for its default, configs/levers/README.md)
LEVERS = {'focal': 'focal loss (RPN + RoI)', 'rotate': 'random rotation', 'balanced': 'class-balanced resampling',
          'anchors': 'fitted anchors', 'context': 'RoI context x1.5'}
# test-time views: the '<model>-tta' runs test the '<model>' checkpoint of the same seed with these test.py options
TEST_VIEWS = {'tta': (['--tta', '1', '1.5'], 'multi-scale test x1, x1.5')}
RECON_MODELS = {'recon': 'recon', 'recon-no-recon-loss': 'recon_no-recon-loss', 'recon-no-adv': 'recon_no-adv',
                'recon-no-cls': 'recon_no-cls', 'crpn-recon': 'crpn_recon', 'cfinet-recon': 'cfinet_recon',
                'recon-g-frozen': 'recon_g-frozen', 'recon-tv-1e-2': 'recon_tv-1e-2'}


def _recon_configs(prefix):
    return {m: f'configs/reconstruction/{prefix}_{infix}_tiny_sample.py' for m, infix in RECON_MODELS.items()}


PIPELINES = {
    'rotated-faster-rcnn': dict(
        format='sodaa',
        configs=dict(baseline='configs/baselines/rotated-faster-rcnn_tiny_sample.py',
                     crpn='configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py',
                     fi='configs/fi/rotated-faster-rcnn_fi_tiny_sample.py',
                     cfinet='configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py',
                     **{'cfinet-paper': 'configs/cfinet/rotated-faster-rcnn_cfinet_paper-rules_tiny_sample.py'},
                     **{f'cfinet-{v}': f'configs/cfinet/fi_variants/rotated-faster-rcnn_cfinet_{v}_tiny_sample.py'
                        for v in FI_VARIANTS},
                     **_recon_configs('rotated-faster-rcnn'),
                     **{f'baseline-{v}': f'configs/levers/rotated-faster-rcnn_{v}_tiny_sample.py' for v in LEVERS},
                     **{f'cfinet-{v}': f'configs/levers/rotated-faster-rcnn_cfinet_{v}_tiny_sample.py'
                        for v in LEVERS if v != 'anchors'},
                     **{f'{m}-{v}': 'configs/baselines/rotated-faster-rcnn_tiny_sample.py' if m == 'baseline' else
                        'configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'
                        for m in ('baseline', 'cfinet') for v in TEST_VIEWS})),
    'oriented-rcnn': dict(
        format='sodaa',
        configs=dict(baseline='configs/baselines/oriented-rcnn_tiny_sample.py',
                     crpn='configs/crpn/oriented-rcnn_crpn_tiny_sample.py',
                     fi='configs/fi/oriented-rcnn_fi_tiny_sample.py',
                     cfinet='configs/cfinet/oriented-rcnn_cfinet_tiny_sample.py',
                     **{f'cfinet-{v}': f'configs/cfinet/fi_variants/oriented-rcnn_cfinet_{v}_tiny_sample.py'
                        for v in FI_VARIANTS},
                     **_recon_configs('oriented-rcnn'))),
    'sodad': dict(
        format='sodad',
        configs=dict(baseline='configs/sodad/faster-rcnn_tiny_sample.py',
                     crpn='configs/sodad/faster-rcnn_crpn_tiny_sample.py',
                     fi='configs/sodad/faster-rcnn_fi_tiny_sample.py',
                     cfinet='configs/sodad/faster-rcnn_cfinet_tiny_sample.py',
                     **_recon_configs('sodad/faster-rcnn'))),
}
MODEL_NAMES = dict(baseline='baseline', crpn='CRPN only', fi='FI only', cfinet='CFINet',
                   **{'cfinet-paper': 'CFINet, paper Eq. (1)/(3)'},
                   **{f'cfinet-{k}': v for k, v in FI_VARIANTS.items()},
                   **{f'{m}-{v}': f'{"baseline" if m == "baseline" else "CFINet"}, {name}'
                      for m in ('baseline', 'cfinet') for v, name in LEVERS.items()},
                   **{f'{m}-{v}': f'{"baseline" if m == "baseline" else "CFINet"}, {name}'
                      for m in ('baseline', 'cfinet') for v, (_, name) in TEST_VIEWS.items()},
                   recon='reconstruction', **{'recon-no-recon-loss': 'reconstruction w/o L_MSE, L_TV',
                                              'recon-no-adv': 'reconstruction w/o L_adv',
                                              'recon-no-cls': 'reconstruction w/o L_cls',
                                              'recon-g-frozen': 'reconstruction, G frozen (identity)',
                                              'recon-tv-1e-2': 'reconstruction, L_TV x 1e-2',
                                              'crpn-recon': 'CRPN + reconstruction',
                                              'cfinet-recon': 'CFINet + reconstruction'})
# the Feature Imitation protocol (--fi-protocol): both arms continue from one converged CRPN
FI_PROTOCOL = dict(models=['crpn', 'cfinet'], warmup_model='crpn', warmup_iters=600,
                   warm_parts=['backbone', 'neck', 'rpn_head', 'roi_head'], iters=400)
# the reconstruction protocol (--recon-protocol): every arm continues from one converged baseline; G starts as the
# identity (zero-initialised tail), so the arms differ only by what the reconstruction adds from there
RECON_PROTOCOL = dict(models=['baseline', 'recon', 'recon-no-recon-loss', 'recon-no-adv', 'recon-no-cls'],
                      warmup_model='baseline', warmup_iters=600,
                      warm_parts=['backbone', 'neck', 'rpn_head', 'roi_head'], iters=400)
# the models that take longest (CRPN's two stages, FI, G and D) start first, so that the --jobs slots end together
SLOW_MODELS = ('cfinet', 'cfinet-paper', 'crpn', 'cfinet-recon', 'crpn-recon', 'recon')
# logged FI statistics kept per run for the plots (FIRoIHead.bbox_loss)
FI_TRACE_KEYS = ('loss_fi', 'fi_exemplars', 'fi_iq_mean', 'fi_iq_p90', 'fi_iq_max', 'fi_high_thr', 'fi_high_iq_gts',
                 'fi_new_exemplars', 'fi_anchors', 'fi_anchors_with_pos', 'fi_measured_gts', 'fi_unmeasured_gts')
# metric keys of the two evaluators (SODAAMetric / SODADMetric .metrics.json) behind the table columns
METRIC_KEYS = dict(sodaa=dict(AP='AP', AP_eS='AP_eS', AR_eS='AR_eS', AR='AR'),
                   sodad=dict(AP='AP', AP_eS='AP_eS', AR_eS='AR_eS', AR='AR_1000'))
COLUMNS = ('AP', 'AP_eS', 'AR_eS', 'AR')


def parse_args(argv=None):
    p = tool_parser(__doc__)
    p.add_argument('--pipeline', choices=sorted(PIPELINES), default='rotated-faster-rcnn',
                   help='which tiny configs: Rotated Faster R-CNN / Oriented R-CNN (SODA-A format) or the '
                        'horizontal SODA-D Faster R-CNN')
    p.add_argument('--fi-protocol', action='store_true',
                   help='the Feature Imitation protocol: defaults become --models crpn cfinet --warmup-model crpn '
                        '--warmup-iters 600 --warm-parts backbone neck rpn_head roi_head --iters 400 --work-dir '
                        'work_dirs/fi_protocol_<pipeline> (each still settable); the table adds the per-seed paired '
                        'difference to CRPN only. About 35 min on an idle 2-core machine with --jobs 2 (warm-up 8 '
                        'min, then 2 x 3 runs of 7 min training + 1.5 min test, two at a time); every further model '
                        'adds about 13 min')
    p.add_argument('--recon-protocol', action='store_true',
                   help='the reconstruction protocol (issue 21): defaults become --models baseline recon '
                        'recon-no-recon-loss recon-no-adv recon-no-cls --warmup-model baseline --warmup-iters 600 '
                        '--warm-parts backbone neck rpn_head roi_head --iters 400 --work-dir '
                        'work_dirs/recon_protocol_<pipeline>; the table adds the per-seed paired difference to the '
                        'baseline. CFINet + reconstruction (cfinet-recon) is measured against CFINet under '
                        '--fi-protocol, whose arms share a CRPN warm-up')
    p.add_argument('--models', nargs='+', default=None,
                   help='models to train (baseline, crpn, fi, cfinet; cfinet-paper = CFINet with the paper\'s '
                        'Eq. (1)/(3), rotated-faster-rcnn only; cfinet-<variant> = the FI variants of '
                        f'configs/fi/_base_/fi_variants.py: {", ".join(FI_VARIANTS)}, rotated pipelines); baseline and '
                        'cfinet are needed for the last line; reconstruction (configs/reconstruction/): '
                        f'{", ".join(RECON_MODELS)} (default: baseline crpn fi cfinet)')
    p.add_argument('--iters', type=int, default=None, help='training iterations of every model (batch 1; default 600)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds (at least 3 for a result)')
    p.add_argument('--jobs', type=int, default=1, help='runs at once (each a process with one thread)')
    p.add_argument('--work-dir', default=None,
                   help='data, checkpoints, logs and cached results (default work_dirs/benchmark_accuracy)')
    p.add_argument('--warmup-iters', type=int, default=None,
                   help='train the baseline this many iterations once and start every model from it (default 0: none)')
    p.add_argument('--warmup-model', default=None,
                   help='model trained by the shared warm-up (default baseline; crpn: the Feature Imitation protocol)')
    p.add_argument('--warmup-seed', type=int, default=1000, help='seed of the shared warm-up run')
    p.add_argument('--warm-parts', nargs='+', default=None,
                   help='top-level modules whose warm-up weights every model takes over (matching name and shape; '
                        'default backbone neck roi_head)')
    p.add_argument('--plot', default=None,
                   help='write a PNG of the FI statistics over training (exemplar-set size, IQ distribution, loss_fi, '
                        'anchors with positives; mean over seeds per FI model) to this path')
    p.add_argument('--warmup-threads', type=int, default=None,
                   help='threads of the warm-up process, which runs alone (unset: --jobs x --threads)')
    p.add_argument('--train-images', type=int, default=30, help='training images to generate')
    p.add_argument('--test-images', type=int, default=10, help='held-out test images to generate')
    p.add_argument('--image-size', type=int, nargs=2, default=[1600, 1200], metavar=('W', 'H'),
                   help='size of every generated image')
    p.add_argument('--train-data-seed', type=int, default=100, help='make_sample.py seed of the training set')
    p.add_argument('--test-data-seed', type=int, default=200, help='make_sample.py seed of the test set')
    p.add_argument('--ckpt-interval', type=int, default=100, help='checkpoint interval (resume granularity)')
    p.add_argument('--log-interval', type=int, default=20, help='training log interval (iterations)')
    p.add_argument('--threads', type=int, default=1, help='OMP/MKL/torch threads per process')
    p.add_argument('--summary-only', action='store_true',
                   help='print the table from the cached results without training or testing anything')
    args = p.parse_args(argv)
    defaults = dict(models=['baseline', 'crpn', 'fi', 'cfinet'], warmup_model='baseline', warmup_iters=0,
                    warm_parts=['backbone', 'neck', 'roi_head'], iters=600, work_dir='work_dirs/benchmark_accuracy')
    if args.fi_protocol and args.recon_protocol:
        p.error('--fi-protocol and --recon-protocol are two protocols; choose one')
    if args.fi_protocol:
        defaults.update(FI_PROTOCOL, work_dir=f'work_dirs/fi_protocol_{args.pipeline}')
    if args.recon_protocol:
        defaults.update(RECON_PROTOCOL, work_dir=f'work_dirs/recon_protocol_{args.pipeline}')
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = [m for m in args.models if m not in PIPELINES[args.pipeline]['configs']]
    if unknown:
        p.error(f'--models {unknown}: not a model of pipeline {args.pipeline} '
                f'({sorted(PIPELINES[args.pipeline]["configs"])})')
    if args.warmup_model not in PIPELINES[args.pipeline]['configs']:
        p.error(f'--warmup-model {args.warmup_model}: not a model of pipeline {args.pipeline}')
    if args.iters <= 0 or args.jobs <= 0 or args.warmup_iters < 0:
        p.error('--iters and --jobs must be positive, --warmup-iters >= 0')
    if args.train_images < 1 or args.test_images < 1:
        p.error('--train-images and --test-images must be >= 1')
    return args


def _env(threads):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=ROOT + (
        os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else ''))
    return env


def _run(cmd, log_path, threads):
    """Run a tool as its own process, output to ``log_path``; raises with the log's tail on failure."""
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    with open(log_path, 'a', encoding='utf-8') as log:
        log.write(f'\n$ {" ".join(cmd)}\n')
        log.flush()
        ret = subprocess.run(cmd, cwd=ROOT, env=_env(threads), stdout=log, stderr=subprocess.STDOUT)
    if ret.returncode != 0:
        with open(log_path, encoding='utf-8', errors='replace') as f:
            tail = ''.join(f.readlines()[-15:])
        raise RuntimeError(f'{" ".join(cmd[1:3])} failed (exit {ret.returncode}); log {log_path}:\n{tail}')


# ------------------------------------------------------------------------------------------------ data
def prepare_data(args):
    """Generate and split the training and test sets once (``data/stamp.json`` records the options)."""
    fmt = PIPELINES[args.pipeline]['format']
    root = osp.join(args.work_dir, 'data', fmt)
    spec = dict(format=fmt, train=[args.train_images, args.train_data_seed], test=[args.test_images,
                args.test_data_seed], size=list(args.image_size))
    stamp = osp.join(root, 'stamp.json')
    if osp.isfile(stamp):
        with open(stamp, encoding='utf-8') as f:
            if json.load(f) == spec:
                return data_paths(root, fmt)
        raise SystemExit(f'benchmark_accuracy: {root} holds data made with other options; use another --work-dir '
                         'or remove it')
    if args.train_data_seed == args.test_data_seed:
        raise SystemExit('benchmark_accuracy: --train-data-seed and --test-data-seed must differ (disjoint sets)')
    py = sys.executable
    for part, (num, seed) in (('train', spec['train']), ('test', spec['test'])):
        raw, split = osp.join(root, f'raw_{part}'), osp.join(root, f'split_{part}')
        print(f'generating {num} {part} images ({args.image_size[0]}x{args.image_size[1]}, seed {seed}) ...',
              flush=True)
        _run([py, 'tools/data/make_sample.py', '--out', raw, '--num-images', str(num), '--seed', str(seed),
              '--image-size', *map(str, args.image_size), '--prefix', part] + (['--format', 'sodad'] if fmt == 'sodad'
                                                                             else []),
             osp.join(root, 'data.log'), args.threads)
        if fmt == 'sodaa':
            cmd = [py, 'tools/data/sodaa_split.py', '--src', raw, '--dst', split, '--overwrite']
        else:
            cmd = [py, 'tools/data/sodad_split.py', '--ann', osp.join(raw, 'Annotations', 'sample.json'),
                   '--img-dir', osp.join(raw, 'Images'), '--dst', split, '--mode', part, '--overwrite']
        _run(cmd, osp.join(root, 'data.log'), args.threads)
    with open(stamp, 'w', encoding='utf-8') as f:
        json.dump(spec, f)
    return data_paths(root, fmt)


def data_paths(root, fmt):
    d = dict(fmt=fmt, train_split=osp.join(root, 'split_train'), test_split=osp.join(root, 'split_test'),
             test_raw=osp.join(root, 'raw_test'))
    d['test_ann'] = (osp.join(d['test_raw'], 'Annotations') + '/' if fmt == 'sodaa'
                     else osp.join(d['test_raw'], 'Annotations', 'sample.json'))
    return d


def data_summary(data):
    """Objects per size subset in the raw train/test sets (for the report)."""
    from cfinet_rotated.datasets.sodaa_io import SODAA_CLASSES
    from cfinet_rotated.testing import count_objects, sodaa_items, sodad_items
    out = {}
    for part in ('train', 'test'):
        raw = osp.join(osp.dirname(data['test_raw']), f'raw_{part}')
        if data['fmt'] == 'sodaa':
            datas = []
            ann_dir = osp.join(raw, 'Annotations')
            for name in sorted(os.listdir(ann_dir)):
                with open(osp.join(ann_dir, name), encoding='utf-8') as f:
                    datas.append(json.load(f))
            counts, _ = count_objects(sodaa_items(datas), SODAA_CLASSES)
            n_img = len(datas)
        else:
            from cfinet_rotated.datasets.sodad_io import SODAD_CLASSES
            with open(osp.join(raw, 'Annotations', 'sample.json'), encoding='utf-8') as f:
                coco = json.load(f)
            counts, _ = count_objects(sodad_items(coco), SODAD_CLASSES)
            n_img = len(coco['images'])
        subsets = {s: sum(r[s] for r in counts.values()) for s in ('eS', 'rS', 'gS', 'Normal', 'larger')}
        out[part] = dict(images=n_img, classes=sum(1 for r in counts.values() if sum(r.values())), **subsets)
    return out


# ------------------------------------------------------------------------------------------- warm-up
def _ckpt(work, iters):
    return osp.join(work, f'iter_{iters}.pth')


def _has_checkpoint(work):
    return osp.isfile(osp.join(work, 'last_checkpoint'))


def data_root_key(cfg_path, loader):
    """The ``--cfg-options`` key of ``loader``'s data root, through dataset wrappers: a config whose training set is
    wrapped (``ClassBalancedDataset``, the resampling lever) keeps it at ``train_dataloader.dataset.dataset``."""
    from mmengine.config import Config
    dataset, key = Config.fromfile(osp.join(ROOT, cfg_path))[loader].dataset, f'{loader}.dataset'
    while 'dataset' in dataset:
        dataset, key = dataset.dataset, key + '.dataset'
    return key + '.data_root'


def _train_cmd(args, cfg, work, seed, iters, data, load_from=None):
    opts = [f'train_cfg.max_iters={iters}', f'randomness.seed={seed}',
            f'default_hooks.checkpoint.interval={min(args.ckpt_interval, iters)}',
            'default_hooks.checkpoint.max_keep_ckpts=1', f'default_hooks.logger.interval={args.log_interval}',
            f'log_processor.window_size={args.log_interval}',
            f'{data_root_key(cfg, "train_dataloader")}={data["train_split"]}/']
    cmd = [sys.executable, 'tools/train.py', cfg, '--work-dir', work]
    if _has_checkpoint(work):
        cmd.append('--resume')
    elif load_from:
        opts.append(f'load_from={load_from}')
    return cmd + ['--cfg-options'] + opts


def run_warmup(args, data):
    """The shared warm-up model and, per model, its non-strict start checkpoint (matching keys only)."""
    name = args.warmup_model
    work = osp.join(args.work_dir, 'warmup' if name == 'baseline' else f'warmup_{name}')
    cfg = PIPELINES[args.pipeline]['configs'][name]
    if not osp.isfile(_ckpt(work, args.warmup_iters)):
        print(f'warm-up: training {name} for {args.warmup_iters} iterations (seed {args.warmup_seed}) ...',
              flush=True)
        _run(_train_cmd(args, cfg, work, args.warmup_seed, args.warmup_iters, data), osp.join(work, 'train.log'),
             args.warmup_threads or args.jobs * args.threads)
    return {m: start_checkpoint(args, m, _ckpt(work, args.warmup_iters), work) for m in args.models}


def start_checkpoint(args, model, warm_ckpt, work):
    """Write ``init_<model>.pth`` with the warm-up weights whose name and shape match ``model``; print the share."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmrotate.registry import MODELS

    import cfinet_rotated  # noqa: F401  (registration)
    from cfinet_rotated.utils import mmengine_checkpoint_globals
    out = osp.join(work, f'init_{model}.pth')
    cfg = Config.fromfile(osp.join(ROOT, PIPELINES[args.pipeline]['configs'][model]))
    init_default_scope(cfg.get('default_scope', 'mmrotate'))
    own = MODELS.build(cfg.model).state_dict()
    with mmengine_checkpoint_globals():
        warm = torch.load(warm_ckpt, map_location='cpu')['state_dict']
    keep = {k: v for k, v in warm.items()
            if k.split('.')[0] in args.warm_parts and k in own and tuple(own[k].shape) == tuple(v.shape)}
    parts = []
    for group in sorted({k.split('.')[0] for k in own}):
        n_own = sum(1 for k in own if k.split('.')[0] == group)
        parts.append(f'{group} {sum(1 for k in keep if k.split(".")[0] == group)}/{n_own}')
    if not osp.isfile(out):
        torch.save(dict(state_dict=keep, meta=dict(source=warm_ckpt)), out)
    print(f'  {model:12s} starts from the warm-up ({" ".join(args.warm_parts)}; non-strict: keys of matching name '
          f'and shape): ' + ', '.join(parts), flush=True)
    return out


# ------------------------------------------------------------------------------------------------ runs
def test_view(model):
    """``(source model, extra test.py options)`` of a test-time view ``<source>-<view>``, else None."""
    source, _, view = model.rpartition('-')
    return (source, TEST_VIEWS[view][0]) if view in TEST_VIEWS and source else None


_LOCKS = defaultdict(threading.Lock)  # one run per (model, seed) at a time: a test view waits for its source


def run_one(args, data, model, seed, load_from, starts=None):
    """Train and test one (model, seed) unless cached; returns its result dict. A test view (``<model>-tta``)
    tests the source model's checkpoint of the same seed (training it first if needed)."""
    with _LOCKS[(model, seed)]:
        return _run_one(args, data, model, seed, load_from, starts)


def _run_one(args, data, model, seed, load_from, starts):
    work = osp.join(args.work_dir, model, f'seed{seed}')
    result_path = osp.join(work, 'result.json')
    if osp.isfile(result_path):
        with open(result_path, encoding='utf-8') as f:
            return json.load(f)
    cfg = PIPELINES[args.pipeline]['configs'][model]
    view = test_view(model)
    extra = []
    t0 = time.time()
    if view is not None:
        source, extra = view
        src = run_one(args, data, source, seed, (starts or {}).get(source, load_from), starts)
        ckpt = _ckpt(osp.join(args.work_dir, source, f'seed{seed}'), args.iters)
        train_info = {k: src.get(k) for k in ('s_per_iter', ) if k in src}
    else:
        ckpt = _ckpt(work, args.iters)
        if not osp.isfile(ckpt):
            _run(_train_cmd(args, cfg, work, seed, args.iters, data, load_from), osp.join(work, 'train.log'),
                 args.threads)
    t_train = time.time() - t0
    prefix = osp.join(work, 'test', 'metrics')
    ann_key = 'ann_dir' if data['fmt'] == 'sodaa' else 'ann_file'
    if not osp.isfile(prefix + '.metrics.json'):
        _run([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir', osp.join(work, 'test'), *extra,
              '--cfg-options', f'{data_root_key(cfg, "test_dataloader")}={data["test_split"]}/',
              f'test_evaluator.{ann_key}={data["test_ann"]}', f'test_evaluator.outfile_prefix={prefix}'],
             osp.join(work, 'test.log'), args.threads)
    with open(prefix + '.metrics.json', encoding='utf-8') as f:
        metrics = json.load(f)
    keys = METRIC_KEYS[data['fmt']]
    result = dict(model=model, seed=seed, iters=args.iters, warm_start=bool(load_from),
                  **{c: metrics.get(keys[c]) for c in COLUMNS},
                  **(training_log(work) if view is None else train_info), wall_s=round(t_train, 1))
    result['exemplars'] = final_exemplars(ckpt)
    with open(result_path, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
    return result


def training_log(work):
    """From MMEngine's scalars.json: median s/iter, the first iteration with exemplars and loss_fi per quarter."""
    rows = []
    for dirpath, _, files in os.walk(work):
        if 'scalars.json' in files and 'test' not in dirpath.split(os.sep):
            with open(osp.join(dirpath, 'scalars.json'), encoding='utf-8') as f:
                rows += [json.loads(line) for line in f if line.strip()]
    for r in rows:
        r.setdefault('iter', r.get('step'))
    rows = sorted((r for r in rows if r['iter'] is not None and 'loss' in r), key=lambda r: r['iter'])
    out = dict(s_per_iter=round(float(np.median([r['time'] for r in rows if 'time' in r])), 3) if rows else None)
    if rows and 'loss_fi' in rows[0]:
        last = rows[-1]['iter']
        first = next((r['iter'] for r in rows if r.get('fi_exemplars', 0) > 0), None)
        quarters = []
        for q in range(4):
            v = [r['loss_fi'] for r in rows if q * last / 4 < r['iter'] <= (q + 1) * last / 4]
            quarters.append(round(float(np.mean(v)), 4) if v else None)
        out.update(first_exemplar_iter=first, loss_fi_quarters=quarters,
                   unmeasured_gts=round(float(np.mean([r.get('fi_unmeasured_gts', 0) for r in rows])), 2),
                   fi_trace=[{k: r[k] for k in ('iter', ) + FI_TRACE_KEYS if k in r} for r in rows])
        with_ex = [r for r in rows if r.get('fi_exemplars', 0) > 0]
        out['iters_with_exemplars'] = round(len(with_ex) / len(rows), 3)
        if 'fi_anchors_with_pos' in rows[0]:
            anchors = sum(r.get('fi_anchors', 0) for r in rows)
            out['anchors_with_pos_share'] = round(sum(r['fi_anchors_with_pos'] for r in rows) / max(anchors, 1e-9), 3)
            out['iq_p90_mean'] = round(float(np.mean([r['fi_iq_p90'] for r in rows])), 3)
            out['iq_max_mean'] = round(float(np.mean([r['fi_iq_max'] for r in rows])), 3)
    return out


def final_exemplars(ckpt):
    """Exemplars in the set at the end of training (None for models without FI), per class too."""
    import torch

    from cfinet_rotated.utils import mmengine_checkpoint_globals
    with mmengine_checkpoint_globals():
        sd = torch.load(ckpt, map_location='cpu')['state_dict']
    count = sd.get('roi_head.exemplar_set.count')
    return None if count is None else dict(total=int(count.sum()), per_class=count.tolist())


# --------------------------------------------------------------------------------------------- summary
def _mean_std(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None
    return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0)


def summarize(args, results):
    lines = [f'\n{args.pipeline}: tiny configs, {args.iters} iterations of batch 1 each'
             + (f' from a shared {args.warmup_iters}-iteration {args.warmup_model} warm-up '
                f'({"/".join(args.warm_parts)})'
                if args.warmup_iters else '')
             + f', seeds {" ".join(map(str, args.seeds))}; test set {args.test_images} held-out images '
             f'(mean +- std over seeds, ddof 1)', '',
             '| model | seeds | ' + ' | '.join(COLUMNS) + ' | exemplars at the end | s/iter |',
             '|---|---|' + '---|' * len(COLUMNS) + '---|---|']
    stats = {}
    for m in args.models:
        rs = [r for r in results if r['model'] == m]
        if not rs:
            continue
        stats[m] = {c: _mean_std([r[c] for r in rs]) for c in COLUMNS}
        cells = [f'{mu:.3f} +- {sd:.3f}' if mu is not None else 'n/a' for mu, sd in stats[m].values()]
        ex = [r['exemplars']['total'] for r in rs if r.get('exemplars')]
        ex_cell = ' / '.join(map(str, ex)) if ex else '-'
        spi = _mean_std([r.get('s_per_iter') for r in rs])[0]
        lines.append(f'| {MODEL_NAMES[m]} | {len(rs)} | ' + ' | '.join(cells) + f' | {ex_cell} | '
                     + (f'{spi:.2f}' if spi is not None else 'n/a') + ' |')
    fi_rows = [r for r in results if 'loss_fi_quarters' in r]
    if fi_rows:
        lines += ['', 'FI diagnostics per run: first iteration with exemplars; mean loss_fi per quarter of training; '
                  'mean gts per logged step without a measured prediction; exemplars per class at the end']
        for r in sorted(fi_rows, key=lambda r: (args.models.index(r['model']), r['seed'])):
            q = ' / '.join('n/a' if v is None else f'{v:.4f}' for v in r['loss_fi_quarters'])
            per_class = r['exemplars']['per_class'] if r.get('exemplars') else None
            lines.append(f'  {MODEL_NAMES[r["model"]]:28s} seed {r["seed"]}: first {r["first_exemplar_iter"]}, '
                         f'loss_fi {q}, unmeasured {r["unmeasured_gts"]}, per class {per_class}')
    ref = 'crpn' if args.fi_protocol else 'baseline'
    paired = paired_differences(args, results, ref)
    if paired:
        lines += ['', f'Paired per seed (same seed, same start): model minus {MODEL_NAMES[ref]} (a lever or test '
                  'view: minus its own model, "vs"), mean +- std over seeds',
                  '', '| model | vs | seeds | ' + ' | '.join(f'd{c}' for c in COLUMNS) + ' |',
                  '|---|---|---|' + '---|' * len(COLUMNS)]
        for m, (r, n, cells) in paired.items():
            lines.append(f'| {MODEL_NAMES[m]} | {MODEL_NAMES[r]} | {n} | ' + ' | '.join(
                f'{mu:+.3f} +- {sd:.3f}' if mu is not None else 'n/a' for mu, sd in cells) + ' |')
    fi_stats = [r for r in results if 'anchors_with_pos_share' in r]
    if fi_stats:
        lines += ['', 'FI regime per model (mean over seeds): share of logged steps with a non-empty exemplar set; '
                  'share of anchors with at least one positive (only they enter Eq. (5)); mean per-step P90 and max of '
                  'the measured gts\' IQ']
        for m in args.models:
            rs = [r for r in fi_stats if r['model'] == m]
            if rs:
                lines.append(f'  {MODEL_NAMES[m]:36s} steps with exemplars '
                             f'{np.mean([r["iters_with_exemplars"] for r in rs]):.2f}, '
                             f'anchors with positives {np.mean([r["anchors_with_pos_share"] for r in rs]):.3f}, '
                             f'IQ P90 {np.mean([r["iq_p90_mean"] for r in rs]):.3f}, '
                             f'IQ max {np.mean([r["iq_max_mean"] for r in rs]):.3f}')
    print('\n'.join(lines))
    if args.fi_protocol and 'crpn' in stats and 'cfinet' in stats:
        a, c = stats['crpn'], stats['cfinet']
        print(f'fi_protocol: ap_es_crpn={a["AP_eS"][0]:.4f} ap_es_cfinet={c["AP_eS"][0]:.4f} '
              f'std_ap_es={max(a["AP_eS"][1] or 0.0, c["AP_eS"][1] or 0.0):.4f}')
    if args.recon_protocol and 'baseline' in stats and 'recon' in stats:
        b, r = stats['baseline'], stats['recon']
        print(f'recon_protocol: ap_es_baseline={b["AP_eS"][0]:.4f} ap_es_recon={r["AP_eS"][0]:.4f} '
              f'std_ap_es={max(b["AP_eS"][1] or 0.0, r["AP_eS"][1] or 0.0):.4f}')
    if 'baseline' in stats and 'cfinet' in stats:
        b, c = stats['baseline'], stats['cfinet']
        std = max(b['AP_eS'][1] or 0.0, c['AP_eS'][1] or 0.0)
        print(f'ap_es_baseline={b["AP_eS"][0]:.4f} ap_es_cfinet={c["AP_eS"][0]:.4f} '
              f'ar_es_baseline={b["AR_eS"][0]:.4f} ar_es_cfinet={c["AR_eS"][0]:.4f} std_ap_es={std:.4f}')


def lever_base(model):
    """The model a lever or test-view model modifies (``cfinet-focal`` -> ``cfinet``), else None."""
    base, _, lever = model.partition('-')
    return base if lever in LEVERS or lever in TEST_VIEWS else None


def paired_differences(args, results, ref):
    """Per model, (reference, seeds, [(mean, std) of model - reference per seed for each column]) over the seeds
    both ran; the reference is ``ref``, or for a lever / test view its own model when that ran."""
    by = {(r['model'], r['seed']): r for r in results}
    out = {}
    for m in args.models:
        r_m = lever_base(m) if lever_base(m) in {r['model'] for r in results} else ref
        seeds = [s for s in args.seeds if (m, s) in by and (r_m, s) in by]
        if m == r_m or not seeds:
            continue
        cells = []
        for c in COLUMNS:
            d = [by[(m, s)][c] - by[(r_m, s)][c] for s in seeds
                 if by[(m, s)][c] is not None and by[(r_m, s)][c] is not None]
            cells.append(_mean_std(d))
        out[m] = (r_m, len(seeds), cells)
    return out


def plot_fi(args, results, path):
    """Exemplar-set size, IQ distribution, loss_fi and anchors with positives over training (mean over seeds)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [('fi_exemplars', 'exemplars in E'),
              ('iq', 'IQ of measured gts: P90 (solid), max (dashed), T_hq (dotted)'),
              ('loss_fi', 'loss_fi'), ('share', 'share of anchors with >= 1 positive')]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    for ax, (key, title) in zip(axes.flat, panels):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    drawn = 0
    for i, m in enumerate(args.models):
        traces = [r['fi_trace'] for r in results if r['model'] == m and r.get('fi_trace')]
        if not traces:
            continue
        drawn += 1
        color = f'C{i}'
        n = min(len(t) for t in traces)
        its = [t['iter'] for t in traces[0][:n]]

        def mean(key, traces=traces, n=n):
            return np.mean([[row.get(key, np.nan) for row in t[:n]] for t in traces], axis=0)
        axes[0, 0].plot(its, mean('fi_exemplars'), color=color, label=MODEL_NAMES[m])
        axes[0, 1].plot(its, mean('fi_iq_p90'), color=color)
        axes[0, 1].plot(its, mean('fi_iq_max'), color=color, linestyle='--')
        axes[0, 1].plot(its, mean('fi_high_thr'), color=color, linestyle=':')
        axes[1, 0].plot(its, mean('loss_fi'), color=color)
        anchors = mean('fi_anchors')
        axes[1, 1].plot(its, mean('fi_anchors_with_pos') / np.maximum(anchors, 1e-9), color=color)
    if not drawn:
        print('--plot: no FI run with logged statistics; nothing drawn', file=sys.stderr)
        plt.close(fig)
        return
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f'Feature Imitation over training ({args.pipeline}, mean over seeds {" ".join(map(str, args.seeds))})')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f'FI plot: {path}')


def main(argv=None):
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    order = sorted(args.models, key=lambda m: (m not in SLOW_MODELS, args.models.index(m)))
    jobs = [(m, s) for m in order for s in args.seeds]
    if args.summary_only:
        results = []
        for m, s in jobs:
            path = osp.join(args.work_dir, m, f'seed{s}', 'result.json')
            if osp.isfile(path):
                with open(path, encoding='utf-8') as f:
                    results.append(json.load(f))
        summarize(args, results)
        if args.plot:
            plot_fi(args, results, args.plot)
        return 0
    t0 = time.time()
    data = prepare_data(args)
    summary = data_summary(data)
    for part, s in summary.items():
        print(f'{part}: {s["images"]} images, {s["classes"]} classes, objects eS {s["eS"]} rS {s["rS"]} '
              f'gS {s["gS"]} Normal {s["Normal"]} larger {s["larger"]}', flush=True)
    starts = run_warmup(args, data) if args.warmup_iters else {m: None for m in args.models}
    results, failures = [], []

    def job(ms):
        m, s = ms
        r = run_one(args, data, m, s, starts.get(m), starts)
        print(f'done {m} seed {s}: AP {r["AP"]} AP_eS {r["AP_eS"]} AR_eS {r["AR_eS"]} AR {r["AR"]} '
              f'exemplars {r["exemplars"]["total"] if r.get("exemplars") else "-"} '
              f'({(time.time() - t0) / 60:.1f} min since start)', flush=True)
        return r

    bar = ProgressBar(len(jobs))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(job, ms): ms for ms in jobs}
        for fut in as_completed(futures):
            ms = futures[fut]
            try:
                results.append(fut.result())
            except Exception as e:  # noqa: BLE001 -- report every failed run, keep the others
                failures.append(f'{ms[0]} seed {ms[1]}: {e}')
            bar.update()
    results.sort(key=lambda r: (order.index(r['model']), r['seed']))
    summarize(args, results)
    if args.plot:
        plot_fi(args, results, args.plot)
    if failures:
        print('\nFAILED runs (rerun the same command to retry them):\n' + '\n'.join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
