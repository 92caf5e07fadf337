"""Synthetic MeViS-format data set: layout, determinism, captions and exact ground truth."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.synth.captions import TEMPLATES
from lang2motion.data.synth.generate import generate_synthetic, video_id_for
from lang2motion.data.synth.motion import MOTION_KINDS, MOVING_KINDS, SPEEDS, motion_for
from lang2motion.data.synth.sprites import sprite_support
from lang2motion.data.synth.truth import SIDECAR_NAME, SynthGroundTruth
from lang2motion.errors import DataError

SPLITS = {"train": 5, "valid_u": 3}
FRAMES, HEIGHT, WIDTH, SEED = 12, 96, 128, 3


def _generate(root: Path, seed: int = SEED) -> dict:
    return generate_synthetic(root, splits=SPLITS, train_split="train",
        video_frames=FRAMES, height=HEIGHT,
                              width=WIDTH, seed=seed)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth")
    return root, _generate(root)


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_reading(generated: tuple[Path, dict]) -> None:
    root, summary = generated
    for split, count in SPLITS.items():
        assert summary["splits"][split]["videos"] == count
        reader = MevisSplit(root, split)
        assert reader.has_masks and len(reader) == count
        assert reader.video_ids() == sorted(video_id_for(SEED, split, i) for i in range(count))
        expressions = 0
        for video in reader:
            assert len(video.video_id) == 12 and int(video.video_id, 16) >= 0
            assert video.frame_names == tuple(f"{i:05d}" for i in range(FRAMES))
            assert reader.frame_size(video.video_id) == (HEIGHT, WIDTH)
            frames = reader.read_frames(video.video_id)
            assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
            assert frames.std() > 10, "textured frames expected"
            objects = {a for e in video.expressions for a in e.anno_ids}
            assert 1 <= len(objects) <= 3
            assert len(video.expressions) >= 2 * len(objects)
            presence = reader.object_presence(video.video_id, sorted(objects))
            assert presence[0].all(), "every object is visible at frame 0"
            expressions += len(video.expressions)
        assert summary["splits"][split]["expressions"] == expressions
        # anno ids are unique integer strings across the split
        masks = json.loads((root / split / "mask_dict.json").read_text())
        assert all(k.isdigit() for k in masks)
        assert len(masks) == summary["splits"][split]["objects"]
        # null exactly where nothing of the object is visible (never an empty RLE)
        assert all(e is None or e["counts"] for seq in masks.values() for e in seq)


def test_masks_are_visible_regions_and_disjoint(generated: tuple[Path, dict]) -> None:
    root, _ = generated
    reader = MevisSplit(root, "train")
    for video in reader:
        objects = sorted({a for e in video.expressions for a in e.anno_ids})
        stacked = np.stack([reader.object_masks(video.video_id, [a]) for a in objects])
        assert stacked.sum(axis=0).max() <= 1, "visible masks of different objects overlap"


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path,
                                                            generated: tuple[Path, dict]) -> None:
    root, summary = generated
    again = _generate(tmp_path / "again")
    assert again == summary
    assert _hashes(tmp_path / "again") == _hashes(root)
    other = tmp_path / "other"
    generate_synthetic(other, splits={"train": 1}, train_split="train",
        video_frames=FRAMES, height=HEIGHT,
                       width=WIDTH, seed=SEED + 1)
    train_a = _hashes(root / "train")
    assert _hashes(other / "train")["meta_expressions.json"] != train_a["meta_expressions.json"]


def test_existing_split_is_refused(generated: tuple[Path, dict]) -> None:
    root, _ = generated
    with pytest.raises(DataError, match="already exists"):
        _generate(root)


def _templates_by_phrasing(root: Path, split: str) -> dict[str | None, list[int]]:
    truth = SynthGroundTruth.load(root / split)
    out: dict[str | None, list[int]] = {}
    for video_id in list(truth.data["videos"]):
        for exp_id in truth.data["videos"][video_id]["expressions"]:
            phrasing = truth.tags(video_id, exp_id).get("phrasing")
            out.setdefault(phrasing, []).append(truth.template_id(video_id, exp_id))
    return out


@pytest.fixture(scope="module")
def covering(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A train split long enough to caption every moving kind (the kind schedule cycles)."""
    root = tmp_path_factory.mktemp("covering")
    generate_synthetic(root, splits={"train": len(MOVING_KINDS), "valid_u": 8},
                       train_split="train", video_frames=4, height=96, width=128, seed=SEED)
    return root


