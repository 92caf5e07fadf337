"""Scaling with data size: wall time and peak memory of every stage at 1x, 2x and 4x the videos.

For each scale s, in its own scratch folder, the stage scripts run one after the other with their
own commands from dvc.yaml (paths relative to the scratch folder; no DVC, no git) on the
synthetic set with ``data.synth.train_videos`` and ``valid_videos`` times s. Each stage runs in a
fresh child process (a small wrapper that starts the stage and reports on it), which gives:

- wall seconds of the stage, interpreter start-up and imports included (as DVC sees it);
- peak resident memory of its largest process (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of the
  wrapper, whose only child is the stage: torchrun workers included, as a maximum) and of all
  its processes together (their RSS summed, sampled every 0.1 s with psutil);
- items per second (prepare: videos; track and render: track rows; embed: samples; train:
  samples x epochs; evaluate: valid samples).

Then per stage the growth exponent k of time and of memory against the number of videos
(y ~ n^k: the least-squares slope of log y on log n over the scales). A stage's fixed start-up
(a few seconds of imports) pulls k below 1 at small sizes: read k with the seconds beside it.
Last, on the first scale's features, training with ``train.nproc=2`` against 1 at the same
global batch (``train.batch_size``): speed-up and efficiency (speed-up / 2), when this version
has ``train.nproc``.

The load average and CPU model are printed at the start and the end: a figure taken while other
jobs run is not a figure, and the script says so loudly when the load is above 0.5 at the start.
Writes ``--out``.json and ``--out``.md.

    python benchmarks/bench_scaling.py                          # 1x, 2x, 4x of params.yaml
    python benchmarks/bench_scaling.py --scales 1,2,4,8 --set train.epochs=2
    python benchmarks/bench_scaling.py --variant streamed train train.stream_above_mb=0
    python benchmarks/bench_scaling.py --quick                  # a tiny smoke run (seconds)

``--set key=value`` overrides a parameter in every run; ``--variant NAME STAGE key=value ...``
re-runs STAGE at every scale with extra overrides and reports it as its own row ("train
[streamed]") with its own growth exponents.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lang2motion.config import TrainConfig, load_params
from lang2motion.entry import add_debug_flag, run_with_error_contract
from lang2motion.errors import ConfigError, Lang2MotionError
from lang2motion.io import write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
STAGES = ("prepare", "track", "render", "embed", "train", "evaluate")
LOAD_LIMIT = 0.5          # 1-minute load average above which figures are not trustworthy
SAMPLE_EVERY_S = 0.1      # psutil sampling period of the process tree's RSS
LOG_TAIL = 3000           # characters of a failed stage's log shown in the error
MB = 1024 * 1024
# --quick: tiny sizes, the end-to-end test's (tests/test_pipeline_e2e.py), two scales
QUICK = {
    "data.frames": 8, "data.window_stride": 4, "data.max_windows": 1,
    "data.synth.train_videos": 4, "data.synth.valid_videos": 3, "data.synth.video_frames": 10,
    "data.synth.height": 96, "data.synth.width": 128,
    "grid.size": 3, "grid.erode_iterations": 1, "overlay.size": 64,
    "clip.model": "L2M-Tiny", "clip.batch_size": 16,
    "model.latent": 32, "model.layers": 1, "model.heads": 2, "model.ff": 64,
    "model.decoder_hidden": 64, "train.epochs": 1, "train.batch_size": 8,
    "eval.bootstrap": 20, "eval.clip_samples": 2, "eval.gallery": 1, "eval.timing_repeats": 2,
}
QUICK_SCALES = (1, 2)

# The wrapper each stage runs under: argv = [result.json, command...]. Its only child is the
# stage, so RUSAGE_CHILDREN's ru_maxrss is the largest process of the stage (kB on Linux).
WRAPPER = r"""
import json, resource, subprocess, sys, time
began = time.perf_counter()
status = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - began
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
peak_bytes = peak if sys.platform == "darwin" else peak * 1024
with open(sys.argv[1], "w") as handle:
    json.dump({"status": status, "seconds": seconds, "peak_bytes": peak_bytes}, handle)
