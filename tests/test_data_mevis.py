"""MeViS reader, writer and lazy mask index."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from support.mevis import write_split

from lang2motion.data.mevis import maskindex
from lang2motion.data.mevis.layout import REASON_NO_OBJECT, Expression, VideoRecord
from lang2motion.data.mevis.maskindex import scan_top_level_offsets
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.mevis.rle import decode_rle, encode_rle, rle_counts
from lang2motion.errors import DataError

H, W, T = 24, 32, 4
VID = "0ab4afe7fb46"


def _frames(seed: int = 0, count: int = T) -> np.ndarray:
    """(T, H, W, 3) smooth colour ramps: survive JPEG within a few grey levels."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = np.empty((count, H, W, 3), dtype=np.uint8)
    for t in range(count):
        out[t, ..., 0] = (xx * 6 + t * 10 + seed) % 200
        out[t, ..., 1] = yy * 8
        out[t, ..., 2] = 100
    return out


def _box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def _hand_written_split(root: Path, *, indent: int | None = None, v2: bool = False) -> dict:
    """A split written by hand in the released MeViS layout (not with write_split)."""
    split_dir = root / "valid_u"
    frames = _frames()
    names = [f"{i:05d}" for i in range(T)]
    (split_dir / "JPEGImages" / VID).mkdir(parents=True)
    for name, rgb in zip(names, frames, strict=True):
        cv2.imwrite(str(split_dir / "JPEGImages" / VID / f"{name}.jpg"), rgb[:, :, ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 100])
    masks = {1233: [_box(2, 8, 3, 9), None, _box(4, 10, 5, 11), _box(0, 1, 0, 1)],
             1234: [_box(10, 20, 12, 30), _box(11, 21, 13, 31), None, None]}
    mask_dict = {}
    for anno, seq in masks.items():
        entries = []
        for m in seq:
            if m is None:
                entries.append(None)
                continue
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            entries.append({"size": [H, W], "counts": rle["counts"].decode()})
        mask_dict[str(anno)] = entries
    with open(split_dir / "mask_dict.json", "w") as fh:
        json.dump(mask_dict, fh, indent=indent)
    expressions = {
        "0": {"exp": "the bear walking to the left", "obj_id": [1], "anno_id": [1234]},
        "1": {"exp": "two bears fighting", "obj_id": [0, 1], "anno_id": [1233, 1234]}}
    if v2:
        expressions["2"] = {"exp": "the camera panning", "obj_id": [], "anno_id": []}
    meta = {"videos": {VID: {"frames": names, "expressions": expressions}}}
    meta_name = "meta_expressions_v2.json" if v2 else "meta_expressions.json"
    with open(split_dir / meta_name, "w") as fh:
        json.dump(meta, fh, indent=indent)
    return {"frames": frames, "masks": masks}


def test_rle_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    masks = {str(a): [rng.random((H, W)) < p for p in (0.1, 0.5, 0.9, 0.0)]
             for a in range(3)}
    record = VideoRecord(VID, _frames(), masks,
                         [Expression("0", "the blob", (0,), ("0",))])
    write_split(tmp_path, "train", [record])
    split = MevisSplit(tmp_path, "train")
    for anno, seq in masks.items():
        got = split.object_masks(VID, [anno])
        assert got.shape == (T, H, W) and got.dtype == bool
        for t in range(T):
            np.testing.assert_array_equal(got[t], seq[t])
    # the all-empty mask is written as null, exactly as MeViS marks absent objects
    raw = json.loads((tmp_path / "train" / "mask_dict.json").read_text())
    assert raw["0"][3] is None and isinstance(raw["0"][0]["counts"], str)


