"""The report page, rendered from ``templates/report.md.j2`` (which holds every sentence), and
what a run really is (:class:`RunInfo`: data, tracker, CLIP weights, length, machine).

The stand-ins a run used instead of the paper's set-up (MeViS, CoTracker3, CLIP ViT-B-32 with
OpenAI's weights) are derived from the run itself: tables.json ``run`` and the earlier stages'
summaries, never from the demo's set-up. Links are relative to the report's folder, so the page
renders on GitHub and from a copy of ``reports/`` alike; a missing plot or gallery file is a
warning line where it would have been, never a crash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from lang2motion.report import paper
from lang2motion.report import tables as report_tables
from lang2motion.report.experiments import RunSet, default_params, flatten, same_value
from lang2motion.report.inputs import (
    EVALUATE_HINT,
    GALLERY_SHEET,
    PLOTS_DIR,
    SAMPLES_NAME,
    GalleryEntry,
    Summaries,
    dig,
)
from lang2motion.report.tables import (
    NA,
    NOT_IN_PAPER,
    NOT_RUN,
    SYNTH_SOURCE,
    code,
    fmt,
    image,
    link,
    relative,
    table,
)
from lang2motion.runtime import machine_text
from lang2motion.tracking.quality import implausible

LK_TRACKER = "lk"
# the paper's set-up: anything else is a stand-in
PAPER_DATA, PAPER_TRACKER, PAPER_CLIP = "mevis", "cotracker3", "ViT-B-32"
DEFAULT_LEVEL = 0.95
# What the tag slices of the synthetic set measure (DESIGN.md, Evaluation).
TAG_NOTES = {
    "phrasing=seen": "caption templates also used in train, on held-out videos",
    "phrasing=unseen": ("templates never used in train: measures language generalisation; "
                        "expected near chance with random CLIP weights"),
}


def clip_family(model: str) -> str:
    """``ViT-B/32`` and ``ViT-B-32-quickgelu`` are the paper's ``ViT-B-32``."""
    name = model.replace("/", "-")
    return name.removesuffix("-quickgelu")