sys.exit(status)
"""


@dataclass(frozen=True)
class Variant:
    """A stage re-run at every scale with extra overrides, reported as its own row."""

    name: str
    stage: str
    overrides: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.stage} [{self.name}]"


# ---------------------------------------------------------------------------------------------
# Parameters


def parse_overrides(items: Sequence[str], *, option: str) -> dict[str, Any]:
    """``key=value`` strings (values read as YAML: 2, 0.5, false, cyan) -> {key: value}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or "." not in key:
            raise ConfigError(f"{option} {item!r}: expected section.key=value, e.g. "
                              "train.epochs=2")
        out[key.strip()] = yaml.safe_load(value)
    return out


def apply_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the params mapping with dotted ``overrides`` set."""
    out = json.loads(json.dumps(params))
    for key, value in overrides.items():
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def write_params(path: Path, params: dict[str, Any]) -> None:
    """params.yaml for a run, validated now so that a bad override fails before any stage."""
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    load_params(path)


def has_train_nproc() -> bool:
    return "nproc" in {f.name for f in dataclasses.fields(TrainConfig)}


# ---------------------------------------------------------------------------------------------
# Running and measuring one stage


def stage_commands() -> dict[str, list[str]]:
    """Each stage's command from dvc.yaml, run by this interpreter (paths stay relative: the
    stage runs in the scratch folder)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    out = {}
    for name in STAGES:
        words = shlex.split(stages[name]["cmd"])
        script = next(i for i, w in enumerate(words) if w.startswith("pipeline/") and
                      w.endswith(".py") and w != "pipeline/python.sh")
        out[name] = [sys.executable, str(REPO / words[script]), *words[script + 1:]]
    return out


def tree_rss(pid: int) -> int | None:
    """RSS bytes of ``pid``'s descendants together (the wrapper itself left out), or None."""
    try:
        import psutil  # installed with dvc
    except ImportError:
        return None
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for child in children:
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(command: list[str], *, cwd: Path, env: dict[str, str], log: Path,
            label: str) -> dict[str, Any]:
    """Run ``command`` under the wrapper in ``cwd``; its seconds, peak RSS of its largest process
    and of all its processes (MB). A failure raises with the tail of its log."""
    result_file = log.with_suffix(".json")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", WRAPPER, str(result_file), *command],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        tree_peak: int | None = 0
        while proc.poll() is None:
            rss = tree_rss(proc.pid)
            tree_peak = None if rss is None or tree_peak is None else max(tree_peak, rss)
            time.sleep(SAMPLE_EVERY_S)
    if proc.returncode != 0 or not result_file.exists():
        tail = log.read_text(errors="replace")[-LOG_TAIL:]
        raise Lang2MotionError(f"{label} failed (exit status {proc.returncode}); the end of its "
                               f"log {log}:\n{tail}")
    result = json.loads(result_file.read_text())
    return {"seconds": round(result["seconds"], 3),
            "peak_mb": round(result["peak_bytes"] / MB, 1),
            "all_processes_peak_mb": None if tree_peak is None else round(tree_peak / MB, 1)}


def stage_items(stage: str, folder: Path, params: dict[str, Any]) -> int | None:
    """How many items the stage processed, from its outputs (None when they do not say)."""

    def summary(name: str) -> dict[str, Any]:
        path = folder / "reports" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def total(name: str, key: str, splits: Sequence[str] | None = None) -> int | None:
        found = summary(name).get("splits", {})
        values = [s.get(key) for n, s in found.items() if splits is None or n in splits]
        return sum(values) if values and all(isinstance(v, int) for v in values) else None

    data = params["data"]
    if stage == "prepare":
        return total("prepare_summary", "videos")
    if stage == "track":
        return total("track_summary", "track_rows")
    if stage == "render":
        return len(list((folder / "data/overlays").glob("*/*.mp4"))) or None
    if stage == "embed":
        return total("embed_summary", "samples")
    if stage == "train":
        samples = total("embed_summary", "samples", [data["train_split"]])
        return None if samples is None else samples * int(params["train"]["epochs"])
    if stage == "evaluate":
        return total("embed_summary", "samples", [data["valid_split"]])
    return None


