"""Skeleton readers (NTU RGB+D, Kinetics-Skeleton) and the joint -> point mapping."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from lang2motion.data.skeletons import (
    SkeletonSequence,
    list_skeleton_files,
    ntu60_class_names,
    read_class_names,
    read_kinetics_skeleton,
    read_ntu_skeleton,
    read_skeleton,
    skeleton_to_points,
)
from lang2motion.errors import ConfigError, DataError

BODY_FIELDS = "0 1 0 1 0 0 0.01 0.02 2"     # the 9 body fields after the id


def _joint_line(x: float, y: float, state: int = 2) -> str:
    return f"0.1 0.2 3.0 250.0 180.0 {x} {y} 0.5 0.1 0.2 0.3 {state}"


def _ntu_text(frames: list[list[tuple[int, list[tuple[float, float, int]]]]]) -> str:
    """frames: per frame a list of (body id, 25 x (colorX, colorY, trackingState))."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines += [f"{body_id} {BODY_FIELDS}", str(len(joints))]
            lines += [_joint_line(x, y, s) for x, y, s in joints]
    return "\r\n".join(lines) + "\r\n"     # the real files end lines with CRLF


def _still(x0: float, y0: float) -> list[tuple[float, float, int]]:
    """25 joints at (x0 + j, y0 + 2 j), all tracked."""
    return [(x0 + j, y0 + 2 * j, 2) for j in range(25)]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, newline="")
    return path


# ---------------------------------------------------------------------------------------- NTU


def test_ntu_one_body_exact_joints(tmp_path):
    frame1 = _still(100.0, 200.0)
    frame1[3] = (103.0, 206.0, 0)                # joint 4 (head) not tracked in frame 1
    frame2 = [(500.5, 700.25, 1)] + _still(101.0, 201.0)[1:]   # joint 1 inferred
    path = _write(tmp_path, "S001C001P001R001A007.skeleton",
                  _ntu_text([[(72057594037931101, frame1)], [(72057594037931101, frame2)]]))
    seq = read_ntu_skeleton(path)
    assert seq.name == "S001C001P001R001A007"
    assert (seq.layout, seq.width, seq.height) == ("ntu", 1920, 1080)
    assert seq.joints.shape == (2, 25, 2) and seq.joints.dtype == np.float32
    assert seq.joints[0, 0].tolist() == [100.0, 200.0]
    assert seq.joints[0, 24].tolist() == [124.0, 248.0]
    assert seq.joints[1, 0].tolist() == [500.5, 700.25]
    assert seq.joints[1, 1].tolist() == [102.0, 203.0]
    assert seq.joints[0, 3].tolist() == [103.0, 206.0]     # coordinates kept when not tracked
    assert seq.visible.sum() == 49 and not seq.visible[0, 3] and seq.visible[1, 0]
    assert (seq.label, seq.label_name) == (6, "throw")    # A007 is class 7


def test_ntu_two_bodies_keeps_the_one_in_most_frames(tmp_path):
    a, b = 11, 22
    text = _ntu_text([
        [(a, _still(10.0, 20.0))],
        [(b, _still(900.0, 900.0))],                      # a absent: invisible, held
        [(b, _still(901.0, 900.0)), (a, _still(30.0, 40.0))],
        [(a, _still(50.0, 60.0))],
    ])
    seq = read_ntu_skeleton(_write(tmp_path, "two.skeleton", text))
    assert seq.joints[:, 0].tolist() == [[10, 20], [10, 20], [30, 40], [50, 60]]
    assert seq.visible.all(axis=1).tolist() == [True, False, True, True]
    assert (seq.label, seq.label_name) == (None, None)


def test_ntu_tie_in_frames_goes_to_larger_variance(tmp_path):
    still, moving = 5, 6
    text = _ntu_text([
        [(still, _still(10.0, 20.0)), (moving, _still(300.0, 300.0))],
        [(moving, _still(400.0, 300.0)), (still, _still(10.0, 20.0))],
    ])
    seq = read_ntu_skeleton(_write(tmp_path, "tie.skeleton", text))
    assert seq.joints[:, 0].tolist() == [[300, 300], [400, 300]]


def _one_frame_lines() -> list[str]:
    return _ntu_text([[(1, _still(100.0, 200.0))]]).split("\r\n")


def test_ntu_truncated_file_names_the_line(tmp_path):
    lines = _one_frame_lines()
    lines[0] = "2"                                         # promises a second frame (line 30)
    path = _write(tmp_path, "short.skeleton", "\n".join(lines))
    with pytest.raises(DataError, match=r"short\.skeleton: line 30: truncated"):
        read_ntu_skeleton(path)
    path = _write(tmp_path, "cut.skeleton", "\n".join(lines[:10]))   # joint 7 would be line 11
    with pytest.raises(DataError, match=r"cut\.skeleton: line 11: truncated.*joint 7"):
        read_ntu_skeleton(path)


