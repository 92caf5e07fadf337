"""From per-sample results to tables: means with bootstrap intervals, per slice of the data.

A slice is every evaluated expression (``all``) or those carrying one tag value
(``phrasing=seen``). The retrieval gallery is always every unique trajectory of the split,
whatever the slice. The layout of the result is docs/evaluation-outputs.md; :func:`headline`
flattens it for DVC.

Every number is a mean over the slice's expressions (NaN, a value TAP-Vid leaves undefined,
skipped; bools as 0 / 1) with a seeded percentile bootstrap interval: the values are resampled
with replacement R times, and the interval is the (1 - level) / 2 and (1 + level) / 2
percentiles of the resample means, in the metric's own unit. A slice draws ONE set of resamples
(:func:`bootstrap_indices`) for all its metrics and methods: each resample then holds the same
expressions for all of them, so the intervals are paired and a difference between two methods is
not blurred by resampling them independently.

Legend: S samples, U unique trajectories, R resamples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.recognition import chance_topk, motion_kind_chance
from lang2motion.evaluate.retrieval import RECALL_KS, checked, random_recall, recall_hits
from lang2motion.evaluate.suite import (
    GENERATION_METHODS,
    METRICS,
    RETRIEVAL_METHODS,
    SplitEvaluation,
)

SCHEMA = 1
ALL = "all"
TOP_KS = (1, 5)     # recognition: top-1 and top-5 accuracy
PERCENT = 100.0     # np.percentile takes percentages
DEFAULT_LEVEL = 0.95


def bootstrap_indices(n: int, *, resamples: int, seed: int,
                      ) -> np.ndarray:  # (R, n) int64, R = resamples
    """Resampled sample indices, drawn from ``np.random.default_rng(seed)``. ``resamples`` 0
    gives no rows: every interval is then (nan, nan), reported as unavailable."""
    if n < 0:
        raise ConfigError(f"bootstrap_indices: n must be >= 0, got {n}")
    if resamples < 0:
        raise ConfigError(f"bootstrap_indices: resamples must be >= 0, got {resamples}")
    if n == 0 or resamples == 0:
        return np.zeros((resamples, n), dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n), dtype=np.int64)


def summarize(values: np.ndarray,   # (S,) float or bool, NaN = undefined
              indices: np.ndarray,  # (R, S) int from bootstrap_indices
              *,
              level: float = DEFAULT_LEVEL,
              ) -> dict[str, float | int]:
    """{"value": the NaN-skipping mean, "lo", "hi": its percentile interval (NaN when no resample
    has a finite value), "n": the number of finite values}."""
    if not 0.0 < level < 1.0:
        raise ConfigError(f"summarize: level must be in (0, 1), got {level}")
    values, indices = checked("summarize", values=(values, "S"),
                              indices=(indices, "R S", np.int64))
    if indices.size and (indices.min() < 0 or indices.max() >= len(values)):
        raise DataError(f"summarize: indices must lie in [0, {len(values)}), got "
                        f"[{indices.min()}, {indices.max()}]")
    drawn = values[indices]                                          # (R, S)
    finite = np.isfinite(drawn)
    counts = finite.sum(axis=1)
    means = np.divide(np.where(finite, drawn, 0.0).sum(axis=1), counts,
                      out=np.full(counts.shape, math.nan), where=counts > 0)
    means = means[np.isfinite(means)]
    tail = (1.0 - level) / 2.0
    lo, hi = (np.percentile(means, [tail * PERCENT, (1.0 - tail) * PERCENT]) if means.size
              else (math.nan, math.nan))
    kept = values[np.isfinite(values)]
    return {"value": float(kept.mean()) if kept.size else math.nan,
            "lo": float(lo), "hi": float(hi), "n": int(kept.size)}


def _clean(value: Any) -> Any:
    """NaN -> None (JSON null) and numpy scalars -> Python, recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def exact(value: float, n: int) -> dict[str, Any]:
    """A computed expectation: no sampling, so the interval is the value itself (flagged so that
    the report does not mistake it for a degenerate bootstrap interval)."""
    return {"value": value, "lo": value, "hi": value, "n": n, "exact": True}


def slices(evaluation: SplitEvaluation) -> dict[str, np.ndarray]:
    """``all`` and ``<tag>=<value>`` -> the sample indices of that slice."""
    samples = evaluation.samples
    out = {ALL: np.arange(len(samples))}
    for column in sorted(c for c in samples.columns if c.startswith("tag.")):
        for value in sorted(v for v in samples[column].unique() if v):
            out[f"{column.removeprefix('tag.')}={value}"] = np.flatnonzero(
                (samples[column] == value).to_numpy())
    return out


