"""The report stage: ``reports/report.md`` from the evaluation's outputs, the earlier stages'
summaries and ``reports/experiments.json`` (:mod:`lang2motion.report`), written atomically.

Every input is a file DVC tracks; the stage reads no git, calls no dvc and recomputes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lang2motion.config import ReportConfig, read_params_file
from lang2motion.io import write_text_atomic
from lang2motion.report.experiments import find_runs
from lang2motion.report.inputs import (
    load_experiments,
    load_gallery,
    load_summaries,
    load_tables,
    read_required_json,
)
from lang2motion.report.page import build


def _as_dvc_names(path: str | os.PathLike[str]) -> str:
    """A path as ``dvc exp show`` names it: relative to the repository root (the stage's cwd)."""
    return Path(os.path.relpath(path)).as_posix()


def run_stage(*, report: ReportConfig, params_path: str | os.PathLike[str],
        metrics_path: str | os.PathLike[str], eval_dir: str | os.PathLike[str],
        summaries_dir: str | os.PathLike[str] | None,
        experiments_path: str | os.PathLike[str], out_path: str | os.PathLike[str]
        ) -> dict[str, Any]:
    """Write the report to ``out_path``; return what it holds and what it warned about."""
    metrics_path, eval_dir, out_path = Path(metrics_path), Path(eval_dir), Path(out_path)
    metrics = read_required_json(metrics_path, what="the evaluation's headline metrics")
    tables = load_tables(eval_dir)
    raw_params = read_params_file(params_path)
    experiments, notes = (load_experiments(experiments_path) if report.experiments
                          else (None, []))
    runset = find_runs(raw_params=raw_params, metrics=metrics, tables=tables,
                       experiments=experiments, params_file=_as_dvc_names(params_path),
                       metrics_file=_as_dvc_names(metrics_path))
    runset.notes[:0] = notes
    gallery, gallery_warnings = load_gallery(eval_dir)
    doc = build(raw_params=raw_params, metrics_path=metrics_path, tables=tables, runset=runset,
                summaries=load_summaries(summaries_dir), gallery=gallery,
                gallery_warnings=gallery_warnings, eval_dir=eval_dir, out_path=out_path)
    write_text_atomic(out_path, doc.text)
    return {"out": str(out_path), "runs": len(runset.runs), "notes": runset.notes,
            "ablation_rows": doc.ablations.rows, "ablation_filled": doc.ablations.filled,
            "gallery": len(gallery), "warnings": doc.warnings}


def summary_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"wrote {result['out']}: Tables 1-8, {result['ablation_filled']} of "
             f"{result['ablation_rows']} ablation rows filled from {result['runs']} run(s), "
             f"{result['gallery']} animation(s), {len(result['warnings'])} warning(s)"]
    lines += [f"  runs: {note}" for note in result["notes"]]
    lines += [f"  warning: {text}" for text in result["warnings"]]
    return lines
