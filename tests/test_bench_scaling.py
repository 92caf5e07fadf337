"""benchmarks/bench_scaling.py: its growth exponent, its overrides, and a --quick smoke run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lang2motion.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_scaling",
                                               REPO / "benchmarks" / "bench_scaling.py")
bench = sys.modules["bench_scaling"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.mark.parametrize(("values", "k"), [
    ([3.0, 6.0, 12.0], 1.0),          # linear
    ([5.0, 5.0, 5.0], 0.0),           # flat
    ([1.0, 4.0, 16.0], 2.0),          # quadratic
    ([2.0, 2.0 * 2 ** 0.5, 4.0], 0.5),
])
def test_growth_exponent_golden(values, k):
    assert bench.growth_exponent([10, 20, 40], values) == pytest.approx(k, abs=1e-3)


def test_growth_exponent_needs_two_sizes_with_values():
    assert bench.growth_exponent([10, 20], [3.0, None]) is None
    assert bench.growth_exponent([10], [3.0]) is None
    # least squares over three points off a line: log2 values 0, 1.5, 2 -> slope 1
    assert bench.growth_exponent([1, 2, 4], [1.0, 2 ** 1.5, 4.0]) == pytest.approx(1.0, abs=1e-3)


def test_overrides_are_typed_and_nested():
    overrides = bench.parse_overrides(["train.epochs=2", "data.synth.seed=3",
                                       "loss.l1=false", "overlay.color=red"], option="--set")
    assert overrides == {"train.epochs": 2, "data.synth.seed": 3, "loss.l1": False,
                         "overlay.color": "red"}
    params = bench.apply_overrides({"data": {"synth": {"seed": 0, "height": 9}}}, overrides)
    assert params["data"]["synth"] == {"seed": 3, "height": 9}
    assert params["train"] == {"epochs": 2}
    with pytest.raises(ConfigError, match="expected section.key=value"):
        bench.parse_overrides(["epochs"], option="--set")


def test_stage_commands_come_from_dvc_yaml():
    commands = bench.stage_commands()
    assert list(commands) == list(bench.STAGES)
    track = commands["track"]
    assert track[0] == sys.executable and track[1] == str(REPO / "pipeline" / "track.py")
    assert track[track.index("--out") + 1] == "data/tracks"     # relative: the scratch folder


@pytest.mark.slow
def test_quick_run_writes_its_figures(tmp_path):
    out, work = tmp_path / "bench_scaling", tmp_path / "work"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_scaling.py"), "--quick",
         "--stages", "prepare,track", "--out", str(out), "--work", str(work)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "machine at the start: load average" in proc.stdout
    assert "machine at the end: load average" in proc.stdout
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["scales"] == [1, 2] and report["videos"] == {"1": 7, "2": 14}
    for stage in ("prepare", "track"):
        one, two = report["runs"]["1"][stage], report["runs"]["2"][stage]
        assert one["seconds"] > 0 and one["peak_mb"] > 10 and two["peak_mb"] > 10
        assert two["items"] > one["items"] > 0
        assert one["items_per_s"] == pytest.approx(one["items"] / one["seconds"], rel=0.01)
        assert isinstance(report["growth"][stage]["time"], float)
    assert report["runs"]["1"]["prepare"]["items"] == 7          # 4 train + 3 valid videos
    assert report["train_nproc"] == {"skipped": "--stages leaves out train"}
    md = out.with_suffix(".md").read_text()
    assert "| prepare | 1x | 7 |" in md and "| track | 2x | 14 |" in md
    assert not any(work.iterdir())                               # scratch folders removed
