"""Training-iteration and inference time of baseline, CRPN-only, FI-only and CFINet, as ratios to the baseline.

    python tools/analysis_tools/benchmark_speed.py [--pipeline rotated-faster-rcnn|oriented-rcnn|sodad] \
        [--iters 5] [--rounds 3]
    python tools/analysis_tools/benchmark_speed.py --pipeline sodad --iters 2 --rounds 1 --models cfinet  # quick

Builds the four tiny CPU configs of one pipeline (random initialisation; ``sodad``: the horizontal SODA-D tiny
configs in configs/sodad/, MMDetection's Faster R-CNN with ``HorizontalBoxes``), feeds all of them the same
synthetic batch (800x800 images with small objects, rotated boxes or, for ``sodad``, their horizontal hulls; no data
set needed) and times, in interleaved rounds so that load changes on a shared machine hit every model alike,
``test_step`` per image (first, at the common seeded initial weights) and ``train_step`` (forward, backward, SGD
update; after 2 warm-up iterations; the reconstruction models, ``--models recon crpn_recon cfinet_recon``, with
their discriminator's Adam step too). The FI exemplar sets are filled first (``--no-fill-exemplars`` to start empty)
so that training is timed in the steady state, not at the cold start.

Two settings keep the comparison about the architectures, not about the state of a random network:
training runs with lr 0 (``--keep-lr`` to change; the SGD step still runs), because a few updates of a
random detector change its number of proposals, and hence the cost of everything after the RPN, by an
order of magnitude; and all models test with ``score_thr`` 0.3 (``--score-thr``), because a random box
head scores every class about 1/10, so the configs' 0.05 keeps all proposals x 9 classes and rotated NMS
on them dominates. The medians over the rounds are printed, every cost included, with the part of it spent in
CRPN's stage-2 deformable convolution, whichever kernel it runs (``--deform-conv-impl``: ``auto``, the configs'
default, is our PyTorch formulation on CPU, ``cfinet_rotated/models/deform_conv.py``; ``mmcv`` is mmcv's CPU
kernel); at inference it is measured by module hooks, in training the calls of a timed iteration are replayed
alone, forward and backward. The last line is ``infer_ratio=<f> train_ratio=<f>`` (CFINet over baseline).
Targets (issue 9): inference <= 1.3x, training iteration <= 1.6x, every cost included; with ``recon`` among the
models a line ``recon_infer_ratio=<f> recon_train_ratio=<f>`` comes before it (issue 21: the same targets).

On a GPU (``--device cuda``, what tools/device_check.sh runs; issue 24) the models and the batch go to the GPU, every
timing waits for the GPU (``torch.cuda.synchronize``), ``--amp`` trains through MMEngine's ``AmpOptimWrapper``
(float16 autocast and loss scaling; the reconstruction models keep their two plain wrappers) and tests under
autocast, and the table adds each model's peak GPU memory in training (``torch.cuda.max_memory_allocated``).
"""
import argparse
import contextlib
import statistics
import time

import torch
from mmcv.ops import DeformConv2d
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmrotate.registry import MODELS
from mmrotate.structures.bbox import RotatedBoxes

import cfinet_rotated  # noqa: F401
from cfinet_rotated.utils import apply_amp

