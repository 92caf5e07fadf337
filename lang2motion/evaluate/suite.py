"""A trained model evaluated on one split, per sample: every method's trajectory and metric.

Nothing here averages: :mod:`lang2motion.evaluate.tables` bootstraps and slices these per-sample
values. The methods and metrics are listed in docs/evaluation-outputs.md; in short, every valid
expression's initial grid is decoded by Lang2Motion from its caption (and, for comparison, from
the true trajectory's latent, with teacher forcing, from the first frame's image embedding and
from the true trajectory's pooled overlay embedding) and by three baselines; each trajectory is
scored against the tracked ground truth.

Timings: untimed warm-up calls, then timed ones (p50, p95 in ms; throughput: the best, the least
disturbed by other work); on CUDA each timed call is synchronised, so the clock measures the work.

Legend: S samples (expressions), U unique trajectories (track rows), T frames, N points, D latent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.baselines import (
    apply_motion,
    mean_motion,
    nearest_caption_tracks,
    static_tracks,
)
from lang2motion.evaluate.generation import (
    PIXELS_PER_UNIT,
    ade,
    cosine,
    fde,
    frame_errors,
    smoothness,
    smoothness_px,
    tapvid_against_truth,
)
from lang2motion.evaluate.recognition import class_ranks, motion_kind_hits
from lang2motion.evaluate.retrieval import cosine_matrix, target_ranks, unique_track_index
from lang2motion.store import FeatureTensors
from lang2motion.trained_model import Lang2MotionModel

GENERATION_METHODS = ("lang2motion", "teacher_forced", "reconstruction", "static",
                      "nearest_caption", "mean_motion", "image", "overlay")
# methods whose CLIP similarity is reported (the others are not generators)
CLIP_SIM_METHODS = ("lang2motion", "static", "nearest_caption", "mean_motion", "image", "overlay")
RETRIEVAL_METHODS = ("lang2motion", "clip_nn")
METRICS = ("ade", "ade_px", "fde", "fde_px", "smoothness", "smoothness_px", "aj", "oa",
           "clip_sim", "motion_kind_acc")
SPEED_BATCH = 256           # batched-throughput measurement: trajectories per call
SPEED_PROMPT = "a red ball moving to the left"
PERCENTILES = (50, 95)
MS_PER_S = 1000.0


def kind_text(kind: str) -> str:
    """A motion-kind label as the class name CLIP reads: ``moving_left`` -> ``moving left``."""
    return kind.replace("_", " ")


@dataclass
class SplitEvaluation:
    """Per-sample results of one split (see :func:`evaluate_split`)."""

    samples: pd.DataFrame                   # one row per sample: ids, tags, ranks, metrics
    tracks: dict[str, np.ndarray]           # method -> (S, T, N, 2) normalised
    frame_errors: dict[str, np.ndarray]     # method -> (S, T) mean point distance per frame
    gallery_size: int                       # U: trajectories every query ranks
    reference_kinds: list[str]              # (U,) motion kind of each unique trajectory
    recognition: dict | None                # classes, labels (U,), ranks (U,); None: no labels
    clip_samples: np.ndarray                # indices of the samples with a CLIP similarity


def predict(model: Lang2MotionModel, valid: FeatureTensors, train: FeatureTensors, *,
            frame_latents: np.ndarray,      # (S, D) CLIP image embedding of each first frame
            ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every method's (S, T, N, 2) trajectories, and the latents z (S, D) of the truth."""
    grid, frames = valid.grid, valid.tracks.shape[1]
    z = model.encode_tracks(valid.tracks, valid.image_emb)
    return {
        "lang2motion": model.decode_tracks(valid.text_emb, grid),
        "teacher_forced": model.decode_tracks(valid.text_emb, grid, teacher=valid.tracks),
        "reconstruction": model.decode_tracks(z, grid),
        "static": static_tracks(grid, frames),
        "nearest_caption": nearest_caption_tracks(grid, valid.text_emb, train.text_emb,
                                                  train.tracks),
        "mean_motion": apply_motion(grid, mean_motion(train.tracks)),
        "image": model.decode_tracks(frame_latents, grid),
        "overlay": model.decode_tracks(valid.image_emb_pooled, grid),
    }, z