def test_phrasing_tags_seen_templates_occur_in_train_unseen_never(covering: Path) -> None:
    root = covering
    train = _templates_by_phrasing(root, "train")
    valid = _templates_by_phrasing(root, "valid_u")
    assert set(train) == {None}                        # train expressions carry no phrasing
    assert set(valid) == {"seen", "unseen"}            # every valid expression is tagged
    used_in_train = set(train[None])
    assert set(valid["seen"]) <= used_in_train         # seen: a template train uses
    assert not set(valid["unseen"]) & used_in_train    # unseen: never in train
    assert all(TEMPLATES[t].group == "valid" for t in valid["unseen"])
    total = len(valid["seen"]) + len(valid["unseen"])
    for phrasing in ("seen", "unseen"):                # at least 40% of each
        assert len(valid[phrasing]) / total >= 0.4, (phrasing, len(valid[phrasing]), total)
    # and by construction: every kind has templates for both groups, disjoint
    for kind in MOTION_KINDS:
        train_patterns = {t.pattern for t in TEMPLATES if t.kind == kind and t.group == "train"}
        valid_patterns = {t.pattern for t in TEMPLATES if t.kind == kind and t.group == "valid"}
        assert len(train_patterns) >= 3 and len(valid_patterns) >= 2
        assert not train_patterns & valid_patterns


def test_captions_match_the_recorded_motion(generated: tuple[Path, dict]) -> None:
    root, _ = generated
    reader = MevisSplit(root, "train")
    truth = SynthGroundTruth.load(root / "train")
    for video in reader:
        for exp in video.expressions:
            kind = truth.motion_kind(video.video_id, exp.exp_id)
            template = TEMPLATES[truth.template_id(video.video_id, exp.exp_id)]
            assert template.kind == kind and template.group == "train"
            fixed = template.pattern.split("{np}")[1].split("{")[0].strip()
            assert fixed in exp.text, (exp.text, template.pattern)
            objects = truth.objects(video.video_id)
            assert all(objects[a]["motion_kind"] == kind for a in exp.anno_ids)
            if len(exp.anno_ids) == 1:
                obj = objects[exp.anno_ids[0]]
                assert obj["colour"] in exp.text or exp.text.startswith("the ")


def test_at_least_twelve_motion_kinds_with_the_right_motion() -> None:
    assert len(MOTION_KINDS) >= 12
    rng = np.random.default_rng(0)
    frames, height, width = 32, 192, 256

    def run(kind: str, **kw):
        return motion_for(kind, rng, frames, height, width, speed="medium", **kw)

    v = SPEEDS["medium"] * min(height, width)
    m = run("moving_left")
    np.testing.assert_allclose(m.dx, -v * np.arange(frames))
    assert not m.dy.any() and not m.angle.any()
    assert run("moving_up").dy[-1] == pytest.approx(-v * (frames - 1))
    m = run("moving_diagonally", direction="down_right")
    assert m.dx[-1] == pytest.approx(m.dy[-1]) and m.dx[-1] > 0
    # clockwise on screen (y down) = increasing polar angle about the circle's centre
    for kind, sign in (("circling_clockwise", 1), ("circling_counterclockwise", -1)):
        m = run(kind)
        cx, cy = m.dx - m.dx.mean(), m.dy - m.dy.mean()
        cross = cx[:-1] * cy[1:] - cy[:-1] * cx[1:]
        assert np.sign(cross).mean() == pytest.approx(sign)
    m = run("spinning", direction="cw")
    assert not m.dx.any() and m.angle[-1] > 1.0 and m.rotates
    m = run("bouncing", direction="right")
    assert m.dx[-1] > 0 and (np.diff(np.sign(np.diff(m.dy))) != 0).sum() >= 2
    m = run("jumping")
    assert m.dy.max() == 0 and m.dy.min() < -0.1 * height
    m = run("zigzag", direction="left")
    assert m.dx[-1] < 0 and (np.diff(np.sign(np.diff(m.dy))) != 0).sum() >= 4
    m = run("speeding_up", direction="right")
    assert np.all(np.diff(np.diff(m.dx)) > 0)
    m = run("slowing_down", direction="left")
    step = np.abs(np.diff(m.dx))
    assert step[0] > step[5] > 0 and step[-1] == 0
    assert np.all(np.diff(run("approaching").scale) > 0)
    assert np.all(np.diff(run("receding").scale) < 0)
    m = run("shaking")
    assert np.abs(m.dx).max() < 6 and (np.diff(np.sign(np.diff(m.dx))) != 0).sum() >= 4
    m = run("standing_still")
    assert not m.dx.any() and not m.dy.any() and np.ptp(m.scale) == 0


