"""The report stage on a hand-written evaluation (tests/fixtures/report): tables, units, notes,
links and errors. The ablation rows that come from `dvc exp show`: tests/test_report_experiments.
"""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import pytest
import yaml
from markdown_text import unpad

from lang2motion.config import ReportConfig, defaults
from lang2motion.entry import run_with_error_contract
from lang2motion.errors import DataError
from lang2motion.report.tables import fmt_stat, percent, pixels, score, table
from lang2motion.stages.report import run_stage as report_run
from lang2motion.stages.report import summary_lines

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "report"


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with params.yaml (the defaults) and reports/ holding the fixture evaluation and
    an experiments file without runs (a fresh clone's)."""
    shutil.copytree(FIXTURE, tmp_path / "reports")
    (tmp_path / "reports" / "experiments.json").write_text('{"runs": [], "skipped": []}')
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(defaults()))
    (tmp_path / "reports" / "train_metrics.json").write_text(json.dumps({"epoch": 50,
                                                                        "steps": 1250}))
    (tmp_path / "reports" / "prepare_summary.json").write_text(json.dumps({"splits": {
        "valid_u": {"videos": 12, "expressions": 46, "samples": 46,
                    "skipped_by_reason": {"video shorter than T": 2, "no object": 1}}}}))
    return tmp_path


def _report(ws: Path, *, experiments: bool = True) -> tuple[str, dict]:
    result = report_run(report=ReportConfig(experiments=experiments),
                        params_path=ws / "params.yaml", metrics_path=ws / "reports/metrics.json",
                        eval_dir=ws / "reports/eval", summaries_dir=ws / "reports",
                        experiments_path=ws / "reports/experiments.json",
                        out_path=ws / "reports/report.md")
    return unpad((ws / "reports" / "report.md").read_text(encoding="utf-8")), result


def _lines(text: str) -> set[str]:
    return set(text.splitlines())


def test_table1_paper_beside_ours_with_intervals(workspace: Path) -> None:
    text, _ = _report(workspace)
    lines = _lines(text)
    assert ("| Method | Type | R@1 paper | R@1 this run | R@3 paper | R@3 this run | R@5 paper "
            "| R@5 this run | R@10 paper | R@10 this run |") in lines
    assert ("| Lang2Motion | Trajectory | 34.2 | 21.3 [19.0, 23.6] | 58.7 | 40.0 [30.0, 50.0] "
            "| 71.3 | 50.0 [40.0, 60.0] | 84.6 | 70.0 [60.0, 80.0] |") in lines
    assert ("| Random | Baseline | 0.3 | 4.2 (exact) | 0.9 | 12.5 (exact) | 1.5 | 20.8 (exact) "
            "| 2.9 | 41.7 (exact) |") in lines
    assert ("| X-CLIP | Video-based | 21.7 | not run | 42.6 | not run | 55.8 | not run | 72.1 "
            "| not run |") in lines
    assert "- **Unit:** Recall@K in percent of expressions (higher is better)" in lines
    assert ("- **Data split:** `valid_u`: 46 expressions, 24 unique trajectories (the paper: "
            "MeViS)") in lines
    assert ("- **Stand-ins in this run:** synthetic data (not MeViS), LK tracker (not "
            "CoTracker3), random CLIP weights (not OpenAI's): numbers are not comparable with "
            "the paper's") in lines
    assert "we did not run them" in text
    # per slice, with what each slice measures
    assert ("| phrasing=unseen | 23 | Lang2Motion | 4.3 [0.0, 13.0] | 13.0 [0.0, 26.0] "
            "| 20.0 [5.0, 35.0] | 40.0 [20.0, 60.0] |") in lines
    assert ("- `phrasing=unseen`: templates never used in train: measures language "
            "generalisation; expected near chance with random CLIP weights (this run's CLIP "
            "weights are random)") in lines
    assert ("- `phrasing=seen`: caption templates also used in train, on held-out videos"
            in lines)


