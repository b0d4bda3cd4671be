"""Adaptive high-quality threshold for Instance Quality (a variant beyond the paper; Eq. (3) is unchanged)."""
import torch
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class PercentileQualityThreshold(nn.Module):
    """``T_hq(t) = min(T_hq, P_q(IQ history))``: the high-quality threshold of Eq. (3)'s quality classes follows
    the IQ distribution of the detector being trained.

    The paper fixes ``T_hq = 0.65``, tuned on a ResNet-50 detector trained for 12 epochs on SODA-A. A small or
    young detector rarely scores an instance that high (docs/benchmarks.md, "Feature Imitation protocol"), so
    its exemplar set stays nearly empty and Eq. (5) has almost no positives. This module keeps the IQs of the
    last ``window`` measured ground truths (a ring buffer saved in checkpoints) and returns their ``percentile``
    -th percentile, capped at the fixed threshold: a well-trained detector gets the paper's rule back, a weak
    one imitates its own best ``100 - percentile`` per cent.

    Until ``min_history`` IQs have been seen the fixed threshold is used. Under DDP the history is per rank
    (each rank's own gts; the thresholds of the ranks agree in distribution, not exactly).

    Args:
        percentile: q in [0, 100] (90: the best 10 % of the measured gts are high quality).
        window: IQs kept (the newest).
        min_history: IQs needed before the percentile replaces the fixed threshold.
    """

    def __init__(self, percentile: float = 90.0, window: int = 1024, min_history: int = 64) -> None:
        super().__init__()
        if not 0 <= percentile <= 100:
            raise ValueError(f'PercentileQualityThreshold: percentile must be in [0, 100], got {percentile}')
        if window < 1 or not 1 <= min_history <= window:
            raise ValueError(f'PercentileQualityThreshold: need window >= 1 and 1 <= min_history <= window, got '
                             f'{window}, {min_history}')
        self.percentile = float(percentile)
        self.window = int(window)
        self.min_history = int(min_history)
        self.register_buffer('history', torch.zeros(self.window))
        self.register_buffer('num', torch.zeros((), dtype=torch.long))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, iq: Tensor) -> None:
        """Append the IQs (n,) of this step's measured gts, newest last."""
        iq = iq.detach().flatten().to(self.history)[-self.window:]
        n = iq.numel()
        if n == 0:
            return
        slots = (self.ptr + torch.arange(n, device=iq.device)) % self.window
        self.history[slots] = iq
        self.ptr.copy_((self.ptr + n) % self.window)
        self.num.copy_(torch.clamp(self.num + n, max=self.window))

    def forward(self, fixed_thr: float) -> float:
        """The threshold to use now: ``min(fixed_thr, P_q(history))``, or ``fixed_thr`` before ``min_history``."""
        num = int(self.num)
        if num < self.min_history:
            return float(fixed_thr)
        value = torch.quantile(self.history[:num].float(), self.percentile / 100.0)
        return min(float(fixed_thr), float(value))
