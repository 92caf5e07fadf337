"""Per-sample results -> tables and headline metrics: slices, intervals, exact chance levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lang2motion.evaluate.plots import choose, slug
from lang2motion.evaluate.suite import GENERATION_METHODS, METRICS, SplitEvaluation
from lang2motion.evaluate.tables import build_tables, headline, slices

T, N = 3, 4


def _evaluation() -> SplitEvaluation:
    # four expressions on two trajectories; ranks of their own trajectory among the two
    columns = {"sample_id": ["a/0", "a/1", "b/0", "b/1"], "video_id": ["va", "va", "vb", "vb"],
               "track_id": ["a", "a", "b", "b"], "text": ["t0", "t1", "t2", "t3"],
               "motion_kind": ["left", "left", "right", "right"],
               "tag.phrasing": ["seen", "unseen", "seen", "unseen"],
               "rank.lang2motion": [1, 2, 1, 1], "rank.clip_nn": [2, 2, 1, 2]}
    for m, method in enumerate(GENERATION_METHODS):
        for metric in METRICS:
            # ade of method m on sample i: m + i / 10 (hand-checkable means)
            columns[f"{method}.{metric}"] = [m + i / 10 for i in range(4)]
    recognition = {"classes": ["left", "right", "up"], "labels": ["left", "right"],
                   "ranks": np.array([1, 3])}
    return SplitEvaluation(
        samples=pd.DataFrame(columns), tracks={}, frame_errors={}, gallery_size=2,
        reference_kinds=["left", "right"], recognition=recognition,
        clip_samples=np.arange(4))


def _tables(resamples: int = 200) -> dict:
    return build_tables(_evaluation(), resamples=resamples, seed=0, level=0.95,
                        run={"split": "valid_u"}, speed={"batch1_with_text_ms_p50": 12.0,
                                                         "batched_per_s": 900.0})


def test_slices_are_all_and_one_per_tag_value() -> None:
    got = {name: index.tolist() for name, index in slices(_evaluation()).items()}
    assert got == {"all": [0, 1, 2, 3], "phrasing=seen": [0, 2], "phrasing=unseen": [1, 3]}


def test_means_chance_and_intervals() -> None:
    tables = _tables()
    all_ = tables["slices"]["all"]
    r1 = all_["retrieval"]["lang2motion"]["r1"]
    assert r1["value"] == pytest.approx(3 / 4) and r1["n"] == 4       # ranks 1, 2, 1, 1
    assert r1["lo"] <= r1["value"] <= r1["hi"]
    assert all_["retrieval"]["clip_nn"]["r1"]["value"] == pytest.approx(1 / 4)
    # random ranking of 2 trajectories: exact expectations, no sampling
    assert all_["retrieval"]["random"]["r1"] == {"value": 0.5, "lo": 0.5, "hi": 0.5, "n": 4,
                                                 "exact": True}
    assert all_["retrieval"]["random"]["r3"]["value"] == 1.0
    static = GENERATION_METHODS.index("static")
    assert all_["generation"]["static"]["ade"]["value"] == pytest.approx(static + 0.15)
    # motion-kind chance: each query's kind is 1 of the 2 references
    assert all_["motion_kind_chance"] == pytest.approx(0.5)
    seen = tables["slices"]["phrasing=seen"]
    assert seen["n"] == 2 and seen["retrieval"]["lang2motion"]["r1"]["value"] == 1.0
    assert seen["generation"]["static"]["ade"]["value"] == pytest.approx(static + 0.1)
    assert tables["tags"] == {"phrasing": ["seen", "unseen"]}
    recognition = tables["recognition"]
    assert recognition["top1"]["value"] == 0.5 and recognition["top5"]["value"] == 1.0
    assert recognition["chance_top1"] == pytest.approx(1 / 3)
    assert recognition["chance_top5"] == 1.0                       # 5 of 3 classes: all


def test_reruns_are_identical_and_zero_resamples_give_no_interval() -> None:
    assert _tables() == _tables()
    r1 = _tables(resamples=0)["slices"]["all"]["retrieval"]["lang2motion"]["r1"]
    assert r1["value"] == pytest.approx(0.75) and r1["lo"] is None and r1["hi"] is None


def test_headline_is_flat_with_one_object_per_tag_slice() -> None:
    metrics = headline(_tables())
    assert metrics["r1"] == pytest.approx(0.75) and metrics["chance_r1"] == 0.5
    assert metrics["static_ade"] == pytest.approx(GENERATION_METHODS.index("static") + 0.15)
    assert metrics["phrasing_seen"]["r1"] == 1.0
    assert metrics["phrasing_unseen"]["r1"] == pytest.approx(0.5)
    assert metrics["recognition_top1"] == 0.5
    assert "ms_per_trajectory" not in metrics      # timings are not DVC metrics


def test_gallery_alternates_tag_values_and_names_files_safely() -> None:
    samples = _evaluation().samples
    picked = choose(samples, 2)
    assert sorted(samples["tag.phrasing"].iloc[picked]) == ["seen", "unseen"]
    assert len(choose(samples, 10)) == 4
    assert slug("The red ball, moving LEFT!") == "the_red_ball_moving_left"
