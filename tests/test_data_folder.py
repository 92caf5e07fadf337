"""data.source: folder -- the manifest, video decoding by timestamps, the importer, `import`.

Videos are written here with PyAV (H.264, chosen timestamps, an audio stream) so every expected
frame is known: frame i of a test video is flat grey at level GREY_STEP * i.
"""

from __future__ import annotations

import fractions
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest

from lang2motion.cli import main as cli_main
from lang2motion.config import ConfigError, load_params
from lang2motion.data.folder.importer import REASON_CLIP_SHORT, import_manifest
from lang2motion.data.folder.manifest import read_manifest
from lang2motion.data.folder.video import decode_clip, output_size
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.samples import list_samples
from lang2motion.errors import DataError
from lang2motion.images import write_png

GREY_STEP = 5
MS = fractions.Fraction(1, 1000)
SPLITS = {"train": "train", "valid": "valid_u"}


def write_video(path: Path, times: list[float], *, size=(48, 64), audio: bool = False) -> Path:
    """An H.264 MP4 whose frame i (flat grey GREY_STEP * i) is shown at ``times[i]`` seconds."""
    height, width = size
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = MS
        sound = out.add_stream("aac", rate=16000) if audio else None
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(
                np.full((height, width, 3), GREY_STEP * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), MS
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32),
                                                 format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 16000, 0
            for packet in [*sound.encode(samples), *sound.encode()]:
                out.mux(packet)
    return path


def frame_ids(frames: np.ndarray) -> list[int]:
    """The source index of each decoded flat frame, read back from its grey level."""
    return [round(float(f.mean()) / GREY_STEP) for f in frames]


def cfr(count: int, fps: float) -> list[float]:
    return [i / fps for i in range(count)]


def write_manifest(folder: Path, lines: list, name: str = "clips.jsonl") -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    (folder / name).write_text(text + "\n")
    return folder


def run_import(folder: Path, out: Path, *, frames: int = 4, fps: float = 10.0,
               max_side: int = 0) -> dict:
    return import_manifest(folder, out_root=out, split_names=SPLITS, frames=frames, fps=fps,
                           max_side=max_side)


# -- decoding --------------------------------------------------------------------------------
def test_constant_rate_video_is_resampled_by_timestamps(tmp_path):
    path = write_video(tmp_path / "a.mp4", cfr(20, 20.0))     # 1 s at 20 fps: t = 0 .. 0.95
    clip = decode_clip(path, fps=6.0, max_side=0)
    # output k shows the latest frame at or before k / 6 s: frame floor(20 k / 6)
    expected = [int(20 * k / 6 + 1e-9) for k in range(6)]    # k / 6 <= 0.95: k = 0..5
    assert expected == [0, 3, 6, 10, 13, 16]
    assert clip.source_index == expected
    assert frame_ids(clip.frames) == expected


def test_variable_frame_rate_uses_presentation_times_and_ignores_audio(tmp_path):
    times = [0.0, 0.05, 0.1, 0.4, 0.45, 0.9, 1.0]
    path = write_video(tmp_path / "vfr.mp4", times, audio=True)
    clip = decode_clip(path, fps=5.0, max_side=0)          # targets 0, .2, .4, .6, .8, 1.0
    assert clip.source_index == [0, 2, 3, 4, 4, 6]          # by count it would be 0, 1, 2, ...
    assert frame_ids(clip.frames) == [0, 2, 3, 4, 4, 6]


def test_start_frame_and_start_time_cut_the_clip(tmp_path):
    path = write_video(tmp_path / "a.mp4", cfr(20, 10.0))
    assert decode_clip(path, fps=5.0, max_side=0, start_frame=4).source_index == \
        [4, 6, 8, 10, 12, 14, 16, 18]
    assert decode_clip(path, fps=5.0, max_side=0, start_time=1.05).source_index == \
        [11, 13, 15, 17, 19]
    with pytest.raises(DataError, match="no decodable frames from start_frame 50"):
        decode_clip(path, fps=5.0, max_side=0, start_frame=50)


def test_long_side_is_capped_and_never_enlarged(tmp_path):
    path = write_video(tmp_path / "a.mp4", cfr(3, 10.0), size=(48, 64))
    assert decode_clip(path, fps=10.0, max_side=32).frames.shape == (3, 24, 32, 3)
    assert decode_clip(path, fps=10.0, max_side=640).frames.shape == (3, 48, 64, 3)
    assert output_size((480, 854), 640) == (360, 640)
    assert output_size((480, 854), 0) == (480, 854)


