"""The cells of every table of the report, the paper's numbers beside ours, never mixed, and
how a number prints.

Tables 1-3, 8, speed and motion-kind accuracy come from this run's tables.json; Tables 4-7, the
seed tables and the other runs from many runs (:mod:`lang2motion.report.experiments`), one row per
configuration of the paper's tables (:mod:`lang2motion.report.paper`), filled by the run whose
overrides are exactly the row's. A run's numbers carry their intervals from its tables.json
(this run's, or the part `make report` read at an experiment's commit); without one, the values of
its metrics.json as `dvc exp show` lists it. Nothing is computed but formatting; the words around
the tables are in ``templates/report.md.j2``.

A number of ours prints with its interval, ``0.213 [0.190, 0.236]``, or as ``0.213 (exact)`` (a
STAT flagged ``"exact"``) or ``n/a``. Tables are tabulate's pipe tables, aligned in plain text
too; cells are escaped (a ``|`` would split the row); links are relative and percent-encoded.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tabulate import tabulate

from lang2motion.report import paper
from lang2motion.report.experiments import (
    Run,
    RunSet,
    SeedGroup,
    describe_overrides,
    exp_command,
    pick,
    seed_groups,
)
from lang2motion.report.inputs import ALL_SLICE, dig

SYNTH_SOURCE = "synth"     # data.source of the synthetic set (the only one with motion kinds)
NA = "n/a"                 # a value of ours that is null, NaN or absent
NOT_IN_PAPER = "—"         # a cell the paper's table does not have
NOT_RUN = "not run"        # a configuration or method we did not run
VALUE_DIGITS = 3           # unitless scores, normalised distances, cosines
PERCENT_DIGITS = 1         # recall and accuracy in percent (as the paper prints them)
PIXEL_DIGITS = 1           # distances in pixels of a 256 x 256 frame
MS_DIGITS = 1              # milliseconds
PERCENT = 100.0


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (null, NaN, infinite, not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fmt(value: Any, digits: int = VALUE_DIGITS, *, scale: float = 1.0) -> str:
    """A plain number with ``digits`` decimals, ``n/a`` where missing."""
    value = number(value)
    return NA if value is None else f"{value * scale:.{digits}f}"


def fmt_stat(stat: Any, digits: int = VALUE_DIGITS, *, scale: float = 1.0) -> str:
    """A STAT ``{"value", "lo", "hi", "n"}`` (or a bare number) as ``v [lo, hi]``."""
    if not isinstance(stat, Mapping):
        return fmt(stat, digits, scale=scale)
    value, lo, hi = (number(stat.get(k)) for k in ("value", "lo", "hi"))
    if value is None:
        return NA
    text = fmt(value, digits, scale=scale)
    if lo is None or hi is None:
        return text
    if stat.get("exact"):
        return f"{text} (exact)"
    return f"{text} [{fmt(lo, digits, scale=scale)}, {fmt(hi, digits, scale=scale)}]"


# a recall or accuracy (a fraction) in percent, as the paper prints them; a unitless score,
# cosine or normalised distance; a distance in pixels of a 256 x 256 frame
percent = partial(fmt_stat, digits=PERCENT_DIGITS, scale=PERCENT)
score = partial(fmt_stat, digits=VALUE_DIGITS)
pixels = partial(fmt_stat, digits=PIXEL_DIGITS)


def cell(text: Any) -> str:
    """Text safe inside a table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


ALIGN = {"l": "left", "r": "right"}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          align: Sequence[str] | None = None) -> str:
    """A GitHub (pipe) table; ``align`` per column: "l" (default) or "r"."""
    align = align or ["l"] * len(headers)
    assert len(align) == len(headers), "one alignment per column"
    for row in rows:
        assert len(row) == len(headers), f"row {row!r} has {len(row)} cells, not {len(headers)}"
    return tabulate([[cell(c) for c in row] for row in rows], headers=[cell(h) for h in headers],
                    tablefmt="pipe", colalign=[ALIGN[a] for a in align], disable_numparse=True)


def code(text: Any) -> str:
    return f"`{text}`"


