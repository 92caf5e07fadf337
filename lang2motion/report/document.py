"""The whole report page: what was run, how to read it, Tables 1-8, seeds, plots and gallery.

Links to plots and animations are relative to the report's folder, so the page renders on GitHub,
in a plain markdown viewer and from a copy of the ``reports/`` folder alike. A missing plot or
gallery file is a warning line where it would have been, never a crash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lang2motion.report import ablations, results
from lang2motion.report.experiments import RunSet, default_params, params_from_raw, same_value
from lang2motion.report.inputs import (
    EVALUATE_HINT,
    GALLERY_SHEET,
    PLOTS_DIR,
    SAMPLES_NAME,
    GalleryEntry,
    Summaries,
    dig,
)
from lang2motion.report.markdown import (
    NA,
    NOT_IN_PAPER,
    NOT_RUN,
    bullets,
    code,
    fmt,
    image,
    link,
    relative,
    table,
    warning,
)
from lang2motion.report.setting import SYNTH_SOURCE, RunInfo, standins

TITLE = "# Lang2Motion: evaluation report"
# (file stem under plots/, title, what it shows)
PLOTS: tuple[tuple[str, str, str], ...] = (
    ("recall_at_k", "Recall@K", "retrieval recall for K = 1..10: Lang2Motion, CLIP NN, random"),
    ("ade_per_frame", "ADE per frame",
     "mean displacement error (normalised units) at each frame, per generation method"),
    ("motion_kinds", "Per motion kind",
     "Lang2Motion's and the static baseline's ADE, and motion-kind accuracy, per motion kind"),
)
OPTIONAL_ON_REAL_DATA = {"motion_kinds"}      # needs motion-kind labels (synthetic data only)


@dataclass
class Document:
    text: str
    warnings: list[str] = field(default_factory=list)
    ablation_rows: int = 0
    ablation_filled: int = 0


def build(*, raw_params: Mapping[str, Any], metrics_path: Path, tables: Mapping[str, Any],
          runset: RunSet, summaries: Summaries, gallery: list[GalleryEntry],
          gallery_warnings: list[str], eval_dir: Path, out_path: Path) -> Document:
    """The report's markdown text and what it had to warn about."""
    info = RunInfo.from_tables(tables)
    doc = Document(text="", warnings=[*summaries.warnings, *gallery_warnings])
    here = out_path.parent
    ablation = ablations.ablation_tables(runset, info)
    doc.ablation_rows, doc.ablation_filled = ablation.rows, ablation.filled
    seeds, seeded = ablations.seeds_section(runset)
    lines = [TITLE, "",
             f"Built by the `report` stage from {code(_shown(metrics_path, here))} and "
             f"{code(_shown(eval_dir, here) + '/')} (it recomputes nothing), after the "
             "Lang2Motion paper, Section 4, Tables 1-8.", ""]
    lines += _standin_banner(info)
    lines += ["## How to read this", "",
              _how_to_read(info, _shown(eval_dir / SAMPLES_NAME, here)), ""]
    lines += [*_what_was_run(info, raw_params, tables, summaries), ""]
    for section in (results.table1(tables, info), results.table2(tables, info),
                    results.table3(tables, info), ablation.lines, results.table8(tables, info),
                    seeds, ablations.other_runs_section(runset, ablation.used | seeded)):
        if section:
            lines += [*section, ""]
    lines += _plots(eval_dir, here, info, doc)
    lines += _gallery(eval_dir, here, gallery, gallery_warnings, doc)
    doc.text = "\n".join(_squeeze(lines)).rstrip() + "\n"
    return doc


def _shown(path: Path, here: Path) -> str:
    return os.path.relpath(Path(path).resolve(), here.resolve()).replace(os.sep, "/")


def _squeeze(lines: list[str]) -> list[str]:
    """No two blank lines in a row."""
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out


