"""The losses of the generative-discriminative detector, as on the "Loss Function" page of the slides of issue 21
(Gu et al., "Small Object Detection by Generative and Discriminative Learning"), one class each; their min-max:

    max_thetaD min_thetaG  1/m sum_i log D(z_HR^(i)) + alpha L_adv + beta L_cls + gamma L_reg + L_TV + L_MSE

``m`` is the number of LR/HR pairs of the batch (docs/reconstruction.md). Every loss returns a finite zero with a
graph when it has nothing to average (``m = 0``).
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...registry import register_module


def _zero(x: Tensor) -> Tensor:
    return x.sum() * 0


@register_module('MODELS')
class AdversarialLoss(nn.Module):
    """``L_adv = 1/m sum_i log(1 - D(G(z_LR^(i))))``, times ``alpha`` (``loss_weight``): G's side, minimised by G
    (G wins when D calls its output real).

    Computed from D's logits ``l`` as ``log(1 - sigmoid(l)) = -softplus(l)`` (no log of 0). ``non_saturating=True``
    is the usual practical form ``-1/m sum_i log D(G(z_LR^(i)))`` (Goodfellow et al. 2014), not the slides'.
    """

    def __init__(self, loss_weight: float = 1.0, non_saturating: bool = False) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.non_saturating = bool(non_saturating)

    def forward(self, fake_logits: Tensor) -> Tensor:
        """``fake_logits`` (m,): D on G(z_LR)."""
        if fake_logits.numel() == 0:
            return _zero(fake_logits)
        per = F.softplus(-fake_logits) if self.non_saturating else -F.softplus(fake_logits)
        return self.loss_weight * per.mean()


@register_module('MODELS')
class DiscriminatorLoss(nn.Module):
    """D's side of the min-max, as a loss D minimises:

        L_D = -1/m sum_i log D(z_HR^(i)) - fake_weight * 1/m sum_i log(1 - D(G(z_LR^(i))))
            = mean softplus(-l_real) + fake_weight * mean softplus(l_fake)

    i.e. ``max_thetaD 1/m sum_i log D(z_HR^(i)) + L_adv / alpha``. ``fake_weight`` = 1 (default): the standard GAN
    discriminator. Read literally, the slides' objective weights D's fake term by alpha as well (``fake_weight =
    alpha``); with a small alpha D would then learn to call every input real (docs/reconstruction.md).
    """

    def __init__(self, loss_weight: float = 1.0, fake_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.fake_weight = float(fake_weight)

    def forward(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """``real_logits`` (m,): D on z_HR; ``fake_logits`` (m,): D on G(z_LR), both computed from detached
        features (only D learns from this loss)."""
        real = F.softplus(-real_logits).mean() if real_logits.numel() else _zero(real_logits)
        fake = F.softplus(fake_logits).mean() if fake_logits.numel() else _zero(fake_logits)
        return self.loss_weight * (real + self.fake_weight * fake)


@register_module('MODELS')
class ReconstructionMSELoss(nn.Module):
    """``L_MSE = 1/m sum_i || z_HR^(i) - G(z_LR^(i)) ||_2^2``.

    ``reduction='sum'`` (the slides): the squared L2 norm of each pair's difference (a sum over its C x S x S
    elements), averaged over the m pairs. ``reduction='mean'``: also divided by C x S x S, the per-element MSE of
    SRGAN's pixel loss; the configs use it (the squared norm of a 256 x 7 x 7 feature is 12544 times that and
    would dominate every other loss at the slides' weight 1; docs/reconstruction.md).
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"ReconstructionMSELoss: reduction must be 'sum' or 'mean', got {reduction!r}")
        self.loss_weight = float(loss_weight)
        self.reduction = reduction

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        """``sr`` = G(z_LR) and ``hr`` = z_HR (the target; the caller detaches it), both (m, C, S, S)."""
        if sr.shape[0] == 0:
            return _zero(sr)
        per_pair = (sr - hr).pow(2).flatten(1).sum(1)
        if self.reduction == 'mean':
            per_pair = per_pair / sr[0].numel()
        return self.loss_weight * per_pair.mean()