def test_ntu_bad_number_names_the_line(tmp_path):
    lines = _one_frame_lines()
    fields = lines[6].split()                             # line 7 = joint 3
    fields[5] = "12.x"
    lines[6] = " ".join(fields)
    path = _write(tmp_path, "bad.skeleton", "\n".join(lines))
    with pytest.raises(DataError, match=r"bad\.skeleton: line 7: joint 3 .*colorX.*'12\.x'"):
        read_ntu_skeleton(path)


def test_ntu_wrong_joint_count_and_zero_frames(tmp_path):
    lines = _one_frame_lines()
    lines[3] = "24"
    with pytest.raises(DataError, match=r"line 4: .* 24 joints, expected 25"):
        read_ntu_skeleton(_write(tmp_path, "j.skeleton", "\n".join(lines)))
    with pytest.raises(DataError, match=r"zero\.skeleton: line 1: zero frames"):
        read_ntu_skeleton(_write(tmp_path, "zero.skeleton", "0\n"))
    with pytest.raises(DataError, match=r"line 1: .*not an integer"):
        read_ntu_skeleton(_write(tmp_path, "word.skeleton", "two\n"))


# ----------------------------------------------------------------------------------- Kinetics


def _kinetics_doc() -> dict:
    def person(x: float, y: float, score: float) -> dict:
        return {"pose": [x, y] * 18, "score": [score] * 18}

    weak, strong = person(0.9, 0.9, 0.2), person(0.5, 0.25, 0.8)
    missing = person(0.75, 0.5, 0.8)
    missing["pose"][2:4] = [0.0, 0.0]                     # joint 1 (neck) not detected
    missing["score"][1] = 0.0
    return {
        "data": [
            {"frame_index": 1, "skeleton": [weak, strong]},
            {"frame_index": 2, "skeleton": [weak, missing]},
            {"frame_index": 4, "skeleton": [weak]},       # frame 3 absent, slot 1 absent
        ],
        "label": "abseiling",
        "label_index": 0,
    }


def test_kinetics_hand_written(tmp_path):
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(_kinetics_doc()))
    seq = read_kinetics_skeleton(path)
    # slot 1 mean score (18 * 0.8 + 17 * 0.8) / 72 beats slot 0's 0.2
    assert (seq.layout, seq.width, seq.height) == ("kinetics", 340, 256)
    assert seq.joints.shape == (4, 18, 2)
    assert seq.joints[:, 0].tolist() == [[170, 64], [255, 128], [255, 128], [255, 128]]
    assert seq.joints[:, 1].tolist() == [[170, 64], [170, 64], [170, 64], [170, 64]]
    assert seq.visible[:, 0].tolist() == [True, True, False, False]
    assert seq.visible[:, 1].tolist() == [True, False, False, False]
    assert (seq.label, seq.label_name) == (0, "abseiling")


