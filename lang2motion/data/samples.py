"""Samples: (video, expression, clip window) triples, and why an expression yields none.

Legend: T frames per window.

A window of T frames starts at s = 0, stride, 2 * stride, ... (s + T <= video length) and is
kept when every object of the expression is present (non-empty mask) at frame s, where the
tracking grid is placed. Expressions that yield no window are recorded with the reason, never
dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from lang2motion.data.mevis.layout import REASON_BLANK_TEXT, REASON_NO_OBJECT
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.errors import DataError

REASON_TOO_SHORT = "video shorter than T"
REASON_NEVER_VISIBLE = "objects never all visible at a window start"
REASONS = (REASON_TOO_SHORT, REASON_NEVER_VISIBLE, REASON_NO_OBJECT, REASON_BLANK_TEXT)


@dataclass(frozen=True)
class Sample:
    video_id: str
    exp_id: str
    text: str
    anno_ids: tuple[str, ...]
    start: int       # first frame of the window
    frames: int      # T, the window length

    @property
    def track_key(self) -> str:
        """Rows sharing this key (same video, object set and window) share one track."""
        return f"{self.video_id}/{'+'.join(sorted(self.anno_ids))}/{self.start:05d}"


@dataclass
class SampleIndex:
    samples: list[Sample] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)   # {video_id, exp_id, text, reason}

    def summary(self) -> dict[str, int]:
        """Number of skipped expressions by reason (every reason listed, zeros included)."""
        counts = Counter(item["reason"] for item in self.skipped)
        return {reason: counts.get(reason, 0) for reason in (*REASONS, *sorted(counts))}


def window_starts(length: int, *, frames: int, window_stride: int) -> list[int]:
    """Candidate window starts of a video of ``length`` frames."""
    if frames < 1 or window_stride < 1:
        raise DataError(f"frames ({frames}) and window_stride ({window_stride}) must be >= 1")
    return list(range(0, length - frames + 1, window_stride))


def list_samples(split: MevisSplit, *, frames: int, window_stride: int, max_windows: int,
                 max_videos: int = 0) -> SampleIndex:
    """All samples of a split: up to ``max_windows`` (0 = all) windows per expression.

    ``max_videos`` > 0 keeps only the first videos (a quick run on real data).
    """
    video_ids = split.video_ids()
    if max_videos > 0:
        video_ids = video_ids[:max_videos]
    wanted = set(video_ids)
    index = SampleIndex(skipped=[dict(item) for item in split.skipped
                                 if item["video_id"] in wanted])
    for video_id in tqdm(video_ids, desc=f"samples {split.split}", leave=False, disable=None):
        video = split.video(video_id)
        length = len(video.frame_names)
        starts = window_starts(length, frames=frames, window_stride=window_stride)
        annos = sorted({a for exp in video.expressions for a in exp.anno_ids})
        presence = split.object_presence(video_id, annos) if starts else None
        column = {a: k for k, a in enumerate(annos)}
        for exp in video.expressions:
            if not starts:
                reason = REASON_TOO_SHORT
            else:
                cols = [column[a] for a in exp.anno_ids]
                kept = [s for s in starts if presence[s, cols].all()]
                if max_windows > 0:
                    kept = kept[:max_windows]
                for start in kept:
                    index.samples.append(Sample(video_id, exp.exp_id, exp.text, exp.anno_ids,
                                                start, frames))
                if kept:
                    continue
                reason = REASON_NEVER_VISIBLE
            index.skipped.append({"video_id": video_id, "exp_id": exp.exp_id, "text": exp.text,
                                  "reason": reason})
    return index
