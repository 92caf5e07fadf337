"""Ablation and seed rows of the report, filled from runs found through git alone: the committed
baseline and DVC experiment refs (refs/exps/<sha[:2]>/<sha[2:]>/<name>), never dvc itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lang2motion.config import ReportConfig, defaults
from lang2motion.report.experiments import (
    _parse_exp_ref,
    exp_command,
    find_runs,
    overrides_of,
    same_value,
)
from lang2motion.stages.report import run_stage as report_run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "report"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
OLD, NEW = "1700000000 +0000", "1700000500 +0000"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str, date: str = NEW) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def _params(**changes: object) -> dict:
    params = defaults()
    for key, value in changes.items():
        section, name = key.split("__")
        params[section][name] = value
    return params


def _metrics(r1: float, ade: float, **more: float) -> dict:
    return {"r1": r1, "ade": ade, "fde": 0.333, "smoothness": 0.944, "smoothness_px": -6.2,
            "clip_sim": 0.055,
            "ms_per_trajectory": 31.0, "motion_kind_acc": 0.2, **more}


def _experiment(repo: Path, name: str, params: dict, metrics: dict | None, *, date: str = NEW,
                tables: dict | None = None) -> str:
    """Commit a run on top of HEAD, point refs/exps/<HEAD>/<name> at it, restore HEAD."""
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    if metrics is None:
        _git(repo, "rm", "-q", "--cached", "reports/metrics.json")
    else:
        (repo / "reports" / "metrics.json").write_text(json.dumps(metrics))
    if tables is not None:
        (repo / "reports" / "eval" / "tables.json").write_text(json.dumps(tables))
        _git(repo, "add", "-f", "reports/eval/tables.json")
    _git(repo, "add", "params.yaml", *(["reports/metrics.json"] if metrics else []))
    _git(repo, "commit", "-q", "-m", name, date=date)
    sha = _git(repo, "rev-parse", "HEAD")
    _git(repo, "update-ref", f"refs/exps/{head[:2]}/{head[2:]}/{name}", sha)
    _git(repo, "reset", "-q", "--hard", head)
    return sha


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """HEAD: default params and metrics; the workspace: the fixture's evaluation on top."""
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "params.yaml").write_text(yaml.safe_dump(defaults()))
    (repo / "reports" / "metrics.json").write_text(json.dumps(_metrics(0.5, 0.5)))
    (repo / ".gitignore").write_text("/reports/eval/\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "baseline", date=OLD)
    shutil.copytree(FIXTURE / "eval", repo / "reports" / "eval")
    return repo


def _report(repo: Path, experiments: bool = True) -> tuple[str, dict]:
    shutil.copy(FIXTURE / "metrics.json", repo / "reports" / "metrics.json")   # this run
    shutil.copy(FIXTURE / "eval" / "tables.json", repo / "reports" / "eval" / "tables.json")
    result = report_run(report=ReportConfig(experiments=experiments),
                        params_path=repo / "params.yaml",
                        metrics_path=repo / "reports" / "metrics.json",
                        eval_dir=repo / "reports" / "eval", summaries_dir=None,
                        out_path=repo / "reports" / "report.md")
    return (repo / "reports" / "report.md").read_text(encoding="utf-8"), result


def test_experiment_refs_fill_their_rows(repo: Path) -> None:
    _experiment(repo, "exp-l2-old", _params(loss__l1=False), _metrics(0.1, 0.9), date=OLD)
    l2 = _experiment(repo, "exp-l2", _params(loss__l1=False), _metrics(0.1, 0.222))
    _experiment(repo, "exp-nometrics", _params(model__decoder="direct"), None)
    tables = json.loads((FIXTURE / "eval" / "tables.json").read_text())
    tables["slices"]["all"]["retrieval"]["lang2motion"]["r1"] = {
        "value": 0.3, "lo": 0.25, "hi": 0.35, "n": 46}
    _experiment(repo, "exp-grid4", _params(grid__size=4), _metrics(0.3, 0.4), tables=tables)
    # DVC's bookkeeping refs: not experiments
    head = _git(repo, "rev-parse", "HEAD")
    for ref in ("refs/exps/exec/EXEC_BRANCH", "refs/exps/stash", "refs/exps/celery/stash"):
        _git(repo, "update-ref", ref, head)
    text, result = _report(repo)
    lines = set(text.splitlines())
    assert (f"| MSE (L2) | 16.8 | 0.222 | 28.3 | 0.333 | 0.83 | -6.200 | — | 0.944 | 0.76 | 0.055 "
            f"| 0.7s "
            f"| 31.0 | exp exp-l2 ({l2[:7]}) |") in lines            # the newest of the two
    assert ("| Direct (all frames) | 15.7 | not run | 26.3 | not run | 0.81 | not run | — "
            "| not run | 0.79 | not run | 0.3s | not run "
            "| not run: `dvc exp run -S model.decoder=direct` |"
            ) in lines
    assert any(line.startswith("| 4 × 4 | 16 | 31.2 | 30.0 [25.0, 35.0] |") for line in lines)
    # the workspace (default params) wins over HEAD for the full rows
    assert "| MAE (L1) | 12.4 | 0.123 [0.111, 0.136] |" in text
    assert ("**Runs found:** 3 DVC experiment(s) with metrics found under refs/exps (1 without "
            "reports/metrics.json skipped); the committed baseline (HEAD) has metrics") in text
    assert "EXEC_BRANCH" not in text and "exp-nometrics" not in text
    assert result["runs"] == 5 and result["ablation_filled"] == 9


def test_seed_group_mean_std_and_per_seed_values(repo: Path) -> None:
    _experiment(repo, "seed1", _params(train__seed=1), _metrics(0.113, 0.0234))
    _experiment(repo, "seed2", _params(train__seed=2), _metrics(0.313, 0.2234))
    _experiment(repo, "l2-seed1", _params(loss__l1=False, train__seed=1), _metrics(0.2, 0.3))
    text, _ = _report(repo)
    lines = set(text.splitlines())
    assert "| R@1 (%) | 21.3 | 10.0 | 3 | 0: 21.3, 1: 11.3, 2: 31.3 |" in lines
    assert "| ADE | 0.123 | 0.100 | 3 | 0: 0.123, 1: 0.023, 2: 0.223 |" in lines
    assert any(line.startswith("**defaults**, 3 seeds (seed 0: this run, seed 1: exp seed1")
               for line in lines)
    # a single seed of another configuration is no group: it is listed as another run
    assert "loss.l1=false, train.seed=1" in text
    assert "MSE (L2) | 16.8 | not run" in text


def test_without_git_or_with_experiments_off_only_this_run(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _experiment(repo, "exp-l2", _params(loss__l1=False), _metrics(0.1, 0.222))
    text, result = _report(repo, experiments=False)
    assert result["runs"] == 1 and "not run: `dvc exp run -S loss.l1=false`" in text
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (outside / "params.yaml").write_text(yaml.safe_dump(defaults()))
    found = find_runs(raw_params={}, metrics={}, tables=None, params_path=outside / "params.yaml",
                      metrics_path=outside / "m.json", tables_path=outside / "t.json")
    assert len(found.runs) == 1 and "not inside a git repository" in found.notes[0]


def test_parameter_matching_helpers() -> None:
    sha = "ab" + "c" * 38
    assert _parse_exp_ref(f"refs/exps/ab/{'c' * 38}/exp-1") == (sha, "exp-1")
    for ref in ("refs/exps/stash", "refs/exps/exec/EXEC_BRANCH", "refs/exps/celery/failed",
                "refs/exps/temp/ab/cd", f"refs/heads/ab/{'c' * 38}/x"):
        assert _parse_exp_ref(ref) is None
    assert same_value(0, 0.0) and same_value("1e-4", 0.0001) and not same_value(True, 1)
    base = {"loss.text": 0.1, "train.device": "auto", "overlay.opacity": 0.5}
    assert overrides_of({"loss.text": 0, "train.device": "cpu", "overlay.opacity": 0.5},
                        base) == {"loss.text": 0}
    assert exp_command({"loss.l1": False, "overlay.opacity": 1.0}) == (
        "dvc exp run -S loss.l1=false -S overlay.opacity=1.0")


def test_rows_are_relative_to_each_experiments_baseline_not_the_package_defaults(
        tmp_path: Path) -> None:
    """A baseline far from the defaults (the paper set-up on MeViS, a tiny test run): an
    experiment that changes loss.l1 on top of it still fills the L2 row, and the workspace that
    equals HEAD fills the full rows."""
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    _git(repo, "init", "-q")
    base = _params(data__source="mevis", grid__size=4, train__epochs=200)
    (repo / "params.yaml").write_text(yaml.safe_dump(base))
    (repo / "reports" / "metrics.json").write_text(json.dumps(_metrics(0.5, 0.5)))
    (repo / ".gitignore").write_text("/reports/eval/\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "baseline", date=OLD)
    shutil.copytree(FIXTURE / "eval", repo / "reports" / "eval")
    l2 = {**base, "loss": {**base["loss"], "l1": False}}
    _experiment(repo, "exp-l2", l2, _metrics(0.1, 0.222))
    text, _ = _report(repo)
    assert "| MSE (L2) | 16.8 | 0.222 |" in text
    assert "| MAE (L1) | 12.4 | 0.123 [0.111, 0.136] |" in text      # the workspace = HEAD
    assert "`data.source` | `mevis` | `synth`" in text              # vs the package defaults


MACHINE = {"cpu": "Test CPU 9000", "cpu_flags": ["avx2", "avx512_bf16"], "cpu_bf16": True,
           "cpu_kernels": "AVX512", "cores": 16, "torch_threads": 16, "torch": "2.x"}


@pytest.mark.parametrize(("tracker", "clip_model", "expected_standins"), [
    ("cotracker3", "ViT-B-32", []),
    ("tapnext", "ViT-B-16", ["tapnext tracker (not CoTracker3)", "CLIP ViT-B-16 (not ViT-B-32)"]),
])
def test_report_of_a_non_default_run_says_only_true_things(
        tmp_path: Path, tracker: str, clip_model: str, expected_standins: list[str]) -> None:
    """The issue's case: HEAD holds the synthetic demo's params and metrics (R@1 0.8%, ADE
    0.195); the workspace ran MeViS-format data with another tracker and another CLIP. No
    sentence may speak of synthetic data, LK or random weights, and every "this run" cell of
    Tables 4-7 must be this run's number, not HEAD's."""
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "params.yaml").write_text(yaml.safe_dump(defaults()))
    (repo / "reports" / "metrics.json").write_text(json.dumps(_metrics(0.008, 0.195)))
    (repo / ".gitignore").write_text("/reports/eval/\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "synthetic demo", date=OLD)
    synth_l2 = _experiment(repo, "synth-l2", _params(loss__l1=False), _metrics(0.1, 0.777))
    ours = _params(data__source="mevis", track__backend=tracker,
                   track__checkpoint="ckpt/scaled_offline.pth", clip__model=clip_model,
                   clip__pretrained="openai", train__epochs=200)
    ours["data"]["mevis"]["root"] = "data/mevis_fixture"
    (repo / "params.yaml").write_text(yaml.safe_dump(ours))        # not committed, as a user
    shutil.copytree(FIXTURE / "eval", repo / "reports" / "eval")
    tables = json.loads((FIXTURE / "eval" / "tables.json").read_text())
    tables["run"].update({"data_source": "mevis", "tracker": tracker, "steps": 4800,
                          "clip": {"model": clip_model, "pretrained": "openai", "random": False},
                          "machine": MACHINE, "train_machine": MACHINE})
    quality = {"static_share": 0.9, "invisible_share": 0.05, "static_px": 2.0, "rows": 10,
               "points": 360}
    summaries = {
        "prepare_summary": {"source": "mevis", "data": ours["data"], "splits": {}},
        "track_summary": {"track": ours["track"], "machine": MACHINE,
                          "splits": {"train": {"quality": quality}}},
        "embed_summary": {"clip": {"device": "cpu"}, "machine": MACHINE},
        "train_metrics": {"epoch": 200, "steps": 4800},
    }
    for stem, obj in summaries.items():
        (repo / "reports" / f"{stem}.json").write_text(json.dumps(obj))
    shutil.copy(FIXTURE / "metrics.json", repo / "reports" / "metrics.json")   # this run
    (repo / "reports" / "eval" / "tables.json").write_text(json.dumps(tables))
    report_run(report=ReportConfig(experiments=True), params_path=repo / "params.yaml",
               metrics_path=repo / "reports" / "metrics.json", eval_dir=repo / "reports" / "eval",
               summaries_dir=repo / "reports", out_path=repo / "reports" / "report.md")
    text = (repo / "reports" / "report.md").read_text(encoding="utf-8")
    lines = text.splitlines()

    # every stand-in sentence: this run's, and only this run's
    standin_lines = [line for line in lines if "Stand-ins" in line or "stand-in" in line]
    assert standin_lines
    for line in standin_lines:
        for word in ("synthetic", "LK", "Lucas-Kanade", "random CLIP", "random weights"):
            assert word not in line, line
    expected = (", ".join(expected_standins) + ": numbers are not comparable with the paper's"
                if expected_standins else "none: this run uses the paper's set-up")
    notes = [line for line in lines if line.startswith("- **Stand-ins in this run:**")]
    assert len(notes) == 5 and set(notes) == {f"- **Stand-ins in this run:** {expected}"}
    assert ("> **Stand-ins:**" in text) == bool(expected_standins)
    assert ("- **Data:** MeViS-format data (data.source `mevis`) read from "
            "`data/mevis_fixture`; evaluated on split `valid_u`") in lines
    tracker_text = ("CoTracker3 (checkpoint `ckpt/scaled_offline.pth`)" if tracker == "cotracker3"
                    else f"tracker `{tracker}` (stand-in for CoTracker3)")
    assert any(line.startswith(f"- **Tracker:** {tracker_text}; track rows that do not move "
                               "(every point < 2.0 px from its query position): train 90.0%; "
                               "points invisible after the query frame: train 5.0%")
               for line in lines)
    assert f"{tracker}, split train: 90% of track rows move less than 2 px" in text  # warned
    assert any(line.startswith(f"- **CLIP:** CLIP {clip_model} (openai weights)")
               for line in lines)
    assert any(line.startswith("- **Model:** trained 50 epochs, 4800 optimiser steps")
               for line in lines)
    assert ("- **Machine:** evaluate, train, embed, track: Test CPU 9000 (AVX512 kernels; flags "
            "avx2, avx512_bf16; native bf16), 16 torch threads, torch 2.x.") in text

    # every "this run" cell of Tables 4-7 is this run's: the full rows hold the fixture's numbers
    ablation = text[text.index("## Tables 4-7"):text.index("## Table 8")]
    assert ("| Lang2Motion (full) | 34.2 | 21.3 [19.0, 23.6] | 0.81 | 0.120 [0.080, 0.160] "
            "| 12.4 | 0.123 [0.111, 0.136] | 0.7s | 25.0 | this run |") in ablation
    full_rows = [line for line in ablation.splitlines()
                 if line.startswith(("| MAE (L1) |", "| Autoregressive |", "| 6 × 6 |",
                                     "| cyan, 0.5 |"))]
    assert len(full_rows) == 5 and all(line.endswith("| this run |") for line in full_rows)
    # HEAD (synthetic) and its experiment fill no row: other data, tracker, CLIP, length
    assert "| HEAD " not in ablation and "synth-l2" not in ablation
    for number in ("0.8", "0.195", "0.777"):
        assert f"| {number} |" not in ablation
    assert "| MSE (L2) | 16.8 | not run |" in ablation
    other = text[text.index("## Other runs"):]
    assert f"exp synth-l2 ({synth_l2[:7]})" in other and "data.source=synth" in other