def test_table2_speed_and_motion_kinds(workspace: Path) -> None:
    lines = _lines(_report(workspace)[0])
    assert ("| Lang2Motion | 0.84 ± 0.02 | 0.410 [0.360, 0.460] | 0.98 ± 0.01 "
            "| 0.970 [0.960, 0.980] | 0.81 | 0.120 [0.080, 0.160] | 0.89 "
            "| -5.272 [-6.552, -3.992] | 0.951 [0.941, 0.961] |") in lines   # px beside normalised
    assert ("| Lang2Motion | 12.4 | 15.8 [14.2, 17.4] | 0.123 [0.111, 0.136] | 21.7 "
            "| 25.6 [23.0, 28.2] | 0.200 [0.180, 0.220] |") in lines
    # the paper's VLM rows only in the paper's columns; our baselines only in ours; null: n/a
    assert ("| Sora 2.0 Direct (paper only: VLM text output) | 0.31 ± 0.03 | not run "
            "| 0.79 ± 0.03 | not run | 0.54 | not run | 0.58 | not run | not run |") in lines
    assert ("| Static grid (our baseline: nothing moves) | — | 0.100 [0.050, 0.150] | — "
            "| 0.970 [0.960, 0.980] | — | n/a | — | 1.000 [-0.280, 2.280] "
            "| 1.000 [0.990, 1.010] |") in lines
    assert any(line.startswith("| Teacher-forced decode (not a generator") for line in lines)
    assert ("| Lang2Motion | 30.4 [17.4, 43.4] | 47.8 [34.8, 60.8] | 13.0 [0.0, 26.0] |"
            in lines)
    assert "| Chance | 7.1 | 7.1 | 7.1 |" in lines
    assert ("| batch 1, with CLIP text encoding, median | 0.7s (hardware not stated) "
            "| 25.0 ms (p95 27.0 ms) |") in lines
    assert "| batched throughput (batch 256) | — | 3000 trajectories / s |" in lines
    assert "- **Unit:** wall time per generated trajectory; device: cpu, 2 threads" in lines


def test_tables_3_8_and_the_full_run_rows(workspace: Path) -> None:
    text, result = _report(workspace, experiments=False)
    lines = _lines(text)
    assert "| Lang2Motion | NTU RGB+D (60 classes) | 88.3 | 97.2 | not run | not run |" in lines
    assert ("| Lang2Motion (this run) | synthetic motion kinds (14 classes, 24 trajectories) "
            "| — | — | 25.0 [8.3, 41.7] | 58.3 [37.5, 79.2] |") in lines
    assert "`lang2motion recognize <folder> --classes <file>`" in text
    assert ("| Image + mask (no text) | 0.76 | 0.080 [0.040, 0.120] | 14.2 "
            "| 0.200 [0.180, 0.220] | 25.6 [23.0, 28.2] | 0.85 | -6.680 [-7.960, -5.400] "
            "| 0.940 [0.930, 0.950] | 0.300 [0.270, 0.330] |") in lines
    # params.yaml holds the defaults: this run fills every "full" row, with its intervals
    assert ("| Lang2Motion (full) | 34.2 | 21.3 [19.0, 23.6] | 0.81 | 0.120 [0.080, 0.160] "
            "| 12.4 | 0.123 [0.111, 0.136] | 0.7s | 25.0 | this run |") in lines
    assert ("| Teacher forcing (train only) | 11.8 | 0.050 [0.045, 0.055] | 20.9 "
            "| 0.080 [0.072, 0.088] | 0.91 | -4.120 [-5.400, -2.840] | — | 0.960 [0.950, 0.970] "
            "| 0.82 | 0.200 [0.160, 0.240] "
            "| — | — | this run (its teacher-forced decode) |") in lines
    assert ("| 4 × 4 | 16 | 31.2 | not run | 0.77 | not run | 14.1 | not run | 24.8 | not run "
            "| not run: `dvc exp run -S grid.size=4` |") in lines
    assert "experiments skipped (report.experiments: false)" in text
    assert "`make ablations`" in text
    assert result["ablation_filled"] == 7 and result["ablation_rows"] == 28


