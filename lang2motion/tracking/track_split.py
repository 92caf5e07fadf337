"""The track stage's core: point tracks for every sample of a split, shared between expressions.

Legend: T frames per window, N points (grid.size ** 2), H height, W width.

A track row is one (video, object set, window start): every expression naming the same objects
in the same window reuses it. Per video the frames are read once, a grid is placed inside each
object set's union mask at its window's first frame, and every query of the video (all object
sets, all window starts) goes to the tracker in ONE call, so CoTracker3 sees each video once.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from lang2motion.config import GridConfig, TrackConfig
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.samples import Sample, SampleIndex
from lang2motion.errors import ConfigError, DataError
from lang2motion.geometry import normalise
from lang2motion.sharding import sum_counts
from lang2motion.store import TrackRow
from lang2motion.tracking.base import Tracker
from lang2motion.tracking.cotracker import CoTracker3Tracker
from lang2motion.tracking.grid import GridError, place_grid
from lang2motion.tracking.lk import LKTracker

MAX_SKIP_EXAMPLES = 50     # skipped rows listed by name in the summary; the rest are only counted


def make_tracker(cfg: TrackConfig) -> Tracker:
    """The backend named by ``cfg.backend`` (lk | cotracker3), built from the track params."""
    if cfg.backend == "lk":
        return LKTracker()
    if cfg.backend == "cotracker3":
        return CoTracker3Tracker(checkpoint=cfg.checkpoint, device=cfg.device)
    raise ConfigError(f"track.backend: unknown tracker {cfg.backend!r}")


@dataclass
class _Group:
    """Samples sharing one track row: same video, same object set, same window start."""

    key: str
    video_id: str
    anno_ids: tuple[str, ...]
    start: int
    samples: list[Sample] = field(default_factory=list)

    def describe(self) -> str:
        exps = ", ".join(s.exp_id for s in self.samples)
        return f"{self.key} (expression(s) {exps})"


def _group_samples(samples: list[Sample], frames: int) -> dict[str, list[_Group]]:
    """Groups by track key, bucketed by video; both in first-appearance order."""
    groups: dict[str, _Group] = {}
    for sample in samples:
        if sample.frames != frames:
            raise DataError(f"sample {sample.track_key} / expression {sample.exp_id} spans "
                            f"{sample.frames} frames, the track stage was asked for {frames}")
        key = sample.track_key
        if key not in groups:
            groups[key] = _Group(key=key, video_id=sample.video_id,
                                 anno_ids=tuple(sorted(sample.anno_ids)), start=sample.start)
        groups[key].samples.append(sample)
    by_video: dict[str, list[_Group]] = defaultdict(list)
    for group in groups.values():
        by_video[group.video_id].append(group)
    return dict(by_video)


def _track_video(split: MevisSplit, video_id: str, groups: list[_Group], *, tracker: Tracker,
                 grid: GridConfig, frames: int,
                 skip: Callable[[_Group, str, str], None]) -> list[TrackRow]:
    """Rows of one video. ``skip(group, reason, detail)`` records a group that yields no row."""
    lo = min(g.start for g in groups)
    hi = max(g.start for g in groups) + frames
    try:
        video = split.read_frames(video_id, start=lo, stop=hi)           # (T_read, H, W, 3)
    except DataError as exc:
        names = "; ".join(g.describe() for g in groups)
        raise DataError(f"video {video_id}, needed by {names}: {exc}") from exc
    height, width = video.shape[1:3]

    placed: list[tuple[_Group, np.ndarray]] = []
    for group in groups:
        try:
            mask = split.object_masks(video_id, group.anno_ids, start=group.start,
                                      stop=group.start + 1)[0]            # (H, W) bool
        except DataError as exc:
            raise DataError(f"{group.describe()}: {exc}") from exc
        if mask.shape != (height, width):
            raise DataError(f"{group.describe()}: mask {mask.shape} does not match frames "
                            f"{(height, width)}")
        try:
            points = place_grid(mask, size=grid.size, erode_iterations=grid.erode_iterations,
                                margin=grid.margin)                       # (N, 2) px
        except GridError as exc:
            reason = "empty_mask" if int(mask.sum()) == 0 else "mask_too_small"
            skip(group, reason, str(exc))
            continue
        placed.append((group, points))
    if not placed:
        return []

    # One call for the whole video: every object set and every window start together.
    queries = np.concatenate([
        np.concatenate([np.full((len(points), 1), g.start - lo, dtype=np.float32), points], 1)
        for g, points in placed])                                          # (sum N, 3)
    tracks_px, visible = tracker.track(video, queries)                    # (T_read, sum N, ...)

    rows = []
    offset = 0
    for group, points in placed:
        cols = slice(offset, offset + len(points))
        offset += len(points)
        first = group.start - lo
        window = tracks_px[first:first + frames, cols]                    # (T, N, 2) px
        if not np.isfinite(window).all():
            skip(group, "nan_tracks", f"tracker {tracker.name} returned NaN or inf")
            continue
        rows.append(TrackRow(
            track_id=group.key, video_id=video_id, anno_ids=group.anno_ids, start=group.start,
            exp_ids=tuple(s.exp_id for s in group.samples),
            texts=tuple(s.text for s in group.samples),
            tracks=normalise(window, width, height),
            visible=visible[first:first + frames, cols].astype(bool),
            width=int(width), height=int(height), tracker=tracker.name))
    return rows


def _frames_read(groups: list[_Group], frames: int) -> int:
    """Frames :func:`_track_video` reads: first window start to the end of the last window."""
    return max(g.start for g in groups) + frames - min(g.start for g in groups)


def video_work(index: SampleIndex, frames: int) -> list[tuple[str, int]]:
    """(video id, frames read) per video in tracking order: the work items the track stage
    shares out between processes, each block passed as ``videos`` to :func:`track_split`."""
    return [(video_id, _frames_read(groups, frames))
            for video_id, groups in _group_samples(index.samples, frames).items()]


def track_split(split: MevisSplit, index: SampleIndex, *, tracker: Tracker, grid: GridConfig,
                frames: int, videos: range | None = None) -> tuple[list[TrackRow], dict]:
    """Track every sample of ``index`` (or of the block ``videos`` of :func:`video_work`'s
    videos); return the rows (tracks[0] is the grid) and a summary that
    :func:`merge_summaries` combines across blocks. Samples whose mask cannot hold the grid or
    whose tracks are not finite are skipped and counted by reason.
    """
    by_video = _group_samples(index.samples, frames)
    if videos is not None:
        by_video = dict(list(by_video.items())[videos.start:videos.stop])
    skipped: Counter[str] = Counter()
    skipped_samples: Counter[str] = Counter()
    examples: list[dict] = []

    def skip(group: _Group, reason: str, detail: str) -> None:
        skipped[reason] += 1
        skipped_samples[reason] += len(group.samples)
        if len(examples) < MAX_SKIP_EXAMPLES:
            examples.append({"track_id": group.key,
                             "exp_ids": [s.exp_id for s in group.samples],
                             "reason": reason, "detail": detail})

    rows: list[TrackRow] = []
    began = time.perf_counter()
    for video_id, groups in tqdm(by_video.items(), desc="track", unit="video"):
        rows.extend(_track_video(split, video_id, groups, tracker=tracker, grid=grid,
                                 frames=frames, skip=skip))
    seconds = time.perf_counter() - began

    summary = {
        "tracker": tracker.name,
        "frames": frames,
        "points": grid.size ** 2,
        "videos": len(by_video),
        "frames_read": sum(_frames_read(g, frames) for g in by_video.values()),
        "samples": sum(len(g.samples) for groups in by_video.values() for g in groups),
        "samples_tracked": sum(len(r.exp_ids) for r in rows),
        "track_rows": len(rows),
        "rows_skipped": dict(sorted(skipped.items())),
        "samples_skipped": dict(sorted(skipped_samples.items())),
        "skipped_examples": examples,
        "index_skipped": dict(sorted(Counter(str(s.get("reason", "unknown"))
                                             for s in index.skipped).items())),
        "seconds": round(seconds, 3),
    }
    return rows, summary


# summary keys of track_split that are counts over its videos, summed over blocks
SUMMED = ("videos", "frames_read", "samples", "samples_tracked", "track_rows", "rows_skipped",
          "samples_skipped")


def merge_summaries(summaries: list[dict]) -> dict:
    """The summary of consecutive blocks of one split tracked apart, as if tracked in one call:
    counts summed, skipped examples concatenated in order (at most MAX_SKIP_EXAMPLES), seconds
    of the slowest block (they ran side by side); the stage's "share" dropped."""
    merged = {key: value for key, value in summaries[0].items() if key != "share"}
    merged.update(sum_counts(summaries, SUMMED))
    merged["skipped_examples"] = [e for s in summaries
                                  for e in s["skipped_examples"]][:MAX_SKIP_EXAMPLES]
    merged["seconds"] = max(s["seconds"] for s in summaries)
    return merged
