"""Skeleton files (NTU RGB+D, Kinetics-Skeleton) read as 2D point trajectories (paper sec. 4.5).

Legend: F source frames, J joints, T output frames, N output points. Coordinates are (x, y).

Readers
-------
* NTU RGB+D ``.skeleton`` (text): frame count; per frame a body count; per body a line of 10
  body fields (the first is the body id), a joint count (must be 25), then per joint 12 numbers
  ``x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState``. We keep
  ``(colorX, colorY)``, pixels of the 1920 x 1080 RGB frame. A joint is visible unless its
  trackingState is 0 (not tracked; 1 = inferred counts as visible). One body is kept: the body id
  present in the most frames; ties go to the larger joint-position variance (the variance over
  its frames of the colour coordinates, summed over joints and x, y), then to the body seen
  first. Frames without that body are invisible and hold its last position (its first position
  before it appears). The label comes from the file name: ``...A001.skeleton`` -> 0; names come
  from NTU-60, so A061..A120 (NTU-120) get a label and no name.
* Kinetics-Skeleton ``.json`` (ST-GCN, one file per video):
  ``{"data": [{"frame_index": 1, "skeleton": [{"pose": [x0, y0, ...], "score": [...]}]}],
  "label": ..., "label_index": ...}``, OpenPose-18 joints, coordinates in [0, 1] of the
  340 x 256 frame ST-GCN resized every video to (stored here in pixels of that frame).
  ``frame_index`` counts from 1; frames absent from ``data`` are invisible. OpenPose does not
  track people, so a person is a slot: the m-th entry of ``skeleton`` in each frame (ST-GCN's
  convention). We keep the slot with the highest mean score over all F frames and 18 joints
  (a frame without that slot counts 0); ties go to the lower slot. A joint with score 0 is
  missing: invisible, holding the joint's last visible position (its first before it is seen,
  the frame centre if never seen). ``label_index`` (0-based) -> label, negative = unknown.

Joint -> point mapping (:func:`skeleton_to_points`)
--------------------------------------------------
Output point i is ``(1 - f) * joint[a] + f * joint[b]``, visible when joints a and b both are.
If N <= J the points are the first N joints of the layout's priority order (f = 0). If N > J
they are all J joints in priority order, then bone points: the midpoint (f = 1/2) of every bone
in bone order, then, bone by bone, the quarter points (1/4, 3/4), then the eighths (1/8, 3/8,
5/8, 7/8) and so on, until N points. A bone (a, b) runs from the joint nearer the torso.

The first 14 priority entries name the same body parts in both layouts (NTU's head stands for
OpenPose's nose), so a model given N <= 14 points sees one point order for either data set:
head, neck, left/right shoulder, left/right elbow, left/right wrist, left/right hip,
left/right knee, left/right ankle.

The priority orders and bones of each layout are the tables ``NTU_LAYOUT`` (joint numbers 1..25
as in the NTU paper, the Kinect v2 SDK's bones) and ``KINETICS_LAYOUT`` (OpenPose-18, 0..17).
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.geometry import normalise
from lang2motion.io import read_text

NTU_SUFFIX = ".skeleton"
KINETICS_SUFFIX = ".json"
SKELETON_SUFFIXES = (NTU_SUFFIX, KINETICS_SUFFIX)
NTU_WIDTH, NTU_HEIGHT = 1920, 1080          # Kinect v2 RGB frame: colorX, colorY are its pixels
KINETICS_WIDTH, KINETICS_HEIGHT = 340, 256  # ST-GCN resized every Kinetics video to this
NTU_JOINTS = 25
NTU_BODY_FIELDS = 10
NTU_JOINT_FIELDS = 12
NTU_COLOR_X, NTU_COLOR_Y, NTU_TRACKING = 5, 6, 11   # columns of a joint line
NTU_NOT_TRACKED = 0
NTU_TRACKING_STATES = (0, 1, 2)              # not tracked, inferred, tracked
NTU_ACTION_RE = re.compile(r"A(\d{3})$")     # ...A001 = action 1 = label 0
KINETICS_JOINTS = 18
CLASS_COMMENT = "#"
NTU60_CLASSES = "classes/ntu60.txt"          # inside this package (lang2motion.data)


@dataclass(frozen=True)
class SkeletonLayout:
    name: str
    joint_names: tuple[str, ...]             # (J,), index = joint index in the file (0-based)
    priority: tuple[int, ...]                # all J joints, most important first
    bones: tuple[tuple[int, int], ...]       # (a, b), a nearer the torso; subdivided in order


def _ntu(*numbers: int) -> tuple[int, ...]:
    """NTU joint numbers (1-based, as in the NTU paper) -> 0-based indices."""
    return tuple(n - 1 for n in numbers)


NTU_LAYOUT = SkeletonLayout(
    name="ntu",
    joint_names=(
        "base of spine", "middle of spine", "neck", "head",
        "left shoulder", "left elbow", "left wrist", "left hand",
        "right shoulder", "right elbow", "right wrist", "right hand",
        "left hip", "left knee", "left ankle", "left foot",
        "right hip", "right knee", "right ankle", "right foot",
        "spine", "left hand tip", "left thumb", "right hand tip", "right thumb",
    ),
    priority=_ntu(4, 3, 5, 9, 6, 10, 7, 11, 13, 17, 14, 18, 15, 19,
                  1, 21, 2, 8, 12, 16, 20, 22, 23, 24, 25),
    bones=tuple(_ntu(a, b) for a, b in (
        (3, 4), (5, 6), (9, 10), (6, 7), (10, 11), (13, 14), (17, 18), (14, 15), (18, 19),
        (21, 3), (21, 5), (21, 9), (1, 13), (1, 17), (1, 2), (2, 21), (7, 8), (11, 12),
        (15, 16), (19, 20), (8, 22), (7, 23), (12, 24), (11, 25),
    )),
)

KINETICS_LAYOUT = SkeletonLayout(
    name="kinetics",
    joint_names=(
        "nose", "neck", "right shoulder", "right elbow", "right wrist",
        "left shoulder", "left elbow", "left wrist", "right hip", "right knee", "right ankle",
        "left hip", "left knee", "left ankle", "right eye", "left eye", "right ear", "left ear",
    ),
    priority=(0, 1, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10, 15, 14, 17, 16),
    bones=(
        (1, 0), (5, 6), (2, 3), (6, 7), (3, 4), (11, 12), (8, 9), (12, 13), (9, 10),
        (1, 5), (1, 2), (5, 11), (2, 8), (0, 15), (0, 14), (15, 17), (14, 16),
    ),
)

LAYOUTS = {layout.name: layout for layout in (NTU_LAYOUT, KINETICS_LAYOUT)}


@dataclass(frozen=True)
class SkeletonSequence:
    name: str                    # file stem
    layout: str                  # a key of LAYOUTS: "ntu" or "kinetics"
    joints: np.ndarray           # (F, J, 2) float32, pixels (x, y) of the width x height frame
    visible: np.ndarray          # (F, J) bool
    width: int
    height: int
    label: int | None            # 0-based class index, None when the file does not say
    label_name: str | None


# ----------------------------------------------------------------------------------- helpers


def _hold(joints: np.ndarray, present: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fill joints where ``present`` is False with the last present position per joint.

    joints (F, J, 2), present (F, J). Before a joint's first present frame it takes that
    frame's position; a joint never present sits at the frame centre.
    """
    out = np.array(joints, dtype=np.float32)
    centre = np.array([width / 2.0, height / 2.0], dtype=np.float32)
    for j in range(out.shape[1]):
        seen = np.flatnonzero(present[:, j])
        if seen.size == 0:
            out[:, j] = centre
            continue
        # index of the last present frame at or before each frame (the first one before it)
        last = np.maximum.accumulate(np.where(present[:, j], np.arange(out.shape[0]), -1))
        out[:, j] = out[np.where(last < 0, seen[0], last), j]
    return out