CONFIGS = {
    'rotated-faster-rcnn': dict(
        baseline='configs/baselines/rotated-faster-rcnn_tiny_sample.py',
        crpn='configs/crpn/rotated-faster-rcnn_crpn_tiny_sample.py',
        fi='configs/fi/rotated-faster-rcnn_fi_tiny_sample.py',
        cfinet='configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py'),
    'oriented-rcnn': dict(
        baseline='configs/baselines/oriented-rcnn_tiny_sample.py',
        crpn='configs/crpn/oriented-rcnn_crpn_tiny_sample.py',
        fi='configs/fi/oriented-rcnn_fi_tiny_sample.py',
        cfinet='configs/cfinet/oriented-rcnn_cfinet_tiny_sample.py'),
    'sodad': dict(
        baseline='configs/sodad/faster-rcnn_tiny_sample.py',
        crpn='configs/sodad/faster-rcnn_crpn_tiny_sample.py',
        fi='configs/sodad/faster-rcnn_fi_tiny_sample.py',
        cfinet='configs/sodad/faster-rcnn_cfinet_tiny_sample.py'),
}
# the generative-discriminative reconstruction (configs/reconstruction/, issue 21), G on eS/rS RoIs; D is trained
# (its own Adam step every iteration) and never runs at inference
for _pipeline, _prefix in (('rotated-faster-rcnn', 'rotated-faster-rcnn'), ('oriented-rcnn', 'oriented-rcnn'),
                           ('sodad', 'sodad/faster-rcnn')):
    CONFIGS[_pipeline].update(recon=f'configs/reconstruction/{_prefix}_recon_tiny_sample.py',
                              crpn_recon=f'configs/reconstruction/{_prefix}_crpn_recon_tiny_sample.py',
                              cfinet_recon=f'configs/reconstruction/{_prefix}_cfinet_recon_tiny_sample.py')
HORIZONTAL = ('sodad', )  # pipelines trained on horizontal boxes


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, the description as written."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_Formatter)
    p.add_argument('--pipeline', choices=sorted(CONFIGS), default='rotated-faster-rcnn',
                   help='which four tiny configs: Rotated Faster R-CNN, Oriented R-CNN (SODA-A) or Faster R-CNN '
                   '(SODA-D, horizontal)')
    p.add_argument('--iters', type=int, default=5, help='timed training iterations per round')
    p.add_argument('--rounds', type=int, default=3, help='interleaved measurement rounds (medians are printed)')
    p.add_argument('--batch-size', type=int, default=2, help='images per training batch (inference: one by one)')
    p.add_argument('--img-size', type=int, default=800, help='side of the square synthetic images, px')
    p.add_argument('--objects', type=int, default=40, help='objects per image')
    p.add_argument('--score-thr', type=float, default=0.3,
                   help='test score threshold for all models (see the description)')
    p.add_argument('--keep-lr', action='store_true', help='train with the config lr instead of lr 0')
    p.add_argument('--no-fill-exemplars', action='store_true', help='time FI with empty exemplar sets')
    p.add_argument('--models', nargs='+', choices=list(CONFIGS['rotated-faster-rcnn']),
                   default=['baseline', 'crpn', 'fi', 'cfinet'],
                   help='models to time (baseline is always in); recon, crpn_recon, cfinet_recon: the reconstruction '
                        'models of configs/reconstruction/')
    p.add_argument('--deform-conv-impl', choices=['auto', 'mmcv'], default='auto',
                   help='kernel of CRPN\'s deformable convolution: auto = ours on CPU, mmcv = mmcv\'s CPU kernel')
    p.add_argument('--threads', type=int, default=None, help='torch threads; None: torch\'s default (OMP_NUM_THREADS)')
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu', help='where the models run')
    p.add_argument('--amp', action='store_true', help='mixed precision (float16; needs --device cuda)')
    args = p.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: torch sees no GPU')
    if args.amp and args.device != 'cuda':
        p.error('--amp needs --device cuda (CPU autocast is bfloat16, which mmcv\'s CPU ops do not take)')
    return args


