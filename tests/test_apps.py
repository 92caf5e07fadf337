"""Every verb of the `lang2motion` command and the Python API, on a tiny trained checkpoint.

Outputs exist, follow the documented schema and round-trip through the readers; interpolation's
ends equal decoding each end alone; editing with --from == --to reconstructs; a box or SAM gives
the grid's region; bad input is one clear error, no traceback, nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
from support.features import FeatureSample, write_feature_shard

from lang2motion import Lang2MotionModel
from lang2motion.cli import main
from lang2motion.data.mevis.layout import FRAME_EXT
from lang2motion.images import read_mask
from lang2motion.store import shard_name
from lang2motion.trajectory import SCHEMA, Trajectory, read_trajectory

T, GRID, DIM = 6, 3, 32          # the tiny_checkpoint of conftest.py (L2M-Tiny: 32)
W, H = 64, 48


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


@pytest.fixture(scope="module")
def model(checkpoint) -> Lang2MotionModel:
    return Lang2MotionModel.load(checkpoint, device="cpu")


def _mask_png(path: Path) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[10:40, 20:50] = 255
    cv2.imwrite(str(path), mask)
    return mask > 0


def _image(path: Path) -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    cv2.imwrite(str(path), image[:, :, ::-1])
    return image


def _cli(args: list[str], checkpoint: Path, capsys) -> tuple[int, str, str]:
    code = main([*args, "--model", str(checkpoint)])
    out, err = capsys.readouterr()
    return code, out, err


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- generate ---------------------------------------------------------------------------------
def test_generate_writes_each_prompts_group_in_the_documented_schema(checkpoint, tmp_path,
                                                                     capsys):
    mask = _mask_png(tmp_path / "mask.png")
    out = tmp_path / "gen"
    code, stdout, err = _cli(["generate", "a red ball, moving left", "a red ball moving left",
                              "--mask", str(tmp_path / "mask.png"), "--out", str(out)],
                             checkpoint, capsys)
    assert code == 0, err
    jsons = sorted(out.glob("*.json"))
    assert len(jsons) == 2                       # punctuation alone gives a distinct file
    for path in jsons:
        data = json.loads(path.read_text())
        assert data["schema"] == SCHEMA and (data["width"], data["height"]) == (W, H)
        assert np.shape(data["tracks_px"]) == (T, GRID * GRID, 2)
        trajectory = read_trajectory(path)       # round trip
        np.testing.assert_allclose(trajectory.tracks_px, data["tracks_px"], atol=0.01)
        x, y = np.round(trajectory.tracks_px[0]).astype(int).T
        assert mask[y, x].all()                  # the grid starts on the mask
        group = path.with_suffix("")
        frames = iio.imread(f"{group}.gif")      # a GIF that decodes
        assert frames.ndim == 4 and len(frames) >= 2
        assert iio.imread(f"{group}.png").ndim == 3
        np.testing.assert_array_equal(read_mask(f"{group}.mask.png"), mask)
    assert "a centred disc" not in stdout and "mask file" in stdout


def test_generate_never_overwrites_unless_asked(checkpoint, tmp_path, capsys):
    out = tmp_path / "gen"
    assert _cli(["generate", "moving up", "--out", str(out)], checkpoint, capsys)[0] == 0
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    code, _, err = _cli(["generate", "moving up", "moving down", "--out", str(out)],
                        checkpoint, capsys)
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before   # nothing touched
    assert _cli(["generate", "moving up", "--out", str(out), "--overwrite"], checkpoint,
                capsys)[0] == 0


def test_generate_from_a_box_on_an_image_and_the_other_modalities(checkpoint, tmp_path,
                                                                  capsys):
    _image(tmp_path / f"frame{FRAME_EXT}")
    image = str(tmp_path / f"frame{FRAME_EXT}")
    out = tmp_path / "gen"
    code, stdout, err = _cli(["generate", "a ball moving right", "--image", image, "--box",
                              "10,8,40,30", "--out", str(out)], checkpoint, capsys)
    assert code == 0, err and "rectangle from box" in stdout
    [saved] = out.glob("*.mask.png")
    ys, xs = np.nonzero(read_mask(saved))
    assert xs.min() >= 10 and xs.max() <= 40 and ys.min() >= 8 and ys.max() <= 30
    [trajectory] = [read_trajectory(p) for p in out.glob("*.json")]
    assert trajectory.source["kind"] == "text"
    code, _, err = _cli(["generate", "--from-image", "--image", image, "--out", str(out)],
                        checkpoint, capsys)
    assert code == 0, err
    [first] = sorted(out.glob("a_ball*.json"))
    code, _, err = _cli(["generate", "--from-overlay", str(first), "--image", image, "--out",
                         str(out)], checkpoint, capsys)
    assert code == 0, err
    kinds = sorted(read_trajectory(p).source["kind"] for p in out.glob("*.json"))
    assert kinds == ["image", "overlay", "text"]


def test_generate_through_sam_when_installed(checkpoint, tmp_path, capsys,
                                             make_sam_checkpoint):
    sam = make_sam_checkpoint(tmp_path / "sam.pth", full=True)
    _image(tmp_path / "frame.png")
    code, stdout, err = _cli(["generate", "moving left", "--image", str(tmp_path / "frame.png"),
                              "--point", "30,20", "--sam-checkpoint", sam,
                              "--sam-kind", "vit_tiny", "--out",
                              str(tmp_path / "gen")], checkpoint, capsys)
    assert code == 0, err
    assert "SAM" in stdout and list((tmp_path / "gen").glob("*.mask.png"))


@pytest.mark.parametrize(("args", "named"), [
    (["generate", ""], "prompt 1 is empty"),
    (["generate", "x", "--box", "100,100,200,200", "--image", "IMAGE"], "box"),
    (["generate", "x", "--point", "5,5", "--image", "IMAGE"], "[sam]"),
    (["generate", "x", "--image", "BROKEN"], "frame.jpg"),
    (["generate", "x", "--mask", "NOPE"], "nope.png"),
    (["generate", "x", "--size", "0", "10"], "--size"),
    (["generate", "--from-image"], "--from-image needs --image"),
    (["edit", "NOT_JSON", "--from", "a", "--to", "b"], "not.json"),
    (["classify", "NOPE", "--classes", "a"], "nope.png"),
    (["classify", "NOT_JSON"], "give class names"),
    (["interpolate", "a", "b", "--steps", "1"], "--steps must be a whole number from 2"),
    (["retrieve", "x", "--source", "EMPTY"], "no feature shards"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(checkpoint, tmp_path, capsys, args,
                                                         named):
    _image(tmp_path / "frame.png")
    (tmp_path / "frame.jpg").write_bytes(cv2.imencode(".jpg", np.zeros((H, W, 3), np.uint8))[1]
                                         .tobytes()[:200])                 # truncated JPEG
    (tmp_path / "not.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    swap = {"IMAGE": str(tmp_path / "frame.png"), "BROKEN": str(tmp_path / "frame.jpg"),
            "NOPE": str(tmp_path / "nope.png"), "NOT_JSON": str(tmp_path / "not.json"),
            "EMPTY": str(tmp_path / "empty")}
    out = tmp_path / "out"
    code, _, err = _cli([swap.get(a, a) for a in args] + ["--out", str(out)]
                        if args[0] in ("generate", "edit", "interpolate", "retrieve")
                        else [swap.get(a, a) for a in args], checkpoint, capsys)
    assert code == 2
    assert err.startswith("lang2motion: error:") and named in err, err
    assert "Traceback" not in err
    assert _files(out) == []


# -- retrieve, interpolate, edit, classify, recognize ------------------------------------------
def test_retrieve_from_trajectory_files_and_feature_shards(checkpoint, model, tmp_path,
                                                           capsys):
    gen = tmp_path / "gen"
    assert _cli(["generate", "moving left", "moving right", "spinning", "--out", str(gen)],
                checkpoint, capsys)[0] == 0
    code, stdout, err = _cli(["retrieve", "moving left", "--source", str(gen), "--k", "2",
                              "--out", str(tmp_path / "r"), "--json"], checkpoint, capsys)
    assert code == 0, err
    ranking = json.loads(next((tmp_path / "r").glob("*.json")).read_text())
    assert len(ranking["results"]) == 2 and ranking["results"][0]["rank"] == 1
    assert list((tmp_path / "r").glob("*.png"))
    shards = tmp_path / "features"
    rng = np.random.default_rng(0)
    samples = []
    for i in range(4):
        if i % 2 == 0:     # captions 2k and 2k + 1 share one trajectory
            tracks = rng.uniform(-0.5, 0.5, (T, GRID * GRID, 2)).astype(np.float32)
            image = rng.normal(size=(T, DIM)).astype(np.float32)
        samples.append(FeatureSample(
            sample_id=f"v/1/00000/{i}", video_id="v", exp_id=str(i), text=f"caption {i}",
            track_id=f"v/1/0000{i // 2}", motion_kind="", template_id=-1, tags={}, start=0,
            width=W, height=H, tracks=tracks, visible=np.ones((T, GRID * GRID), bool),
            text_emb=rng.normal(size=DIM).astype(np.float32), image_emb=image,
            image_emb_pooled=image.mean(0), clip_model="L2M-Tiny", clip_pretrained="none"))
    write_feature_shard(shards / shard_name(0), samples, frames=T, points=GRID * GRID, dim=DIM)
    code, stdout, err = _cli(["retrieve", "caption", "--source", str(shards), "--k", "5",
                              "--out", str(tmp_path / "r2")], checkpoint, capsys)
    assert code == 0, err
    assert stdout.count("v/1/0000") == 2         # one entry per trajectory, not per caption


def test_interpolation_ends_equal_decoding_each_end_alone(model):
    mask = np.zeros((H, W), bool)
    mask[10:40, 20:50] = True
    steps = model.interpolate("moving left", "spinning fast", steps=4, mask=mask)
    alone = model.generate(["moving left", "spinning fast"], mask=mask)
    assert len(steps) == 4
    np.testing.assert_allclose(steps[0].tracks, alone[0].tracks, atol=1e-5)
    np.testing.assert_allclose(steps[-1].tracks, alone[1].tracks, atol=1e-5)
    assert not np.allclose(steps[1].tracks, steps[0].tracks)


def test_editing_with_the_same_text_returns_the_reconstruction(model):
    [trajectory] = model.generate(["moving left"])
    edited = model.edit(trajectory, "moving up", "moving up")
    [reconstruction] = model.decode_from_grids(model.encode([trajectory]),
                                               trajectory.grid[None], width=trajectory.width,
                                               height=trajectory.height)
    np.testing.assert_allclose(edited.tracks, reconstruction.tracks, atol=1e-5)
    assert not np.allclose(model.edit(trajectory, "moving up", "spinning").tracks,
                           reconstruction.tracks)


def test_interpolate_edit_and_classify_commands(checkpoint, tmp_path, capsys):
    gen = tmp_path / "gen"
    assert _cli(["generate", "moving left", "--out", str(gen)], checkpoint, capsys)[0] == 0
    [source] = gen.glob("*.json")
    out = tmp_path / "out"
    code, _, err = _cli(["interpolate", "moving right", str(source), "--steps", "3", "--out",
                         str(out), "--format", "mp4"], checkpoint, capsys)
    assert code == 0, err
    steps = sorted(out.glob("interpolate-*.step*.json"))
    assert len(steps) == 3 and all(isinstance(read_trajectory(p), Trajectory) for p in steps)
    assert list(out.glob("interpolate-*.strip.png")) and list(out.glob("interpolate-*.mp4"))
    code, _, err = _cli(["edit", str(source), "--from", "moving left", "--to", "moving right",
                         "--out", str(out)], checkpoint, capsys)
    assert code == 0, err
    [edited] = out.glob("edit-*.json")
    assert read_trajectory(edited).source == {"kind": "edit", "of": "moving left",
                                              "from": "moving left", "to": "moving right"}
    code, stdout, err = _cli(["classify", str(gen), "--classes", "moving left", "spinning",
                              "bouncing", "--k", "2", "--json"], checkpoint, capsys)
    assert code == 0, err
    result = json.loads(stdout[stdout.index("["):])
    assert len(result) == 1 and len(result[0]["classes"]) == 2
    assert {name for name, _ in result[0]["classes"]} <= {"moving left", "spinning",
                                                          "bouncing"}


def _ntu_file(path: Path, frames: int) -> None:
    """A minimal NTU RGB+D .skeleton file: one body of 25 joints walking right."""
    lines = [str(frames)]
    for f in range(frames):
        lines += ["1", " ".join(["72057594037931101"] + ["0"] * 9), "25"]
        for j in range(25):
            x, y = 900 + 10 * f + 5 * j, 300 + 20 * j
            lines.append(f"0 0 3 0 0 {x} {y} 0 0 0 0 2")
    path.write_text("\n".join(lines) + "\n")


def test_recognize_a_folder_of_skeletons_against_a_class_file(checkpoint, tmp_path, capsys):
    folder = tmp_path / "ntu"
    folder.mkdir()
    _ntu_file(folder / "S001C001P001R001A002.skeleton", 12)
    _ntu_file(folder / "S001C001P001R001A001.skeleton", 9)
    classes = tmp_path / "classes.txt"
    classes.write_text("drink water\neat meal\n# a comment\nbrushing teeth\n")
    save = tmp_path / "result.json"
    code, stdout, err = _cli(["recognize", str(folder), "--classes-file", str(classes), "--k",
                              "2", "--save", str(save)], checkpoint, capsys)
    assert code == 0, err
    result = json.loads(save.read_text())
    assert result["files"] == 2 and result["labelled"] == 2 and result["classes"] == 3
    assert result["chance_top1"] == pytest.approx(1 / 3)
    assert {p["true"] for p in result["predictions"]} == {"drink water", "eat meal"}
    assert "top-1" in stdout


def test_info_and_help(checkpoint, capsys):
    assert main(["info", "--model", str(checkpoint)]) == 0
    assert json.loads(capsys.readouterr().out)["grid"]["size"] == GRID
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for verb in ("generate", "retrieve", "interpolate", "edit", "classify", "recognize"):
        assert verb in text
