"""The transformation Γ of CFINet (Alg. 1 line 7): jittered copies of a high-quality instance."""
from typing import Sequence

import torch
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class InstanceTransform(nn.Module):
    """Γ: boxes whose RoI features are the positives of a high-quality instance (Alg. 1 line 7).

    For a rotated box (cx, cy, w, h, a), with the box's own axes ``u = (cos a, sin a)`` (along w) and
    ``v = (-sin a, cos a)`` (along h), it returns, in this order (the official order):

    - for each ratio r in ``trans_ratios`` (0.3, 0.5): centre + r*w*u, + r*h*v, - r*w*u, - r*h*v;
    - for each factor s in ``scales`` (0.97, 1.03): (cx, cy, s*w, s*h, a).

    So 10 boxes per instance by default. A horizontal box is the case a = 0. The official code swaps w and
    h in the translations and interleaves the rescaled boxes of different instances; neither is
    reproduced. The caller extracts the RoI features of these boxes from the instance's own image.
    """

    def __init__(self, trans_ratios: Sequence[float] = (0.3, 0.5),
                 scales: Sequence[float] = (0.97, 1.03)) -> None:
        super().__init__()
        self.trans_ratios = tuple(float(r) for r in trans_ratios)
        self.scales = tuple(float(s) for s in scales)

    @property
    def num_per_instance(self) -> int:
        return 4 * len(self.trans_ratios) + len(self.scales)

    @torch.no_grad()
    def forward(self, rboxes: Tensor) -> Tensor:
        """(n, 5) rotated boxes -> (n, num_per_instance, 5)."""
        cx, cy, w, h, a = rboxes.unbind(-1)
        cos, sin = torch.cos(a), torch.sin(a)
        out = []
        for r in self.trans_ratios:
            for sign, along_w in ((1, True), (1, False), (-1, True), (-1, False)):
                if along_w:
                    dx, dy = sign * r * w * cos, sign * r * w * sin
                else:
                    dx, dy = -sign * r * h * sin, sign * r * h * cos
                out.append(torch.stack([cx + dx, cy + dy, w, h, a], dim=-1))
        for s in self.scales:
            out.append(torch.stack([cx, cy, w * s, h * s, a], dim=-1))
        if not out:
            return rboxes.new_zeros((rboxes.shape[0], 0, 5))
        return torch.stack(out, dim=1)
