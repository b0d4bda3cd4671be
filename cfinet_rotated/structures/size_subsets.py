"""The SODA size subsets: the one definition of their area bounds (px^2, box area w*h) in this project.

The evaluation protocol of SODA-A and SODA-D (Cheng et al., "Towards large-scale small object detection", TPAMI
2023) reports AP/AR on the headline range Small and on four subsets: extremely small (eS), relatively small (rS),
generally small (gS) and Normal. Evaluation ranges are inclusive at both ends, as COCO's; when one object is put
in exactly one subset (counting, colouring), it goes to the first of eS, rS, gS, Normal whose range holds it.
"""
from collections import OrderedDict

import numpy as np

#: evaluation ranges, both bounds inclusive; the first one is the headline ("Small")
AREA_RANGES = OrderedDict([('Small', (0, 1024)), ('eS', (0, 144)), ('rS', (144, 400)), ('gS', (400, 1024)),
                           ('Normal', (1024, 2000))])
#: the disjoint subsets, in order (an area above the Normal range is 'larger', not evaluated)
SUBSETS = ('eS', 'rS', 'gS', 'Normal')
SUBSET_RANGES = OrderedDict((k, AREA_RANGES[k]) for k in SUBSETS)
LARGER = 'larger'
#: short names in the statistic keys (AP_N, AR_N)
SHORT_NAMES = {'Normal': 'N'}


def stat_key(stat, subset):
    """``('AP', 'eS')`` -> ``'AP_eS'``; ``('AR', 'Normal')`` -> ``'AR_N'``; the headline range has the bare name."""
    return stat if subset == 'Small' else f'{stat}_{SHORT_NAMES.get(subset, subset)}'


def size_subset(area):
    """The subset of one area: the first of eS, rS, gS, Normal whose inclusive range holds it, else 'larger'."""
    for name, (lo, hi) in SUBSET_RANGES.items():
        if lo <= area <= hi:
            return name
    return LARGER


def size_subset_names(areas):
    """:func:`size_subset` of each area (numpy array of names, dtype object)."""
    areas = np.asarray(areas, dtype=np.float64).reshape(-1)
    out = np.full(len(areas), LARGER, dtype=object)
    free = np.ones(len(areas), dtype=bool)
    for name, (lo, hi) in SUBSET_RANGES.items():
        hit = free & (areas >= lo) & (areas <= hi)
        out[hit] = name
        free &= ~hit
    return out


def in_size_subsets(areas, subsets):
    """(n,) bool tensor on ``areas``' device: whether each area's :func:`size_subset` is one of ``subsets``
    (the ranges of :func:`size_subset_names`, computed with torch, without a round trip to the CPU)."""
    import torch
    areas = areas.reshape(-1).double()
    out = torch.zeros_like(areas, dtype=torch.bool)
    free = torch.ones_like(out)
    for name, (lo, hi) in SUBSET_RANGES.items():
        hit = free & (areas >= lo) & (areas <= hi)
        if name in subsets:
            out |= hit
        free &= ~hit
    if LARGER in subsets:
        out |= free
    return out