def relative(path: str | os.PathLike[str], start: str | os.PathLike[str]) -> str:
    """``path`` relative to folder ``start``, with forward slashes and percent-encoding."""
    rel = os.path.relpath(Path(path).resolve(), Path(start).resolve())
    return quote(Path(rel).as_posix())


def image(alt: str, target: str) -> str:
    alt = " ".join(str(alt).split()).replace("[", "(").replace("]", ")")
    return f"![{alt}]({target})"


def link(text: str, target: str) -> str:
    return f"[{text}]({target})"


# Tables 1-3 and 8 and their slices: this run

PAPER, THIS_RUN, OURS = "paper", "this run", "ours"
FULL_METHOD = "lang2motion"
# our generation methods (tables.json keys) and their row labels
GENERATORS: tuple[tuple[str, str], ...] = (
    ("static", "Static grid (our baseline: nothing moves)"),
    ("nearest_caption", "Nearest caption (our baseline: motion of the nearest training caption)"),
    ("mean_motion", "Mean motion (our baseline: mean training displacement per frame)"),
)
NOT_GENERATORS: tuple[tuple[str, str], ...] = (
    ("reconstruction", "Auto-encoder reconstruction (not a generator: encodes the true "
                       "trajectory)"),
    ("teacher_forced", "Teacher-forced decode (not a generator: fed the true previous "
                       "positions)"),
)
SLICE_METHODS = ("lang2motion", "static", "nearest_caption", "mean_motion")
METHOD_NAMES = {"lang2motion": "Lang2Motion", **{k: v.split(" (")[0] for k, v in GENERATORS},
                **{k: v.split(" (")[0] for k, v in NOT_GENERATORS},
                "image": "Image + mask", "overlay": "Overlay only"}
RETRIEVAL_METHODS = (("lang2motion", "Lang2Motion"), ("clip_nn", "CLIP NN"), ("random", "Random"))


def generation_stat(tables: Mapping[str, Any], method: str, metric: str,
                    slice_name: str = ALL_SLICE) -> Any:
    return dig(tables, "slices", slice_name, "generation", method, metric)


def retrieval_stat(tables: Mapping[str, Any], method: str, metric: str,
                   slice_name: str = ALL_SLICE) -> Any:
    return dig(tables, "slices", slice_name, "retrieval", method, metric)


def slice_names(tables: Mapping[str, Any]) -> list[str]:
    """The tag slices (``phrasing=seen``, ...) in the order of ``tags``, then any others."""
    slices = tables.get("slices") or {}
    named = [f"{key}={value}" for key, values in (tables.get("tags") or {}).items()
             if isinstance(values, list) for value in values]
    others = [name for name in slices if name != ALL_SLICE and name not in named]
    return [name for name in named if name in slices] + others


def _count(tables: Mapping[str, Any], slice_name: str) -> Any:
    n = dig(tables, "slices", slice_name, "n")
    return n if n is not None else NA


def table1(tables: Mapping[str, Any]) -> str:
    ks = [f"r{k}" for k in paper.RETRIEVAL_KS]
    headers = ["Method", "Type"]
    for k in paper.RETRIEVAL_KS:
        headers += [f"R@{k} {PAPER}", f"R@{k} {THIS_RUN}"]
    rows = []
    for row in paper.TABLE1:
        method = paper.TABLE1_METHODS.get(row.label)
        cells = [row.label, row.kind]
        for key in ks:
            cells += [row.values[key],
                      NOT_RUN if method is None else percent(retrieval_stat(tables, method, key))]
        rows.append(cells)
    return table(headers, rows, ["l", "l"] + ["r"] * (len(headers) - 2))


def table1_by_slice(tables: Mapping[str, Any], names: Sequence[str]) -> str:
    rows = [[name, _count(tables, name), label,
             *(percent(retrieval_stat(tables, method, f"r{k}", name))
               for k in paper.RETRIEVAL_KS)]
            for name in names for method, label in RETRIEVAL_METHODS]
    return table(["Slice", "Expressions", "Method",
                  *(f"R@{k} {THIS_RUN}" for k in paper.RETRIEVAL_KS)], rows,
                 ["l", "r", "l", "r", "r", "r", "r"])