def test_kinetics_malformed(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"data": [')
    with pytest.raises(DataError, match=r"broken\.json: malformed JSON"):
        read_kinetics_skeleton(path)
    doc = _kinetics_doc()
    doc["data"][0]["skeleton"][0]["pose"] = [0.5] * 35
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"broken\.json: data\[0\]\.skeleton\[0\]\.pose"):
        read_kinetics_skeleton(path)
    path.write_text(json.dumps({"data": []}))
    with pytest.raises(DataError, match="zero frames"):
        read_kinetics_skeleton(path)


# -------------------------------------------------------------------------- files and names


def test_read_skeleton_dispatch_and_listing(tmp_path):
    _write(tmp_path, "b.skeleton", _ntu_text([[(1, _still(1.0, 2.0))]]))
    (tmp_path / "a.json").write_text(json.dumps(_kinetics_doc()))
    (tmp_path / "notes.txt").write_text("x")
    files = list_skeleton_files(tmp_path)
    assert [p.name for p in files] == ["a.json", "b.skeleton"]
    assert [read_skeleton(p).layout for p in files] == ["kinetics", "ntu"]
    with pytest.raises(DataError, match="unknown skeleton format"):
        read_skeleton(tmp_path / "notes.txt")


def test_class_names(tmp_path):
    names = ntu60_class_names()
    assert len(names) == 60
    assert names[0] == "drink water" and names[-1] == "walking apart from each other"
    assert names[22] == "hand waving" and names[56] == "touch other person's pocket"
    path = tmp_path / "classes.txt"
    path.write_text("# header\nrun\n\n  jump  \n")
    assert read_class_names(path) == ["run", "jump"]
    path.write_text("# only a comment\n\n")
    with pytest.raises(DataError, match="no class names"):
        read_class_names(path)
    path.write_bytes(b"caf\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_class_names(path)


# ------------------------------------------------------------------------ joints -> points


def _sequence(joints: np.ndarray, visible: np.ndarray) -> SkeletonSequence:
    """A kinetics-layout sequence in a 200 x 100 frame: x' = x / 100 - 1, y' = y / 50 - 1."""
    return SkeletonSequence(name="hand", layout="kinetics", joints=joints.astype(np.float32),
                            visible=visible, width=200, height=100, label=None, label_name=None)


def test_resample_three_frames_to_five():
    joints = np.full((3, 18, 2), 100.0)
    joints[:, 0] = [[0, 0], [100, 50], [200, 0]]
    visible = np.ones((3, 18), dtype=bool)
    visible[1, 0] = False
    tracks, vis = skeleton_to_points(_sequence(joints, visible), frames=5, points=1)
    assert tracks.shape == (5, 1, 2) and tracks.dtype == np.float32
    # t = 0, .5, 1, 1.5, 2: x = 0, 50, 100, 150, 200 px; y = 0, 25, 50, 25, 0 px
    np.testing.assert_allclose(tracks[:, 0, 0], [-1.0, -0.5, 0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(tracks[:, 0, 1], [-1.0, -0.5, 0.0, -0.5, -1.0], atol=1e-6)
    # nearest source frame, halves rounding up: 0, 1, 1, 2, 2
    assert vis[:, 0].tolist() == [True, False, False, True, True]


def test_fewer_points_than_joints_follow_priority():
    joints = np.zeros((1, 18, 2))
    joints[0, :, 0] = np.arange(18) * 10.0               # x = 10 * joint index
    tracks, _ = skeleton_to_points(_sequence(joints, np.ones((1, 18), bool)), frames=1, points=3)
    np.testing.assert_allclose(tracks[0, :, 0], [-1.0, -0.9, -0.5], atol=1e-6)  # joints 0, 1, 5


def test_more_points_than_joints_add_bone_points():
    joints = np.zeros((2, 18, 2))
    joints[:, 1] = [100, 40]                               # neck
    joints[:, 0] = [120, 20]                               # nose
    visible = np.ones((2, 18), dtype=bool)
    visible[1, 0] = False
    tracks, vis = skeleton_to_points(_sequence(joints, visible), frames=2, points=36)
    assert tracks.shape == (2, 36, 2)
    # point 18: mid(neck, nose) = (110, 30) px -> (0.1, -0.4)
    np.testing.assert_allclose(tracks[0, 18], [0.1, -0.4], atol=1e-6)
    # point 35: the first quarter point, 1/4 of the way from neck to nose = (105, 35) px
    np.testing.assert_allclose(tracks[0, 35], [0.05, -0.3], atol=1e-6)
    assert vis[:, 18].tolist() == [True, False]


def test_bad_arguments():
    seq = _sequence(np.zeros((1, 18, 2)), np.ones((1, 18), bool))
    with pytest.raises(ConfigError):
        skeleton_to_points(seq, frames=0, points=3)
    with pytest.raises(ConfigError):
        skeleton_to_points(seq, frames=2, points=0)
    wrong = _sequence(np.zeros((1, 17, 2)), np.ones((1, 17), bool))
    with pytest.raises(DataError, match="expected"):
        skeleton_to_points(wrong, frames=2, points=3)


# ----------------------------------------------------------------------------------- real data


def test_real_ntu_file():
    root = os.environ.get("LANG2MOTION_REAL_DATA")
    if not root:
        pytest.skip("LANG2MOTION_REAL_DATA is not set")
    seq = read_skeleton(Path(root) / "ntu" / "S001C001P001R001A001.skeleton")
    assert seq.joints.shape == (103, 25, 2)
    assert (seq.label, seq.label_name) == (0, "drink water")
    assert (seq.joints[..., 0] >= 0).all() and (seq.joints[..., 0] < 1920).all()
    assert (seq.joints[..., 1] >= 0).all() and (seq.joints[..., 1] < 1080).all()
    # first joint of the first frame, as written in the file
    np.testing.assert_allclose(seq.joints[0, 0], [1036.233, 519.1677], rtol=1e-6)
    tracks, vis = skeleton_to_points(seq, frames=16, points=36)
    assert tracks.shape == (16, 36, 2) and vis.shape == (16, 36)
    assert np.abs(tracks).max() <= 1.0
