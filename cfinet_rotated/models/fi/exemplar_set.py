"""The exemplar feature set E of CFINet (Sec. 3.2 "Training", Alg. 1 line 6)."""
from typing import Sequence, Tuple

import torch
from mmengine import dist
from torch import Tensor, nn

from ...registry import register_module


@register_module('MODELS')
class ExemplarSet(nn.Module):
    """Per class, a ring buffer of the newest ``capacity`` (256) high-quality RoI features.

    The features live in registered buffers (``feats`` (C, capacity, *feat_shape), fp32; ``ptr`` and
    ``count`` (C,) long), so they are saved in checkpoints, restored on resume and moved with the model;
    there is no disk I/O (the official code keeps a ``.pt`` file per class and GPU, and its capacity check
    collapses the queue to one feature: docs/deviations.md, "Feature Imitation head").

    Slots are filled from 0 upwards, so the valid slots of class c are ``[0, count[c])``; once full, the
    oldest slot (``ptr[c]``) is overwritten first.

    Under ``torch.distributed`` every ``push`` is a collective: the new exemplars of all ranks are
    all-gathered (sizes first, then features padded to the largest count) and pushed in rank order, so
    all ranks hold identical buffers. Every rank must therefore call ``push`` once per step, also with
    zero exemplars.
    """

    def __init__(self, num_classes: int, capacity: int = 256,
                 feat_shape: Sequence[int] = (256, 7, 7)) -> None:
        super().__init__()
        if num_classes < 1 or capacity < 1:
            raise ValueError(f'ExemplarSet: num_classes and capacity must be >= 1, got {num_classes}, {capacity}')
        self.num_classes = num_classes
        self.capacity = capacity
        self.feat_shape = tuple(feat_shape)
        self.register_buffer('feats', torch.zeros(num_classes, capacity, *self.feat_shape))
        self.register_buffer('ptr', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('count', torch.zeros(num_classes, dtype=torch.long))

    #: the buffers, all saved in training checkpoints; ``tools/model_converters/publish_model.py`` strips all of them
    BUFFER_NAMES = ('feats', 'ptr', 'count')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + 'feats'
        if key in state_dict and tuple(state_dict[key].shape) != tuple(self.feats.shape):
            raise RuntimeError(
                f'ExemplarSet: checkpoint holds {key} of shape {tuple(state_dict[key].shape)}, the model '
                f'expects {tuple(self.feats.shape)} (num_classes, capacity, channels, roi, roi); '
                'build the model with the same num_classes / exemplar_capacity / RoI size as the checkpoint')
        keys = [prefix + n for n in self.BUFFER_NAMES]
        absent = not any(k in state_dict for k in keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if absent:
            # A published checkpoint (tools/model_converters/publish_model.py) has no exemplar set: training-only state
            # that
            # inference never reads. Loading it gives an empty set, not "missing keys"; a checkpoint that holds
            # only some of the three buffers is still reported as missing the others.
            for k in keys:
                while k in missing_keys:
                    missing_keys.remove(k)
            self.reset()

    @torch.no_grad()
    def reset(self) -> None:
        """Empty the set (all slots free)."""
        self.feats.zero_()
        self.ptr.zero_()
        self.count.zero_()

    def __len__(self) -> int:
        return int(self.count.sum())

    def valid_mask(self) -> Tensor:
        """(C, capacity) bool, True where a slot holds an exemplar."""
        slots = torch.arange(self.capacity, device=self.count.device)
        return slots[None, :] < self.count[:, None]

    def class_feats(self, cls: int) -> Tensor:
        """Exemplars of one class, oldest first."""
        n = int(self.count[cls])
        if n < self.capacity:
            return self.feats[cls, :n]
        p = int(self.ptr[cls])
        return torch.cat([self.feats[cls, p:], self.feats[cls, :p]])

    def _gather(self, feats: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
        """All-gather variable numbers of exemplars from all ranks (rank order, then input order)."""
        if not (dist.is_distributed() and dist.get_world_size() > 1):
            return feats, labels
        n = torch.tensor([labels.numel()], dtype=torch.long, device=self.feats.device)
        sizes = [int(s) for s in dist.all_gather(n)]
        max_n = max(sizes)
        if max_n == 0:
            return feats, labels
        pad_f = feats.new_zeros((max_n, ) + self.feat_shape)
        pad_f[:labels.numel()] = feats
        pad_l = labels.new_full((max_n, ), -1)
        pad_l[:labels.numel()] = labels
        all_f = dist.all_gather(pad_f)
        all_l = dist.all_gather(pad_l)
        return (torch.cat([f[:s] for f, s in zip(all_f, sizes)]),
                torch.cat([lab[:s] for lab, s in zip(all_l, sizes)]))

    @torch.no_grad()
    def push(self, feats: Tensor, labels: Tensor) -> None:
        """Append exemplars (N, *feat_shape) of classes ``labels`` (N,), newest last (Alg. 1 line 6)."""
        feats = feats.detach().to(device=self.feats.device, dtype=self.feats.dtype)
        labels = labels.detach().to(device=self.feats.device, dtype=torch.long)
        if feats.shape[1:] != self.feat_shape or labels.numel() != feats.shape[0]:
            raise ValueError(f'ExemplarSet.push: expected features (N, {self.feat_shape}) and N labels, got '
                             f'{tuple(feats.shape)} and {tuple(labels.shape)}')
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f'ExemplarSet.push: labels must be in [0, {self.num_classes}), got '
                             f'{labels.unique().tolist()}')
        feats, labels = self._gather(feats, labels)
        for cls in labels.unique().tolist():
            sel = feats[labels == cls][-self.capacity:]
            n = sel.shape[0]
            start = int(self.ptr[cls])
            slots = (start + torch.arange(n, device=sel.device)) % self.capacity
            self.feats[cls, slots] = sel
            self.ptr[cls] = (start + n) % self.capacity
            self.count[cls] = min(int(self.count[cls]) + n, self.capacity)
