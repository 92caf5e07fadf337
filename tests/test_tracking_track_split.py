"""track_split on a tiny generated synthetic split plus one hand-made video with a tiny object."""

import cv2
import numpy as np
import pytest
from support.mevis import write_split

from lang2motion.config import GridConfig
from lang2motion.data.mevis.layout import Expression, VideoRecord
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.samples import list_samples
from lang2motion.data.synth.generate import generate_synthetic
from lang2motion.errors import DataError
from lang2motion.geometry import denormalise
from lang2motion.tracking.lk import LKTracker
from lang2motion.tracking.track_split import track_split

SPLIT = "train"
FRAMES, VIDEO_FRAMES, HEIGHT, WIDTH = 6, 8, 72, 96
GRID = GridConfig(size=3, erode_iterations=1, margin=0.1)
TINY_VIDEO = "0000000000aa"


class CountingTracker(LKTracker):
    """LK that records each call (frames, number of queries)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def track(self, frames, queries):
        self.calls.append((frames.shape[0], len(queries)))
        return super().track(frames, queries)


def _tiny_object_video():
    """A textured frame sequence with one large and one 4-pixel object."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (HEIGHT, WIDTH, 3)).astype(np.float32),
                               (0, 0), 1.0).astype(np.uint8)
    frames = np.stack([texture] * VIDEO_FRAMES)
    big = np.zeros((HEIGHT, WIDTH), dtype=bool)
    big[10:40, 10:50] = True
    tiny = np.zeros((HEIGHT, WIDTH), dtype=bool)
    tiny[60:62, 80:82] = True
    return VideoRecord(
        video_id=TINY_VIDEO, frames=frames,
        masks={"900": [big] * VIDEO_FRAMES, "901": [tiny] * VIDEO_FRAMES},
        expressions=[Expression("0", "the big thing", (0,), ("900",)),
                     Expression("1", "the tiny thing", (1,), ("901",)),
                     Expression("2", "the tiny thing again", (1,), ("901",))])


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    generate_synthetic(root, splits={SPLIT: 2}, train_split=SPLIT,
        video_frames=VIDEO_FRAMES, height=HEIGHT,
                       width=WIDTH, seed=0)
    write_split(root, SPLIT, [_tiny_object_video()], append=True)
    return MevisSplit(root, SPLIT)


@pytest.fixture(scope="module")
def result(split):
    index = list_samples(split, frames=FRAMES, window_stride=2, max_windows=1)
    tracker = CountingTracker()
    rows, summary = track_split(split, index, tracker=tracker, grid=GRID, frames=FRAMES)
    return index, tracker, rows, summary


def test_grids_lie_inside_the_union_masks(split, result):
    _, _, rows, _ = result
    assert rows
    for row in rows:
        assert row.tracks.shape == (FRAMES, 9, 2) and row.visible.shape == (FRAMES, 9)
        assert row.tracks.dtype == np.float32 and np.isfinite(row.tracks).all()
        assert np.abs(row.tracks).max() <= 1.5      # normalised, not pixels
        mask = split.object_masks(row.video_id, row.anno_ids, start=row.start,
                                  stop=row.start + 1)[0]
        px = np.rint(denormalise(row.tracks[0], row.width, row.height)).astype(int)
        assert mask[px[:, 1], px[:, 0]].all(), row.track_id
        assert row.visible[0].all() and row.tracker == "lk"
        assert (row.width, row.height) == (WIDTH, HEIGHT)


def test_expressions_with_the_same_objects_share_one_row(result):
    index, _, rows, summary = result
    keys = {s.track_key for s in index.samples}
    assert len(rows) + summary["rows_skipped"]["mask_too_small"] == len(keys)
    assert len({r.track_id for r in rows}) == len(rows)
    by_key = {r.track_id: r for r in rows}
    for sample in index.samples:
        if sample.track_key in by_key:
            row = by_key[sample.track_key]
            assert sample.exp_id in row.exp_ids
            assert row.texts[row.exp_ids.index(sample.exp_id)] == sample.text
    assert any(len(r.exp_ids) > 1 for r in rows)       # the generator reuses objects
    assert summary["samples_tracked"] == sum(len(r.exp_ids) for r in rows)


def test_one_tracker_call_per_video(result):
    index, tracker, rows, _ = result
    videos = {s.video_id for s in index.samples}
    assert len(tracker.calls) == len(videos)
    assert sum(n for _, n in tracker.calls) == len(rows) * 9


def test_tiny_mask_is_skipped_and_counted(result):
    _, _, rows, summary = result
    assert f"{TINY_VIDEO}/901/00000" not in {r.track_id for r in rows}
    assert f"{TINY_VIDEO}/900/00000" in {r.track_id for r in rows}
    assert summary["rows_skipped"] == {"mask_too_small": 1}
    assert summary["samples_skipped"] == {"mask_too_small": 2}
    (example,) = summary["skipped_examples"]
    assert example["track_id"] == f"{TINY_VIDEO}/901/00000"
    assert example["exp_ids"] == ["1", "2"] and "4 pixels" in example["detail"]


def test_corrupt_frame_raises_naming_the_sample(tmp_path):
    record = _tiny_object_video()
    write_split(tmp_path, SPLIT, [record])
    (tmp_path / SPLIT / "JPEGImages" / TINY_VIDEO / "00002.jpg").write_bytes(b"not a jpeg")
    split = MevisSplit(tmp_path, SPLIT)
    index = list_samples(split, frames=FRAMES, window_stride=2, max_windows=1)
    with pytest.raises(DataError, match=rf"{TINY_VIDEO}/900/00000.*00002\.jpg"):
        track_split(split, index, tracker=LKTracker(), grid=GRID, frames=FRAMES)
