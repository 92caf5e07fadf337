"""A tiny end-to-end `dvc repro` in a temporary copy of the repository.

Tiny synthetic data, the tiny test CLIP (L2M-Tiny) and a tiny model keep it to about a minute.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow   # `make test-fast` leaves these out

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "data": {"frames": 8, "window_stride": 4, "max_windows": 1,
             "synth": {"seed": 0, "train_videos": 4, "valid_videos": 3, "video_frames": 10,
                       "height": 96, "width": 128}},
    "grid": {"size": 3, "erode_iterations": 1},
    "overlay": {"size": 224},
    "clip": {"model": "L2M-Tiny", "pretrained": "none", "batch_size": 16},
    "model": {"latent": 32, "layers": 1, "heads": 2, "ff": 64, "decoder_hidden": 64},
    "train": {"epochs": 2, "min_steps": 0, "batch_size": 8},
    "eval": {"bootstrap": 20, "clip_samples": 2, "gallery": 1, "timing_repeats": 2},
}


def _merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict):
            _merge(base.setdefault(key, {}), value)
        else:
            base[key] = value
    return base


def _run(args, cwd, env):
    proc = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, \
        f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    params = yaml.safe_load((work / "params.yaml").read_text())
    (work / "params.yaml").write_text(yaml.safe_dump(_merge(params, TINY), sort_keys=False))
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        _run(args, work, env)
    return work, env


@pytest.fixture(scope="module")
def reproduced(workspace):
    """The workspace after one ``dvc repro``: every test that needs a lock file asks for it, so
    each runs alone as well as after the others (the pipeline runs once per module)."""
    work, env = workspace
    _run(["dvc", "repro"], work, env)
    # as `make report` does: this repository's `dvc exp show` into reports/experiments.json (the
    # copied one is the demo's), then `dvc repro report`
    _run([sys.executable, "-m", "lang2motion.cli", "report"], work, env)
    return work, env


def test_dvc_repro_runs_every_stage_then_does_nothing(reproduced):
    work, env = reproduced
    assert sorted(p.name for p in (work / "data/tracks").glob("*.parquet")) == \
        ["train.parquet", "valid_u.parquet"]
    assert list((work / "data/overlays/valid_u").glob("*.mp4"))
    assert list((work / "data/features/train").glob("part-*.parquet"))
    assert (work / "models/model.safetensors").exists()
    metrics = json.loads((work / "reports/train_metrics.json").read_text())
    assert 0.0 < metrics["chance_r1"] <= 1.0
    assert metrics["steps"] >= metrics["epoch"] >= 1
    track = json.loads((work / "reports/track_summary.json").read_text())
    for split in track["splits"].values():        # synthetic objects move and stay visible
        assert 0.0 <= split["quality"]["static_share"] < 0.5
        assert split["quality"]["invisible_share"] < 0.5
    assert track["machine"]["torch_threads"] >= 1
    evaluation = json.loads((work / "reports/metrics.json").read_text())
    assert 0.0 <= evaluation["r1"] <= 1.0 and evaluation["static_ade"] > 0.0
    assert {"phrasing_seen", "phrasing_unseen"} <= set(evaluation)
    assert (work / "reports/eval/samples.parquet").exists()
    assert list((work / "reports/eval/gallery").glob("*.gif"))
    report = (work / "reports/report.md").read_text()
    assert "track rows that do not move" in report and "**Machine:**" in report
    assert "optimiser steps" in report
    for table in ("Table 1", "Table 2", "Table 3", "Table 4", "Table 5", "Table 8"):
        assert f"## {table}" in report or f"**{table}" in report, table
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], work, env).splitlines()[-1])
    assert "r1" in json.dumps(shown) and "motion_kind_acc" in json.dumps(shown)
    second = _run(["dvc", "repro"], work, env)
    assert "didn't change" in second or "is up to date" in second.lower()
    assert "Running stage" not in second


def _stale_with(work, env, rel, content: bytes):
    """The stages `dvc status` reports while ``rel`` holds ``content`` (restored after)."""
    path = work / rel
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        status = json.loads(_run(["dvc", "status", "--json"], work, env).splitlines()[-1])
    finally:
        path.write_bytes(original)
    return sorted(status)


def _stale_stages(work, env, key, value):
    params = yaml.safe_load((work / "params.yaml").read_text())
    section, name = key.split(".")
    params[section][name] = value
    return _stale_with(work, env, "params.yaml", yaml.safe_dump(params, sort_keys=False).encode())


def test_parameter_changes_invalidate_only_the_stages_that_read_them(reproduced):
    work, env = reproduced
    # report depends on params.yaml as a whole: it lists the parameters that differ
    assert _stale_stages(work, env, "overlay.opacity", 0.7) == ["embed", "render", "report",
                                                                "train"]
    assert _stale_stages(work, env, "clip.model", "ViT-B-16") == ["embed", "report"]
    assert _stale_stages(work, env, "loss.l1", False) == ["report", "train"]
    assert _stale_stages(work, env, "grid.size", 4) == ["report", "track", "train"]
    assert _stale_stages(work, env, "eval.bootstrap", 10) == ["evaluate", "report"]


def _stale_after_editing(work, env, rel):
    return _stale_with(work, env, rel, (work / rel).read_bytes() + b"\n# edited\n")


def test_editing_a_file_a_stage_imports_makes_that_stage_stale(reproduced):
    work, env = reproduced
    # the MeViS reader: every stage that opens a split
    stale = _stale_after_editing(work, env, "lang2motion/data/mevis/reader.py")
    assert stale == ["embed", "evaluate", "prepare", "render", "track"]
    # the training schedules: training only
    assert _stale_after_editing(work, env, "lang2motion/schedule.py") == ["train"]
    # the report's formatting: the report only
    assert _stale_after_editing(work, env, "lang2motion/report/tables.py") == ["report"]


# The ablations the README documents (paper Tables 4-7), each must run and produce a model. Each
# `dvc exp run` pays for dvc and a Python per stage it reruns, so ablations that change different
# things share a run: every override is checked to have reached the checkpoint below.
ABLATIONS = [
    ["loss.l1=false"],                  # alone: the report must fill its row of Table 5
    ["model.decoder=direct", "loss.text_recon=0", "model.use_overlay=false"],
    ["model.decoder=transformer", "loss.text=0", "loss.image=0"],
    ["grid.size=4", "overlay.color=red"],             # track, render, embed and train again
    # not an ablation: the README's scale-out, 2 processes for every stage (gloo on the CPU), on
    # data of another seed so that every stage, prepare included, runs again
    ["train.nproc=2", "dist.nproc=2", "data.synth.seed=1"],
]


def _recorded(work: Path, meta: dict, key: str):
    """The value the run records for parameter ``key``: the checkpoint's params or sections, or
    for data.* the prepare stage's summary."""
    section, *names = key.split(".")
    if section == "data":
        value = json.loads((work / "reports/prepare_summary.json").read_text())["data"]
    else:
        value = meta["params"][section] if section in meta["params"] else meta[section]
    for name in names:
        value = value[name]
    return value