def test_sprite_support_is_centred() -> None:
    for shape in ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross"):
        for size in (40, 41):
            s = sprite_support(shape, size)
            assert s.dtype == np.uint8 and s.sum() > 0.2 * size * size
            # an empty border: the 3x3-dilated support used for occluders fits in the sprite
            assert not (s[0].any() or s[-1].any() or s[:, 0].any() or s[:, -1].any())
    circle = sprite_support("circle", 41)
    ys, xs = np.nonzero(circle)
    assert xs.mean() == pytest.approx(20, abs=0.1) and ys.mean() == pytest.approx(20, abs=0.1)


def test_point_tracks_stay_inside_the_mask_where_visible(generated: tuple[Path, dict]) -> None:
    root, _ = generated
    rng = np.random.default_rng(7)
    checked = 0
    for split in SPLITS:
        reader = MevisSplit(root, split)
        truth = SynthGroundTruth.load(root / split)
        for video in reader:
            for exp in video.expressions:
                t0 = int(rng.integers(0, FRAMES))
                masks = reader.object_masks(video.video_id, exp.anno_ids)
                ys, xs = np.nonzero(masks[t0])
                if not len(xs):
                    continue
                pick = rng.integers(0, len(xs), 60)
                points = np.stack([xs[pick], ys[pick]], 1) + rng.uniform(-0.45, 0.45, (60, 2))
                tracks, visible = truth.point_tracks(video.video_id, exp.anno_ids, points, t0)
                assert tracks.shape == (FRAMES, 60, 2) and tracks.dtype == np.float32
                assert visible.shape == (FRAMES, 60) and visible.dtype == bool
                np.testing.assert_allclose(tracks[t0], points, atol=1e-3)
                px = np.floor(tracks + 0.5).astype(int)
                for t in range(FRAMES):
                    on = visible[t]
                    assert masks[t][px[t, on, 1], px[t, on, 0]].all(), (video.video_id, t)
                    checked += int(on.sum())
    assert checked > 10_000


def test_point_tracks_golden_and_interior_points_visible(tmp_path: Path) -> None:
    generate_synthetic(tmp_path, splits={"train": 4}, train_split="train",
        video_frames=FRAMES, height=HEIGHT,
                       width=WIDTH, seed=11)
    truth = SynthGroundTruth.load(tmp_path / "train")
    for video_id in list(truth.data["videos"]):
        for anno_id, obj in truth.objects(video_id).items():
            affine = np.asarray(obj["affine"])
            size = obj["sprite_size"][0]
            centre = (size - 1) / 2.0
            # the sprite centre maps to A_t @ [c, c, 1]
            want = affine[:, :, :2] @ np.array([centre, centre]) + affine[:, :, 2]
            start = want[0][None]
            tracks, visible = truth.point_tracks(video_id, [anno_id], start, 0)
            np.testing.assert_allclose(tracks[:, 0], want, atol=1e-3)
            scale = math.hypot(affine[0, 0, 0], affine[0, 1, 0])
            assert scale >= 0.75
            nearer = [o for o in truth.objects(video_id).values() if o["depth"] < obj["depth"]]
            if not nearer:
                assert visible[0, 0], "an unoccluded sprite centre is visible"


def test_point_not_on_the_objects_is_an_error(generated: tuple[Path, dict]) -> None:
    root, _ = generated
    truth = SynthGroundTruth.load(root / "train")
    video_id = list(truth.data["videos"])[0]
    anno_id = next(iter(truth.objects(video_id)))
    with pytest.raises(DataError, match="lies on none of the objects"):
        truth.point_tracks(video_id, [anno_id], np.array([[-50.0, -50.0]]), 0)


def test_sidecar_records_every_object_and_expression(generated: tuple[Path, dict]) -> None:
    root, _ = generated
    data = json.loads((root / "valid_u" / SIDECAR_NAME).read_text())
    assert data["role"] == "evaluation" and data["frames"] == FRAMES
    for video in data["videos"].values():
        depths = [o["depth"] for o in video["objects"].values()]
        assert sorted(depths) == list(range(len(depths)))
        for obj in video["objects"].values():
            assert np.asarray(obj["affine"]).shape == (FRAMES, 2, 3)
            assert {"shape", "colour", "sprite_size", "sprite_support", "motion_kind"} <= set(obj)
        for exp in video["expressions"].values():
            assert exp["split"] == "valid_u" and exp["motion_kind"] in MOTION_KINDS
