"""What a run really is (data, tracker, CLIP weights), and the notes every table carries.

Each table states its unit, data split, protocol, which numbers are the paper's and which are this
run's, and the stand-ins this run used instead of the paper's set-up (synthetic data for MeViS,
the Lucas-Kanade tracker for CoTracker3, random CLIP weights for OpenAI's), read from tables.json
``run`` (``data_source``, ``tracker``, ``clip.random``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lang2motion.report import paper
from lang2motion.report.inputs import dig
from lang2motion.report.markdown import bullets, code

SYNTH_SOURCE, LK_TRACKER = "synth", "lk"
DEFAULT_LEVEL = 0.95
# What the tag slices of the synthetic set measure (DESIGN.md, Evaluation).
TAG_NOTES: dict[tuple[str, str], str] = {
    ("phrasing", "seen"): "caption templates also used in train, on held-out videos",
    ("phrasing", "unseen"): ("templates never used in train: measures language generalisation; "
                             "expected near chance with random CLIP weights"),
}


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

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any]) -> RunInfo:
        run = tables.get("run") or {}
        level = dig(tables, "interval", "level")
        return cls(split=str(run.get("split", "?")), samples=tables.get("samples"),
                   trajectories=tables.get("trajectories"),
                   data_source=str(run.get("data_source", "?")),
                   tracker=str(run.get("tracker", "?")),
                   clip_model=str(dig(run, "clip", "model") or "?"),
                   clip_pretrained=str(dig(run, "clip", "pretrained") or "?"),
                   clip_random=bool(dig(run, "clip", "random")),
                   level=float(level) if isinstance(level, (int, float)) else DEFAULT_LEVEL,
                   resamples=dig(tables, "interval", "resamples"),
                   git_rev=str(run.get("git_rev") or "unknown"), epoch=run.get("epoch"))

    @property
    def percent_level(self) -> str:
        return f"{self.level * 100:g}%"

    def data_text(self) -> str:
        return ("synthetic MeViS-format data (stand-in for MeViS)"
                if self.data_source == SYNTH_SOURCE else f"{self.data_source}")

    def tracker_text(self) -> str:
        return ("OpenCV Lucas-Kanade tracker (stand-in for CoTracker3)"
                if self.tracker == LK_TRACKER else self.tracker)

    def clip_text(self) -> str:
        if self.clip_random:
            return f"CLIP {self.clip_model} with random weights (stand-in for OpenAI's)"
        return f"CLIP {self.clip_model} ({self.clip_pretrained} weights)"

    def columns_text(self) -> str:
        """Who the *paper* and *this run* columns speak for."""
        return (f"*paper* = the paper's numbers ({paper.SETTING}); *this run* = "
                f"{self.data_text()}, {self.tracker_text()}, {self.clip_text()}")


def standins(*, data_source: str, tracker: str, clip_random: bool) -> list[str]:
    """The short names of the stand-ins a run used."""
    out = []
    if data_source == SYNTH_SOURCE:
        out.append("synthetic data (not MeViS)")
    if tracker == LK_TRACKER:
        out.append("LK tracker (not CoTracker3)")
    if clip_random:
        out.append("random CLIP weights (not OpenAI's)")
    return out


def standins_text(items: Sequence[str]) -> str:
    if not items:
        return "none: this run uses the paper's set-up"
    return ", ".join(items) + ": numbers are not comparable with the paper's"


def table_notes(info: RunInfo, *, unit: str, protocol: str, split: str | None = None,
                stand_ins: Sequence[str] | None = None, columns: str | None = None,
                extra: Sequence[str] = ()) -> list[str]:
    """The bullet list under a table's heading: unit, data, protocol, columns, stand-ins."""
    if stand_ins is None:
        stand_ins = standins(data_source=info.data_source, tracker=info.tracker,
                             clip_random=info.clip_random)
    if split is None:
        split = (f"{code(info.split)}: {info.samples if info.samples is not None else '?'} "
                 f"expressions, {info.trajectories if info.trajectories is not None else '?'} "
                 "unique trajectories (the paper: MeViS)")
    if columns is None:
        columns = (f"{info.columns_text()}; this run's numbers are means with "
                   f"{info.percent_level} percentile-bootstrap intervals over expressions "
                   f"({info.resamples} resamples)")
    return bullets([f"**Unit:** {unit}", f"**Data split:** {split}",
                    f"**Protocol:** {protocol}", f"**Columns:** {columns}",
                    f"**Stand-ins in this run:** {standins_text(stand_ins)}", *extra])


def slice_note(name: str) -> str | None:
    """What slice ``phrasing=unseen`` measures, where known."""
    key, _, value = name.partition("=")
    return TAG_NOTES.get((key, value))


def slice_bullets(names: Sequence[str], info: RunInfo) -> list[str]:
    """What each tag slice measures, as bullets above a per-slice table."""
    items = []
    for name in names:
        note = slice_note(name)
        if note and info.clip_random and name == "phrasing=unseen":
            note += " (this run's CLIP weights are random)"
        items.append(f"{code(name)}: {note}" if note else code(name))
    return bullets(items)