# Table 2's columns: (header, the paper's key) for the paper's numbers, (header, our key,
# formatter) for this run's
TABLE2A = ((f"AJ {PAPER}", "aj"), (f"AJ {THIS_RUN}", "aj", score), (f"OA {PAPER}", "oa"),
           (f"OA {THIS_RUN}", "oa", score), (f"CLIP sim {PAPER}", "clip_sim"),
           (f"CLIP sim {THIS_RUN}", "clip_sim", score), (f"Smooth {PAPER}", "smoothness"),
           (f"Smooth {THIS_RUN} (px)", "smoothness_px", score),
           (f"Smooth {THIS_RUN} (normalised)", "smoothness", score))
TABLE2B = ((f"ADE {PAPER} ({paper.ADE_UNIT})", "ade"), (f"ADE {THIS_RUN} (px)", "ade_px", pixels),
           (f"ADE {THIS_RUN} (normalised)", "ade", score),
           (f"FDE {PAPER} ({paper.ADE_UNIT})", "fde"), (f"FDE {THIS_RUN} (px)", "fde_px", pixels),
           (f"FDE {THIS_RUN} (normalised)", "fde", score))


def table2(tables: Mapping[str, Any], columns: Sequence[tuple[Any, ...]]) -> str:
    """One half of Table 2 (``TABLE2A`` or ``TABLE2B``): our methods and the paper's rows."""
    full = next(row for row in paper.TABLE2 if row.label == "Lang2Motion")

    def ours(method: str) -> list[str]:
        return [column[2](generation_stat(tables, method, column[1])) if len(column) == 3
                else full.values[column[1]] if method == FULL_METHOD else NOT_IN_PAPER
                for column in columns]

    rows = [["Lang2Motion", *ours(FULL_METHOD)]]
    rows += [[f"{row.label} (paper only: {row.kind})",
              *(NOT_RUN if len(column) == 3 else row.values[column[1]] for column in columns)]
             for row in paper.TABLE2 if row is not full]
    rows += [[label, *ours(method)] for method, label in GENERATORS + NOT_GENERATORS]
    headers = ["Method", *(column[0] for column in columns)]
    return table(headers, rows, ["l"] + ["r"] * (len(headers) - 1))


def table2_by_slice(tables: Mapping[str, Any], names: Sequence[str]) -> str:
    columns = (("aj", score), ("oa", score), ("ade", score), ("ade_px", pixels), ("fde", score),
               ("clip_sim", score), ("smoothness_px", score), ("smoothness", score))
    rows = [[name, _count(tables, name), METHOD_NAMES[method],
             *(formatter(generation_stat(tables, method, key, name))
               for key, formatter in columns)]
            for name in names for method in SLICE_METHODS
            if dig(tables, "slices", name, "generation", method) is not None]
    return table(["Slice", "Expressions", "Method", "AJ", "OA", "ADE (normalised)", "ADE (px)",
                  "FDE (normalised)", "CLIP sim", "Smooth (px)", "Smooth (normalised)"], rows,
                 ["l", "r", "l"] + ["r"] * 8)


def motion_kinds(tables: Mapping[str, Any]) -> str:
    """Motion-kind accuracy per method and slice, with chance ("" without labels)."""
    columns = [ALL_SLICE, *slice_names(tables)]
    methods = [m for m in ("lang2motion", *(k for k, _ in GENERATORS + NOT_GENERATORS),
                           "image", "overlay")
               if any(generation_stat(tables, m, "motion_kind_acc", c) is not None
                      for c in columns)]
    if not methods:
        return ""
    rows = [[METHOD_NAMES.get(m, m), *(percent(generation_stat(tables, m, "motion_kind_acc", c))
                                       for c in columns)] for m in methods]
    rows.append(["Chance", *(fmt(dig(tables, "slices", c, "motion_kind_chance"),
                                 PERCENT_DIGITS, scale=PERCENT) for c in columns)])
    return table(["Method", *columns], rows, ["l"] + ["r"] * len(columns))