def clip_similarity(model: Lang2MotionModel, tracks: dict[str, np.ndarray], valid: FeatureTensors,
                    *, subset: np.ndarray, frames_of: Callable[[int], np.ndarray],
                    progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """cos(encoder latent of each generated trajectory, caption embedding), (S,) per method,
    NaN outside ``subset``. A trajectory is encoded as in training: its overlays, drawn over the
    sample's own frames (``frames_of(i)``: (T, H, W, 3)), go through the recorded CLIP.
    Trajectories that repeat (a baseline is the same for every caption of a track row) are
    encoded once."""
    out = {m: np.full(len(valid), np.nan) for m in CLIP_SIM_METHODS}
    cache: dict[tuple[str, bytes], np.ndarray] = {}
    for count, i in enumerate(subset):
        frames = frames_of(int(i)) if model.module.cfg.use_overlay else None
        chosen = {m: tracks[m][i] for m in CLIP_SIM_METHODS}
        features = {}
        for method, trajectory in chosen.items():
            key = (valid.track_ids[i], np.round(trajectory, 6).tobytes())
            if key not in cache:
                cache[key] = (model.overlay_features(frames, trajectory)
                              if frames is not None else None)
            features[method] = cache[key]
        overlay = (np.stack([features[m] for m in CLIP_SIM_METHODS])
                   if frames is not None else None)
        z = model.encode_tracks(np.stack(list(chosen.values())), overlay)
        text = np.repeat(valid.text_emb[i:i + 1], len(chosen), axis=0)
        for method, value in zip(CLIP_SIM_METHODS, cosine(z, text), strict=True):
            out[method][i] = value
        if progress is not None:
            progress(count + 1)
    return out


def recognition(model: Lang2MotionModel, z: np.ndarray, valid: FeatureTensors,
                class_kinds: list[str]) -> dict | None:
    """Zero-shot motion-kind classification of each unique valid trajectory: cosine of its z
    (S, D) with the CLIP text embedding of every class name. None without labels."""
    firsts, _ = unique_track_index(valid.track_ids)
    labels = [valid.motion_kinds[i] for i in firsts]
    if not class_kinds or not all(labels):
        return None
    index = {kind: k for k, kind in enumerate(class_kinds)}
    class_emb = model.encode_texts([kind_text(k) for k in class_kinds])
    ranks = class_ranks(z[firsts], class_emb, np.array([index[k] for k in labels]))
    return {"classes": [kind_text(k) for k in class_kinds], "labels": labels, "ranks": ranks}


def _synchronise() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def latency_ms(fn: Callable[[], Any], *, repeats: int, warmup: int) -> dict[str, float]:
    """{"p50": ms, "p95": ms, "mean": ms, "min": ms, "repeats": n} of ``fn()``."""
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"latency: repeats must be >= 1 and warmup >= 0, got {repeats}, "
                          f"{warmup}")
    for _ in range(warmup):
        fn()
    _synchronise()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _synchronise()
        times.append((time.perf_counter() - start) * MS_PER_S)
    p50, p95 = np.percentile(times, PERCENTILES)
    return {"p50": float(p50), "p95": float(p95), "mean": float(np.mean(times)),
            "min": float(np.min(times)), "repeats": float(repeats)}


def throughput(fn: Callable[[], Any], *, items: int, repeats: int, warmup: int = 1) -> float:
    """Items per second of ``fn()`` (which handles ``items`` items), best of ``repeats``."""
    timing = latency_ms(fn, repeats=repeats, warmup=warmup)
    return items / (timing["min"] / MS_PER_S)