@dataclass(frozen=True)
class RunInfo:
    """The set-up of the evaluated run and the size of its evaluation."""

    split: str
    samples: int | None
    trajectories: int | None
    data_source: str
    tracker: str
    clip_model: str
    clip_pretrained: str
    clip_random: bool
    level: float
    resamples: int | None
    git_rev: str
    epoch: Any
    steps: Any = None
    data_root: str = ""                      # mevis: the folder the data was read from
    tracker_checkpoint: str = ""
    track_quality: dict[str, Any] = field(default_factory=dict)   # split -> track_quality()
    machines: dict[str, Any] = field(default_factory=dict)        # stage -> machine_facts()

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any], summaries: Summaries) -> RunInfo:
        run = tables.get("run") or {}
        level = dig(tables, "interval", "level")
        track = summaries.get("track_summary")
        prepare = summaries.get("prepare_summary")
        machines = {"evaluate": run.get("machine"), "train": run.get("train_machine"),
                    "embed": summaries.get("embed_summary").get("machine"),
                    "track": track.get("machine")}
        steps = run.get("steps")
        return cls(split=str(run.get("split", "?")), samples=tables.get("samples"),
                   trajectories=tables.get("trajectories"),
                   data_source=str(run.get("data_source", "?")),
                   tracker=str(run.get("tracker", "?")),
                   clip_model=str(dig(run, "clip", "model") or "?"),
                   clip_pretrained=str(dig(run, "clip", "pretrained") or "?"),
                   clip_random=bool(dig(run, "clip", "random")),
                   level=float(level) if isinstance(level, (int, float)) else DEFAULT_LEVEL,
                   resamples=dig(tables, "interval", "resamples"),
                   git_rev=str(run.get("git_rev") or "unknown"), epoch=run.get("epoch"),
                   steps=steps if steps is not None else
                   summaries.get("train_metrics").get("steps"),
                   data_root=str(dig(prepare, "data", "mevis", "root") or ""),
                   tracker_checkpoint=str(dig(track, "track", "checkpoint") or ""),
                   track_quality={name: split["quality"] for name, split
                                  in (track.get("splits") or {}).items()
                                  if isinstance(split, Mapping)
                                  and isinstance(split.get("quality"), Mapping)},
                   machines={k: v for k, v in machines.items() if isinstance(v, Mapping)})

    @property
    def percent_level(self) -> str:
        return f"{self.level * 100:g}%"

    def data_text(self) -> str:
        if self.data_source == SYNTH_SOURCE:
            return "synthetic MeViS-format data (stand-in for MeViS)"
        if self.data_source == PAPER_DATA:
            where = f" read from {code(self.data_root)}" if self.data_root else ""
            return f"MeViS-format data (data.source {code(self.data_source)}){where}"
        return f"data.source {code(self.data_source)} (stand-in for MeViS)"

    def tracker_text(self) -> str:
        if self.tracker == LK_TRACKER:
            return "OpenCV Lucas-Kanade tracker (stand-in for CoTracker3)"
        if self.tracker == PAPER_TRACKER:
            weights = (f"checkpoint {code(self.tracker_checkpoint)}" if self.tracker_checkpoint
                       else "the torch.hub checkpoint")
            return f"CoTracker3 ({weights})"
        return f"tracker {code(self.tracker)} (stand-in for CoTracker3)"

    def clip_text(self) -> str:
        if self.clip_random:
            return f"CLIP {self.clip_model} with random weights (stand-in for OpenAI's)"
        text = f"CLIP {self.clip_model} ({self.clip_pretrained} weights)"
        if clip_family(self.clip_model) != PAPER_CLIP:
            text += f" (stand-in for {PAPER_CLIP})"
        return text

    def standins(self) -> list[str]:
        """The short names of the stand-ins this run used: whatever differs from the paper's."""
        out = []
        if self.data_source == SYNTH_SOURCE:
            out.append("synthetic data (not MeViS)")
        elif self.data_source != PAPER_DATA:
            out.append(f"{self.data_source} data (not MeViS)")
        if self.tracker == LK_TRACKER:
            out.append("LK tracker (not CoTracker3)")
        elif self.tracker != PAPER_TRACKER:
            out.append(f"{self.tracker} tracker (not CoTracker3)")
        if clip_family(self.clip_model) != PAPER_CLIP:
            out.append(f"CLIP {self.clip_model} (not {PAPER_CLIP})")
        if self.clip_random:
            out.append("random CLIP weights (not OpenAI's)")
        return out

    def split_text(self) -> str:
        """The evaluated split and its size: a table's default data split."""
        samples = self.samples if self.samples is not None else "?"
        trajectories = self.trajectories if self.trajectories is not None else "?"
        return (f"{code(self.split)}: {samples} expressions, {trajectories} unique trajectories "
                "(the paper: MeViS)")

    def interval_columns_text(self) -> str:
        """A table's default columns note: who speaks, and the intervals of this run's numbers."""
        return (f"{self.columns_text()}; this run's numbers are means with {self.percent_level} "
                f"percentile-bootstrap intervals over expressions ({self.resamples} resamples)")

    def columns_text(self) -> str:
        """Who the *paper* and *this run* columns speak for."""
        return (f"*paper* = the paper's numbers ({paper.SETTING}); *this run* = "
                f"{self.data_text()}, {self.tracker_text()}, {self.clip_text()}")


TEMPLATE = "report.md.j2"
# (file stem under plots/, title, what it shows)
PLOTS: tuple[tuple[str, str, str], ...] = (
    ("recall_at_k", "Recall@K", "retrieval recall for K = 1..10: Lang2Motion, CLIP NN, random"),
    ("ade_per_frame", "ADE per frame",
     "mean displacement error (normalised units) at each frame, per generation method"),
    ("motion_kinds", "Per motion kind",
     "Lang2Motion's and the static baseline's ADE, and motion-kind accuracy, per motion kind"),
)
OPTIONAL_ON_REAL_DATA = {"motion_kinds"}      # needs motion-kind labels (synthetic data only)
CONTINUATION = re.compile(r"\n {2,}")        # an indented template line continues the one above
BLANK_RUN = re.compile(r"\n{3,}")
COUNT_HEADERS = ("Split", "Videos", "Expressions", "Samples", "Trajectories (track rows)",
                 "Skipped (prepare)", "Skipped (track)", "Embedded samples")


