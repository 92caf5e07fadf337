"""Tables 4-7 (ablations), the seed table and the list of other runs, from many runs.

One row per configuration of the paper's tables (:mod:`lang2motion.report.paper`), filled by the
run whose overrides are exactly the row's (:mod:`lang2motion.report.experiments`). A row no run
fills says ``not run`` and gives the command that fills it. This run's numbers come from its
tables.json (with intervals); another run's from its metrics.json as `dvc exp show` lists it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from lang2motion.report.markdown import (
    MS_DIGITS,
    NA,
    NOT_IN_PAPER,
    NOT_RUN,
    PERCENT,
    PERCENT_DIGITS,
    VALUE_DIGITS,
    bullets,
    code,
    fmt,
    fmt_stat,
    table,
)
from lang2motion.report.setting import RunInfo, table_notes

PAPER, OURS = "paper", "ours"
MAKE_ABLATIONS = "make ablations"
REBUILD = "make report"
FULL_METHOD = "lang2motion"


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
        """This run's number as text: from tables.json with its interval when the run has one
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
    # timings are not DVC metrics (they differ on every rerun): this run's only
    "speed": Metric("Speed (ms / trajectory)", None, ("speed", "batch1_with_text_ms_p50"),
                    MS_DIGITS),
    "motion_kind_acc": Metric("Motion-kind acc. (%)", "motion_kind_acc",
                              _generation("motion_kind_acc"), PERCENT_DIGITS, PERCENT),
}
UNITS = ("R@1: percent of expressions; CLIP sim: cosine; ADE, FDE: normalised units (the frame "
         "spans [-1, 1]; × 128 = px of a 256 × 256 frame; the paper does not state its unit); "
         "smoothness: 1 - mean ||Δv||, Δv in px of a 256 × 256 frame and in normalised units; "
         "speed: ms per trajectory at batch 1 (this machine; the "
         "paper's in seconds, hardware not stated)")
SEED_METRICS = ("r1", "clip_sim", "ade", "fde", "smoothness_px", "smoothness", "motion_kind_acc")


@dataclass
class Ablations:
    lines: list[str]
    rows: int = 0
    filled: int = 0
    used: set[int] = field(default_factory=set)     # id() of the runs shown


def _row(spec: paper.AblationRow, columns: Sequence[str], runs: Sequence[Run],
         full: Run | None, out: Ablations, extra: Sequence[str]) -> list[str]:
    """Cells of one configuration: label, extra cells, (paper, ours) per metric, the run."""
    method, run = FULL_METHOD, pick(runs, spec.overrides)
    if spec.from_full:
        method, run = spec.from_full, full
    cells = [spec.label, *extra]
    out.rows += 1
    if run is not None:
        out.filled += 1
        out.used.add(id(run))
    for key in columns:
        paper_key = METRICS[key].paper_key
        paper_key = key if paper_key is None else paper_key
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


def _table(title: str, specs: Sequence[paper.AblationRow], columns: Sequence[str],
           runs: Sequence[Run], full: Run | None, out: Ablations,
           extra_headers: Sequence[str] = (), extra_key: str = "") -> list[str]:
    headers = ["Configuration", *extra_headers]
    for key in columns:
        headers += [f"{METRICS[key].header} {PAPER}", f"{METRICS[key].header} {OURS}"]
    headers.append("Run")
    rows = [_row(spec, columns, runs, full, out,
                 [spec.extra.get(extra_key, "")] if extra_headers else []) for spec in specs]
    align = ["l", *("r" for _ in extra_headers), *("r" for _ in range(2 * len(columns))), "l"]
    return [f"**{title}**", "", *table(headers, rows, align), ""]


