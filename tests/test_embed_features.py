"""embed_split on three hand-made track rows with the tiny CLIP: counts, pooling, shards."""

import numpy as np
import pytest
from support.features import read_feature_shards

from lang2motion.config import OverlayConfig
from lang2motion.embed.clip import load_clip
from lang2motion.embed.features import embed_split
from lang2motion.errors import DataError
from lang2motion.render.overlay import overlay_track_row
from lang2motion.runtime import prefetch
from lang2motion.store import TrackRow, load_feature_tensors

T, N, H, W = 4, 3, 24, 32
OVERLAY = OverlayConfig(color="cyan", opacity=0.5, size=32, line_width=1)
BATCH = 3  # smaller than T: batches span rows


class FakeSplit:
    """Deterministic frames per video, counting reads."""

    def __init__(self, height=H, width=W):
        self.height, self.width, self.reads = height, width, []

    def read_frames(self, video_id, start, stop):
        self.reads.append((video_id, start, stop))
        seed = int(video_id[1:])
        rng = np.random.default_rng(seed)
        video = rng.integers(0, 256, (stop, self.height, self.width, 3), dtype=np.uint8)
        return video[start:stop]


class FakeTruth:
    def motion_kind(self, video_id, exp_id):
        return f"kind-{exp_id}"

    def template_id(self, video_id, exp_id):
        return int(exp_id) * 10

    def tags(self, video_id, exp_id):
        return {"phrasing": "seen" if int(exp_id) % 2 else "unseen"}


def _row(video: int, exp_ids, texts, start=0):
    rng = np.random.default_rng(100 + video)
    tracks = np.cumsum(rng.normal(0, 0.05, (T, N, 2)), axis=0).astype(np.float32)
    return TrackRow(track_id=f"v{video}/1/{start:05d}", video_id=f"v{video}", anno_ids=("1",),
                    start=start, exp_ids=tuple(exp_ids), texts=tuple(texts),
                    tracks=np.clip(tracks, -1, 1), visible=np.ones((T, N), bool), width=W,
                    height=H, tracker="lk")


ROWS = [
    _row(0, ["0", "1"], ["a dog runs left", "a cat jumps"]),
    _row(1, ["2"], ["a dog runs left"], start=1),
    _row(2, ["3", "4"], ["moving right", "a cat jumps"]),
]


@pytest.fixture(scope="module")
def tiny():
    return load_clip(model="L2M-Tiny", pretrained="none", device="cpu")


def _spy_text(monkeypatch, encoder):
    calls = []
    real = encoder.encode_text

    def spy(texts, *, batch_size):
        calls.append(list(texts))
        return real(texts, batch_size=batch_size)

    monkeypatch.setattr(encoder, "encode_text", spy)
    return calls


def test_embed_split_writes_every_sample_with_consistent_features(tiny, tmp_path, monkeypatch):
    calls = _spy_text(monkeypatch, tiny)
    out = tmp_path / "features"
    out.mkdir()
    (out / "part-00007.parquet").write_bytes(b"stale shard of an earlier run")
    split = FakeSplit()
    summary = embed_split(ROWS, split, encoder=tiny, overlay=OVERLAY, out_dir=out, shard_size=2,
                          ground_truth=FakeTruth(), batch_size=BATCH)

    # one batched text call over the 3 unique captions, each track row read once
    assert calls == [["a dog runs left", "a cat jumps", "moving right"]]
    assert sorted(split.reads) == [("v0", 0, T), ("v1", 1, 1 + T), ("v2", 0, T)]
    assert summary["rows"] == 3 and summary["samples"] == 5 and summary["unique_texts"] == 3
    assert summary["images"] == 3 * T and summary["shards"] == 2   # 2 trajectories a shard
    assert summary["clip"]["model"] == "L2M-Tiny"
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]

    ft = load_feature_tensors(out)
    assert ft.sample_ids == ["v0/1/00000/0", "v0/1/00000/1", "v1/1/00001/2", "v2/1/00000/3",
                             "v2/1/00000/4"]
    assert ft.motion_kinds == ["kind-0", "kind-1", "kind-2", "kind-3", "kind-4"]
    np.testing.assert_array_equal(ft.template_ids, [0, 10, 20, 30, 40])
    assert [t["phrasing"] for t in ft.tags] == ["unseen", "seen", "unseen", "seen", "unseen"]
    assert ft.image_emb.shape == (5, T, tiny.dim) and ft.text_emb.shape == (5, tiny.dim)
    # pooled = mean over time of the per-frame features
    np.testing.assert_allclose(ft.image_emb_pooled, ft.image_emb.mean(axis=1), rtol=0, atol=1e-6)
    # samples of one track row share image features; same caption -> same text feature
    np.testing.assert_array_equal(ft.image_emb[0], ft.image_emb[1])
    np.testing.assert_array_equal(ft.text_emb[0], ft.text_emb[2])
    assert not np.allclose(ft.image_emb[0], ft.image_emb[2])
    # the features are CLIP's on exactly the rendered overlays, whatever the batching
    for i, row in ((0, ROWS[0]), (2, ROWS[1]), (3, ROWS[2])):
        overlays = overlay_track_row(row, FakeSplit(), overlay=OVERLAY)
        expected = tiny.encode_images(overlays, batch_size=T)
        np.testing.assert_allclose(ft.image_emb[i], expected, atol=1e-5)
        np.testing.assert_array_equal(ft.tracks[i], row.tracks)
    direct = tiny.encode_text(["moving right"], batch_size=1)[0]
    np.testing.assert_allclose(ft.text_emb[3], direct, atol=1e-5)


def test_without_ground_truth_labels_are_unknown(tiny, tmp_path):
    embed_split(ROWS[:1], FakeSplit(), encoder=tiny, overlay=OVERLAY, out_dir=tmp_path,
                shard_size=10, ground_truth=None, batch_size=BATCH)
    df = read_feature_shards(tmp_path)        # one trajectory, two expressions
    assert df["motion_kinds"][0].tolist() == ["", ""]
    assert df["template_ids"][0].tolist() == [-1, -1]
    assert df["clip_pretrained"].tolist() == ["none"]


def test_frames_that_do_not_match_the_row_are_named(tiny, tmp_path):
    with pytest.raises(DataError, match="v1/1/00001"):
        embed_split(ROWS[1:2], FakeSplit(height=H + 2), encoder=tiny, overlay=OVERLAY,
                    out_dir=tmp_path, shard_size=10, ground_truth=None, batch_size=BATCH)


def test_empty_rows_are_an_error(tiny, tmp_path):
    with pytest.raises(DataError, match="no track rows"):
        embed_split([], FakeSplit(), encoder=tiny, overlay=OVERLAY, out_dir=tmp_path,
                    shard_size=10, ground_truth=None)


def test_prefetch_keeps_order_and_raises_worker_errors():
    assert list(prefetch(lambda x: x * x, range(10), threads=3, depth=4)) == [
        x * x for x in range(10)]

    def boom(x):
        if x == 5:
            raise ValueError("row 5 is broken")
        return x

    with pytest.raises(ValueError, match="row 5"):
        list(prefetch(boom, range(10), threads=2, depth=3))


def test_prefetch_starts_at_once_and_stops_early_on_exit():
    import threading

    started = []
    first_started = threading.Event()

    def work(x):
        started.append(x)
        first_started.set()
        return x

    with prefetch(work, range(100), threads=1, depth=2) as items:
        assert first_started.wait(timeout=5)  # work began before anyone asked for an item
        assert next(items) == 0
    # leaving the block cancels what had not started: at most depth + 1 items were ever run
    assert len(started) <= 3