@dataclass
class Document:
    text: str
    warnings: list[str]
    ablations: report_tables.Ablations      # how many rows of Tables 4-7 are filled


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
ENVIRONMENT.filters.update(code=code)
ENVIRONMENT.globals.update(NA=NA, NOT_IN_PAPER=NOT_IN_PAPER, NOT_RUN=NOT_RUN)


def build(*, raw_params: Mapping[str, Any], metrics_path: Path, tables: Mapping[str, Any],
          runset: RunSet, summaries: Summaries, gallery: list[GalleryEntry],
          gallery_warnings: list[str], eval_dir: Path, out_path: Path) -> Document:
    """The report's markdown text and what it had to warn about."""
    info = RunInfo.from_tables(tables, summaries)
    here = out_path.parent
    warnings = [*summaries.warnings, *gallery_warnings]
    ablations = report_tables.ablation_tables(runset)
    seeds, seeded = report_tables.seed_tables(runset)
    slices = report_tables.slice_names(tables)
    text = ENVIRONMENT.get_template(TEMPLATE).render(
        info=info, tables=tables, runset=runset, paper=paper,
        metrics_shown=_shown(metrics_path, here), eval_shown=_shown(eval_dir, here),
        samples_shown=_shown(eval_dir / SAMPLES_NAME, here),
        what=_what_was_run(info, raw_params, tables, summaries),
        slices=[(name, _slice_text(name, info)) for name in slices],
        table1=report_tables.table1(tables),
        table1_by_slice=report_tables.table1_by_slice(tables, slices) if slices else "",
        table2a=report_tables.table2(tables, report_tables.TABLE2A),
        table2b=report_tables.table2(tables, report_tables.TABLE2B),
        table2_by_slice=report_tables.table2_by_slice(tables, slices) if slices else "",
        motion_kinds=report_tables.motion_kinds(tables), speed=report_tables.speed(tables),
        table3=report_tables.table3(tables, info.data_source), ablations=ablations,
        table8=report_tables.table8(tables), seeds=seeds,
        other_runs=report_tables.other_runs(runset, ablations.used | seeded),
        plots=_plots(eval_dir, here, info, warnings),
        gallery=_gallery(eval_dir, here, gallery, warnings), gallery_warnings=gallery_warnings)
    text = CONTINUATION.sub(" ", text)
    return Document(text=BLANK_RUN.sub("\n\n", text).strip() + "\n", warnings=warnings,
                    ablations=ablations)


def _shown(path: Path, here: Path) -> str:
    return os.path.relpath(Path(path).resolve(), here.resolve()).replace(os.sep, "/")


def _slice_text(name: str, info: RunInfo) -> str:
    """What a tag slice measures, as a bullet above a per-slice table."""
    note = TAG_NOTES.get(name)
    if note and info.clip_random and name == "phrasing=unseen":
        note += " (this run's CLIP weights are random)"
    return f"{code(name)}: {note}" if note else code(name)


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
                  summaries: Summaries) -> dict[str, Any]:
    train = summaries.get("train_metrics")
    counts = _counts(summaries)
    base = default_params()
    params = {**base, **flatten(raw_params)}
    diff = [[code(k), code(v), code(base.get(k, "(not a known parameter)"))]
            for k, v in params.items() if k not in base or not same_value(v, base[k])]
    return {
        "own_clips": _own_clips(summaries),
        "track_quality": _track_quality_text(info),
        "clip_device": dig(summaries.get("embed_summary"), "clip", "device"),
        "epoch": info.epoch if info.epoch is not None else train.get("epoch", "?"),
        "machines": _machines_text(info),
        "interval": tables.get("interval") or {},
        "counts": table(COUNT_HEADERS, counts, ["l"] + ["r"] * 7) if counts else "",
        "warnings": [*summaries.warnings, *(
            text for name, quality in info.track_quality.items()
            if (text := implausible(quality, split=name, tracker=info.tracker)))],
        "params_diff": table(["Parameter", "This run", "Default"], diff) if diff else "",
    }


