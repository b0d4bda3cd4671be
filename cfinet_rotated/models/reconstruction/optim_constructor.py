"""Optimizer wrappers of the alternating min-max: one for the detector (G included), one for the discriminator."""
import copy

from mmengine import dist
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict

from ...registry import register_module


@register_module('OPTIM_WRAPPER_CONSTRUCTORS')
class ReconstructionOptimWrapperConstructor:
    """``optim_wrapper = dict(constructor='ReconstructionOptimWrapperConstructor', <detector's wrapper>,
    discriminator=dict(<D's wrapper>))`` -> ``OptimWrapperDict(detector=..., discriminator=...)``.

    The top level is the detector's optim wrapper as in every other config of this project (``type``, ``optimizer``,
    ``clip_grad``, ``paramwise_cfg``; ``tools/train.py --amp`` and ``auto_scale_lr`` act on it as usual); it gets all
    parameters of the model except those of ``roi_head.discriminator``. ``discriminator`` is a complete optim
    wrapper config (its own ``paramwise_cfg`` allowed) for D's parameters. :class:`ReconstructionFasterRCNN`
    alternates the two (its ``train_step``). A RoI head without D (``loss_adv=None``) gets the detector's wrapper only.

    Distributed runs are refused with a message: MMEngine's DDP wrapper runs its own single-optimizer train step.
    Drop ``constructor`` and ``discriminator`` there (simultaneous updates, docs/reconstruction.md).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None) -> None:
        cfg = copy.deepcopy(dict(optim_wrapper_cfg))
        if 'discriminator' not in cfg:
            raise KeyError('ReconstructionOptimWrapperConstructor: optim_wrapper needs a "discriminator" wrapper '
                           'config')
        self.discriminator_cfg = dict(cfg.pop('discriminator'))
        self.discriminator_paramwise = self.discriminator_cfg.pop('paramwise_cfg', None)
        self.detector_cfg = cfg
        self.detector_paramwise = paramwise_cfg

    def __call__(self, model) -> OptimWrapperDict:
        if dist.get_world_size() > 1:
            raise RuntimeError('ReconstructionOptimWrapperConstructor: the alternating D / G updates run in one '
                               'process; for distributed training remove "constructor" and "discriminator" from '
                               'optim_wrapper (one optimizer, simultaneous updates; docs/reconstruction.md)')
        module = model.module if is_model_wrapper(model) else model
        disc = getattr(module.roi_head, 'discriminator', None)
        detector = DefaultOptimWrapperConstructor(copy.deepcopy(self.detector_cfg), self.detector_paramwise)(module)
        if disc is None:
            return OptimWrapperDict(detector=detector)
        ids = {id(p) for p in disc.parameters()}
        groups = []
        for group in detector.optimizer.param_groups:  # no step taken yet: no optimizer state to keep consistent
            group['params'] = [p for p in group['params'] if id(p) not in ids]
            if group['params']:
                groups.append(group)
        detector.optimizer.param_groups = groups
        discriminator = DefaultOptimWrapperConstructor(copy.deepcopy(self.discriminator_cfg),
                                                       self.discriminator_paramwise)(disc)
        return OptimWrapperDict(detector=detector, discriminator=discriminator)