# --------------------------------------------------------------------------------------- NTU


class _Lines:
    """Cursor over a text file's lines that raises DataError naming the file and line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.split("\n")
        self.pos = 0                                   # 0-based index of the next line

    def fail(self, message: str) -> DataError:
        """An error about the line read last (``pos`` is its 1-based number)."""
        return DataError(f"{self.path}: line {self.pos}: {message}")

    def fields(self, what: str, count: int) -> list[str]:
        # at the end, or only blank lines left (a blank line inside the file is a field error)
        here = self.lines[self.pos] if self.pos < len(self.lines) else ""
        if not here.strip() and not any(line.strip() for line in self.lines[self.pos:]):
            raise DataError(f"{self.path}: line {self.pos + 1}: truncated file, expected {what}")
        parts = self.lines[self.pos].split()
        self.pos += 1
        if len(parts) != count:
            raise self.fail(f"expected {count} field(s) for {what}, got {len(parts)}")
        return parts

    def number(self, what: str, text: str, *, integer: bool = False) -> Any:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise self.fail(f"{what}: {text!r} is not {kind}") from None
        if not math.isfinite(value):
            raise self.fail(f"{what}: {text!r} is not finite")
        return value

    def count(self, what: str) -> int:
        value = self.number(what, self.fields(what, 1)[0], integer=True)
        if value < 0:
            raise self.fail(f"{what} is negative ({value})")
        return value

    def rest_is_blank(self) -> None:
        for i in range(self.pos, len(self.lines)):
            if self.lines[i].strip():
                raise DataError(f"{self.path}: line {i + 1}: unexpected content after the last "
                                "frame")


def _choose_ntu_body(bodies: dict[int, dict[int, np.ndarray]]) -> int:
    """Body id in most frames; ties -> larger colour-coordinate variance; then seen first."""
    def key(body_id: int) -> tuple[int, float]:
        frames = bodies[body_id]
        xy = np.stack([frames[f][:, :2] for f in sorted(frames)])      # (F_body, J, 2)
        return len(frames), float(xy.var(axis=0).sum())

    # dicts keep insertion order, and max keeps the first of equal keys: "seen first" wins
    return max(bodies, key=key)


def read_ntu_skeleton(path: str | Path) -> SkeletonSequence:
    """Read one NTU RGB+D ``.skeleton`` file: the chosen body's colour-frame joints."""
    path = Path(path)
    lines = _Lines(path, read_text(path, what="skeleton file"))
    n_frames = lines.count("the frame count")
    if n_frames == 0:
        raise lines.fail("zero frames")
    # body id -> {frame: (J, 3) colorX, colorY, trackingState}, in order of first appearance
    bodies: dict[int, dict[int, np.ndarray]] = {}
    for f in range(n_frames):
        n_bodies = lines.count(f"the body count of frame {f + 1}")
        for b in range(n_bodies):
            what = f"body {b + 1} of frame {f + 1}"
            body_id = lines.number(f"{what} id", lines.fields(what, NTU_BODY_FIELDS)[0],
                                   integer=True)
            n_joints = lines.count(f"the joint count of {what}")
            if n_joints != NTU_JOINTS:
                raise lines.fail(f"{what} has {n_joints} joints, expected {NTU_JOINTS}")
            rows = np.empty((NTU_JOINTS, 3), dtype=np.float64)
            for j in range(NTU_JOINTS):
                joint = f"joint {j + 1} of {what}"
                parts = lines.fields(joint, NTU_JOINT_FIELDS)
                state = lines.number(f"{joint} trackingState", parts[NTU_TRACKING], integer=True)
                if state not in NTU_TRACKING_STATES:
                    raise lines.fail(f"{joint}: trackingState {state} is not 0, 1 or 2")
                rows[j] = (lines.number(f"{joint} colorX", parts[NTU_COLOR_X]),
                           lines.number(f"{joint} colorY", parts[NTU_COLOR_Y]), state)
            bodies.setdefault(body_id, {}).setdefault(f, rows)   # a repeated id: first kept
    lines.rest_is_blank()
    if not bodies:
        raise DataError(f"{path}: no body in any of its {n_frames} frames")

    chosen = bodies[_choose_ntu_body(bodies)]
    joints = np.zeros((n_frames, NTU_JOINTS, 2), dtype=np.float32)
    visible = np.zeros((n_frames, NTU_JOINTS), dtype=bool)
    present = np.zeros(n_frames, dtype=bool)
    for f, rows in chosen.items():
        joints[f] = rows[:, :2]
        visible[f] = rows[:, 2] != NTU_NOT_TRACKED
        present[f] = True
    joints = _hold(joints, np.repeat(present[:, None], NTU_JOINTS, axis=1),
                   NTU_WIDTH, NTU_HEIGHT)

    match = NTU_ACTION_RE.search(path.stem)
    label = int(match.group(1)) - 1 if match else None
    names = ntu60_class_names()
    return SkeletonSequence(
        name=path.stem, layout=NTU_LAYOUT.name, joints=joints, visible=visible,
        width=NTU_WIDTH, height=NTU_HEIGHT, label=label,
        label_name=names[label] if label is not None and 0 <= label < len(names) else None,
    )