def _track_quality_text(info: RunInfo) -> str:
    """``; static rows (< 2 px): train 6.1%, ...; points invisible after the query frame: ...``"""
    if not info.track_quality:
        return ""
    px = next(iter(info.track_quality.values())).get("static_px", "?")

    def shares(key: str) -> str:
        return ", ".join(f"{name} {fmt(q.get(key), 1, scale=100.0)}%"
                         for name, q in info.track_quality.items())
    return (f"; track rows that do not move (every point < {px} px from its query position): "
            f"{shares('static_share')}; points invisible after the query frame: "
            f"{shares('invisible_share')}")


def _machines_text(info: RunInfo) -> str:
    """Each stage's machine, stages on one machine named together."""
    if not info.machines:
        return "not recorded"
    by_text: dict[str, list[str]] = {}
    for stage, facts in info.machines.items():
        by_text.setdefault(machine_text(facts), []).append(stage)
    return "; ".join(f"{', '.join(stages)}: {text}" for text, stages in by_text.items())


def _total(obj: Any) -> int | None:
    """A count, the sum of a {reason: count} mapping, the length of a list, or None."""
    if isinstance(obj, Mapping):
        return sum(v for v in obj.values() if isinstance(v, int) and not isinstance(v, bool))
    if isinstance(obj, list):
        return len(obj)
    return obj if isinstance(obj, int) and not isinstance(obj, bool) else None


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
                     NA if all(x is None for x in skipped_track)
                     else f"{skipped_track[0] or 0} rows, {skipped_track[1] or 0} samples",
                     fmt(e.get("samples"), 0)])
    return rows


def _plots(eval_dir: Path, here: Path, info: RunInfo, warnings: list[str]
           ) -> list[dict[str, str]]:
    """Each plot: its title, what it shows, and its image, or why it is missing; its CSV."""
    plots = []
    for stem, title, what in PLOTS:
        png = eval_dir / PLOTS_DIR / f"{stem}.png"
        csv = png.with_suffix(".csv")
        plot = {"title": title, "what": f"{what[0].upper()}{what[1:]}", "image": "",
                "missing": "", "warning": "", "data": ""}
        if png.is_file():
            plot["image"] = image(title, relative(png, here))
        elif stem in OPTIONAL_ON_REAL_DATA and info.data_source != SYNTH_SOURCE:
            plot["missing"] = f"Not available: {info.data_source} data has no motion-kind labels."
            plots.append(plot)
            continue
        else:
            plot["warning"] = f"{_shown(png, here)} not found: {EVALUATE_HINT}"
            warnings.append(plot["warning"])
        if csv.is_file():
            plot["data"] = link(csv.name, relative(csv, here))
        plots.append(plot)
    return plots


def _gallery(eval_dir: Path, here: Path, gallery: list[GalleryEntry], warnings: list[str]
             ) -> dict[str, Any]:
    sheet = eval_dir / GALLERY_SHEET
    missing = "" if sheet.is_file() else f"{_shown(sheet, here)} not found: {EVALUATE_HINT}"
    if missing:
        warnings.append(missing)
    entries = []
    for entry in gallery:
        tags = ", ".join(f"{k}: {v}" for k, v in entry.tags.items())
        details = "; ".join(x for x in (tags, f"ADE {fmt(entry.ade)} (normalised)",
                                        f"sample {code(entry.sample_id)}" if entry.sample_id
                                        else "") if x)
        entries.append({"text": entry.text, "details": details,
                        "image": image(entry.text or entry.file,
                                       relative(eval_dir / entry.file, here))})
    return {"sheet": "" if missing else image("Contact sheet: last frame of every animation",
                                              relative(sheet, here)),
            "missing": missing, "entries": entries}
