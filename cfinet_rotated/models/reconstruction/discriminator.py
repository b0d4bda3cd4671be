"""The adversarial branch D of the generative-discriminative detector (docs/reconstruction.md, "Discriminator")."""
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class FeatureDiscriminator(BaseModule):
    """``D_thetaD``: RoI features (N, C, S, S) -> one real/fake logit per RoI; ``D(z) = sigmoid(logit)`` is the
    probability that ``z`` is a real high-resolution RoI feature ``z_HR`` and not a generated ``G(z_LR)``.

    ``num_convs`` 3x3 convolutions (the first at stride 1, the others at stride 2) with LeakyReLU(0.2) and no
    normalisation (D sees real and generated batches separately, where batch statistics would tell them apart),
    global average pooling and a linear layer, as SRGAN's discriminator at RoI-feature scale.

    Only the adversarial branch lives here. The slides' other branches of D, ``D_cls`` and the regression that
    computes ``t_SR``, are the detector's own box head applied to ``z_SR`` (the head that predicts on ``z_SR`` at
    inference), see :class:`ReconstructionRoIHead`. D never runs at inference.
    """

    def __init__(self, in_channels: int = 256, mid_channels: int = 64, num_convs: int = 2,
                 negative_slope: float = 0.2, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError(f'FeatureDiscriminator: num_convs must be >= 1, got {num_convs}')
        layers, channels = [], in_channels
        for i in range(num_convs):
            layers += [nn.Conv2d(channels, mid_channels, 3, stride=1 if i == 0 else 2, padding=1),
                       nn.LeakyReLU(negative_slope, inplace=False)]
            channels = mid_channels
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(mid_channels, 1)

    def forward(self, z: Tensor) -> Tensor:
        """(N, C, S, S) -> (N,) logits."""
        return self.fc(self.convs(z).mean(dim=(2, 3))).squeeze(1)
