"""Does the default run learn? The issue-9 targets for several training seeds, with their spread.

Trains the workspace's parameters (params.yaml, on the features `make demo` built) once per
``train.seed`` and evaluates each run with the evaluate stage's own code, into a scratch folder
(the workspace's models/ and reports/ are not touched). Prints and writes, per seed and as mean
+- standard deviation, on the synthetic valid split (random CLIP, LK: stand-ins, not the
paper's set-up):

- free-running reconstruction ADE / static-grid ADE            (target <= 0.4)
- text-decoded ADE / static ADE on `seen` phrasing               (target <= 0.7)
- text-decoded ADE < nearest-training-caption ADE on `seen`
- R@1 / chance on `seen`                                         (target >= 5)
- motion-kind accuracy on `seen`                                 (target >= 0.5)
- the same on `unseen` (reported whatever it is: random CLIP has no language knowledge)

    python benchmarks/bench_learning.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lang2motion.config import load_params
from lang2motion.entry import add_debug_flag, run_with_error_contract, setup_logging
from lang2motion.io import write_json_atomic, write_text_atomic
from lang2motion.stages import evaluate as evaluate_stage
from lang2motion.stages import train as train_stage

# (key, label, how it is computed from a headline slice, target test)
TARGETS = (
    ("recon_ratio", "free-running reconstruction ADE / static ADE (all)",
     lambda m, s: m["recon_ade"] / m["static_ade"], lambda v: v <= 0.4, "<= 0.4"),
    ("seen_text_ratio", "text ADE / static ADE (seen)",
     lambda m, s: s["ade"] / s["static_ade"], lambda v: v <= 0.7, "<= 0.7"),
    ("seen_text_vs_nearest", "text ADE - nearest-caption ADE (seen)",
     lambda m, s: s["ade"] - s["nearest_caption_ade"], lambda v: v < 0.0, "< 0"),
    ("seen_r1_x_chance", "R@1 / chance (seen)",
     lambda m, s: s["r1"] / s["chance_r1"], lambda v: v >= 5.0, ">= 5"),
    ("seen_kind_acc", "motion-kind accuracy (seen)",
     lambda m, s: s["motion_kind_acc"], lambda v: v >= 0.5, ">= 0.5"),
)
REPORTED = (("unseen_r1_x_chance", "R@1 / chance (unseen)",
             lambda m, u: u["r1"] / u["chance_r1"]),
            ("unseen_text_ratio", "text ADE / static ADE (unseen)",
             lambda m, u: u["ade"] / u["static_ade"]),
            ("unseen_kind_acc", "motion-kind accuracy (unseen)",
             lambda m, u: u["motion_kind_acc"]))
# the learning targets need no CLIP similarity (eval.clip_samples 0 would mean all: 8 is cheap)
EVAL_FAST = {"bootstrap": 200, "clip_samples": 8, "gallery": 0, "timing_repeats": 3}


def one_seed(params: dict[str, Any], seed: int, *, features: Path, raw: Path,
             scratch: Path) -> dict[str, Any]:
    """Train with ``seed`` and evaluate; return the headline metrics and the wall times."""
    folder = scratch / f"seed{seed}"
    started = time.perf_counter()
    train_stage.run_stage(data=params["data"], grid=params["grid"], overlay=params["overlay"],
                    model=params["model"], loss=params["loss"],
                    train=dataclasses.replace(params["train"], seed=seed),
                    features_dir=features, out_dir=folder / "models",
                    metrics_path=folder / "train_metrics.json", live_dir=folder / "dvclive")
    trained = time.perf_counter()
    metrics = evaluate_stage.run_stage(
        data=params["data"], track=params["track"],
        eval_cfg=dataclasses.replace(params["eval"], **EVAL_FAST), model_dir=folder / "models",
        features_dir=features, raw_dir=raw, metrics_path=folder / "metrics.json",
        out_dir=folder / "eval")
    return {"metrics": metrics, "train_s": trained - started,
            "evaluate_s": time.perf_counter() - trained}


def figures(metrics: dict[str, Any]) -> dict[str, float]:
    seen, unseen = metrics.get("phrasing_seen"), metrics.get("phrasing_unseen")
    if seen is None or unseen is None:
        raise SystemExit("the valid split has no phrasing tags (seen / unseen): run on the "
                         "synthetic data set")
    out = {key: float(fn(metrics, seen)) for key, _, fn, _, _ in TARGETS}
    out.update({key: float(fn(metrics, unseen)) for key, _, fn in REPORTED})
    return out


def _spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {std:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--out", default="reports/bench_learning.json")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    params = load_params(args.params, "data", "grid", "track", "overlay", "clip", "model",
                         "loss", "train", "eval")
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            result = one_seed(params, seed, features=args.features, raw=args.raw,
                              scratch=Path(scratch))
            runs[seed] = {**result, "figures": figures(result["metrics"])}
            print(f"seed {seed}: {json.dumps(runs[seed]['figures'])}", flush=True)
    rows = []
    for key, label, _, passes, target in TARGETS:
        values = [runs[s]["figures"][key] for s in args.seeds]
        verdicts = " ".join(f"{v:.3f}{'' if passes(v) else ' (missed)'}" for v in values)
        rows.append(f"| {label} | {target} | {verdicts} | {_spread(values)} |")
    for key, label, _ in REPORTED:
        values = [runs[s]["figures"][key] for s in args.seeds]
        rows.append(f"| {label} | reported | {' '.join(f'{v:.3f}' for v in values)} | "
                    f"{_spread(values)} |")
    data = params["data"]
    lines = [
        "# Does the default run learn?", "",
        f"`{args.params}` trained with train.seed {', '.join(map(str, args.seeds))} and "
        f"evaluated on `{data.valid_split}` (synthetic data, LK tracker, CLIP "
        f"{params['clip'].model} with random weights: stand-ins, not the paper's set-up). "
        "`seen`: caption templates "
        "also used in train, on held-out videos; `unseen`: templates never used in train "
        "(language generalisation; near chance is expected with random CLIP weights).", "",
        f"Machine: {os.cpu_count()} CPUs; per seed: training "
        + ", ".join(f"{runs[s]['train_s'] / 60:.1f}" for s in args.seeds)
        + " min, evaluation " + ", ".join(f"{runs[s]['evaluate_s']:.0f}" for s in args.seeds)
        + " s.", "",
        "| figure | target | per seed | mean ± std |", "| --- | --- | --- | --- |", *rows, ""]
    write_json_atomic(args.out, {"seeds": args.seeds, "runs": {str(s): runs[s] for s in runs}})
    write_text_atomic(Path(args.out).with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_learning", main))