def test_rle_counts_matches_hand_computed_runs() -> None:
    # column-major runs of this 3x2 mask: [1, 0, 1, 1, 0, 0] -> 0 zeros, 1, 1, 2, 2
    mask = np.array([[1, 1], [0, 0], [1, 0]], dtype=bool)
    runs = rle_counts(encode_rle(mask)["counts"])
    np.testing.assert_array_equal(runs, [0, 1, 1, 2, 2])
    long = np.zeros((300, 400), dtype=bool)
    long[100:250, 30:390] = True
    runs = rle_counts(encode_rle(long)["counts"])
    assert runs.sum() == 300 * 400 and runs[0] == 30 * 300 + 100 and runs[1] == 150


def test_hand_written_split_reads_correctly(tmp_path: Path) -> None:
    truth = _hand_written_split(tmp_path)
    split = MevisSplit(tmp_path, "valid_u")
    assert split.has_masks and len(split) == 1 and split.video_ids() == [VID]
    video = split.video(VID)
    assert video.frame_names == ("00000", "00001", "00002", "00003")
    assert [e.text for e in video.expressions] == ["the bear walking to the left",
                                                   "two bears fighting"]
    assert video.expressions[1].anno_ids == ("1233", "1234")
    assert video.expressions[1].obj_ids == (0, 1)
    assert split.frame_size(VID) == (H, W)
    frames = split.read_frames(VID, 1, 3)
    assert frames.shape == (2, H, W, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - truth["frames"][1:3]).mean() < 2.0   # RGB, not BGR
    union = split.object_masks(VID, ["1233", "1234"])
    for t in range(T):
        want = np.zeros((H, W), dtype=bool)
        for seq in truth["masks"].values():
            if seq[t] is not None:
                want |= seq[t]
        np.testing.assert_array_equal(union[t], want)
    presence = split.object_presence(VID, ["1233", "1234"])
    np.testing.assert_array_equal(presence, [[1, 1], [0, 1], [1, 0], [1, 0]])
    assert split.frame_path(VID, "00002") == tmp_path / "valid_u/JPEGImages" / VID / "00002.jpg"


def test_v2_expressions_without_objects_are_skipped_and_counted(tmp_path: Path) -> None:
    _hand_written_split(tmp_path, v2=True)
    split = MevisSplit(tmp_path, "valid_u")
    assert [e.exp_id for e in split.video(VID).expressions] == ["0", "1"]
    assert split.skipped == [{"video_id": VID, "exp_id": "2", "text": "the camera panning",
                              "reason": REASON_NO_OBJECT}]