def sync():
    """Wait for the GPU's queued kernels (nothing on CPU), so that a timer reads the work done."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def synthetic_batch(num_imgs, size, num_objs, seed=0, horizontal=False):
    """Images (uint8) with bright rectangles and their RotatedBoxes (``horizontal``: the HorizontalBoxes of their
    hulls), 9 classes."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(num_imgs):
        img = torch.randint(0, 60, (3, size, size), generator=g, dtype=torch.uint8)
        cxcy = torch.rand(num_objs, 2, generator=g) * (size - 80) + 40
        wh = torch.rand(num_objs, 2, generator=g) * 28 + 6
        ang = (torch.rand(num_objs, 1, generator=g) - 0.5) * 3.1
        boxes = torch.cat([cxcy, wh, ang], 1)
        for (cx, cy, w, h, _) in boxes.tolist():  # paint the (hull of the) object so it is learnable
            img[:, int(cy - h / 2):int(cy + h / 2), int(cx - w / 2):int(cx + w / 2)] = 200
        labels = torch.randint(0, 9, (num_objs, ), generator=g)
        ds = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.),
                                         img_id='synthetic', ori_id='synthetic', x_start=0, y_start=0))
        gt = RotatedBoxes(boxes)
        if horizontal:
            corners = gt.convert_to('qbox').tensor.view(-1, 4, 2)
            gt = HorizontalBoxes(torch.cat([corners.amin(1), corners.amax(1)], 1))
        ds.gt_instances = InstanceData(bboxes=gt, labels=labels)
        inputs.append(img)
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def build(cfg_path, args):
    cfg = Config.fromfile(cfg_path)
    if not args.keep_lr:  # every timed iteration sees the same (initial) weights, hence the same work
        cfg.optim_wrapper.optimizer.lr = 0.0
        if 'discriminator' in cfg.optim_wrapper:  # the reconstruction's D (ReconstructionOptimWrapperConstructor)
            cfg.optim_wrapper.discriminator.optimizer.lr = 0.0
    if args.amp:
        apply_amp(cfg)
    cfg.model.test_cfg.rcnn.score_thr = args.score_thr
    if 'stages' in cfg.model.rpn_head:  # CoarseToFineRPNHead
        cfg.model.rpn_head.deform_conv_impl = args.deform_conv_impl
    init_default_scope(cfg.get('default_scope', 'mmrotate'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(args.device)  # the data preprocessor moves each batch to the model's device
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    ex = getattr(model.roi_head, 'exemplar_set', None)
    if ex is not None and not args.no_fill_exemplars:
        ex.feats.normal_()
        ex.count.fill_(ex.capacity)
    return model, optim


@contextlib.contextmanager
def deform_conv_calls(model):
    """Records every deformable-convolution call in ``model`` (mmcv's ``DeformConv2d`` and subclasses, ours
    included): yields a list of (module, input, offset) and (in ``seconds``) the forward time spent in them."""
    calls, start, seconds, handles = [], {}, [0.0], []

    def pre(m, args):
        sync()
        start[id(m)] = time.perf_counter()

    def post(m, args, out):
        sync()
        seconds[0] += time.perf_counter() - start.pop(id(m))
        calls.append((m, args[0].detach().clone(), args[1].detach().clone()))

    for m in model.modules():
        if isinstance(m, DeformConv2d):
            handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        yield calls, seconds
    finally:
        for h in handles:
            h.remove()


def replay_train_time(calls):
    """Forward + backward time of recorded deformable-convolution calls, replayed alone with gradients for the
    input and the weights (the offsets come from detached stage-1 boxes, as in training)."""
    sync()
    t0 = time.perf_counter()
    for m, x, offset in calls:
        x = x.requires_grad_(True)
        m(x, offset).sum().backward()
    sync()
    t = time.perf_counter() - t0
    for m, _, _ in calls:  # the replay's weight gradients must not reach the next training step
        m.zero_grad(set_to_none=True)
    return t


def time_train(model, optim, batch, iters):
    """(seconds per iteration, of which in DeformConv2d: its calls of the last iteration replayed alone)"""
    model.train()
    sync()
    t0 = time.perf_counter()
    for _ in range(iters - 1):
        model.train_step(batch, optim)
    with deform_conv_calls(model) as (calls, _):
        model.train_step(batch, optim)
    sync()
    t = (time.perf_counter() - t0) / iters
    return t, replay_train_time(calls)


@torch.no_grad()
def time_infer(model, batch, amp=False):
    """(seconds per image, of which in DeformConv2d); ``amp``: under float16 autocast (GPU)"""
    model.eval()
    with deform_conv_calls(model) as (_, dcn), torch.autocast('cuda', enabled=amp):
        sync()
        t0 = time.perf_counter()
        for img, ds in zip(batch['inputs'], batch['data_samples']):
            model.test_step(dict(inputs=[img], data_samples=[ds.clone()]))
        sync()
        t = time.perf_counter() - t0
    return t / len(batch['inputs']), dcn[0] / len(batch['inputs'])


def main(argv=None):
    args = parse_args(argv)
    MMLogger.get_instance('benchmark_speed', log_level='WARNING')  # no per-parameter init_weights log
    if args.threads:
        torch.set_num_threads(args.threads)
    batch = synthetic_batch(args.batch_size, args.img_size, args.objects,
                            horizontal=args.pipeline in HORIZONTAL)
    names = ['baseline'] + [m for m in args.models if m != 'baseline']
    models = {}
    for name in names:  # same seed: the parts the models share start from the same weights
        torch.manual_seed(0)
        models[name] = build(CONFIGS[args.pipeline][name], args)
    train = {name: [] for name in models}
    infer = {name: [] for name in models}
    # inference first, at the common initial weights (the number of detections, hence NMS time, depends
    # on the weights); then training, after two warm-up iterations per model
    for name, (model, _) in models.items():
        time_infer(model, batch, args.amp)
    for r in range(args.rounds):
        for name, (model, _) in models.items():
            infer[name].append(time_infer(model, batch, args.amp))
    peak = {}  # peak GPU memory of each model's training iterations, MiB
    for name, (model, optim) in models.items():
        if args.device == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        time_train(model, optim, batch, 2)
        if args.device == 'cuda':
            peak[name] = torch.cuda.max_memory_allocated() / 2 ** 20
    for r in range(args.rounds):
        for name, (model, optim) in models.items():
            train[name].append(time_train(model, optim, batch, args.iters))
        print(f'round {r + 1}/{args.rounds} done', flush=True)
    def med(runs):  # (median time, median DeformConv2d time)
        return tuple(statistics.median(x) for x in zip(*runs))

    train, infer = {k: med(v) for k, v in train.items()}, {k: med(v) for k, v in infer.items()}
    base_t, base_i = train['baseline'][0], infer['baseline'][0]
    where = (f'GPU ({torch.cuda.get_device_name()}{", AMP" if args.amp else ""})' if args.device == 'cuda' else
             f'CPU ({torch.get_num_threads()} threads)')
    print(f'\n{args.pipeline}, tiny configs, {where}, batch {args.batch_size} x '
          f'{args.img_size}px, {args.objects} objects/image, medians of {args.rounds} rounds, every cost included; '
          f'"dcn": the part spent in CRPN\'s deformable convolution (kernel: {args.deform_conv_impl})')
    print(f'{"model":12s} {"train s/iter":>13s} {"dcn":>6s} {"ratio":>6s} {"infer s/img":>12s} {"dcn":>6s} '
          f'{"ratio":>6s}' + (f' {"peak MiB":>9s}' if peak else ''))
    for name in models:
        (t, td), (i, idc) = train[name], infer[name]
        print(f'{name:12s} {t:13.3f} {td:6.3f} {t / base_t:6.2f} {i:12.3f} {idc:6.3f} {i / base_i:6.2f}'
              + (f' {peak[name]:9.0f}' if peak else ''))
    if 'recon' in models:  # issue 21's targets: inference <= 1.3x, training iteration <= 1.6x
        print(f'recon_infer_ratio={infer["recon"][0] / base_i:.3f} recon_train_ratio={train["recon"][0] / base_t:.3f}')
    last = 'cfinet' if 'cfinet' in models else names[-1]
    print(f'infer_ratio={infer[last][0] / base_i:.3f} '
          f'train_ratio={train[last][0] / base_t:.3f}' + ('' if last == 'cfinet' else f' ({last})'))


if __name__ == '__main__':
    main()
