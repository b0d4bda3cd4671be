"""The generator G of the generative-discriminative detector: ``z_SR = G(z_LR)``, a residual super-resolution
network on RoI features (docs/reconstruction.md, "Generator")."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...registry import register_module


class ResidualBlock(nn.Module):
    """``x + conv3x3(relu(conv3x3(x)))``: the EDSR residual block (no normalisation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


@register_module('MODELS')
class SRGenerator(BaseModule):
    """``G_thetaG``: RoI features ``z`` (N, C, S, S) -> super-resolved features ``z_SR`` (N, C, S, S).

    A small residual super-resolution network (SRGAN / EDSR layout) at ``mid_channels`` width:

    1. ``head``: 1x1 conv C -> mid;
    2. ``blocks``: ``num_blocks`` residual blocks at S x S;
    3. sub-pixel upsampling: 3x3 conv mid -> mid * r^2, ``PixelShuffle(r)``, ReLU: (mid, rS, rS);
    4. ``hr_convs``: ``num_hr_convs`` 3x3 convs (+ ReLU) at rS x rS (the detail is produced on the fine grid; 0 for
       the tiny configs, where the fine-grid conv is half of G's inference cost);
    5. back to the S x S grid the box head's fc layers expect: ``down='avg'`` (default) averages each r x r cell,
       which is what RoIAlign does with r x r samples per bin (parameter-free, so every weight of G works on the
       fine grid); ``down='conv'``: an r x r convolution of stride r instead (learned);
    6. ``tail``: 1x1 conv mid -> C, **zero-initialised**, and a global skip: ``z_SR = z + tail(...)``.

    With the zero tail G starts as the identity, so the detector starts as its baseline and the min-max only moves
    G as far as its losses ask (stable on CPU with the tiny configs). ``r = upscale`` is the LR/HR factor of
    :class:`DownsampledRoIFeatures` by default (the head passes it).

    Args:
        in_channels: C, the RoI feature channels.
        mid_channels: width of G (cost: G runs on every small RoI at inference).
        num_blocks: residual blocks before the upsampling.
        num_hr_convs: 3x3 convs on the fine grid (step 4).
        upscale: r (2 or 4).
        down: ``'avg'`` or ``'conv'`` (step 5).
    """

    def __init__(self, in_channels: int = 256, mid_channels: int = 64, num_blocks: int = 2, upscale: int = 2,
                 down: str = 'avg', num_hr_convs: int = 1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if upscale < 2:
            raise ValueError(f'SRGenerator: upscale must be >= 2, got {upscale}')
        if down not in ('avg', 'conv'):
            raise ValueError(f"SRGenerator: down must be 'avg' or 'conv', got {down!r}")
        if num_hr_convs < 0:
            raise ValueError(f'SRGenerator: num_hr_convs must be >= 0, got {num_hr_convs}')
        self.in_channels = in_channels
        self.upscale = upscale
        self.head = nn.Conv2d(in_channels, mid_channels, 1)
        self.blocks = nn.Sequential(*[ResidualBlock(mid_channels) for _ in range(num_blocks)])
        self.upsample = nn.Sequential(nn.Conv2d(mid_channels, mid_channels * upscale ** 2, 3, padding=1),
                                      nn.PixelShuffle(upscale), nn.ReLU(inplace=False))
        self.hr_convs = nn.Sequential(*[m for _ in range(num_hr_convs)
                                        for m in (nn.Conv2d(mid_channels, mid_channels, 3, padding=1), nn.ReLU())])
        self.down = nn.AvgPool2d(upscale) if down == 'avg' else nn.Conv2d(mid_channels, mid_channels, upscale,
                                                                          stride=upscale)
        self.tail = nn.Conv2d(mid_channels, in_channels, 1)
        self.zero_tail()

    def zero_tail(self) -> None:
        """G = identity (the tail's weights and bias 0)."""
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def init_weights(self) -> None:
        super().init_weights()
        self.zero_tail()  # an init_cfg may re-initialise the convs; G still starts as the identity

    def super_resolve(self, z: Tensor) -> Tensor:
        """Steps 1-4: the (N, mid, rS, rS) map on the fine grid."""
        return self.hr_convs(self.upsample(self.blocks(self.head(z))))

    def _fine_grid_tail(self, x: Tensor) -> Tensor:
        """Steps 3, 5 and 6 without the fine grid when nothing runs on it (no hr_convs, ``down='avg'``): the r x r
        average of ``ReLU(PixelShuffle(y))`` is the mean of ``ReLU(y)`` over each group of r^2 consecutive
        channels (PixelShuffle puts channel ``c * r^2 + i * r + j`` at offset (i, j) of output channel c), and the
        1x1 tail after that mean is one 1x1 conv on ``ReLU(y)`` with the tail's weights repeated r^2 times over the
        input channels and divided by r^2. The same values without the pixel shuffle, the pooling and their copies
        (tests pin it to the fine-grid path)."""
        r2 = self.upscale ** 2
        y = F.relu(self.upsample[0](x), inplace=True)
        weight = self.tail.weight.repeat_interleave(r2, dim=1) / r2
        return F.conv2d(y, weight, self.tail.bias)

    def forward(self, z: Tensor) -> Tensor:
        """(N, C, S, S) -> (N, C, S, S), for any S (the r x r cells of the rS x rS map tile it exactly)."""
        if z.shape[0] == 0:
            return z
        # channels-last: CPU convolutions at G's few channels run about 2x faster on (N, S, S, C) memory
        # (tools/analysis_tools/benchmark_speed.py --models recon); the values are the same
        x = z.contiguous(memory_format=torch.channels_last)
        if len(self.hr_convs) == 0 and isinstance(self.down, nn.AvgPool2d):
            out = self._fine_grid_tail(self.blocks(self.head(x)))
        else:
            out = self.tail(self.down(self.super_resolve(x)))
        return (x + out).contiguous()