def test_frame_folder_uses_its_own_rate(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(10):
        write_png(folder / f"{i:05d}.png", np.full((8, 8, 3), GREY_STEP * i, np.uint8))
    clip = decode_clip(folder, fps=5.0, max_side=0, folder_fps=10.0)
    assert clip.source_index == [0, 2, 4, 6, 8]
    assert frame_ids(clip.frames) == [0, 2, 4, 6, 8]
    assert clip.source_names[4] == "00004"


# -- importing -------------------------------------------------------------------------------
@pytest.fixture
def clips(tmp_path):
    """A folder with two 2-second 20 fps clips (train, valid) and a first-frame mask."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("a", "b"):
        write_video(folder / f"{name}.mp4", cfr(40, 20.0))
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:40] = True
    write_png(folder / "a_mask.png", mask)
    return folder


def test_first_frame_region_gives_one_window_from_frame_0(clips, tmp_path):
    write_manifest(clips, [
        {"video": "a.mp4", "captions": ["grey fading in", "getting brighter"],
         "mask": "a_mask.png"},
        {"video": "a.mp4", "caption": "the right part brightens", "box": "40,5,60,40"},
        {"video": "b.mp4", "caption": "brighter and brighter", "box": [5, 5, 30, 30],
         "split": "valid"}])
    summary = run_import(clips, tmp_path / "out")
    assert summary["videos"] == {"train": 1, "valid_u": 1}
    assert summary["skipped_clips"] == []
    train = MevisSplit(tmp_path / "out", "train")
    (video_id,) = train.video_ids()
    video = train.video(video_id)
    assert len(video.frame_names) == 20                    # 2 s at 10 fps
    assert sorted(e.text for e in video.expressions) == [
        "getting brighter", "grey fading in", "the right part brightens"]
    index = list_samples(train, frames=4, window_stride=2, max_windows=0)
    # only frame 0 has a mask: one window per expression, at 0, though 9 windows would fit
    assert sorted((s.text, s.start) for s in index.samples) == [
        ("getting brighter", 0), ("grey fading in", 0), ("the right part brightens", 0)]
    box_anno = next(e.anno_ids[0] for e in video.expressions
                    if e.text == "the right part brightens")
    mask = train.object_masks(video_id, [box_anno], 0, 1)[0]
    assert mask.sum() == 21 * 36 and mask[5:41, 40:61].all()   # box pixels, edges included


def test_per_frame_masks_give_later_windows(clips, tmp_path):
    masks = clips / "masks"
    masks.mkdir()
    for i in range(0, 40, 2):            # masks on the even frames of the 20 fps source
        mask = np.zeros((48, 64), bool)
        mask[10:20, 10 + i // 2:20 + i // 2] = True
        write_png(masks / f"{i:05d}.png", mask)
    write_manifest(clips, [
        {"video": "a.mp4", "caption": "moving right", "masks": "masks"},
        {"video": "b.mp4", "caption": "brighter", "box": "1,1,20,20", "split": "valid"}])
    run_import(clips, tmp_path / "out", fps=10.0)
    train = MevisSplit(tmp_path / "out", "train")
    index = list_samples(train, frames=4, window_stride=4, max_windows=0)
    assert [s.start for s in index.samples] == [0, 4, 8, 12, 16]


def test_short_clips_are_skipped_and_listed(clips, tmp_path):
    write_video(clips / "short.mp4", cfr(5, 20.0))
    write_manifest(clips, [
        {"video": "a.mp4", "caption": "brighter", "box": "1,1,20,20"},
        {"video": "short.mp4", "caption": "too short", "box": "1,1,20,20"},
        {"video": "b.mp4", "caption": "brighter", "box": "1,1,20,20", "split": "valid"}])
    summary = run_import(clips, tmp_path / "out", frames=8)
    assert summary["skipped_by_reason"] == {REASON_CLIP_SHORT: 1}
    (skip,) = summary["skipped_clips"]
    assert skip["lines"] == [2] and skip["video"].endswith("short.mp4")
    assert skip["detail"] == "3 frames at 10 fps, data.frames is 8"


def test_csv_manifest_and_shared_object_ids(clips, tmp_path):
    (clips / "clips.csv").write_text(
        "video,caption,box,split,object\n"
        'a.mp4,moving nowhere,"1,1,20,20",,dog\n'
        "a.mp4,the dog stays,,,dog\n"
        'b.mp4,brighter,"1,1,20,20",valid,\n')
    run_import(clips, tmp_path / "out")
    train = MevisSplit(tmp_path / "out", "train")
    (video_id,) = train.video_ids()
    exps = train.video(video_id).expressions
    assert len(exps) == 2 and exps[0].anno_ids == exps[1].anno_ids


def test_env_var_in_a_path_is_expanded(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("L2M_TEST_CLIPS", str(clips))
    elsewhere = tmp_path / "manifest"
    elsewhere.mkdir()
    write_manifest(elsewhere, [
        {"video": "${L2M_TEST_CLIPS}/a.mp4", "caption": "x", "box": "1,1,20,20"},
        {"video": "$L2M_TEST_CLIPS/b.mp4", "caption": "x", "box": "1,1,20,20",
         "split": "valid"}])
    assert read_manifest(elsewhere).lines[0].video == (clips / "a.mp4").resolve()
    monkeypatch.delenv("L2M_TEST_CLIPS")
    with pytest.raises(DataError, match=r"line 1: video .*L2M_TEST_CLIPS.*not set"):
        read_manifest(elsewhere)


# -- bad input: one paragraph naming the manifest line ------------------------------------------
VALID_B = {"video": "b.mp4", "caption": "brighter", "box": "1,1,20,20", "split": "valid"}
BAD_LINES = {
    "missing video": ({"video": "nowhere.mp4", "caption": "x", "box": "1,1,9,9"},
                      r"line 1: video .*nowhere\.mp4 not found"),
    "unreadable video": ({"video": "junk.mp4", "caption": "x", "box": "1,1,9,9"},
                         r"line 1: .*junk\.mp4: unreadable video"),
    "no decodable frames": ({"video": "empty_frames", "caption": "x", "box": "1,1,9,9"},
                            r"line 1: .*empty_frames: no decodable frames"),
    "mask size differs": ({"video": "a.mp4", "caption": "x", "mask": "small_mask.png"},
                          r"line 1: mask .*small_mask\.png.*mask size 10x10 .*differs from "
                          r"the image size 48x64"),
    "box outside the frame": ({"video": "a.mp4", "caption": "x", "box": "100,100,120,120"},
                              r"line 1: box \(100.*covers no pixel"),
    "empty caption": ({"video": "a.mp4", "caption": "  ", "box": "1,1,9,9"},
                      r"line 1: empty caption"),
    "clicks without SAM": ({"video": "a.mp4", "caption": "x", "points": "5,5"},
                           r"line 1: points .*needs SAM.*\[sam\]"),
    "bad split": ({"video": "a.mp4", "caption": "x", "box": "1,1,9,9", "split": "test"},
                  r"line 1: split must be train or valid, got 'test'"),
    "no region": ({"video": "a.mp4", "caption": "x"}, r"line 1: no object region"),
    "bad box": ({"video": "a.mp4", "caption": "x", "box": "1,1,9"},
                r"line 1: box must be x0,y0,x1,y1"),
    "unknown key": ({"video": "a.mp4", "caption": "x", "box": "1,1,9,9", "caption_2": "y"},
                    r"line 1: unknown key\(s\) caption_2"),
    "invalid JSON": ('{"video": "a.mp4", "caption": "x",', r"line 1: not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_lines_are_refused_naming_the_line(case, clips, tmp_path):
    line, message = BAD_LINES[case]
    (clips / "junk.mp4").write_bytes(b"not a video at all" * 10)
    (clips / "empty_frames").mkdir()
    write_png(clips / "small_mask.png", np.ones((10, 10), bool))
    write_manifest(clips, [line, VALID_B])
    with pytest.raises(DataError, match=message) as info:
        run_import(clips, tmp_path / "out")
    assert "clips.jsonl" in str(info.value)
    assert not (tmp_path / "out" / "train").exists() or case in (
        "box outside the frame", "clicks without SAM", "mask size differs")


def test_duplicate_clip_object_caption_names_both_lines(clips, tmp_path):
    line = {"video": "a.mp4", "caption": "brighter", "box": "1,1,20,20"}
    write_manifest(clips, [line, VALID_B, dict(line, caption="Brighter ")])
    with pytest.raises(DataError, match=r"line 3: duplicate \(clip, object, caption\).*"
                                        r"already on line 1"):
        read_manifest(clips)


def test_csv_with_missing_columns_is_refused(clips):
    (clips / "clips.csv").write_text("video,box\na.mp4,\"1,1,9,9\"\n")
    with pytest.raises(DataError, match=r"clips\.csv, line 1: missing column\(s\) caption"):
        read_manifest(clips)


def test_no_train_clips_is_refused(clips, tmp_path):
    write_manifest(clips, [VALID_B])
    with pytest.raises(DataError, match="no train clips"):
        read_manifest(clips)


def test_every_train_clip_too_short_is_refused(clips, tmp_path):
    write_manifest(clips, [{"video": "a.mp4", "caption": "x", "box": "1,1,9,9"}, VALID_B])
    with pytest.raises(DataError, match=r"no train clips left .*lines \[1\] \(20 frames"):
        run_import(clips, tmp_path / "out", frames=25)


def test_no_manifest_in_the_folder(tmp_path):
    with pytest.raises(DataError, match="expected exactly one manifest, found none"):
        read_manifest(tmp_path)


def test_points_go_through_sam_when_a_checkpoint_is_given(clips, tmp_path, make_sam_checkpoint):
    checkpoint = make_sam_checkpoint(tmp_path / "sam_vit_tiny.pth", full=True)
    write_manifest(clips, [{"video": "a.mp4", "caption": "x", "points": [[10, 10]]}, VALID_B])
    import_manifest(clips, out_root=tmp_path / "out", split_names=SPLITS, frames=4, fps=10.0,
                    max_side=0, sam_checkpoint=checkpoint)
    train = MevisSplit(tmp_path / "out", "train")
    (video_id,) = train.video_ids()
    assert train.object_masks(video_id, ["1"], 0, 1)[0].all()          # the tiny SAM's full mask


# -- parameters and the command ---------------------------------------------------------------
def test_folder_parameters_are_validated(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("data:\n  source: folder\n  folder:\n    fps: 0\n")
    with pytest.raises(ConfigError, match=r"data\.folder\.fps must be > 0"):
        load_params(params, "data")
    params.write_text("data:\n  source: folder\n  folder:\n    root: ''\n")
    with pytest.raises(ConfigError, match=r"data\.folder\.root must name a folder"):
        load_params(params, "data")


def test_import_command_writes_a_new_folder_once(clips, tmp_path, capsys):
    write_manifest(clips, [{"video": "a.mp4", "caption": "x", "box": "1,1,9,9"}, VALID_B])
    out = tmp_path / "imported"
    assert cli_main(["import", str(clips), "--out", str(out), "--frames", "4"]) == 0
    assert "data.mevis.root=" in capsys.readouterr().out
    assert MevisSplit(out, "valid_u").video_ids()
    assert json.loads((out / "import_summary.json").read_text())["videos"] == \
        {"train": 1, "valid_u": 1}
    assert cli_main(["import", str(clips), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


# -- the example on the real clips ---------------------------------------------------------------
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_videos"


def test_the_example_manifest_imports_the_real_clips(tmp_path, monkeypatch):
    real = os.environ.get("LANG2MOTION_REAL_DATA")
    if not real:
        pytest.skip("LANG2MOTION_REAL_DATA is not set")
    monkeypatch.setenv("LANG2MOTION_REAL_DATA", str(Path(real).resolve()))
    summary = run_import(EXAMPLE, tmp_path / "out", frames=12, fps=6.0, max_side=320)
    assert summary["skipped_clips"] == []
    for split in SPLITS.values():
        opened = MevisSplit(tmp_path / "out", split)
        index = list_samples(opened, frames=12, window_stride=6, max_windows=0)
        assert index.samples, split
        for video_id in opened.video_ids():
            assert max(opened.frame_size(video_id)) == 320


def test_prepare_stage_imports_a_folder_and_lists_skipped_clips(clips, tmp_path):
    from lang2motion.config import DataConfig, FolderConfig
    from lang2motion.stages import prepare

    write_video(clips / "short.mp4", cfr(5, 20.0))
    write_manifest(clips, [{"video": "a.mp4", "caption": "x", "box": "1,1,9,9"},
                           {"video": "short.mp4", "caption": "y", "box": "1,1,9,9"}, VALID_B])
    data = DataConfig(source="folder", frames=8, window_stride=4,
                      folder=FolderConfig(root=str(clips), fps=10.0, max_side=32))
    summary = prepare.run_stage(data=data, out_dir=tmp_path / "raw",
                          summary_path=tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["source"] == "folder"
    assert summary["splits"]["train"]["videos"] == 1
    assert summary["splits"]["train"]["samples"] == 1
    assert summary["splits"]["valid_u"]["frames"] == 20
    assert [c["lines"] for c in summary["generated"]["skipped_clips"]] == [[2]]
    assert MevisSplit(tmp_path / "raw", "train").frame_size(
        MevisSplit(tmp_path / "raw", "train").video_ids()[0]) == (24, 32)
    assert "lines [2]: clip shorter" in prepare.summary_lines(summary)[-1]


def test_the_importer_imports_no_app():
    """Layers: the apps import the data layer, never the reverse (regions live below both)."""
    from lang2motion.codedeps import PACKAGE_DIR, module_files

    apps = PACKAGE_DIR / "apps"
    imported = module_files("lang2motion.data.folder.importer")
    assert not [f for f in imported if apps in f.parents]