# ---------------------------------------------------------------------------------- Kinetics


def _number_list(path: Path, value: object, length: int, what: str) -> np.ndarray:
    ok = isinstance(value, list) and len(value) == length and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in value
    )
    if not ok:
        raise DataError(f"{path}: {what} must be a list of {length} finite numbers")
    return np.asarray(value, dtype=np.float64)


def read_kinetics_skeleton(path: str | Path) -> SkeletonSequence:
    """Read one ST-GCN Kinetics-Skeleton ``.json`` file: the highest-scoring person slot."""
    path = Path(path)
    try:
        doc = json.loads(read_text(path, what="skeleton file"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from exc
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected an object with a 'data' list")

    # frame index (0-based) -> list of (pose (J, 2) in [0, 1], score (J,)), one per slot
    frames: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for k, entry in enumerate(data):
        what = f"data[{k}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("skeleton"), list):
            raise DataError(f"{path}: {what} needs a 'skeleton' list")
        index = entry.get("frame_index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 1:
            raise DataError(f"{path}: {what}.frame_index must be an integer >= 1, got {index!r}")
        if index - 1 in frames:
            raise DataError(f"{path}: {what}: frame_index {index} appears twice")
        people = []
        for m, person in enumerate(entry["skeleton"]):
            where = f"{what}.skeleton[{m}]"
            if not isinstance(person, dict):
                raise DataError(f"{path}: {where} must be an object with 'pose' and 'score'")
            pose = _number_list(path, person.get("pose"), 2 * KINETICS_JOINTS, f"{where}.pose")
            score = _number_list(path, person.get("score"), KINETICS_JOINTS, f"{where}.score")
            people.append((pose.reshape(KINETICS_JOINTS, 2), score))
        frames[index - 1] = people
    if not frames:
        raise DataError(f"{path}: zero frames")
    n_frames = max(frames) + 1

    n_slots = max(len(people) for people in frames.values())
    if n_slots == 0:
        raise DataError(f"{path}: no person in any of its {n_frames} frames")
    totals = np.zeros(n_slots)          # same denominator (F * J) for all: the mean's order
    for people in frames.values():
        for m, (_, score) in enumerate(people):
            totals[m] += score.sum()
    slot = int(np.argmax(totals))       # argmax keeps the first of equal totals

    joints = np.zeros((n_frames, KINETICS_JOINTS, 2), dtype=np.float32)
    visible = np.zeros((n_frames, KINETICS_JOINTS), dtype=bool)
    scale = np.array([KINETICS_WIDTH, KINETICS_HEIGHT], dtype=np.float64)
    for f, people in frames.items():
        if slot < len(people):
            pose, score = people[slot]
            joints[f] = pose * scale
            visible[f] = score > 0
    joints = _hold(joints, visible, KINETICS_WIDTH, KINETICS_HEIGHT)

    label = doc.get("label_index")
    if label is not None and (not isinstance(label, int) or isinstance(label, bool)):
        raise DataError(f"{path}: label_index must be an integer, got {label!r}")
    if label is not None and label < 0:
        label = None
    label_name = doc.get("label")
    if label_name is not None and not isinstance(label_name, str):
        raise DataError(f"{path}: label must be a string, got {label_name!r}")
    return SkeletonSequence(
        name=path.stem, layout=KINETICS_LAYOUT.name, joints=joints, visible=visible,
        width=KINETICS_WIDTH, height=KINETICS_HEIGHT, label=label, label_name=label_name,
    )


# ------------------------------------------------------------------------------ files, names


def read_skeleton(path: str | Path) -> SkeletonSequence:
    """Read a skeleton file by its suffix: ``.skeleton`` -> NTU, ``.json`` -> Kinetics."""
    path = Path(path)
    readers = {NTU_SUFFIX: read_ntu_skeleton, KINETICS_SUFFIX: read_kinetics_skeleton}
    if path.suffix.lower() not in readers:
        raise DataError(f"{path}: unknown skeleton format, expected one of {SKELETON_SUFFIXES}")
    return readers[path.suffix.lower()](path)


def list_skeleton_files(folder: str | Path) -> list[Path]:
    """The ``.skeleton`` and ``.json`` files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of skeleton files")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SKELETON_SUFFIXES)


def read_class_names(path: str | Path) -> list[str]:
    """Class names, one per line (line i = class i); blank lines and '#' comments skipped."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read class names ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: class names are not UTF-8 ({exc})") from exc
    names = [s for s in (line.strip() for line in text.splitlines())
             if s and not s.startswith(CLASS_COMMENT)]
    if not names:
        raise DataError(f"{path}: no class names")
    return names


@functools.lru_cache(maxsize=1)
def ntu60_class_names() -> tuple[str, ...]:
    """The 60 NTU RGB+D action names shipped with the package (index = action number - 1),
    read once per process: every NTU file read names its label from it."""
    return tuple(read_class_names(Path(str(resources.files("lang2motion.data") / NTU60_CLASSES))))


def _point_plan(layout: SkeletonLayout, points: int) -> list[tuple[int, int, Fraction]]:
    """(a, b, f) per output point: point = (1 - f) * joint[a] + f * joint[b]."""
    if points < 1:
        raise ConfigError(f"points must be >= 1, got {points}")
    plan = [(j, j, Fraction(0)) for j in layout.priority[:points]]
    level = 1
    while len(plan) < points:                    # level k: fractions j / 2^k, j odd
        denominator = 2 ** level
        for a, b in layout.bones:
            for numerator in range(1, denominator, 2):
                plan.append((a, b, Fraction(numerator, denominator)))
        level += 1
    return plan[:points]


def _resample(joints: np.ndarray, visible: np.ndarray, frames: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """(F, J, 2), (F, J) -> (T, J, 2), (T, J): linear in time, visibility from the nearest."""
    n_src = joints.shape[0]
    t = np.linspace(0.0, n_src - 1, frames) if frames > 1 else np.zeros(1)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, n_src - 1)
    w = (t - lo)[:, None, None]
    src = joints.astype(np.float64)
    out = (1.0 - w) * src[lo] + w * src[hi]
    nearest = np.minimum(np.floor(t + 0.5).astype(int), n_src - 1)   # halves round up
    return out, visible[nearest]


def skeleton_to_points(
    seq: SkeletonSequence, *, frames: int, points: int
) -> tuple[np.ndarray, np.ndarray]:
    """A skeleton as T x N point tracks: (T, N, 2) float32 in [-1, 1] and (T, N) bool.

    Frames are resampled linearly over time (first and last frames kept, visibility from the
    nearest source frame, halves rounding up); joints map to points as the module docstring
    says; coordinates are normalised by the frame size with :func:`lang2motion.geometry.normalise`.
    """
    if frames < 1:
        raise ConfigError(f"frames must be >= 1, got {frames}")
    if seq.layout not in LAYOUTS:
        raise ConfigError(f"unknown skeleton layout {seq.layout!r}, expected one of "
                          f"{sorted(LAYOUTS)}")
    spec = LAYOUTS[seq.layout]
    n_joints = len(spec.joint_names)
    if seq.joints.ndim != 3 or seq.joints.shape[1:] != (n_joints, 2) or seq.joints.shape[0] < 1:
        raise DataError(f"{seq.name}: joints of shape {seq.joints.shape}, expected "
                        f"(F >= 1, {n_joints}, 2) for layout {seq.layout!r}")
    if seq.visible.shape != seq.joints.shape[:2]:
        raise DataError(f"{seq.name}: visible of shape {seq.visible.shape}, expected "
                        f"{seq.joints.shape[:2]}")
    joints, visible = _resample(seq.joints, seq.visible.astype(bool), frames)
    plan = _point_plan(spec, points)
    a = np.array([p[0] for p in plan])
    b = np.array([p[1] for p in plan])
    f = np.array([float(p[2]) for p in plan])[None, :, None]
    tracks = (1.0 - f) * joints[:, a] + f * joints[:, b]                 # (T, N, 2)
    return normalise(tracks, seq.width, seq.height), visible[:, a] & visible[:, b]