def ablation_tables(runset: RunSet, info: RunInfo) -> Ablations:
    """Tables 4-7 with their notes, and the command that runs every missing row."""
    runs = runset.runs
    full = pick(runs, {})
    out = Ablations(lines=[])
    used = info.standins()        # this run's, from its own tables.json: the rows share them
    notes = table_notes(
        info, unit=UNITS,
        split=(f"{code(info.split)} of each run: the same data as Tables 1-2 "
               "except where a row changes the grid or the overlays"),
        stand_ins=used,
        columns=(f"*paper* = the paper's numbers ({paper.SETTING}); *ours* = the run named in "
                 f"the Run column: this run's set-up ({info.data_text()}, "
                 f"{info.tracker_text()}, {info.clip_text()}) changed only as the row says"),
        protocol=("one training run per configuration, with this run's parameters except the "
                  "overrides the row names (a run on other data, another tracker, CLIP or "
                  "length fills no row: see Other runs); evaluated as in Tables "
                  "1-2. Intervals for this run (its reports/eval/tables.json); for other runs "
                  "the value of their reports/metrics.json as `dvc exp show` lists it, and no "
                  "speed (timings are not DVC metrics)"),
        extra=[f"**Runs found:** {note}" for note in runset.notes])
    out.lines += ["## Tables 4-7: ablations", "", *notes, ""]
    groups = [("Table 4: loss components", paper.TABLE4, ("r1", "clip_sim", "ade", "speed"), ""),
              ("Table 5a: reconstruction loss (autoregressive decoding)",
               [r for r in paper.TABLE5 if r.group == paper.LOSS_GROUP],
               ("ade", "fde", "smoothness_px", "smoothness", "clip_sim", "speed"), ""),
              ("Table 5b: decoding strategy (L1 reconstruction loss; the transformer decoder is "
               "ours only)", [r for r in paper.TABLE5 if r.group == paper.DECODER_GROUP],
               ("ade", "fde", "smoothness_px", "smoothness", "clip_sim", "speed"), ""),
              ("Table 6: grid size (T = 30 frames)", paper.TABLE6,
               ("r1", "clip_sim", "ade", "fde"), "points"),
              ("Table 7a: overlay colour (opacity 0.5)",
               [r for r in paper.TABLE7 if r.group == paper.COLOR_GROUP], ("clip_sim", "r1"), ""),
              ("Table 7b: overlay opacity (cyan)",
               [r for r in paper.TABLE7 if r.group == paper.OPACITY_GROUP], ("clip_sim", "r1"),
               "")]
    for title, specs, columns, extra_key in groups:
        out.lines += _table(title, specs, columns, runs, full, out,
                            extra_headers=("Points (N)",) if extra_key else (),
                            extra_key=extra_key)
    out.lines += [f"{out.filled} of {out.rows} rows filled. Run every configuration at once with "
                  f"{code(MAKE_ABLATIONS)} (it queues {code('dvc exp run --queue -S ...')} for "
                  f"each row, then runs {code('dvc queue start')}); then rebuild this page with "
                  f"{code(REBUILD)} ({code('dvc exp show')} into reports/experiments.json, then "
                  f"{code('dvc repro report')}). Each command changes the committed params.yaml "
                  "only as shown."]
    return out


# ---------------------------------------------------------------------------------------------
# Seeds and other runs


def _seed_table(group: SeedGroup) -> list[str]:
    seeds = list(group.by_seed)
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
                     ", ".join(f"{seed}: {fmt(values[seed], metric.digits, scale=metric.scale)}"
                               for seed in seeds)])
    runs = ", ".join(f"seed {seed}: {run.label}" for seed, run in group.by_seed.items())
    return [f"**{describe_overrides(group.overrides)}**, {len(seeds)} seeds ({runs})", "",
            *table(["Metric", "Mean", "Std", "Seeds", "Per seed"], rows,
                   ["l", "r", "r", "r", "l"]), ""]


def seeds_section(runset: RunSet) -> tuple[list[str], set[int]]:
    """Mean, sample std and per-seed values of runs that differ only in train.seed."""
    groups = seed_groups(runset.runs)
    lines = ["## Runs over several seeds", ""]
    if not groups:
        return lines + ["No configuration has runs with two or more values of "
                        f"{code('train.seed')}: add some with "
                        f"{code('dvc exp run -S train.seed=1')}, ..."], set()
    lines += bullets(["**Unit:** as in Tables 4-7 (R@1 and accuracy in percent)",
                      "**Protocol:** one run per seed, otherwise identical; mean and sample "
                      "standard deviation across seeds of each run's metrics.json (the spread "
                      "of training, not a bootstrap interval)"]) + [""]
    used: set[int] = set()
    for group in groups:
        lines += _seed_table(group)
        used |= {id(r) for r in group.by_seed.values()}
    return lines, used


def other_runs_section(runset: RunSet, used: set[int]) -> list[str]:
    """Runs that fill no ablation row and belong to no seed group (listed, not interpreted)."""
    rows = []
    all_rows = [*paper.TABLE4, *paper.TABLE5, *paper.TABLE6, *paper.TABLE7]
    for run in runset.runs:
        if id(run) in used or any(run.fills(spec.overrides) for spec in all_rows):
            continue
        rows.append([run.label, describe_overrides(run.overrides),
                     *(METRICS[k].value(run) for k in ("r1", "ade", "clip_sim"))])
    if not rows:
        return []
    return ["## Other runs", "", "Runs whose parameters match no ablation row, listed as found "
            "(same units and intervals as Tables 4-7).", "",
            *table(["Run", "Differs from this run's set-up in", "R@1 (%)", "ADE", "CLIP sim"],
                   rows,
                   ["l", "l", "r", "r", "r"]), ""]

