"""ReconstructionFasterRCNN and its optim wrappers on the tiny configs: alternating D / G-detector updates (each
step moves only its own side), the single-optimizer fallback, the parameter split, and a checkpoint round trip."""
import copy
import io

import pytest
import torch
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import Config
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmrotate.registry import MODELS

import cfinet_rotated  # noqa: F401

from conftest import load_tool

TINY = 'configs/reconstruction/rotated-faster-rcnn_recon_tiny_sample.py'


def build(path=TINY, seed=0, **roi_head):
    torch.manual_seed(seed)
    cfg = Config.fromfile(path)
    cfg.model.roi_head.update(roi_head)
    # 200 proposals at test time (not 2000): a random detector's rotated NMS over thousands of boxes is slow on CPU
    cfg.model.test_cfg.rpn.max_per_img = 200
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def batch(horizontal=False):
    # 256 px synthetic images, 8 objects of 6..34 px: small RoIs for G and large ones for the LR/HR pairs
    return load_tool('tools/analysis_tools/benchmark_speed.py').synthetic_batch(1, 256, 8, horizontal=horizontal)


def snapshot(module):
    """The parameters (not the buffers: the forward pass updates BatchNorm's running statistics)."""
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def moved(before, module):
    now = dict(module.named_parameters())
    return {k for k, v in before.items() if not torch.equal(v, now[k])}


def test_optim_wrapper_dict_splits_the_parameters():
    cfg, model = build('configs/reconstruction/rotated-faster-rcnn_cfinet_recon_tiny_sample.py')
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(optim, OptimWrapperDict) and set(optim.keys()) == {'detector', 'discriminator'}
    ids = lambda ow: {id(p) for g in ow.optimizer.param_groups for p in g['params']}  # noqa: E731
    d_ids = {id(p) for p in model.roi_head.discriminator.parameters()}
    assert ids(optim['discriminator']) == d_ids
    assert ids(optim['detector']) == {id(p) for p in model.parameters()} - d_ids  # G included
    assert type(optim['discriminator'].optimizer).__name__ == 'Adam'
    # the detector's wrapper is the config's usual one: SGD, gradient clipping, FI's lr x 0.05 on Feat2Embed's MLP
    det = optim['detector']
    assert type(det.optimizer).__name__ == 'SGD' and det.clip_grad_kwargs['max_norm'] == 35
    mlp = [g for g in det.optimizer.param_groups if any(p is model.roi_head.feat2embed.mlp[0].weight
                                                        for p in g['params'])]
    assert mlp[0]['lr'] == pytest.approx(cfg.optim_wrapper.optimizer.lr * 0.05)
    # without D (w/o adversarial loss) only the detector's wrapper
    cfg, model = build('configs/reconstruction/rotated-faster-rcnn_recon_no-adv_tiny_sample.py')
    assert set(build_optim_wrapper(model, cfg.optim_wrapper).keys()) == {'detector'}


def test_alternating_steps_move_only_their_own_side():
    cfg, model = build()
    model.roi_head.generator.tail.weight.data.normal_(std=0.05)  # G's inner layers get gradients too
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    gen, disc = model.roi_head.generator, model.roi_head.discriminator
    start = {'gen': snapshot(gen), 'disc': snapshot(disc), 'backbone': snapshot(model.backbone)}
    after_d = {}
    d_update = optim['discriminator'].update_params

    def record(loss, **kwargs):
        d_update(loss, **kwargs)
        after_d.update(gen=snapshot(gen), disc=snapshot(disc), backbone=snapshot(model.backbone))
    optim['discriminator'].update_params = record
    model.train()
    log = model.train_step(batch(), optim)
    # D's step: D moved, G and the detector did not
    assert moved(start['disc'], disc) and after_d
    assert all(torch.equal(start['gen'][k], v) for k, v in after_d['gen'].items())
    assert all(torch.equal(start['backbone'][k], v) for k, v in after_d['backbone'].items())
    # the G / detector step: G and the detector moved, D did not
    assert not moved(after_d['disc'], disc)
    assert moved(after_d['gen'], gen) and moved(after_d['backbone'], model.backbone)
    assert {'loss_disc', 'loss_adv', 'loss_mse', 'loss_cls', 'recon_pairs'} <= set(log)
    assert all(torch.isfinite(v) for v in log.values())
    assert model.roi_head.pop_fake() is None and model.roi_head.keep_fake is False  # nothing kept between steps