@register_module('MODELS')
class TotalVariationLoss(nn.Module):
    """``L_TV = 1/(r_W r_H) sum_{i=1}^{r_W} sum_{j=1}^{r_H} || grad G(z_LR)^(i,j) ||``, averaged over the m RoIs.

    ``r_W x r_H`` is the grid of G's output (S x S: the slides' notation is SRGAN's, whose output is the upscaled
    r W x r H image); ``grad`` at (i, j) is the vector of the forward differences of all C channels along x and y
    (0 across the last column / row), ``|| . ||`` its Euclidean norm (isotropic TV), computed as
    ``sqrt(. + eps)`` so that its gradient is finite where the map is flat.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.eps = float(eps)

    def forward(self, sr: Tensor) -> Tensor:
        """``sr`` = G(z_LR) (m, C, H, W)."""
        if sr.shape[0] == 0:
            return _zero(sr)
        dx = F.pad(sr[..., :, 1:] - sr[..., :, :-1], (0, 1, 0, 0))
        dy = F.pad(sr[..., 1:, :] - sr[..., :-1, :], (0, 0, 0, 1))
        norm = torch.sqrt((dx.pow(2) + dy.pow(2)).sum(1) + self.eps)  # (m, H, W)
        return self.loss_weight * norm.mean()


@register_module('MODELS')
class SRClassificationLoss(nn.Module):
    """The slides' ``L_cls``:

        L_cls = 1/m sum_i [ -log(p p* + (1 - p)(1 - p*)) - log D_cls(G(z_LR^(i))) - log D_cls(z_HR^(i)) ]

    (the signs as SOD-MTGAN's multi-task loss, the only reading under which minimising L_cls rewards D_cls on
    z_HR and on G's output; the extracted slide text garbles them: docs/reconstruction.md). The first term is the
    detector's classification cross-entropy, i.e. the box head's own ``loss_cls``, and is not repeated here. This
    module is the other two, times ``beta`` (``loss_weight``): ``D_cls(z)`` is the box head's softmax probability
    of the RoI's label ``u_i`` (N + 1 classes, background = N) computed from ``z``.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, sr_logits: Tensor, hr_logits: Tensor, labels: Tensor) -> Tensor:
        """``sr_logits`` / ``hr_logits`` (m, N+1): the box head's class scores on G(z_LR) / z_HR; ``labels`` (m,)."""
        if labels.numel() == 0:
            return _zero(sr_logits) + _zero(hr_logits)
        idx = labels.long()[:, None]
        nll = -(F.log_softmax(sr_logits, dim=1).gather(1, idx) + F.log_softmax(hr_logits, dim=1).gather(1, idx))
        return self.loss_weight * nll.mean()


@register_module('MODELS')
class SRRegressionLoss(nn.Module):
    """The slides' ``L_reg = 1/m sum_i sum_{j in (x, y, w, h)} [u_i >= 1] S_L1(t_SR^(i,j) - t*^(i,j))``, times
    ``gamma`` (``loss_weight``).

    ``[u_i >= 1]``: the RoI is foreground (the slides number classes from 1 with 0 = background; here ``fg`` is
    given). ``t_SR``: the box head's regression deltas from G(z_LR) (those of the RoI's class for a class-specific
    head), ``t*``: the RoI's encoded target; j runs over all delta coordinates (x, y, w, h and the angle for
    rotated boxes). ``S_L1(x) = 0.5 x^2 / beta if |x| < beta else |x| - 0.5 beta`` (beta = 1: Fast R-CNN). The sum
    is divided by all m pairs (background ones included), as the 1/m of the slides.
    """

    def __init__(self, loss_weight: float = 1.0, beta: float = 1.0) -> None:
        super().__init__()
        if beta <= 0:
            raise ValueError(f'SRRegressionLoss: beta must be > 0, got {beta}')
        self.loss_weight = float(loss_weight)
        self.beta = float(beta)

    def forward(self, pred: Tensor, target: Tensor, fg: Tensor) -> Tensor:
        """``pred`` = t_SR and ``target`` = t* (m, d); ``fg`` (m,) bool."""
        m = pred.shape[0]
        if m == 0:
            return _zero(pred)
        diff = (pred - target.to(pred.dtype)).abs()
        per = torch.where(diff < self.beta, 0.5 * diff.pow(2) / self.beta, diff - 0.5 * self.beta)
        return self.loss_weight * (per.sum(1) * fg.to(per.dtype)).sum() / m