@pytest.mark.parametrize("indent", [None, 2, "\t"])
def test_lazy_index_never_loads_the_whole_mask_file(tmp_path: Path, indent,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    truth = _hand_written_split(tmp_path, indent=indent)
    path = tmp_path / "valid_u" / "mask_dict.json"
    size = path.stat().st_size
    whole = path.read_bytes().strip()
    slices: list[bytes] = []
    real_load, real_loads = json.load, json.loads

    def spy_load(fh, *args, **kwargs):
        assert Path(fh.name).name != "mask_dict.json", "mask_dict.json parsed whole"
        return real_load(fh, *args, **kwargs)

    def spy_loads(s, *args, **kwargs):
        assert (s.encode() if isinstance(s, str) else s).strip() != whole, "parsed whole"
        if isinstance(s, bytes):      # mask slices are parsed from bytes; meta from text
            slices.append(s)
        return real_loads(s, *args, **kwargs)

    monkeypatch.setattr(maskindex.json, "load", spy_load)
    monkeypatch.setattr(maskindex.json, "loads", spy_loads)
    maskindex._cached_index.cache_clear()
    split = MevisSplit(tmp_path, "valid_u")
    got = split.object_masks(VID, ["1234"])
    np.testing.assert_array_equal(got[0], truth["masks"][1234][0])
    assert slices and max(len(s) for s in slices) < size * 0.75


@pytest.mark.parametrize("dump", [
    lambda o: json.dumps(o),
    lambda o: json.dumps(o, indent=2),
    lambda o: json.dumps(o, separators=(",", ":")),
    lambda o: json.dumps(o, indent="\t", ensure_ascii=False),
    lambda o: "\n  " + json.dumps(o, indent=1) + "\n\n",
])
def test_offset_scan_handles_any_layout_and_tricky_strings(tmp_path: Path, dump) -> None:
    value = {"1": [{"size": [2, 2], "counts": "0:[1]\\\"}{,"}, None],
             "k\"ey,:}": ["a\\", "]", {"x": [1, 2, {"y": "}"}]}],
             "22": 5, "3": None, "4": "plain", "5": {}, "6": [], "ü": [True, False, -1.5e3]}
    path = tmp_path / "m.json"
    path.write_text(dump(value), encoding="utf-8")
    offsets = scan_top_level_offsets(path)
    data = path.read_bytes()
    assert list(offsets) == list(value)
    for key, (start, end) in offsets.items():
        assert json.loads(data[start:end]) == value[key]


def test_offset_scan_rejects_truncated_and_non_object_files(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    for text in ['{"1": [null, {"counts": "ab', '[1, 2]', '{"1": [1, 2]', ""]:
        path.write_text(text)
        with pytest.raises(DataError, match="m.json"):
            scan_top_level_offsets(path)


# -- bad input: every case is a DataError naming the file ----------------------------------------


def _corrupt_meta(split_dir: Path, fn) -> None:
    meta_path = split_dir / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    fn(meta)
    meta_path.write_text(json.dumps(meta))


def _corrupt_masks(split_dir: Path, fn) -> None:
    path = split_dir / "mask_dict.json"
    masks = json.loads(path.read_text())
    fn(masks)
    path.write_text(json.dumps(masks))


def test_missing_frame_file(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    frame = tmp_path / "valid_u" / "JPEGImages" / VID / "00002.jpg"
    frame.unlink()
    split = MevisSplit(tmp_path, "valid_u")
    with pytest.raises(DataError, match="00002.jpg: missing image file"):
        split.read_frames(VID)


def test_corrupt_jpeg(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    (tmp_path / "valid_u" / "JPEGImages" / VID / "00000.jpg").write_bytes(b"not a jpeg at all")
    split = MevisSplit(tmp_path, "valid_u")
    with pytest.raises(DataError, match="00000.jpg.*corrupt"):
        split.frame_size(VID)


def test_mask_list_length_differs_from_frame_count(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    _corrupt_masks(tmp_path / "valid_u", lambda m: m["1234"].pop())
    split = MevisSplit(tmp_path, "valid_u")
    with pytest.raises(DataError, match="mask_dict.json.*1234 has 3 masks.*4 frames"):
        split.object_presence(VID, ["1234"])


def test_expression_names_unknown_anno_id(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    _corrupt_meta(tmp_path / "valid_u",
                  lambda m: m["videos"][VID]["expressions"]["0"].update(anno_id=[999]))
    split = MevisSplit(tmp_path, "valid_u")
    with pytest.raises(DataError, match="mask_dict.json: anno_id 999 .* not in the file"):
        split.video(VID)


@pytest.mark.parametrize("entry, message", [
    ({"size": [H + 1, W], "counts": None}, "differs from the frame size"),
    ({"size": [H, W], "counts": "!!~~"}, "undecodable RLE"),
    ({"size": [H, W], "counts": "0"}, "cover 0 pixels"),
    ({"size": [H, W], "counts": "a"}, "undecodable RLE"),
    ({"size": [H], "counts": "0"}, "'size' must be"),
    ("not a dict", "expected null or an RLE dict"),
])
def test_malformed_rle(tmp_path: Path, entry, message: str) -> None:
    _hand_written_split(tmp_path)
    good = encode_rle(_box(0, 3, 0, 3))

    def corrupt(masks: dict) -> None:
        bad = dict(entry) if isinstance(entry, dict) else entry
        if isinstance(bad, dict) and bad["counts"] is None:
            bad["counts"] = good["counts"]
        masks["1234"][0] = bad

    _corrupt_masks(tmp_path / "valid_u", corrupt)
    split = MevisSplit(tmp_path, "valid_u")
    with pytest.raises(DataError, match=f"mask_dict.json: anno_id 1234 frame 0.*{message}"):
        split.object_masks(VID, ["1234"], 0, 1)


def test_empty_expression_set(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    _corrupt_meta(tmp_path / "valid_u", lambda m: m["videos"][VID].update(expressions={}))
    with pytest.raises(DataError, match="meta_expressions.json: video 0ab4afe7fb46: empty "
                                        "expression set"):
        MevisSplit(tmp_path, "valid_u")


def test_missing_meta_expressions(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    (tmp_path / "valid_u" / "meta_expressions.json").unlink()
    with pytest.raises(DataError, match="valid_u: no meta_expressions.json or "
                                        "meta_expressions_v2.json"):
        MevisSplit(tmp_path, "valid_u")


def test_split_without_masks_is_the_online_split(tmp_path: Path) -> None:
    _hand_written_split(tmp_path)
    (tmp_path / "valid_u" / "mask_dict.json").unlink()
    split = MevisSplit(tmp_path, "valid_u")
    assert not split.has_masks
    assert split.read_frames(VID).shape == (T, H, W, 3)
    with pytest.raises(DataError, match="no mask_dict.json"):
        split.object_masks(VID, ["1234"])


def test_decode_rle_none_is_empty() -> None:
    assert not decode_rle(None, size=(3, 4), where="x").any()


# -- writer ------------------------------------------------------------------------------------


def test_write_split_refuses_an_existing_split_and_bad_records(tmp_path: Path) -> None:
    record = VideoRecord(VID, _frames(), {"7": [_box(0, 4, 0, 4)] * T},
                         [Expression("0", "a box", (0,), ("7",))])
    write_split(tmp_path, "train", [record])
    with pytest.raises(DataError, match="already exists"):
        write_split(tmp_path, "train", [record])
    short = VideoRecord("aaaaaaaaaaaa", _frames(), {"8": [None] * (T - 1)},
                        [Expression("0", "x", (0,), ("8",))])
    with pytest.raises(DataError, match="anno_id 8: 3 masks for 4 frames"):
        write_split(tmp_path, "other", [short])
    orphan = VideoRecord("bbbbbbbbbbbb", _frames(), {"8": [None] * T},
                         [Expression("0", "x", (0,), ("9",))])
    with pytest.raises(DataError, match="anno_id 9 has no masks"):
        write_split(tmp_path, "other2", [orphan])


def test_split_writer_equals_appending_video_by_video(tmp_path: Path) -> None:
    """SplitWriter writes the masks and expressions once; the split reads back as the same as
    one written by appending each video (which rewrites both files every time)."""
    from lang2motion.data.mevis.writer import SplitWriter

    rng = np.random.default_rng(1)
    records = [VideoRecord(f"vid{v}", _frames(), {str(3 * v + a): [rng.random((H, W)) < 0.4
                                                                   for _ in range(T)]
                                                   for a in range(2)},
                           [Expression("0", f"blob {v}", (0,), (str(3 * v),))])
               for v in range(3)]
    for record in records:
        write_split(tmp_path / "appended", "train", [record], append=True)
    writer = SplitWriter(tmp_path / "streamed", "train")
    for record in records:
        writer.add(record)
    writer.close()
    a, b = MevisSplit(tmp_path / "appended", "train"), MevisSplit(tmp_path / "streamed", "train")
    assert json.loads((tmp_path / "appended/train/meta_expressions.json").read_text()) == \
        json.loads((tmp_path / "streamed/train/meta_expressions.json").read_text())
    for record in records:
        for anno in record.masks:
            np.testing.assert_array_equal(a.object_masks(record.video_id, [anno]),
                                          b.object_masks(record.video_id, [anno]))
    with pytest.raises(DataError, match="vid0 already present"):
        SplitWriter(tmp_path / "streamed", "train").add(records[0])