def _standin_banner(info: RunInfo) -> list[str]:
    used = standins(data_source=info.data_source, tracker=info.tracker,
                    clip_random=info.clip_random)
    if not used:
        return []
    return [f"> **Stand-ins:** this run uses {'; '.join(used)}. Its numbers test the pipeline, "
            "not the paper's method, and are not comparable with the paper's; every table "
            "keeps the two in separate columns.", ""]


def _how_to_read(info: RunInfo, samples: str) -> str:
    return (
        "Every table prints the paper's numbers (columns marked *paper*: MeViS, CoTracker3, CLIP "
        "with OpenAI's weights, copied from the paper) beside this run's (columns marked *this "
        "run* or *ours*), never mixed. Each number of ours is a mean over the evaluated "
        f"expressions with its {info.percent_level} bootstrap interval in brackets, e.g. "
        "`0.213 [0.190, 0.236]`; `(exact)` marks an exact expectation, such as random "
        f"retrieval. `{NA}` means the value is undefined or missing, `{NOT_IN_PAPER}` that the "
        f"paper has no such number, `{NOT_RUN}` that we did not run that method or "
        "configuration (the command that runs it is given). Recall and accuracy are in percent, "
        "as in the paper; ADE and FDE are in normalised units (the frame spans [-1, 1]) and in "
        "pixels of a 256 × 256 frame, while the paper does not state its unit. Where this run "
        "uses stand-ins, compare directions (which method is better, which way an ablation "
        "moves) rather than values, and read the intervals before reading a difference. "
        f"Per-expression results are in {code(samples)}; {code('dvc exp show --md')} lists "
        "every experiment.")


def _own_clips(summaries: Summaries) -> str:
    """Where a data.source=folder run's clips came from, and how many (else empty)."""
    prepare = summaries.get("prepare_summary") or {}
    made = prepare.get("generated") or {}
    if prepare.get("source") != "folder" or "manifest" not in made:
        return ""
    videos = ", ".join(f"{n} {split}" for split, n in (made.get("videos") or {}).items())
    return (f" (own clips: {made.get('clips', '?')} clips of {code(made['manifest'])}, "
            f"{len(made.get('skipped_clips') or [])} skipped as too short; videos: {videos})")


def _what_was_run(info: RunInfo, raw_params: Mapping[str, Any], tables: Mapping[str, Any],
                  summaries: Summaries) -> list[str]:
    train = summaries.get("train_metrics")
    epoch = info.epoch if info.epoch is not None else train.get("epoch", "?")
    clip_device = dig(summaries.get("embed_summary"), "clip", "device")
    interval = tables.get("interval") or {}
    lines = ["## What was run", ""]
    lines += bullets([
        f"**Data:** {info.data_text()}{_own_clips(summaries)}; evaluated on split "
        f"{code(info.split)}",
        f"**Tracker:** {info.tracker_text()}",
        f"**CLIP:** {info.clip_text()}"
        + (f", features computed on {clip_device}" if clip_device else ""),
        f"**Model:** trained {epoch} epochs; git revision {code(info.git_rev)}",
        f"**Evaluation:** {tables.get('samples', '?')} expressions, "
        f"{tables.get('trajectories', '?')} unique trajectories; {info.percent_level} "
        f"percentile-bootstrap intervals ({interval.get('resamples', '?')} resamples, seed "
        f"{interval.get('seed', '?')})",
    ])
    counts = _counts(summaries)
    if counts:
        lines += ["", *table(["Split", "Videos", "Expressions", "Samples",
                              "Trajectories (track rows)", "Skipped (prepare)",
                              "Skipped (track)", "Embedded samples"], counts,
                             ["l"] + ["r"] * 7)]
    for text in summaries.warnings:
        lines += ["", warning(text)]
    lines += ["", "**Parameters that differ from the defaults**", ""]
    base = default_params()
    params = params_from_raw(raw_params, base)
    diff = [[code(k), code(v), code(base.get(k, "(not a known parameter)"))]
            for k, v in params.items() if k not in base or not same_value(v, base[k])]
    lines += (table(["Parameter", "This run", "Default"], diff) if diff
              else ["None: params.yaml holds the defaults (lang2motion/config.py)."])
    return lines


