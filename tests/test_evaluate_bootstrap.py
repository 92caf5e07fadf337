"""Seeded percentile bootstrap: reproducibility, hand-computed intervals, NaN and bool values."""

import math
import warnings

import numpy as np
import pytest

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.tables import bootstrap_indices, summarize


def interval(values, indices, **level):
    """The (lo, hi) of summarize, the interval the hand-computed cases check."""
    out = summarize(values, indices, **level)
    return out["lo"], out["hi"]


def test_indices_are_seeded_and_shaped():
    first = bootstrap_indices(5, resamples=3, seed=0)
    assert first.shape == (3, 5) and first.dtype == np.int64
    assert first.min() >= 0 and first.max() < 5
    np.testing.assert_array_equal(first, bootstrap_indices(5, resamples=3, seed=0))
    assert not np.array_equal(bootstrap_indices(50, resamples=3, seed=0),
                              bootstrap_indices(50, resamples=3, seed=1))
    assert bootstrap_indices(0, resamples=4, seed=0).shape == (4, 0)
    assert bootstrap_indices(5, resamples=0, seed=0).shape == (0, 5)   # no intervals
    with pytest.raises(ConfigError):
        bootstrap_indices(5, resamples=-1, seed=0)


def test_interval_by_hand():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    indices = np.array([[0, 0, 0, 0], [3, 3, 3, 3], [0, 1, 2, 3]])   # means 1, 4, 2.5
    # 50% interval: 25th and 75th percentiles of (1, 2.5, 4), linear: 1.75 and 3.25
    assert interval(values, indices, level=0.5) == pytest.approx((1.75, 3.25))


def test_interval_is_reproducible_and_contains_the_mean():
    values = np.arange(10.0) ** 2
    indices = bootstrap_indices(10, resamples=1000, seed=7)
    lo, hi = interval(values, indices)
    assert (lo, hi) == interval(values, bootstrap_indices(10, resamples=1000, seed=7))
    assert lo < values.mean() < hi


def test_constant_values_give_a_point_interval():
    indices = bootstrap_indices(6, resamples=50, seed=0)
    out = summarize(np.full(6, 0.25), indices)
    assert out["lo"] == out["hi"] == out["value"] == 0.25 and out["n"] == 6
    out = summarize(np.full(6, 0.1), indices)
    assert out["lo"] == pytest.approx(0.1) and out["hi"] == pytest.approx(0.1)


def test_nan_values_are_skipped():
    values = np.array([1.0, np.nan, 3.0])
    indices = np.array([[0, 1, 2], [1, 1, 1], [2, 2, 1]])   # means 2, (none), 3
    # 50% interval of (2, 3): 2.25, 2.75; value = mean(1, 3) = 2 over n = 2 finite values
    out = summarize(values, indices, level=0.5)
    assert out == pytest.approx({"value": 2.0, "lo": 2.25, "hi": 2.75, "n": 2})


def test_all_nan_and_empty_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lo, hi = interval(np.full(3, np.nan), bootstrap_indices(3, resamples=5, seed=0))
        assert math.isnan(lo) and math.isnan(hi)
        out = summarize(np.array([]), bootstrap_indices(0, resamples=5, seed=0))
        assert math.isnan(out["value"]) and math.isnan(out["lo"]) and out["n"] == 0


def test_bool_values_count_as_zero_one():
    values = np.array([True, False, True, True])
    out = summarize(values, np.array([[0, 1, 2, 3], [1, 1, 1, 1]]), level=0.5)
    # value 3/4; resample means 0.75 and 0 -> 25th / 75th percentiles 0.1875, 0.5625
    assert out == pytest.approx({"value": 0.75, "lo": 0.1875, "hi": 0.5625, "n": 4})


def test_errors():
    with pytest.raises(DataError, match=r"indices has shape \(2, 3\), expected \(R, S\) = "
                                        r"\(R, 4\)"):
        interval(np.ones(4), np.zeros((2, 3)))
    with pytest.raises(DataError, match="indices must lie"):
        interval(np.ones(2), np.array([[0, 2]]))
    with pytest.raises(ConfigError):
        interval(np.ones(2), np.zeros((1, 2)), level=1.5)