def speed(tables: Mapping[str, Any]) -> str:
    """Timings of this run beside the paper's 0.7 s per trajectory."""
    timings = tables.get("speed") or {}
    batch = timings.get("batch")

    def ms(p50: str, p95: str) -> str:
        if timings.get(p50) is None:
            return NA
        return f"{fmt(timings[p50], MS_DIGITS)} ms (p95 {fmt(timings.get(p95), MS_DIGITS)} ms)"

    rows = [
        ["batch 1, decode only (text embedding given), median", NOT_IN_PAPER,
         ms("batch1_ms_p50", "batch1_ms_p95")],
        ["batch 1, with CLIP text encoding, median", f"{paper.PAPER_SPEED} (hardware not stated)",
         ms("batch1_with_text_ms_p50", "batch1_with_text_ms_p95")],
        [f"batched throughput (batch {batch if batch is not None else '?'})", NOT_IN_PAPER,
         NA if timings.get("batched_per_s") is None
         else f"{fmt(timings.get('batched_per_s'), 0)} trajectories / s"],
    ]
    return table(["Measure", PAPER, THIS_RUN], rows, ["l", "r", "r"])


def table3(tables: Mapping[str, Any], data_source: str) -> str:
    recognition = tables.get("recognition")
    rows = [[row.label, row.kind, row.values["top1"], row.values["top5"], NOT_RUN, NOT_RUN]
            for row in paper.TABLE3]
    if isinstance(recognition, Mapping):
        kinds = "synthetic motion kinds" if data_source == SYNTH_SOURCE else "motion kinds"
        dataset = (f"{kinds} ({len(recognition.get('classes') or [])} classes, "
                   f"{recognition.get('n', '?')} trajectories)")
        rows.append(["Lang2Motion (this run)", dataset, NOT_IN_PAPER, NOT_IN_PAPER,
                     percent(recognition.get("top1")), percent(recognition.get("top5"))])
        rows.append(["Chance (this run)", dataset, NOT_IN_PAPER, NOT_IN_PAPER,
                     *(fmt(recognition.get(f"chance_top{k}"), PERCENT_DIGITS, scale=PERCENT)
                       for k in (1, 5))])
    else:
        rows.append(["Lang2Motion (this run)", "no motion-kind labels in this data",
                     NOT_IN_PAPER, NOT_IN_PAPER, NA, NA])
    return table(["Method", "Dataset", f"Top-1 {PAPER}", f"Top-5 {PAPER}", f"Top-1 {THIS_RUN}",
                  f"Top-5 {THIS_RUN}"], rows, ["l", "l", "r", "r", "r", "r"])


def table8(tables: Mapping[str, Any]) -> str:
    rows = []
    for method, row in paper.TABLE8:
        stat = {key: generation_stat(tables, method, key)
                for key in ("clip_sim", "ade", "ade_px", "smoothness_px", "smoothness", "fde")}
        rows.append([row.label, row.values["clip_sim"], score(stat["clip_sim"]),
                     row.values["ade"], score(stat["ade"]), pixels(stat["ade_px"]),
                     row.values["smoothness"], score(stat["smoothness_px"]),
                     score(stat["smoothness"]), score(stat["fde"])])
    return table(["Input modality", f"CLIP sim {PAPER}", f"CLIP sim {THIS_RUN}",
                  f"ADE {PAPER} ({paper.ADE_UNIT})", f"ADE {THIS_RUN} (normalised)",
                  f"ADE {THIS_RUN} (px)", f"Smooth {PAPER}", f"Smooth {THIS_RUN} (px)",
                  f"Smooth {THIS_RUN} (normalised)", f"FDE {THIS_RUN} (normalised)"],
                 rows, ["l"] + ["r"] * 9)


# Tables 4-7, seeds and other runs: many runs

METHOD = "{method}"                   # stands for the method in a tables.json path


