"""What a run really is (data, tracker, CLIP weights, length, machine), and the notes every table
carries.

Each table states its unit, data split, protocol, which numbers are the paper's and which are this
run's, and the stand-ins this run used instead of the paper's set-up (MeViS, CoTracker3, CLIP
ViT-B-32 with OpenAI's weights). Every statement is derived from the run itself: tables.json
``run`` (``data_source``, ``tracker``, ``clip``, ``steps``, ``machine``, written by the evaluate
stage from its params and the checkpoint) and the earlier stages' summaries (the track stage's
checkpoint and degenerate-track shares, the prepare stage's data folder). Nothing assumes the
demo's set-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lang2motion.report import paper
from lang2motion.report.inputs import Summaries, dig
from lang2motion.report.markdown import code

SYNTH_SOURCE, LK_TRACKER = "synth", "lk"
# the paper's set-up: anything else is a stand-in
PAPER_DATA, PAPER_TRACKER, PAPER_CLIP = "mevis", "cotracker3", "ViT-B-32"
DEFAULT_LEVEL = 0.95
# What the tag slices of the synthetic set measure (DESIGN.md, Evaluation).
TAG_NOTES: dict[tuple[str, str], str] = {
    ("phrasing", "seen"): "caption templates also used in train, on held-out videos",
    ("phrasing", "unseen"): ("templates never used in train: measures language generalisation; "
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
    def from_tables(cls, tables: Mapping[str, Any], summaries: Summaries | None = None
                    ) -> RunInfo:
        run = tables.get("run") or {}
        level = dig(tables, "interval", "level")
        summaries = summaries if summaries is not None else Summaries()
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
        return standins(data_source=self.data_source, tracker=self.tracker,
                        clip_random=self.clip_random, clip_model=self.clip_model)

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


def standins(*, data_source: str, tracker: str, clip_random: bool,
             clip_model: str = PAPER_CLIP) -> list[str]:
    """The short names of the stand-ins a run used: whatever differs from the paper's set-up."""
    out = []
    if data_source == SYNTH_SOURCE:
        out.append("synthetic data (not MeViS)")
    elif data_source != PAPER_DATA:
        out.append(f"{data_source} data (not MeViS)")
    if tracker == LK_TRACKER:
        out.append("LK tracker (not CoTracker3)")
    elif tracker != PAPER_TRACKER:
        out.append(f"{tracker} tracker (not CoTracker3)")
    if clip_family(clip_model) != PAPER_CLIP:
        out.append(f"CLIP {clip_model} (not {PAPER_CLIP})")
    if clip_random:
        out.append("random CLIP weights (not OpenAI's)")
    return out


def standins_text(items: Sequence[str]) -> str:
    if not items:
        return "none: this run uses the paper's set-up"
    return ", ".join(items) + ": numbers are not comparable with the paper's"


def slice_note(name: str) -> str | None:
    """What slice ``phrasing=unseen`` measures, where known."""
    key, _, value = name.partition("=")
    return TAG_NOTES.get((key, value))
