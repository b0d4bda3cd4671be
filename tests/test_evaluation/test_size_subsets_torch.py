"""in_size_subsets (torch) agrees with size_subset_names (numpy) on every range boundary."""
import numpy as np
import torch

from cfinet_rotated.structures.size_subsets import LARGER, SUBSET_RANGES, in_size_subsets, size_subset_names


def test_in_size_subsets_matches_the_numpy_names():
    edges = sorted({v for r in SUBSET_RANGES.values() for v in r if np.isfinite(v)})
    areas = np.array([0.0, 1.0] + [e + d for e in edges for d in (-0.5, 0.0, 0.5)] + [1e9])
    names = size_subset_names(areas)
    for subsets in (('eS', ), ('eS', 'rS'), ('gS', 'Normal', LARGER), (LARGER, )):
        got = in_size_subsets(torch.from_numpy(areas).float(), subsets).numpy()
        assert got.tolist() == np.isin(names, subsets).tolist(), subsets
