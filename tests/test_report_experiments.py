"""Ablation and seed rows of the report, filled from the runs `dvc exp show` lists.

`lang2motion report` turns a ``dvc exp show --json`` answer into reports/experiments.json
(outside the DVC lock); the report stage reads that file, never git or dvc. The answers here
have the shape of tests/fixtures/report/exp_show.json, a real answer of DVC 3 (a two-parameter
project with two experiments)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml
from markdown_text import unpad

from lang2motion.cli import main as cli_main
from lang2motion.config import ReportConfig, defaults
from lang2motion.errors import DataError, DependencyError
from lang2motion.report.experiments import (
    exp_command,
    normalise,
    overrides_of,
    refresh,
    same_value,
)
from lang2motion.stages.report import run_stage as report_run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "report"
REAL_EXP_SHOW = FIXTURE / "exp_show.json"
OLD, NEW = "2026-01-01T10:00:00", "2026-01-02T10:00:00"
PARAMS, METRICS = "params.yaml", "reports/metrics.json"


def _params(**changes: object) -> dict:
    params = defaults()
    for key, value in changes.items():
        section, name = key.split("__")
        params[section][name] = value
    return params


def _metrics(r1: float, ade: float, **more: float) -> dict:
    return {"r1": r1, "ade": ade, "fde": 0.333, "smoothness": 0.944, "smoothness_px": -6.2,
            "clip_sim": 0.055, "motion_kind_acc": 0.2, **more}


def _entry(rev: str, name: str | None, params: dict, metrics: dict | None,
           time: str | None = NEW) -> dict:
    """One run as `dvc exp show --json` prints it."""
    files = {"params": {PARAMS: {"data": params}},
             "metrics": {METRICS: {"data": metrics}} if metrics is not None else {}}
    return {"rev": rev, "name": name, "error": None, "experiments": None,
            "data": {"rev": rev, "timestamp": time, **files, "deps": {}, "outs": {}, "meta": {}}}


def _exp_show(baseline_params: dict, baseline_metrics: dict | None,
              *experiments: dict) -> list[dict]:
    """Workspace, the baseline commit, and its experiments, as `dvc exp show --json` nests them."""
    head = _entry("a" * 40, "main", baseline_params, baseline_metrics, OLD)
    head["experiments"] = [{"revs": [e], "executor": None, "name": e["name"]} for e in experiments]
    return [_entry("workspace", None, baseline_params, None, None), head]


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository root as a stage sees it (the working directory): default params.yaml and
    the fixture's evaluation as this run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(defaults()))
    shutil.copytree(FIXTURE / "eval", tmp_path / "reports" / "eval")
    shutil.copy(FIXTURE / "metrics.json", tmp_path / METRICS)
    return tmp_path


def _report(repo: Path, exp_show: list[dict] | None, *, experiments: bool = True
            ) -> tuple[str, dict]:
    if exp_show is not None:
        (repo / "reports" / "experiments.json").write_text(json.dumps(normalise(exp_show)))
    result = report_run(report=ReportConfig(experiments=experiments), params_path=PARAMS,
                        metrics_path=METRICS, eval_dir="reports/eval", summaries_dir=None,
                        experiments_path="reports/experiments.json",
                        out_path="reports/report.md")
    return unpad((repo / "reports" / "report.md").read_text(encoding="utf-8")), result


def test_normalise_a_real_exp_show_answer() -> None:
    runs = normalise(json.loads(REAL_EXP_SHOW.read_text()))
    assert runs["skipped"] == []
    assert [(r["name"], r["origin"], r["rev"][:7], r["time"]) for r in runs["runs"]] == [
        ("master", "baseline", "428b08e", "2026-12-06T22:55:19"),
        ("genal-line", "experiment", "86154e4", "2026-12-06T22:55:25"),
        ("l2", "experiment", "4727db4", "2026-12-06T22:55:22")]       # the workspace left out
    l2 = runs["runs"][2]
    assert l2["params"] == {"params.yaml": {"loss": {"l1": False}, "train": {"seed": 0}}}
    assert l2["metrics"] == {"reports/metrics.json": {"r1": 0.25, "phrasing_seen": {"r1": 0.1}}}


def test_normalise_lists_what_dvc_could_not_read() -> None:
    failed = _entry("b" * 40, "broken", {}, None)
    failed["data"]["params"] = {}
    failed["error"] = {"type": "CollectionError", "msg": "failed to collect"}
    runs = normalise(_exp_show(_params(), None, failed))
    assert [r["name"] for r in runs["runs"]] == ["main"]     # the baseline's params are kept
    assert runs["skipped"] == ["experiment broken: no parameters or metrics (queued, running or "
                               "failed): failed to collect"]
    with pytest.raises(DataError, match="JSON list"):
        normalise({"not": "a list"})


def test_experiments_fill_their_rows(repo: Path) -> None:
    l2 = "c" * 40
    text, result = _report(repo, _exp_show(
        _params(), _metrics(0.5, 0.5),
        _entry("d" * 40, "exp-l2-old", _params(loss__l1=False), _metrics(0.1, 0.9), OLD),
        _entry(l2, "exp-l2", _params(loss__l1=False), _metrics(0.1, 0.222)),
        _entry("e" * 40, "exp-nometrics", _params(model__decoder="direct"), None),
        _entry("f" * 40, "exp-grid4", _params(grid__size=4), _metrics(0.3, 0.4))))
    lines = set(text.splitlines())
    # the newest of the two L2 runs; an experiment's speed is n/a (timings are no DVC metric)
    assert (f"| MSE (L2) | 16.8 | 0.222 | 28.3 | 0.333 | 0.83 | -6.200 | — | 0.944 | 0.76 | 0.055 "
            f"| 0.7s | n/a | exp exp-l2 ({l2[:7]}) |") in lines
    assert ("| Direct (all frames) | 15.7 | not run | 26.3 | not run | 0.81 | not run | — "
            "| not run | 0.79 | not run | 0.3s | not run "
            "| not run: `dvc exp run -S model.decoder=direct` |") in lines
    assert any(line.startswith("| 4 × 4 | 16 | 31.2 | 30.0 | 0.77 | 0.055 | 14.1 | 0.400 |")
               for line in lines)
    # the workspace (default params) wins over the baseline commit for the full rows
    assert "| MAE (L1) | 12.4 | 0.123 [0.111, 0.136] |" in text
    assert ("**Runs found:** 3 DVC experiment(s) with reports/metrics.json in `dvc exp show` "
            "(reports/experiments.json, refreshed by `make report`) (1 without params.yaml or "
            "reports/metrics.json skipped: exp-nometrics); the committed baseline has metrics"
            ) in text
    assert result["runs"] == 5 and result["ablation_filled"] == 9


def test_seed_group_mean_std_and_per_seed_values(repo: Path) -> None:
    text, _ = _report(repo, _exp_show(
        _params(), _metrics(0.5, 0.5),
        _entry("1" * 40, "seed1", _params(train__seed=1), _metrics(0.113, 0.0234)),
        _entry("2" * 40, "seed2", _params(train__seed=2), _metrics(0.313, 0.2234)),
        _entry("3" * 40, "l2-seed1", _params(loss__l1=False, train__seed=1),
               _metrics(0.2, 0.3))))
    lines = set(text.splitlines())
    # this run's R@1 is 0.213 (fixture): mean of 21.3, 11.3, 31.3 = 21.3, sample std 10.0
    assert "| R@1 (%) | 21.3 | 10.0 | 3 | 0: 21.3, 1: 11.3, 2: 31.3 |" in lines
    assert "| ADE | 0.123 | 0.100 | 3 | 0: 0.123, 1: 0.023, 2: 0.223 |" in lines
    assert any(line.startswith("**defaults**, 3 seeds (seed 0: this run, seed 1: exp seed1")
               for line in lines)
    # a single seed of another configuration is no group: it is listed as another run
    assert "loss.l1=false, train.seed=1" in text
    assert "MSE (L2) | 16.8 | not run" in text


def test_experiments_off_or_no_experiments_file_only_this_run(repo: Path) -> None:
    exp_show = _exp_show(_params(), None, _entry("c" * 40, "exp-l2", _params(loss__l1=False),
                                                 _metrics(0.1, 0.222)))
    text, result = _report(repo, exp_show, experiments=False)
    assert result["runs"] == 1 and "not run: `dvc exp run -S loss.l1=false`" in text
    assert "experiments skipped (report.experiments: false)" in text
    (repo / "reports" / "experiments.json").unlink()
    text, result = _report(repo, None)
    assert result["runs"] == 1 and "experiments.json not found" in text and "make report" in text
    (repo / "reports" / "experiments.json").write_text('{"runs": [{"name": "x"}]}')
    with pytest.raises(DataError, match=r"experiments\.json: not an experiments file.*make report"):
        _report(repo, None)


def test_parameter_matching_helpers() -> None:
    assert same_value(0, 0.0) and same_value("1e-4", 0.0001) and not same_value(True, 1)
    base = {"loss.text": 0.1, "train.device": "auto", "overlay.opacity": 0.5}
    assert overrides_of({"loss.text": 0, "train.device": "cpu", "overlay.opacity": 0.5},
                        base) == {"loss.text": 0}
    assert exp_command({"loss.l1": False, "overlay.opacity": 1.0}) == (
        "dvc exp run -S loss.l1=false -S overlay.opacity=1.0")


def test_rows_are_relative_to_the_baseline_commit_not_the_package_defaults(repo: Path) -> None:
    """A baseline far from the defaults (the paper set-up on MeViS, a tiny test run): an
    experiment that changes loss.l1 on top of it still fills the L2 row, and the workspace that
    equals the baseline fills the full rows."""
    base = _params(data__source="mevis", grid__size=4, train__epochs=200)
    (repo / "params.yaml").write_text(yaml.safe_dump(base))
    l2 = {**base, "loss": {**base["loss"], "l1": False}}
    text, _ = _report(repo, _exp_show(base, _metrics(0.5, 0.5),
                                      _entry("c" * 40, "exp-l2", l2, _metrics(0.1, 0.222))))
    assert "| MSE (L2) | 16.8 | 0.222 |" in text
    assert "| MAE (L1) | 12.4 | 0.123 [0.111, 0.136] |" in text      # the workspace = baseline
    assert "`data.source` | `mevis` | `synth`" in text              # vs the package defaults


def _fake_dvc(folder: Path, script: str) -> None:
    """A `dvc` executable on PATH that runs ``script`` (sh)."""
    folder.mkdir()
    exe = folder / "dvc"
    exe.write_text(f"#!/bin/sh\n{script}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def test_refresh_writes_the_experiments_file_from_dvc_exp_show(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    _fake_dvc(tmp_path / "bin", f'[ "$1" = repro ] && echo "repro $2" && exit 0\n'
                                f'cat "{REAL_EXP_SHOW}"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "reports" / "experiments.json"
    out.parent.mkdir()
    written = refresh(out)
    assert json.loads(out.read_text()) == written
    assert [r["name"] for r in written["runs"]] == ["master", "genal-line", "l2"]
    # the verb: exp show, then dvc repro report
    assert cli_main(["report", "--experiments", str(out)]) == 0
    assert "3 committed run(s) from `dvc exp show`" in capsys.readouterr().out


def test_dvc_failing_or_missing_is_one_paragraph(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    _fake_dvc(tmp_path / "bin", 'echo "ERROR: you are not inside of a DVC repository" >&2\n'
                                "exit 253")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = tmp_path / "experiments.json"
    with pytest.raises(DataError, match=r"`dvc exp show --json` failed \(exit 253\): ERROR: you "
                                        r"are not inside of a DVC repository\. Run it from"):
        refresh(out)
    assert not out.exists()
    assert cli_main(["report", "--experiments", str(out)]) != 0
    err = capsys.readouterr().err
    assert "not inside of a DVC repository" in err and "Traceback" not in err
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("sys.executable", str(tmp_path / "empty" / "python"))
    with pytest.raises(DependencyError, match="dvc is neither on PATH nor beside this Python"):
        refresh(out)


MACHINE = {"cpu": "Test CPU 9000", "cpu_flags": ["avx2", "avx512_bf16"], "cpu_bf16": True,
           "cpu_kernels": "AVX512", "cores": 16, "torch_threads": 16, "torch": "2.x"}


@pytest.mark.parametrize(("tracker", "clip_model", "expected_standins"), [
    ("cotracker3", "ViT-B-32", []),
    ("tapnext", "ViT-B-16", ["tapnext tracker (not CoTracker3)", "CLIP ViT-B-16 (not ViT-B-32)"]),
])
def test_report_of_a_non_default_run_says_only_true_things(
        repo: Path, tracker: str, clip_model: str, expected_standins: list[str]) -> None:
    """The baseline commit holds the synthetic demo's params and metrics (R@1 0.8%, ADE 0.195);
    the workspace ran MeViS-format data with another tracker and another CLIP. No sentence may
    speak of synthetic data, LK or random weights, and every "this run" cell of Tables 4-7 must
    be this run's number, not the baseline's."""
    synth_l2 = "c" * 40
    exp_show = _exp_show(_params(), _metrics(0.008, 0.195),
                         _entry(synth_l2, "synth-l2", _params(loss__l1=False),
                                _metrics(0.1, 0.777)))
    ours = _params(data__source="mevis", track__backend=tracker,
                   track__checkpoint="ckpt/scaled_offline.pth", clip__model=clip_model,
                   clip__pretrained="openai", train__epochs=200)
    ours["data"]["mevis"]["root"] = "data/mevis_fixture"
    (repo / "params.yaml").write_text(yaml.safe_dump(ours))        # not committed, as a user
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
    (repo / "reports" / "eval" / "tables.json").write_text(json.dumps(tables))
    (repo / "reports" / "experiments.json").write_text(json.dumps(normalise(exp_show)))
    report_run(report=ReportConfig(experiments=True), params_path=PARAMS, metrics_path=METRICS,
               eval_dir="reports/eval", summaries_dir="reports",
               experiments_path="reports/experiments.json", out_path="reports/report.md")
    text = unpad((repo / "reports" / "report.md").read_text(encoding="utf-8"))
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
    # the baseline (synthetic) and its experiment fill no row: other data, tracker, CLIP, length
    assert "| HEAD " not in ablation and "synth-l2" not in ablation
    for number in ("0.8", "0.195", "0.777"):
        assert f"| {number} |" not in ablation
    assert "| MSE (L2) | 16.8 | not run |" in ablation
    other = text[text.index("## Other runs"):]
    assert f"exp synth-l2 ({synth_l2[:7]})" in other and "data.source=synth" in other


def test_an_experiment_read_with_its_tables_shows_intervals_and_speed(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lang2motion report` reads each committed run's tables.json through DVC at its commit, so
    an experiment's row carries its interval and speed like this run's."""
    import lang2motion.report.experiments as experiments

    l2 = "c" * 40
    answer = _exp_show(_params(), _metrics(0.5, 0.5),
                       _entry(l2, "exp-l2", _params(loss__l1=False), _metrics(0.1, 0.222)))
    (repo / "answer.json").write_text(json.dumps(answer))
    _fake_dvc(repo / "bin", f'cat "{repo / "answer.json"}"')
    monkeypatch.setenv("PATH", f"{repo / 'bin'}{os.pathsep}{os.environ['PATH']}")
    fixture_tables = json.loads((FIXTURE / "eval" / "tables.json").read_text())
    asked: list[tuple[str, str]] = []

    def read_tables_at(rev: str, tables_path: str) -> dict | None:
        asked.append((rev, tables_path))
        return fixture_tables if rev == l2 else None

    monkeypatch.setattr(experiments, "read_tables_at", read_tables_at)
    written = refresh(repo / "reports" / "experiments.json")
    assert asked == [("a" * 40, "reports/eval/tables.json"), (l2, "reports/eval/tables.json")]
    assert [("tables" in r) for r in written["runs"]] == [False, True]
    text, _ = _report(repo, None)
    row = next(line for line in text.splitlines() if line.startswith("| MSE (L2) |"))
    # the same tables.json as this run's: our cells equal the full row's, interval and speed
    full = next(line for line in text.splitlines() if line.startswith("| MAE (L1) |"))
    assert row.split(" | ")[2:-1:2] == full.split(" | ")[2:-1:2]    # ours, not the paper's
    assert "[0.111, 0.136]" in row and " n/a " not in row
    assert row.endswith(f"| exp exp-l2 ({l2[:7]}) |")
