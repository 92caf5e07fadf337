"""Retrieval: unique tracks, cosine, pessimistic ranks, R@k and chance against hand values."""

import numpy as np
import pytest

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.retrieval import (
    RECALL_KS,
    cosine_matrix,
    random_recall,
    recall_hits,
    target_ranks,
    unique_track_index,
)


def test_unique_track_index_first_appearance_order():
    firsts, owner = unique_track_index(["a", "b", "a", "c", "b"])
    assert firsts.dtype == np.int64 and owner.dtype == np.int64
    assert firsts.tolist() == [0, 1, 3] and owner.tolist() == [0, 1, 0, 2, 1]
    firsts, owner = unique_track_index([])
    assert firsts.shape == (0,) and owner.shape == (0,)


def test_cosine_matrix_by_hand_and_zero_vectors():
    queries = np.array([[3.0, 4.0], [0.0, 0.0]])
    gallery = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, -4.0]])
    sims = cosine_matrix(queries, gallery)
    # |q0| = 5: 3/5, 4/5, -25/25; the zero query has similarity 0, not NaN
    expected = np.array([[0.6, 0.8, -1.0], [0.0, 0.0, 0.0]])
    assert sims.dtype == np.float64 and sims.shape == (2, 3)
    np.testing.assert_allclose(sims, expected, atol=1e-12)


def test_target_ranks_ties_count_against_the_target():
    similarity = np.array([[0.9, 0.5, 0.9, 0.1],    # target 0 ties with 2 -> rank 2, not 1
                           [0.2, 0.8, 0.3, 0.8],    # target 1 ties with 3 -> rank 2
                           [0.1, 0.2, 0.3, 0.4],    # target 0 is the worst -> rank 4
                           [0.7, 0.1, 0.2, 0.3]])   # target 0 strictly best -> rank 1
    ranks = target_ranks(similarity, np.array([0, 1, 0, 0]))
    assert ranks.dtype == np.int64
    assert ranks.tolist() == [2, 2, 4, 1]


def test_a_collapsed_query_ranks_last():
    # a zero embedding is equally similar (0) to all 3 items: rank 3, never a lucky hit
    sims = cosine_matrix(np.zeros((1, 2)), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert target_ranks(sims, np.array([1])).tolist() == [3]


def test_recall_hits_and_random_recall():
    ranks = np.array([2, 2, 4, 1])
    assert recall_hits(ranks, 1).tolist() == [False, False, False, True]
    assert recall_hits(ranks, 3).tolist() == [True, True, False, True]
    assert RECALL_KS == (1, 3, 5, 10)
    assert random_recall(1, 4) == pytest.approx(0.25)
    assert random_recall(3, 10) == pytest.approx(0.3)
    assert random_recall(10, 4) == 1.0          # k beyond the gallery: always a hit
    with pytest.raises(ConfigError):
        recall_hits(ranks, 0)
    with pytest.raises(DataError):
        random_recall(1, 0)


def test_shape_errors_name_the_argument():
    with pytest.raises(DataError, match=r"gallery has shape \(3, 4\), expected \(G, D\) = "
                                        r"\(G, 2\)"):
        cosine_matrix(np.ones((2, 2)), np.ones((3, 4)))
    with pytest.raises(DataError, match="target has shape"):
        target_ranks(np.ones((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(DataError, match="target indices"):
        target_ranks(np.ones((2, 3)), np.array([0, 3]))
    with pytest.raises(DataError, match="NaN"):
        target_ranks(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(DataError, match="ranks has shape"):
        recall_hits(np.ones((2, 2)), 1)