def measure_speed(model: Lang2MotionModel, valid: FeatureTensors, *,
                  repeats: int) -> dict[str, float | int | str]:
    """Text -> trajectory time: batch 1 (decode only, and with CLIP text encoding), and the
    throughput of one batched decode of SPEED_BATCH trajectories."""
    one_text, one_grid = valid.text_emb[:1], valid.grid[:1]
    decode_only = latency_ms(lambda: model.decode_tracks(one_text, one_grid), repeats=repeats,
                             warmup=3)
    with_text = latency_ms(lambda: model.decode_tracks(model.encode_texts([SPEED_PROMPT]),
                                                    one_grid), repeats=repeats, warmup=3)
    take = np.arange(SPEED_BATCH) % len(valid)
    texts, grids = valid.text_emb[take], valid.grid[take]
    batched = throughput(lambda: model.decode_tracks(texts, grids), items=SPEED_BATCH,
                         repeats=max(1, repeats // 10))
    return {"device": str(model.device), "threads": torch.get_num_threads(),
            "batch1_ms_p50": decode_only["p50"], "batch1_ms_p95": decode_only["p95"],
            "batch1_with_text_ms_p50": with_text["p50"],
            "batch1_with_text_ms_p95": with_text["p95"],
            "batch": SPEED_BATCH, "batched_per_s": batched}


def _metrics(tracks: np.ndarray, valid: FeatureTensors, *, reference: np.ndarray,
             reference_kinds: list[str]) -> dict[str, np.ndarray]:
    """Every metric but CLIP similarity of one method's (S, T, N, 2) trajectories."""
    truth = valid.tracks
    errors = {"ade": ade(tracks, truth), "fde": fde(tracks, truth),
              "smoothness": smoothness(tracks), "smoothness_px": smoothness_px(tracks)}
    errors["ade_px"] = errors["ade"] * PIXELS_PER_UNIT
    errors["fde_px"] = errors["fde"] * PIXELS_PER_UNIT
    tapvid = tapvid_against_truth(tracks, truth, valid.visible)
    errors["aj"], errors["oa"] = tapvid["average_jaccard"], tapvid["occlusion_accuracy"]
    if all(reference_kinds):
        errors["motion_kind_acc"] = motion_kind_hits(
            tracks, reference, np.array(valid.motion_kinds), np.array(reference_kinds)
        ).astype(np.float64)
    else:
        errors["motion_kind_acc"] = np.full(len(valid), np.nan)
    return errors


def evaluate_split(model: Lang2MotionModel, valid: FeatureTensors, train: FeatureTensors, *,
                   frame_latents: np.ndarray, frames_of: Callable[[int], np.ndarray],
                   clip_subset: np.ndarray,
                   progress: Callable[[int], None] | None = None) -> SplitEvaluation:
    """Per-sample retrieval ranks and generation metrics of every method on ``valid``.

    frame_latents: (S, D) CLIP image embedding of each sample's first frame (Table 8);
    frames_of(i): the (T, H, W, 3) frames of sample i's window (CLIP similarity);
    clip_subset: sample indices whose CLIP similarity is computed.
    """
    if len(valid) == 0:
        raise DataError("evaluate: the valid split has no samples")
    tracks, z = predict(model, valid, train, frame_latents=frame_latents)
    firsts, owner = unique_track_index(valid.track_ids)
    reference, reference_kinds = valid.tracks[firsts], [valid.motion_kinds[i] for i in firsts]
    ranks = {"lang2motion": target_ranks(cosine_matrix(valid.text_emb, z[firsts]), owner),
             "clip_nn": target_ranks(cosine_matrix(valid.text_emb,
                                                   valid.image_emb_pooled[firsts]), owner)}
    similarity = clip_similarity(model, tracks, valid, subset=clip_subset,
                                 frames_of=frames_of, progress=progress)
    columns: dict[str, object] = {
        "sample_id": valid.sample_ids, "video_id": valid.video_ids,
        "track_id": valid.track_ids, "text": valid.texts, "motion_kind": valid.motion_kinds}
    for key in sorted({k for tags in valid.tags for k in tags}):
        columns[f"tag.{key}"] = [tags.get(key, "") for tags in valid.tags]
    for method, rank in ranks.items():
        columns[f"rank.{method}"] = rank
    for method in GENERATION_METHODS:
        values = _metrics(tracks[method], valid, reference=reference,
                          reference_kinds=reference_kinds)
        values["clip_sim"] = similarity.get(method, np.full(len(valid), np.nan))
        for metric in METRICS:
            columns[f"{method}.{metric}"] = values[metric]
    class_kinds = sorted({k for k in valid.motion_kinds + train.motion_kinds if k})
    return SplitEvaluation(
        samples=pd.DataFrame(columns), tracks=tracks,
        frame_errors={m: frame_errors(t, valid.tracks) for m, t in tracks.items()},
        gallery_size=len(firsts), reference_kinds=reference_kinds,
        recognition=recognition(model, z, valid, class_kinds), clip_samples=clip_subset)