@dataclass(frozen=True)
class Metric:
    header: str
    metrics_key: str | None           # its flat key in a run's metrics.json (None: no DVC metric)
    tables_path: tuple[str, ...]      # where this run's tables.json holds it (with its interval)
    digits: int
    scale: float = 1.0
    paper_key: str | None = None      # the paper's value this column stands beside ("": none)

    def value(self, run: Run, method: str = FULL_METHOD) -> str:
        """A run's number as text: from tables.json with its interval when the run has one
        (this run), else the value of its metrics.json (the experiments)."""
        if run.tables is not None:
            stat = dig(run.tables, *(method if part == METHOD else part
                                     for part in self.tables_path))
            if stat is not None:
                return fmt_stat(stat, self.digits, scale=self.scale)
        if self.metrics_key is None:
            return NA
        key = self.metrics_key if method == FULL_METHOD else f"{method}_{self.metrics_key}"
        return fmt(run.metrics.get(key), self.digits, scale=self.scale)


def _generation(metric: str) -> tuple[str, ...]:
    return ("slices", ALL_SLICE, "generation", METHOD, metric)


METRICS: dict[str, Metric] = {
    "r1": Metric("R@1 (%)", "r1", ("slices", ALL_SLICE, "retrieval", METHOD, "r1"),
                 PERCENT_DIGITS, PERCENT),
    "clip_sim": Metric("CLIP sim", "clip_sim", _generation("clip_sim"), VALUE_DIGITS),
    "ade": Metric("ADE", "ade", _generation("ade"), VALUE_DIGITS),
    "fde": Metric("FDE", "fde", _generation("fde"), VALUE_DIGITS),
    # the paper's smoothness (0.89) stands beside ours in pixels; it has no normalised value
    "smoothness": Metric("Smooth (normalised)", "smoothness", _generation("smoothness"),
                         VALUE_DIGITS, paper_key=""),
    "smoothness_px": Metric("Smooth (px)", "smoothness_px", _generation("smoothness_px"),
                            VALUE_DIGITS, paper_key="smoothness"),
    # timings are not DVC metrics (they differ on every rerun): from tables.json only
    "speed": Metric("Speed (ms / trajectory)", None, ("speed", "batch1_with_text_ms_p50"),
                    MS_DIGITS),
    "motion_kind_acc": Metric("Motion-kind acc. (%)", "motion_kind_acc",
                              _generation("motion_kind_acc"), PERCENT_DIGITS, PERCENT),
}
SEED_METRICS = ("r1", "clip_sim", "ade", "fde", "smoothness_px", "smoothness", "motion_kind_acc")
GENERATION_COLUMNS = ("ade", "fde", "smoothness_px", "smoothness", "clip_sim", "speed")
# (title, rows, metric columns, extra column key) of each ablation table, in the paper's order
ABLATION_TABLES: tuple[tuple[str, Sequence[paper.AblationRow], Sequence[str], str], ...] = (
    ("Table 4: loss components", paper.TABLE4, ("r1", "clip_sim", "ade", "speed"), ""),
    ("Table 5a: reconstruction loss (autoregressive decoding)",
     [r for r in paper.TABLE5 if r.group == paper.LOSS_GROUP], GENERATION_COLUMNS, ""),
    ("Table 5b: decoding strategy (L1 reconstruction loss; the transformer decoder is ours only)",
     [r for r in paper.TABLE5 if r.group == paper.DECODER_GROUP], GENERATION_COLUMNS, ""),
    ("Table 6: grid size (T = 30 frames)", paper.TABLE6, ("r1", "clip_sim", "ade", "fde"),
     "points"),
    ("Table 7a: overlay colour (opacity 0.5)",
     [r for r in paper.TABLE7 if r.group == paper.COLOR_GROUP], ("clip_sim", "r1"), ""),
    ("Table 7b: overlay opacity (cyan)",
     [r for r in paper.TABLE7 if r.group == paper.OPACITY_GROUP], ("clip_sim", "r1"), ""),
)


@dataclass
class Ablations:
    tables: list[tuple[str, str]] = field(default_factory=list)    # (title, markdown table)
    rows: int = 0
    filled: int = 0
    used: set[int] = field(default_factory=set)     # id() of the runs shown