def run_stage(stage: str, *, folder: Path, params: dict[str, Any], commands: dict[str, list[str]],
              env: dict[str, str], label: str) -> dict[str, Any]:
    if stage == "train":        # `models` persists to resume: every measured run starts afresh
        shutil.rmtree(folder / "models", ignore_errors=True)
    write_params(folder / "params.yaml", params)
    (folder / "logs").mkdir(exist_ok=True)
    figures = measure(commands[stage], cwd=folder, env=env,
                      log=folder / "logs" / f"{label.replace(' ', '_')}.log", label=label)
    items = stage_items(stage, folder, params)
    figures["items"] = items
    figures["items_per_s"] = (None if not items else round(items / figures["seconds"], 2))
    print(f"  {label}: {figures['seconds']:.1f} s, peak {figures['peak_mb']:.0f} MB "
          f"(all processes {figures['all_processes_peak_mb']} MB), {items} items", flush=True)
    return figures


# ---------------------------------------------------------------------------------------------
# Figures


def growth_exponent(sizes: Sequence[float], values: Sequence[float | None]) -> float | None:
    """k of y ~ n^k: least-squares slope of log y on log n (None with fewer than two points)."""
    points = [(n, y) for n, y in zip(sizes, values, strict=True) if y and y > 0]
    if len(points) < 2 or len({n for n, _ in points}) < 2:
        return None
    slope = np.polyfit(np.log([n for n, _ in points]), np.log([y for _, y in points]), 1)[0]
    return round(float(slope), 3)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_state(when: str) -> dict[str, Any]:
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    state = {"when": when, "time": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
             "load_average": load, "cpu_model": cpu_model(), "cpu_count": os.cpu_count()}
    print(f"machine at the {when}: load average {load} (1, 5, 15 min), {os.cpu_count()} x "
          f"{state['cpu_model']}", flush=True)
    if when == "start" and load and load[0] > LOAD_LIMIT:
        print("=" * 78 + f"\nWARNING: load average {load[0]} > {LOAD_LIMIT} at the start: other "
              "jobs are running and every figure below is slowed by them.\nA figure taken under "
              "load is not a figure; run again on an idle machine.\n" + "=" * 78,
              file=sys.stderr, flush=True)
    return state


