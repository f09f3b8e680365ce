"""Fine bins fixed before any data, coarse bins fixed by the baseline."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.feature_bins import (
    OTHER,
    categorical_partition,
    fine_bin_edges,
    fine_numeric_bins,
    numeric_partition,
)


def test_fine_bins_increase_with_the_value_and_hold_it_between_their_edges():
    values = np.array([-3e12, -52_000.0, -1.0, -1e-9, 0.0, 1e-7, 0.3, 1.0, 40.0, 52_000.0, 3e12])
    bins = fine_numeric_bins(values)
    assert list(bins) == sorted(bins)
    assert bins[4] == 0
    assert bins[3] == 0
    for value, index in zip(values[5:-1], bins[5:-1], strict=True):  # inside the scale
        low, high = fine_bin_edges(int(index))
        assert low <= value < high
    for value, index in zip(values[1:3], bins[1:3], strict=True):
        low, high = fine_bin_edges(int(index))
        assert low < value <= high
    # About 19% wide: 52,000 and 52,000 x 1.25 never share a bin.
    assert fine_numeric_bins([52_000.0])[0] != fine_numeric_bins([65_000.0])[0]


def test_a_numeric_partition_has_about_equal_baseline_shares_and_bins_below_and_above():
    rng = np.random.default_rng(3)
    fine = fine_numeric_bins(rng.lognormal(10.8, 0.6, size=20_000))
    keys, counts = np.unique(fine, return_counts=True)
    baseline = {str(key): int(count) for key, count in zip(keys, counts, strict=True)}
    partition = numeric_partition(baseline)
    coarse = partition.coarse_counts(baseline)
    assert partition.bins == len(coarse) == len(partition.edges) - 1
    assert coarse[0] == 0
    assert coarse[-1] == 0
    inner = np.array(coarse[1:-1]) / sum(coarse)
    assert len(inner) >= 6
    assert inner.max() < 0.25
    assert list(partition.edges) == sorted(partition.edges)
    # Values far outside the baseline land in the outer bins, none is lost.
    assert partition.coarse_counts({"-200": 2, "240": 3}) == [2.0] + [0.0] * (partition.bins - 2) + [3.0]


def test_a_constant_baseline_still_has_a_bin_below_and_one_above():
    partition = numeric_partition({"5": 100})
    assert partition.coarse_counts({"4": 1, "5": 2, "6": 3}) == [1.0, 2.0, 3.0]


def test_categorical_partition_keeps_frequent_categories_and_pools_the_rest_as_other():
    partition = categorical_partition({"north": 500, "south": 300, "east": 195, "west": 5})
    assert partition.categories == ("north", "south", "east")
    assert partition.names == ["north", "south", "east", OTHER]
    assert partition.coarse_counts({"west": 2, "new-region": 4, "north": 1}) == [1.0, 0.0, 0.0, 6.0]


def test_an_empty_baseline_is_refused():
    with pytest.raises(InvalidParameterError, match="needs baseline values"):
        numeric_partition({})
    with pytest.raises(InvalidParameterError, match="needs baseline values"):
        categorical_partition({"a": 0})