def slice_table(evaluation: SplitEvaluation, index: np.ndarray, *, resamples: int, seed: int,
                level: float) -> dict[str, Any]:
    """Retrieval and generation tables of the samples ``index``."""
    samples = evaluation.samples.iloc[index]
    boot = bootstrap_indices(len(index), resamples=resamples, seed=seed)

    def stat(values: np.ndarray) -> dict[str, Any]:
        return summarize(np.asarray(values, dtype=np.float64), boot, level=level)

    retrieval = {method: {f"r{k}": stat(recall_hits(samples[f"rank.{method}"].to_numpy(), k))
                          for k in RECALL_KS} for method in RETRIEVAL_METHODS}
    retrieval["random"] = {f"r{k}": exact(random_recall(k, evaluation.gallery_size), len(index))
                           for k in RECALL_KS}
    generation = {method: {metric: stat(samples[f"{method}.{metric}"].to_numpy())
                           for metric in METRICS} for method in GENERATION_METHODS}
    kinds = samples["motion_kind"].tolist()
    chance = (motion_kind_chance(np.array(kinds), np.array(evaluation.reference_kinds))
              if all(kinds) and all(evaluation.reference_kinds) and kinds else None)
    return {"n": len(index), "retrieval": retrieval, "generation": generation,
            "motion_kind_chance": chance}


def recognition_table(evaluation: SplitEvaluation, *, resamples: int, seed: int,
                      level: float) -> dict[str, Any] | None:
    result = evaluation.recognition
    if result is None:
        return None
    ranks, classes = np.asarray(result["ranks"]), result["classes"]
    boot = bootstrap_indices(len(ranks), resamples=resamples, seed=seed)
    out: dict[str, Any] = {"classes": classes, "n": len(ranks)}
    for k in TOP_KS:
        out[f"top{k}"] = summarize((ranks <= k).astype(np.float64), boot, level=level)
        out[f"chance_top{k}"] = chance_topk(k, len(classes))
    return out


def build_tables(evaluation: SplitEvaluation, *, resamples: int, seed: int, level: float,
                 run: dict[str, Any], speed: dict[str, Any]) -> dict[str, Any]:
    """Everything the report prints (docs/evaluation-outputs.md), JSON-ready."""
    chosen = slices(evaluation)
    tags: dict[str, list[str]] = {}
    for name in chosen:
        if name != ALL:
            key, value = name.split("=", 1)
            tags.setdefault(key, []).append(value)
    tables = {
        "schema": SCHEMA, "run": run, "samples": len(evaluation.samples),
        "trajectories": evaluation.gallery_size,
        "interval": {"level": level, "resamples": resamples, "seed": seed},
        "tags": tags,
        "slices": {name: slice_table(evaluation, index, resamples=resamples, seed=seed,
                                     level=level) for name, index in chosen.items()},
        "recognition": recognition_table(evaluation, resamples=resamples, seed=seed,
                                         level=level),
        "speed": speed,
        "clip_similarity": {"samples": len(evaluation.clip_samples),
                            "of": len(evaluation.samples)},
    }
    return _clean(tables)


# headline key -> (method, metric) of a slice's generation table
_GENERATION_KEYS = {
    **{metric: ("lang2motion", metric) for metric in (
        "ade", "ade_px", "fde", "fde_px", "smoothness", "smoothness_px", "clip_sim", "aj", "oa",
        "motion_kind_acc")},
    "teacher_forced_ade": ("teacher_forced", "ade"), "recon_ade": ("reconstruction", "ade"),
    **{f"{method}_ade": (method, "ade") for method in ("static", "nearest_caption", "mean_motion")},
    **{f"{method}_{metric}": (method, metric) for method in ("image", "overlay")
       for metric in ("ade", "clip_sim", "smoothness", "smoothness_px")},
}


def _slice_headline(table: dict[str, Any]) -> dict[str, Any]:
    out = {f"r{k}": table["retrieval"]["lang2motion"][f"r{k}"]["value"] for k in RECALL_KS}
    out["chance_r1"] = table["retrieval"]["random"]["r1"]["value"]
    out["clip_nn_r1"] = table["retrieval"]["clip_nn"]["r1"]["value"]
    for key, (method, metric) in _GENERATION_KEYS.items():
        out[key] = table["generation"][method][metric]["value"]
    out["motion_kind_chance"] = table["motion_kind_chance"]
    return out


def headline(tables: dict[str, Any]) -> dict[str, Any]:
    """The flat numbers of reports/metrics.json: slice ``all`` at the top level, one nested
    object per tag slice (``phrasing_seen``) and recognition. Timings stay in tables.json's
    ``speed`` alone: as DVC metrics they would differ on every rerun."""
    out = _slice_headline(tables["slices"][ALL])
    for name, table in tables["slices"].items():
        if name != ALL:
            out[name.replace("=", "_")] = _slice_headline(table)
    recognition = tables.get("recognition")
    for k in TOP_KS:
        out[f"recognition_top{k}"] = recognition[f"top{k}"]["value"] if recognition else None
    return _clean(out)
