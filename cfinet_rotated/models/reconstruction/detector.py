"""The two-stage detector that alternates the discriminator's and the generator/detector's updates
(docs/reconstruction.md, "Training")."""
from typing import Dict, Union

import torch
from mmdet.models.detectors import FasterRCNN
from mmengine.optim import OptimWrapper, OptimWrapperDict

from ...registry import register_module


@register_module('MODELS')
class ReconstructionFasterRCNN(FasterRCNN):
    """Faster R-CNN (MMDetection's, as MMRotate's rotated configs and the SODA-D configs use it) whose RoI head is a
    :class:`ReconstructionRoIHead` / :class:`ReconstructionFIRoIHead`, with the min-max of the slides trained by
    alternating updates, as MMagic's GAN models do.

    With an :class:`~mmengine.optim.OptimWrapperDict` holding ``detector`` and ``discriminator`` (built by
    :class:`ReconstructionOptimWrapperConstructor`), one :meth:`train_step` is:

    1. one forward of the whole detector (backbone, RPN, RoI head with G and the LR/HR branch): all losses;
    2. **D step**: ``loss_disc`` (computed from detached z_HR and G(z_LR), so its gradient reaches D only) ->
       ``discriminator`` wrapper (``update_params``: backward, step, zero_grad);
    3. **G / detector step**: ``loss_adv`` recomputed on the same G(z_LR) through the *updated* D (with D's
       parameters detached) and summed with every other loss -> ``detector`` wrapper (all parameters but D's,
       G's included).

    So D's step cannot move G or the detector and the detector's step cannot move D. Without a D (``loss_adv=None``)
    step 2 is skipped. With a single optim wrapper (``optim_wrapper`` without the constructor: also the path of
    distributed runs, whose DDP wrapper calls its own train step) this is MMEngine's usual step: every loss summed,
    one backward, one optimizer step over all parameters, a simultaneous gradient step of the min-max.

    The logged ``loss_disc`` is D's loss before its step, ``loss_adv`` G's loss after it.
    """

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: Union[OptimWrapper, OptimWrapperDict]) -> Dict[str, torch.Tensor]:
        if not isinstance(optim_wrapper, OptimWrapperDict):
            return super().train_step(data, optim_wrapper)
        if set(optim_wrapper.keys()) - {'detector', 'discriminator'} or 'detector' not in optim_wrapper:
            raise KeyError(f'ReconstructionFasterRCNN.train_step: expects optim wrappers "detector" and '
                           f'"discriminator", got {list(optim_wrapper.keys())}')
        detector_ow = optim_wrapper['detector']
        head = self.roi_head
        head.keep_fake = True
        try:
            with detector_ow.optim_context(self):
                data = self.data_preprocessor(data, True)
                losses = self._run_forward(data, mode='loss')
        finally:
            head.keep_fake = False
        fake = head.pop_fake()
        log_disc = {}
        if 'loss_disc' in losses:
            if 'discriminator' not in optim_wrapper:
                raise KeyError('ReconstructionFasterRCNN.train_step: the RoI head has a discriminator but the optim '
                               'wrapper dict has no "discriminator"')
            loss_disc, log_disc = self.parse_losses({'loss_disc': losses.pop('loss_disc')})
            optim_wrapper['discriminator'].update_params(loss_disc)
            if fake is not None:
                losses['loss_adv'] = head.adversarial_loss(fake)
        loss, log_vars = self.parse_losses(losses)
        detector_ow.update_params(loss)
        log_vars.update({k: v for k, v in log_disc.items() if k != 'loss'})
        return log_vars