@pytest.mark.parametrize("overrides", ABLATIONS, ids=lambda o: "+".join(o))
def test_dvc_exp_run_ablation(reproduced, overrides):
    work, env = reproduced  # experiments run on the reproduced baseline, in any order
    params = (work / "params.yaml").read_text()
    args = ["dvc", "exp", "run"]
    for item in overrides:
        args += ["-S", item]
    try:
        out = _run(args, work, env)
        assert "Running stage 'train'" in out
        meta = json.loads((work / "models/model.json").read_text())
        for item in overrides:
            key, value = item.split("=")
            if not key.startswith("dist."):     # not recorded: the shard counts below tell
                assert _recorded(work, meta, key) == yaml.safe_load(value), item
        if "grid.size=4" in overrides:
            assert meta["model_config"]["points"] == 16
        if "train.nproc=2" in overrides:
            assert meta["world_size"] == 2
            assert "Running stage 'prepare'" in out       # data.synth.seed=1: new data
            for stage in ("track", "embed"):
                summary = json.loads((work / f"reports/{stage}_summary.json").read_text())
                assert len(summary["shards"]) == 2, stage
        if overrides == ["loss.l1=false"]:
            # the experiment's own report fills its row of the paper's Table 5
            row = next(line for line in (work / "reports/report.md").read_text().splitlines()
                       if line.startswith("| MSE (L2) "))   # cells padded to their column
            assert "not run" not in row, row
            # `lang2motion report` reads the experiment's tables.json through DVC at its commit
            # (intervals and speed); written beside the work tree, not over a dependency
            script = ("import json, sys; from lang2motion.report.experiments import refresh; "
                      "runs = refresh(sys.argv[1])['runs']; print('WITH_TABLES', "
                      "json.dumps([r['origin'] for r in runs if r.get('tables')]))")
            listed = _run([sys.executable, "-c", script, str(work.parent / "experiments.json")],
                          work, env)
            line = next(x for x in listed.splitlines() if x.startswith("WITH_TABLES "))
            assert "experiment" in json.loads(line.split(" ", 1)[1]), listed
    finally:
        (work / "params.yaml").write_text(params)  # each ablation starts from the baseline
