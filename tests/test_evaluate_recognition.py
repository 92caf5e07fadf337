"""Zero-shot recognition and motion-kind accuracy against hand-computed cases."""

import math

import numpy as np
import pytest

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.recognition import (
    chance_topk,
    class_ranks,
    motion_kind_chance,
    motion_kind_hits,
    top_k,
)

LATENTS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
CLASSES = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
# cosines: sample 0: 1, 0, -1; sample 1: 0, 1, 0; sample 2: 0.7071, 0.7071, -0.7071


def test_class_ranks_pessimistic_ties():
    ranks = class_ranks(LATENTS, CLASSES, np.array([0, 0, 1]))
    # s0: true 0 is best -> 1; s1: true 0 (0) below class 1 (1), tied with class 2 (0) -> 3;
    # s2: true 1 tied with class 0 -> 2
    assert ranks.dtype == np.int64 and ranks.tolist() == [1, 3, 2]
    with pytest.raises(DataError, match="labels has shape"):
        class_ranks(LATENTS, CLASSES, np.array([0, 1]))


def test_top_k_best_first_ties_to_lower_index():
    indices, scores = top_k(LATENTS, CLASSES, 2)
    assert indices.dtype == np.int64 and indices.shape == scores.shape == (3, 2)
    assert indices.tolist() == [[0, 1], [1, 0], [0, 1]]
    half = math.sqrt(0.5)
    np.testing.assert_allclose(scores, [[1.0, 0.0], [1.0, 0.0], [half, half]], atol=1e-12)
    with pytest.raises(ConfigError):
        top_k(LATENTS, CLASSES, 4)
    with pytest.raises(DataError, match="class_emb has shape"):
        top_k(LATENTS, np.ones((3, 5)), 1)


def test_chance_topk():
    assert chance_topk(1, 60) == pytest.approx(1 / 60)
    assert chance_topk(5, 60) == pytest.approx(1 / 12)
    assert chance_topk(5, 3) == 1.0


def _line(start_x, start_y, step_x, frames=3):
    track = np.zeros((frames, 1, 2))                 # (T, N=1, 2)
    track[:, 0, 0] = start_x + step_x * np.arange(frames)
    track[:, 0, 1] = start_y
    return track


def test_motion_kind_hits_compare_displacements():
    reference = np.stack([_line(0.5, 0.5, 0.2),     # "right"
                          _line(-0.5, 0.0, -0.2)])   # "left"
    generated = np.stack([
        _line(-0.5, 0.0, 0.18),  # starts on "left"'s start, moves right: ADE 0.03 vs 0.57 -> hit
        _line(0.5, 0.5, -0.2),   # asked "right" but moves left: nearest is "left" -> miss
        _line(0.0, 0.0, 0.0),    # still: ADE (0.2 + 0.4) / 2 = 0.3 to both -> index 0, "right"
    ])
    hits = motion_kind_hits(generated, reference, np.array(["right", "right", "left"]),
                            np.array(["right", "left"]))
    assert hits.dtype == bool and hits.tolist() == [True, False, False]
    with pytest.raises(DataError, match="reference_kinds has shape"):
        motion_kind_hits(generated, reference, np.array(["a", "b", "c"]), np.array(["a"]))
    with pytest.raises(DataError, match="reference has shape"):
        motion_kind_hits(generated, np.zeros((2, 4, 1, 2)), np.array(["a", "b", "c"]),
                         np.array(["a", "b"]))


def test_motion_kind_chance_by_hand():
    queries = np.array(["a", "b", "a", "c"])
    references = np.array(["a", "a", "b", "c", "c"])
    # a: 2/5, b: 1/5, a: 2/5, c: 2/5 -> mean 7/20
    assert motion_kind_chance(queries, references) == pytest.approx(0.35)
    assert math.isnan(motion_kind_chance(np.array([], dtype=str), references))
    with pytest.raises(DataError, match="no reference"):
        motion_kind_chance(queries, np.array([], dtype=str))