def _ablation_row(spec: paper.AblationRow, columns: Sequence[str], runs: Sequence[Run],
                  full: Run | None, out: Ablations) -> list[str]:
    """Cells of one configuration after its label: (paper, ours) per metric, then the run."""
    method, run = FULL_METHOD, pick(runs, spec.overrides)
    if spec.from_full:
        method, run = spec.from_full, full
    out.rows += 1
    if run is not None:
        out.filled += 1
        out.used.add(id(run))
    cells = []
    for key in columns:
        paper_key = key if METRICS[key].paper_key is None else METRICS[key].paper_key
        cells.append(spec.paper.get(paper_key, NOT_IN_PAPER) if spec.paper else NOT_IN_PAPER)
        if run is None:
            cells.append(NOT_RUN)
        elif spec.from_full and key == "speed":
            cells.append(NOT_IN_PAPER)         # a training mode: it has no generation speed
        else:
            cells.append(METRICS[key].value(run, method))
    if run is not None:
        cells.append(run.label + (" (its teacher-forced decode)" if spec.from_full else ""))
    elif spec.from_full:
        cells.append(f"not run: filled by the full run ({code(exp_command({}))})")
    else:
        cells.append(f"not run: {code(exp_command(spec.overrides))}")
    return cells


def ablation_tables(runset: RunSet) -> Ablations:
    """Tables 4-7: one row per configuration, the command that runs each missing one."""
    runs, out = runset.runs, Ablations()
    full = pick(runs, {})
    for title, specs, columns, extra_key in ABLATION_TABLES:
        headers = ["Configuration", *(["Points (N)"] if extra_key else [])]
        for key in columns:
            headers += [f"{METRICS[key].header} {PAPER}", f"{METRICS[key].header} {OURS}"]
        rows = [[spec.label, *([spec.extra.get(extra_key, "")] if extra_key else []),
                 *_ablation_row(spec, columns, runs, full, out)] for spec in specs]
        align = ["l"] + ["r"] * (len(headers) - 1) + ["l"]
        out.tables.append((title, table([*headers, "Run"], rows, align)))
    return out


def seed_tables(runset: RunSet) -> tuple[list[tuple[str, str]], set[int]]:
    """(title, table) per group of runs that differ only in train.seed: each metric's mean,
    sample std and per-seed values; and the id() of the runs shown."""
    out, used = [], set()
    for group in seed_groups(runset.runs):
        runs = ", ".join(f"seed {seed}: {run.label}" for seed, run in group.by_seed.items())
        out.append((f"**{describe_overrides(group.overrides)}**, {len(group.by_seed)} seeds "
                    f"({runs})", _seed_table(group)))
        used |= {id(r) for r in group.by_seed.values()}
    return out, used


def _seed_table(group: SeedGroup) -> str:
    rows = []
    for key in SEED_METRICS:
        metric = METRICS[key]
        values = {seed: run.metrics.get(metric.metrics_key) for seed, run in group.by_seed.items()}
        present = [float(v) * metric.scale for v in values.values()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
        mean = statistics.fmean(present) if present else None
        std = statistics.stdev(present) if len(present) >= 2 else None
        rows.append([metric.header, fmt(mean, metric.digits), fmt(std, metric.digits),
                     len(present),
                     ", ".join(f"{seed}: {fmt(value, metric.digits, scale=metric.scale)}"
                               for seed, value in values.items())])
    return table(["Metric", "Mean", "Std", "Seeds", "Per seed"], rows, ["l", "r", "r", "r", "l"])


def other_runs(runset: RunSet, used: set[int]) -> str:
    """Runs that fill no ablation row and belong to no seed group ("" when none)."""
    every_row = [*paper.TABLE4, *paper.TABLE5, *paper.TABLE6, *paper.TABLE7]
    rows = [[run.label, describe_overrides(run.overrides),
             *(METRICS[k].value(run) for k in ("r1", "ade", "clip_sim"))]
            for run in runset.runs
            if id(run) not in used and not any(run.fills(spec.overrides) for spec in every_row)]
    if not rows:
        return ""
    return table(["Run", "Differs from this run's set-up in", "R@1 (%)", "ADE", "CLIP sim"], rows,
                 ["l", "l", "r", "r", "r"])
