"""Feat2Embed, Eq. (4) of CFINet: RoI feature -> L2-normalised embedding."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class Feat2Embed(BaseModule):
    """Feature-to-Embedding module, ``v_i = Theta_FI(x_i)``, Eq. (4).

    Three 3x3 convolutions without padding (7x7 -> 5x5 -> 3x3 -> 1x1; in general ``(roi_size-1)/2`` of
    them) with GroupNorm and no activation, as the official ``comp_convs``; then a two-layer perceptron
    (hidden ``hidden_channels`` = 512, ReLU) and the embedding layer (``embed_channels`` = 128), whose
    output is L2-normalised. The three linear layers live in ``self.mlp`` so that an optimizer
    ``custom_keys={'roi_head.feat2embed.mlp': dict(lr_mult=0.05)}`` reproduces the official fc lr.

    ``reweight`` is the official channel attention ``f * (1 + softmax_c(convs(f)))``, used by
    ``FIRoIHead(feature_reweight=True)`` only.

    ``shape_bucket``: both methods zero-pad the number of RoIs ``N`` up to a multiple of it and drop the padded
    rows from the result (per-sample GroupNorm and convolutions: the real rows, and the gradients, are those of
    the unpadded batch). ``N`` changes every step (ground truths, background RoIs and exemplars of the batch),
    and on CPU PyTorch's oneDNN convolutions keep a primitive per new input shape in two caches (oneDNN's and
    ideep's, 1,024 entries each), which made a long CPU run's resident memory grow for thousands of iterations
    (tools/analysis_tools/soak.py). With buckets the convolutions see at most ``N_max / shape_bucket`` shapes. The cost
    is at
    most ``shape_bucket - 1`` extra rows through the three small convolutions (the MLP sees the real rows only;
    fp32 linear layers use BLAS, which keeps no per-shape cache). ``None`` = 32, or 1 (no
    padding) when ``norm_cfg`` is a batch-statistics norm (BN/SyncBN), whose statistics padding would change.
    """

    def __init__(self,
                 in_channels: int = 256,
                 roi_size: int = 7,
                 hidden_channels: int = 512,
                 embed_channels: int = 128,
                 norm_cfg: dict = dict(type='GN', num_groups=32, requires_grad=True),
                 init_std: float = 0.01,
                 shape_bucket: Optional[int] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if roi_size < 3 or roi_size % 2 == 0:
            raise ValueError(f'Feat2Embed: roi_size must be odd and >= 3 (valid 3x3 convs down to 1x1), '
                             f'got {roi_size}')
        groups = norm_cfg.get('num_groups', 1) if norm_cfg and norm_cfg.get('type') == 'GN' else 1
        if in_channels % groups or in_channels // groups < 2:
            # the last conv outputs 1x1 maps: with one channel per group GroupNorm turns every value into 0
            raise ValueError(f'Feat2Embed: GroupNorm with {groups} groups needs in_channels divisible by it with '
                             f'>= 2 channels per group (the 1x1 output would be all zeros), got in_channels='
                             f'{in_channels}; lower norm_cfg.num_groups')
        batch_stats = bool(norm_cfg) and 'BN' in norm_cfg.get('type', '')
        if shape_bucket is None:
            shape_bucket = 1 if batch_stats else 32
        if not isinstance(shape_bucket, int) or shape_bucket < 1:
            raise ValueError(f'Feat2Embed: shape_bucket must be a positive int (1 = no padding), got {shape_bucket!r}')
        if batch_stats and shape_bucket > 1:
            raise ValueError(f'Feat2Embed: shape_bucket={shape_bucket} pads the RoI batch with zero rows, which would '
                             f'change the batch statistics of norm_cfg type {norm_cfg["type"]!r}; use shape_bucket=1')
        self.in_channels = in_channels
        self.roi_size = roi_size
        self.shape_bucket = shape_bucket
        self.convs = nn.Sequential(*[
            ConvModule(in_channels, in_channels, 3, padding=0, bias=False, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range((roi_size - 1) // 2)
        ])
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ReLU(inplace=False),
            nn.Linear(hidden_channels, hidden_channels), nn.ReLU(inplace=False),
            nn.Linear(hidden_channels, embed_channels))
        for m in self.mlp:
            if isinstance(m, nn.Linear):  # official init_cfg: Normal(std 0.01) on fc_enc / fc_proj, bias 0
                nn.init.normal_(m.weight, 0, init_std)
                nn.init.zeros_(m.bias)

    def _bucketed(self, x: Tensor) -> Tensor:
        """``x`` with zero rows appended up to a multiple of ``shape_bucket`` rows."""
        pad = -x.shape[0] % self.shape_bucket
        return torch.cat([x, x.new_zeros((pad, *x.shape[1:]))]) if pad else x

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, S, S) RoI features -> (N, embed_channels) unit vectors."""
        n = x.shape[0]
        if n == 0:
            return x.new_zeros((0, self.mlp[-1].out_features))
        return F.normalize(self.mlp(self.convs(self._bucketed(x))[:n].flatten(1)), dim=1)

    def reweight(self, x: Tensor) -> Tensor:
        """Official channel attention ``x * (1 + softmax over channels of convs(x))``."""
        if x.shape[0] == 0:
            return x
        return x * (1 + torch.softmax(self.convs(self._bucketed(x))[:x.shape[0]], dim=1))