def _total(obj: Any) -> int | None:
    """A count, or the sum of a {reason: count} mapping, or None."""
    if isinstance(obj, bool):
        return None
    if isinstance(obj, int):
        return obj
    if isinstance(obj, Mapping):
        values = [v for v in obj.values() if isinstance(v, int) and not isinstance(v, bool)]
        return sum(values)
    if isinstance(obj, list):
        return len(obj)
    return None


def _counts(summaries: Summaries) -> list[list[Any]]:
    prepare = dig(summaries.get("prepare_summary"), "splits") or {}
    track = dig(summaries.get("track_summary"), "splits") or {}
    embed = dig(summaries.get("embed_summary"), "splits") or {}
    rows = []
    for split in dict.fromkeys([*prepare, *track, *embed]):
        p, t, e = prepare.get(split) or {}, track.get(split) or {}, embed.get(split) or {}
        skipped_track = [_total(t.get(k)) for k in ("rows_skipped", "samples_skipped")]
        rows.append([split, *(fmt(x, 0) for x in (p.get("videos"), p.get("expressions"),
                                                   p.get("samples"), t.get("track_rows"),
                                                   _total(p.get("skipped_by_reason")))),
                     "n/a" if all(x is None for x in skipped_track)
                     else f"{skipped_track[0] or 0} rows, {skipped_track[1] or 0} samples",
                     fmt(e.get("samples"), 0)])
    return rows


def _plots(eval_dir: Path, here: Path, info: RunInfo, doc: Document) -> list[str]:
    lines = ["## Plots", "",
             f"From {code(_shown(eval_dir / PLOTS_DIR, here) + '/')}; the CSV beside each "
             "plot holds its numbers (this run only).", ""]
    for stem, title, what in PLOTS:
        png = eval_dir / PLOTS_DIR / f"{stem}.png"
        csv = png.with_suffix(".csv")
        lines += [f"### {title}", "", f"{what[0].upper()}{what[1:]}.", ""]
        if png.is_file():
            lines += [image(title, relative(png, here)), ""]
        elif stem in OPTIONAL_ON_REAL_DATA and info.data_source != SYNTH_SOURCE:
            lines += [f"Not available: {info.data_source} data has no motion-kind labels.", ""]
            continue
        else:
            text = f"{_shown(png, here)} not found: {EVALUATE_HINT}"
            doc.warnings.append(text)
            lines += [warning(text), ""]
        if csv.is_file():
            lines += [f"Data: {link(csv.name, relative(csv, here))}", ""]
    return lines


def _gallery(eval_dir: Path, here: Path, gallery: list[GalleryEntry], warnings: list[str],
             doc: Document) -> list[str]:
    lines = ["## Gallery", "",
             "Each animation shows the tracked ground truth (left) beside the trajectory "
             "Lang2Motion generated from the caption alone (right), over the window's first "
             "frame (this run).", ""]
    sheet = eval_dir / GALLERY_SHEET
    if sheet.is_file():
        lines += [image("Contact sheet: last frame of every animation", relative(sheet, here)),
                  ""]
    else:
        text = f"{_shown(sheet, here)} not found: {EVALUATE_HINT}"
        doc.warnings.append(text)
        lines += [warning(text), ""]
    for text in warnings:
        lines += [warning(text), ""]
    for i, entry in enumerate(gallery, start=1):
        tags = ", ".join(f"{k}: {v}" for k, v in entry.tags.items())
        details = "; ".join(x for x in (tags, f"ADE {fmt(entry.ade)} (normalised)",
                                        f"sample {code(entry.sample_id)}" if entry.sample_id
                                        else "") if x)
        lines += [f"**{i}. \u201c{entry.text}\u201d** ({details})", "",
                  image(entry.text or entry.file, relative(eval_dir / entry.file, here)), ""]
    return lines