def test_g_frozen_control_keeps_g_the_identity_and_trains_the_rest():
    """The control config (G's lr and weight decay 0): after a training step G is still exactly its zero-tail
    initialisation (the identity) while D and the detector moved; the L_TV control only changes that weight."""
    cfg, model = build('configs/reconstruction/rotated-faster-rcnn_recon_g-frozen_tiny_sample.py')
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    gen, disc = model.roi_head.generator, model.roi_head.discriminator
    start = {'gen': snapshot(gen), 'disc': snapshot(disc), 'backbone': snapshot(model.backbone)}
    model.train()
    for _ in range(2):  # the second step has SGD momentum
        log = model.train_step(batch(), optim)
    assert not moved(start['gen'], gen) and moved(start['disc'], disc) and moved(start['backbone'], model.backbone)
    assert {'loss_disc', 'loss_adv', 'loss_mse', 'loss_tv'} <= set(log)
    z = torch.randn(3, gen.in_channels, 7, 7)
    assert torch.equal(gen(z), z)
    tv = Config.fromfile('configs/reconstruction/rotated-faster-rcnn_recon_tv-1e-2_tiny_sample.py').model.roi_head
    assert tv.loss_tv.loss_weight == 1e-2 and tv.loss_mse == Config.fromfile(TINY).model.roi_head.loss_mse


def test_single_optimizer_is_a_simultaneous_step():
    """optim_wrapper without the constructor (the distributed path): MMEngine's own train step, one optimizer;
    both sides move, each by its own losses (test_reconstruction_head.py checks the gradients)."""
    cfg, model = build()
    ow_cfg = copy.deepcopy(cfg.optim_wrapper)
    ow_cfg.pop('constructor')
    ow_cfg.pop('discriminator')
    optim = build_optim_wrapper(model, ow_cfg)
    assert not isinstance(optim, OptimWrapperDict)
    gen, disc = snapshot(model.roi_head.generator), snapshot(model.roi_head.discriminator)
    model.train()
    log = model.train_step(batch(), optim)
    assert 'loss_disc' in log and torch.isfinite(log['loss'])
    assert moved(gen, model.roi_head.generator) and moved(disc, model.roi_head.discriminator)


def test_distributed_runs_are_refused_with_a_message(monkeypatch):
    from cfinet_rotated.models.reconstruction import optim_constructor
    cfg, model = build()
    monkeypatch.setattr(optim_constructor.dist, 'get_world_size', lambda: 2)
    with pytest.raises(RuntimeError, match='remove "constructor" and "discriminator"'):
        build_optim_wrapper(model, cfg.optim_wrapper)


@pytest.mark.parametrize('path', [TINY, 'configs/reconstruction/sodad/faster-rcnn_recon_tiny_sample.py',
                                  'configs/reconstruction/oriented-rcnn_cfinet_recon_tiny_sample.py'])
def test_checkpoint_round_trip_gives_identical_outputs(path):
    cfg, model = build(path, seed=0)
    for p in list(model.roi_head.generator.parameters()) + list(model.roi_head.discriminator.parameters()):
        p.data.normal_(std=0.05)  # trained-looking G and D (G no longer the identity)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    keys = set(model.state_dict())
    assert any(k.startswith('roi_head.generator.') for k in keys)
    assert any(k.startswith('roi_head.discriminator.') for k in keys)
    _, other = build(path, seed=1)
    buf.seek(0)
    result = other.load_state_dict(torch.load(buf), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    data = batch(horizontal='sodad' in path)
    one = dict(inputs=data['inputs'][:1], data_samples=[data['data_samples'][0]])
    model.eval(), other.eval()
    with torch.no_grad():
        a = model.test_step(copy.deepcopy(one))[0].pred_instances
        b = other.test_step(copy.deepcopy(one))[0].pred_instances
        z = torch.randn(4, 32, 7, 7)
        assert torch.equal(model.roi_head.discriminator(z), other.roi_head.discriminator(z))
        assert torch.equal(model.roi_head.generator(z), other.roi_head.generator(z))
    assert len(a) > 0 and torch.equal(a.scores, b.scores)
    assert torch.equal(get_box_tensor(a.bboxes), get_box_tensor(b.bboxes))