def test_what_was_run_links_and_warnings(workspace: Path) -> None:
    params = defaults()
    params["train"]["epochs"] = 5
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    text, result = _report(workspace)
    lines = _lines(text)
    assert "| `train.epochs` | `5` | `8` |" in lines
    assert "| valid_u | 12 | 46 | 46 | n/a | 3 | n/a | n/a |" in lines
    assert ("- **Model:** trained 50 epochs, 1250 optimiser steps (train.min_steps raises the "
            "epochs of a small data set); git revision `cd15212`") in lines
    # this run fills its own (full) rows whatever it changed outside the ablation keys
    assert "| MAE (L1) | 12.4 | 0.123 [0.111, 0.136] |" in text
    assert "![Recall@K](eval/plots/recall_at_k.png)" in lines
    assert "![ADE per frame](eval/plots/ade_per_frame.png)" in lines
    assert "![the red ball moving to the left](eval/gallery/00_ball_left.gif)" in lines
    assert ("> **Warning:** eval/plots/motion_kinds.png not found: run the evaluate stage first "
            "(dvc repro evaluate)") in lines
    assert any("gallery.png not found" in w for w in result["warnings"])
    assert any("track_summary.json not found" in w for w in result["warnings"])
    assert "| MSE (L2) | 16.8 | not run |" in text
    assert "not run: `dvc exp run -S loss.l1=false` |" in text
    assert summary_lines(result)[0].startswith("wrote ")


def test_missing_and_malformed_inputs_are_data_errors(workspace: Path) -> None:
    (workspace / "reports" / "metrics.json").unlink()
    with pytest.raises(DataError, match=r"metrics\.json.*dvc repro evaluate"):
        _report(workspace)
    shutil.copy(FIXTURE / "metrics.json", workspace / "reports" / "metrics.json")
    tables = workspace / "reports" / "eval" / "tables.json"
    tables.write_text('{"schema": 1, "run": {}}')
    with pytest.raises(DataError, match=r"tables\.json: malformed.*slices\.all"):
        _report(workspace)
    tables.write_text("{not json")
    with pytest.raises(DataError, match=r"tables\.json.*not readable JSON"):
        _report(workspace)
    assert not (workspace / "reports" / "report.md").exists()


def test_stage_script_reports_a_missing_file_without_traceback(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = runpy.run_path(str(REPO / "pipeline" / "report.py"), run_name="report_script")["main"]
    argv = ["--params", str(workspace / "params.yaml"),
            "--metrics", str(workspace / "missing.json"), "--eval", str(workspace / "reports/eval"),
            "--summaries", str(workspace / "reports"),
            "--out", str(workspace / "reports/report.md")]
    assert run_with_error_contract("report", main, argv) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "dvc repro evaluate" in err and "Traceback" not in err


def test_formatting_helpers() -> None:
    assert fmt_stat({"value": 0.213, "lo": 0.19, "hi": 0.236, "n": 4}) == "0.213 [0.190, 0.236]"
    assert fmt_stat({"value": None, "lo": None, "hi": None, "n": 0}) == "n/a"
    assert fmt_stat({"value": float("nan")}) == "n/a"
    assert fmt_stat({"value": 0.5, "lo": 0.5, "hi": 0.5, "exact": True}, 1,
                    scale=100) == "50.0 (exact)"
    # a degenerate bootstrap interval is still an interval, not an exact value
    assert fmt_stat({"value": 0.5, "lo": 0.5, "hi": 0.5}, 1, scale=100) == "50.0 [50.0, 50.0]"
    # units: recall and accuracy in percent (1 decimal), scores 3 decimals, pixels 1 decimal
    assert percent({"value": 0.0625, "lo": 0.03125, "hi": 0.125}) == "6.2 [3.1, 12.5]"
    assert score(0.30598) == "0.306" and pixels({"value": 24.8268, "lo": 22.94, "hi": 26.8}) == (
        "24.8 [22.9, 26.8]")
    # a pipe table: padded to the widest cell, aligned as asked, pipes in cells escaped,
    # whitespace (a newline in a caption) folded
    assert table(["Method", "R@1"], [["x|y", "6.2"], ["long\nname", "12.5 (exact)"]],
                 ["l", "r"]) == (
        "| Method    |          R@1 |\n"
        "|:----------|-------------:|\n"
        "| x\\|y      |          6.2 |\n"
        "| long name | 12.5 (exact) |")
