"""Focal loss for the RoI classifier (small-object lever 1 of issue 23; Lin et al., ICCV 2017, Eq. (5))."""
from typing import Optional

import torch
from mmdet.models.losses import FocalLoss, accuracy
from torch import Tensor

from ...registry import register_module


@register_module('MODELS')
class RoIFocalLoss(FocalLoss):
    """MMDetection's sigmoid ``FocalLoss`` as the loss of a two-stage box head's classifier.

    Per RoI and class ``c`` with sigmoid probability ``p_c`` and target ``y_c`` (1 for the RoI's class, 0 for the
    others; a background RoI has every ``y_c = 0``)::

        FL = -alpha_t (1 - p_t)^gamma log(p_t),   p_t = p_c if y_c else 1 - p_c,   alpha_t = alpha if y_c else 1 - alpha

    summed over classes and RoIs, times ``loss_weight``, divided by the number of foreground RoIs (the RetinaNet
    normalisation) unless ``normalize='all'`` (MMDetection's box head passes the number of sampled RoIs).

    MMDetection's ``FocalLoss`` alone does not fit a box head: the head would give it ``num_classes + 1`` logits
    (a background column trained as one more class) and score them with a softmax at inference. This class sets
    the head's custom-channel hooks instead (as MMDetection's SeesawLoss does): the classifier has ``num_classes``
    sigmoid outputs, and :meth:`get_activation` appends a background probability ``prod_c (1 - p_c)`` so that
    everything downstream (the NMS, which drops the last column, and CFINet's instance quality, which reads the
    gt class's probability) sees ``(N, num_classes + 1)`` scores as from a softmax head.

    Args:
        gamma, alpha, loss_weight: as ``FocalLoss`` (2.0, 0.25, 1.0: the RetinaNet paper's values).
        normalize: ``'pos'`` (default) divides by max(1, foreground RoIs); ``'all'`` by the ``avg_factor`` the
            head passes (every sampled RoI). With 1:3 sampling, 'all' makes the loss about 4x smaller.
        use_sigmoid: must be True (accepted so that the dict can be merged over the head's cross-entropy config).
    """

    custom_cls_channels = True
    custom_activation = True
    custom_accuracy = True

    def __init__(self, gamma: float = 2.0, alpha: float = 0.25, loss_weight: float = 1.0,
                 normalize: str = 'pos', reduction: str = 'mean', use_sigmoid: bool = True) -> None:
        if not use_sigmoid:  # a config merged over the box head's softmax cross-entropy must say use_sigmoid=True
            raise ValueError('RoIFocalLoss: a sigmoid focal loss; use_sigmoid must be True')
        super().__init__(use_sigmoid=True, gamma=gamma, alpha=alpha, reduction=reduction, loss_weight=loss_weight)
        if normalize not in ('pos', 'all'):
            raise ValueError(f"RoIFocalLoss: normalize must be 'pos' or 'all', got {normalize!r}")
        if gamma < 0 or not 0 <= alpha <= 1:
            raise ValueError(f'RoIFocalLoss: needs gamma >= 0 and 0 <= alpha <= 1, got gamma={gamma}, alpha={alpha}')
        self.normalize = normalize

    @staticmethod
    def get_cls_channels(num_classes: int) -> int:
        """``num_classes`` sigmoid outputs, no background logit."""
        return num_classes

    @staticmethod
    def get_activation(cls_score: Tensor) -> Tensor:
        """(N, C) logits -> (N, C + 1) scores: the C sigmoids and the background probability prod_c (1 - p_c)."""
        p = cls_score.sigmoid()
        return torch.cat([p, (1 - p).prod(dim=-1, keepdim=True)], dim=-1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> dict:
        """Top-1 accuracy over the C + 1 scores of :meth:`get_activation` (background = label C)."""
        return dict(acc=accuracy(self.get_activation(cls_score), labels))

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None, **kwargs) -> Tensor:
        """pred (N, C) logits; target (N,) labels in [0, C] (C = background); weight (N,) per-RoI weights."""
        if pred.dim() != 2 or target.dim() != 1:
            raise ValueError(f'RoIFocalLoss: expects (N, C) logits and (N,) labels, got {tuple(pred.shape)} and '
                             f'{tuple(target.shape)}')
        if self.normalize == 'pos':
            fg = (target >= 0) & (target < pred.size(1))
            if weight is not None:
                fg = fg & (weight > 0)
            avg_factor = max(float(fg.sum()), 1.0)
        # one-hot on CPU and GPU alike (MMDetection's CUDA kernel path takes the same values)
        one_hot = torch.nn.functional.one_hot(target.long(), pred.size(1) + 1)[:, :pred.size(1)].to(pred)
        return super().forward(pred, one_hot, weight, avg_factor=avg_factor, reduction_override=reduction_override)