def speedup(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    one, two = runs["1"]["seconds"], runs["2"]["seconds"]
    return {"speedup": round(one / two, 3), "efficiency": round(one / two / 2, 3)}


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    start, end = report["machine"]["start"], report["machine"]["end"]
    scales = report["scales"]
    lines = ["# Scaling with data size", "",
             (f"{start['cpu_count']} x {start['cpu_model']}; load average {start['load_average']}"
              f" at the start ({start['time']}), {end['load_average']} at the end "
              f"({end['time']})."
              + (f" **Measured under load (> {LOAD_LIMIT}): other jobs slowed these figures.**"
                 if start["load_average"] and start["load_average"][0] > LOAD_LIMIT else "")),
             "",
             (f"Synthetic set at {', '.join(f'{s}x' for s in scales)} the videos of the base "
              f"parameters ({report['base_videos']['train']} train + "
              f"{report['base_videos']['valid']} valid videos at 1x); overrides: "
              f"{report['overrides'] or 'none'}. Each stage in a fresh process, start-up "
              "included. Peak: resident memory of the stage's largest process; all: its "
              "processes together (sampled every 0.1 s)."), "",
             "| stage | scale | videos | seconds | peak MB | all MB | items | items/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label in report["rows"]:
        for scale in scales:
            r = report["runs"][str(scale)].get(label)
            if r is None:
                continue
            lines.append(f"| {label} | {scale}x | {report['videos'][str(scale)]} | "
                         f"{fmt(r['seconds'])} | {fmt(r['peak_mb'], 0)} | "
                         f"{fmt(r['all_processes_peak_mb'], 0)} | {fmt(r['items'])} | "
                         f"{fmt(r['items_per_s'])} |")
    lines += ["", "Growth exponents (y ~ n^k over the scales; k <= 1.1: at most linear):", "",
              "| stage | k of time | k of peak memory | k of all processes' memory |",
              "| --- | ---: | ---: | ---: |"]
    for label, k in report["growth"].items():
        lines.append(f"| {label} | {fmt(k['time'], 2)} | {fmt(k['peak_memory'], 2)} | "
                     f"{fmt(k['all_memory'], 2)} |")
    nproc = report["train_nproc"]
    lines += ["", "## Training with 2 processes", ""]
    if "skipped" in nproc:
        lines.append(f"Not measured: {nproc['skipped']}.")
    else:
        one, two = nproc["runs"]["1"], nproc["runs"]["2"]
        lines += [(f"On the {scales[0]}x features, the same global batch "
                   f"(train.batch_size {nproc['batch_size']}), {nproc['epochs']} epoch(s), "
                   "whole stage wall time (start-up, the per-epoch evaluation on rank 0 and "
                   "checkpoints included):"), "",
                  "| train.nproc | seconds | peak MB | all MB |", "| ---: | ---: | ---: | ---: |",
                  f"| 1 | {fmt(one['seconds'])} | {fmt(one['peak_mb'], 0)} | "
                  f"{fmt(one['all_processes_peak_mb'], 0)} |",
                  f"| 2 | {fmt(two['seconds'])} | {fmt(two['peak_mb'], 0)} | "
                  f"{fmt(two['all_processes_peak_mb'], 0)} |", "",
                  f"Speed-up {fmt(nproc['speedup'], 2)}x, efficiency "
                  f"{fmt(nproc['efficiency'], 2)} (speed-up / 2; gloo on CPU cores)."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="base parameters (params.yaml)")
    parser.add_argument("--scales", default=None,
                        help="comma-separated multiples of the base number of videos "
                             "(default 1,2,4; --quick: 1,2)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated, in pipeline order (default {','.join(STAGES)})")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a parameter override for every run "
                                                  "(repeatable), e.g. --set train.epochs=2")
    parser.add_argument("--variant", nargs="+", action="append", default=[],
                        metavar="NAME STAGE KEY=VALUE",
                        help="re-run STAGE at every scale with these overrides, reported as "
                             "'STAGE [NAME]' (repeatable)")
    parser.add_argument("--no-nproc", action="store_true",
                        help="skip the train.nproc=2 against 1 comparison")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and two scales: a smoke run, not a measurement")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder (default: a temporary one, deleted at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--out", default="reports/bench_scaling",
                        help="writes OUT.json and OUT.md")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    try:
        scales = [int(s) for s in (args.scales or ",".join(
            map(str, QUICK_SCALES if args.quick else (1, 2, 4)))).split(",")]
    except ValueError:
        raise ConfigError(f"--scales {args.scales!r}: expected integers such as 1,2,4") from None
    if not scales or min(scales) < 1 or len(set(scales)) != len(scales):
        raise ConfigError(f"--scales {args.scales!r}: distinct integers >= 1, e.g. 1,2,4")
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ConfigError(f"--stages: unknown {', '.join(unknown)}; known: {', '.join(STAGES)}")
    stages = [s for s in STAGES if s in stages]
    overrides = {**(QUICK if args.quick else {}),
                 **parse_overrides(args.overrides, option="--set")}
    variants = []
    for spec in args.variant:
        if len(spec) < 3 or spec[1] not in STAGES:
            raise ConfigError(f"--variant {' '.join(spec)}: expected NAME STAGE KEY=VALUE ... "
                              f"with STAGE one of {', '.join(STAGES)}")
        variants.append(Variant(spec[0], spec[1],
                                parse_overrides(spec[2:], option="--variant")))

    base = apply_overrides(yaml.safe_load(Path(args.params).read_text()) or {}, overrides)
    synth = base["data"]["synth"]
    base_videos = {"train": int(synth["train_videos"]), "valid": int(synth["valid_videos"])}
    commands = stage_commands()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        DVC_NO_ANALYTICS="1")

    report: dict[str, Any] = {
        "machine": {"start": machine_state("start")}, "scales": scales,
        "base_videos": base_videos, "overrides": overrides, "stages": stages,
        "variants": [dataclasses.asdict(v) for v in variants], "runs": {}, "videos": {}}
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_scaling."))
    work.mkdir(parents=True, exist_ok=True)
    folders = {}
    try:
        for scale in scales:
            folder = folders[scale] = work / f"x{scale}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            params = apply_overrides(base, {
                "data.synth.train_videos": base_videos["train"] * scale,
                "data.synth.valid_videos": base_videos["valid"] * scale})
            videos = (base_videos["train"] + base_videos["valid"]) * scale
            report["videos"][str(scale)] = videos
            print(f"scale {scale}x: {videos} videos in {folder}", flush=True)
            runs = report["runs"][str(scale)] = {}
            for stage in stages:
                runs[stage] = run_stage(stage, folder=folder, params=params, commands=commands,
                                        env=env, label=f"{stage} {scale}x")
            for variant in variants:
                runs[variant.label] = run_stage(
                    variant.stage, folder=folder,
                    params=apply_overrides(params, variant.overrides), commands=commands,
                    env=env, label=f"{variant.label} {scale}x")
            if scale != scales[0] and not args.keep:
                shutil.rmtree(folder, ignore_errors=True)

        rows = [*stages, *(v.label for v in variants)]
        report["rows"] = rows
        sizes = [report["videos"][str(s)] for s in scales]

        def series(label: str, key: str) -> list[Any]:
            return [report["runs"][str(s)][label][key] for s in scales]

        report["growth"] = {label: {"time": growth_exponent(sizes, series(label, "seconds")),
                                    "peak_memory": growth_exponent(sizes,
                                                                   series(label, "peak_mb")),
                                    "all_memory": growth_exponent(
                                        sizes, series(label, "all_processes_peak_mb"))}
                            for label in rows}
        report["train_nproc"] = train_nproc(args, stages, folders[scales[0]], base, scales[0],
                                            base_videos, commands, env)
    finally:
        if not args.keep:     # the scale folders made here (and the temporary folder)
            for folder in folders.values():
                shutil.rmtree(folder, ignore_errors=True)
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
    report["machine"]["end"] = machine_state("end")
    write_json_atomic(f"{args.out}.json", report)
    write_text_atomic(f"{args.out}.md", markdown(report))
    for label, k in report["growth"].items():
        print(f"{label}: k(time) {fmt(k['time'], 2)}, k(memory) {fmt(k['peak_memory'], 2)}")
    print(f"wrote {args.out}.json and {args.out}.md")


def train_nproc(args: argparse.Namespace, stages: list[str], folder: Path,
                base: dict[str, Any], scale: int, base_videos: dict[str, int],
                commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, Any]:
    """train.nproc=2 against 1 on the first scale's features, same global batch."""
    if args.no_nproc:
        return {"skipped": "--no-nproc"}
    if "train" not in stages:
        return {"skipped": "--stages leaves out train"}
    if not has_train_nproc():
        return {"skipped": "this version has no train.nproc parameter"}
    params = apply_overrides(base, {"data.synth.train_videos": base_videos["train"] * scale,
                                    "data.synth.valid_videos": base_videos["valid"] * scale})
    print(f"train.nproc 2 against 1 on the {scale}x features", flush=True)
    runs = {str(n): run_stage("train", folder=folder,
                              params=apply_overrides(params, {"train.nproc": n}),
                              commands=commands, env=env, label=f"train nproc={n}")
            for n in (1, 2)}
    result = {"batch_size": params["train"]["batch_size"], "epochs": params["train"]["epochs"],
              "runs": runs, **speedup(runs)}
    print(f"  speed-up {result['speedup']}x, efficiency {result['efficiency']}", flush=True)
    return result


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_scaling", main))
