"""The evaluate stage: the trained model on the valid split, every table of the paper's section 4.

Reads the checkpoint (and the CLIP and overlay settings it records), the train and valid feature
shards and the valid split's frames; writes ``reports/metrics.json`` (headline numbers) and
``reports/eval/`` (tables with bootstrap intervals, per-sample results, plots, gallery) as
described in docs/evaluation-outputs.md. ``reports/eval`` is written in a staging folder and
swapped in whole.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lang2motion.config import DataConfig, EvalConfig, TrackConfig, as_dict
from lang2motion.data.splits import resolve_split
from lang2motion.errors import DataError
from lang2motion.evaluate.plots import write_gallery, write_plots
from lang2motion.evaluate.suite import evaluate_split, measure_speed
from lang2motion.evaluate.tables import build_tables, headline
from lang2motion.io import atomic_dir, write_json_atomic
from lang2motion.runtime import machine_facts
from lang2motion.store import FeatureTensors, load_feature_tensors
from lang2motion.trained_model import Lang2MotionModel

log = logging.getLogger(__name__)


class WindowReader:
    """The (T, H, W, 3) frames of a sample's window, read once per track row (a small cache:
    samples of one row are adjacent)."""

    def __init__(self, raw_dir: str | os.PathLike[str], split: str, data: FeatureTensors):
        self.split, self.data = resolve_split(raw_dir, split), data
        self.frames = data.tracks.shape[1]
        self._window = functools.lru_cache(maxsize=1)(self._read)

    def _read(self, track_id: str, video_id: str, start: int) -> np.ndarray:
        return self.split.read_frames(video_id, start, start + self.frames)

    def __call__(self, i: int) -> np.ndarray:
        return self._window(self.data.track_ids[i], self.data.video_ids[i],
                            int(self.data.starts[i]))


def first_frame_latents(model: Lang2MotionModel, data: FeatureTensors,
                        frames_of: WindowReader) -> np.ndarray:   # (S, D)
    """CLIP image embedding of each sample's first frame (Table 8, image + mask)."""
    rows = {track: i for i, track in reversed(list(enumerate(data.track_ids)))}
    order = list(rows)
    latents = model.image_embeddings(np.stack([frames_of(rows[t])[0] for t in order]))
    by_track = dict(zip(order, latents, strict=True))
    return np.stack([by_track[t] for t in data.track_ids])


def check_features(model: Lang2MotionModel, valid: FeatureTensors, *, where: Path) -> None:
    cfg = model.module.cfg
    if valid.tracks.shape[1:3] != (cfg.frames, cfg.points):
        raise DataError(f"{where}: samples have T={valid.tracks.shape[1]}, "
                        f"N={valid.tracks.shape[2]} but the model was trained on T={cfg.frames},"
                        f" N={cfg.points}; re-run the pipeline (dvc repro)")
    if (valid.clip_model, valid.clip_pretrained) != (model.clip_model,
                                                      model.clip_pretrained):
        raise DataError(f"{where}: features come from CLIP {valid.clip_model} "
                        f"({valid.clip_pretrained}) but the model was trained with "
                        f"{model.clip_model} ({model.clip_pretrained}); re-run "
                        "the pipeline (dvc repro)")


def clip_subset(samples: int, count: int) -> np.ndarray:
    """``count`` sample indices spread evenly over the split (0 = all)."""
    if count == 0 or count >= samples:
        return np.arange(samples)
    return np.unique(np.linspace(0, samples - 1, count).round().astype(int))


def run_stage(*, data: DataConfig, track: TrackConfig, eval_cfg: EvalConfig,
        model_dir: str | os.PathLike[str], features_dir: str | os.PathLike[str],
        raw_dir: str | os.PathLike[str], metrics_path: str | os.PathLike[str],
        out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Evaluate the model in ``model_dir``; return the headline metrics and the timings."""
    model = Lang2MotionModel.load(model_dir, device=eval_cfg.device, device_param="eval.device",
                               batch_size=eval_cfg.batch_size)
    features_dir = Path(features_dir)
    valid = load_feature_tensors(features_dir / data.valid_split)
    train = load_feature_tensors(features_dir / data.train_split)
    check_features(model, valid, where=features_dir / data.valid_split)
    frames_of = WindowReader(raw_dir, data.valid_split, valid)
    subset = clip_subset(len(valid), eval_cfg.clip_samples)
    with tqdm(total=len(subset), desc="evaluate (CLIP similarity)", unit="sample") as bar:
        evaluation = evaluate_split(
            model, valid, train, frame_latents=first_frame_latents(model, valid,
                                                                       frames_of),
            frames_of=frames_of, clip_subset=subset, progress=lambda n: bar.update(1))
    speed = measure_speed(model, valid, repeats=eval_cfg.timing_repeats)
    meta = model.meta
    run_info = {"split": data.valid_split, "git_rev": meta.get("git_rev", "unknown"),
                "epoch": meta.get("epoch"), "data_source": data.source,
                "tracker": track.backend,
                "clip": {"model": model.clip_model, "pretrained": model.clip_pretrained,
                         "random": model.random_clip},
                "model_config": meta.get("model_config"), "params": meta.get("params"),
                "steps": meta.get("steps"),
                "machine": machine_facts(model.device), "train_machine": meta.get("machine"),
                "eval": as_dict(eval_cfg)}
    tables = build_tables(evaluation, resamples=eval_cfg.bootstrap, seed=eval_cfg.seed,
                          level=eval_cfg.level, run=run_info, speed=speed)
    with atomic_dir(out_dir) as staging:
        evaluation.samples.to_parquet(staging / "samples.parquet", index=False)
        write_json_atomic(staging / "tables.json", tables)
        write_plots(evaluation, staging / "plots")
        write_gallery(evaluation.samples, truth=valid.tracks,
                      generated=evaluation.tracks["lang2motion"], sizes=valid.sizes,
                      frames_of=frames_of, out_dir=staging, count=eval_cfg.gallery)
    metrics = headline(tables)
    write_json_atomic(metrics_path, metrics)
    return {"metrics": metrics, "speed": tables["speed"]}


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def summary_lines(result: dict[str, Any]) -> list[str]:
    metrics, speed = result["metrics"], result["speed"]
    lines = [f"retrieval R@1 {_fmt(metrics['r1'])} (chance {_fmt(metrics['chance_r1'])}); "
             f"text ADE {_fmt(metrics['ade'])} vs static {_fmt(metrics['static_ade'])} and "
             f"nearest caption {_fmt(metrics['nearest_caption_ade'])} (normalised units); "
             f"reconstruction ADE {_fmt(metrics['recon_ade'])}"]
    for key, value in metrics.items():
        if isinstance(value, dict):
            lines.append(f"{key}: R@1 {_fmt(value['r1'])} (chance {_fmt(value['chance_r1'])}),"
                         f" text ADE {_fmt(value['ade'])}, motion-kind accuracy "
                         f"{_fmt(value['motion_kind_acc'])} (chance "
                         f"{_fmt(value['motion_kind_chance'])})")
    lines.append(f"{_fmt(speed.get('batch1_with_text_ms_p50'))} ms per trajectory at batch 1 "
                 f"(CLIP text encoding included), {_fmt(speed.get('batched_per_s'))} "
                 "trajectories/s batched")
    return lines
