"""Bad input everywhere: one clear error, exit status 2, no traceback, nothing written.

Every case runs an entry point in-process under the error contract of lang2motion.entry (a stage
script's ``main`` through ``run``, or ``lang2motion.cli.main``) on a tiny workspace with one
fault, then checks that:

- the exit status is 2 (argparse's own usage errors: ``SystemExit(2)``);
- stderr, progress bars aside, is exactly one ``<prog>: error: ...`` paragraph that names the
  culprit (file, sample, parameter or option), without a traceback;
- no file under the workspace was created, removed or rewritten (names, sizes and mtimes).

Groups: parameters, MeViS data, shards and tracks tables, checkpoints, the CLI; then the two
ways to ask for the traceback (``--debug``, ``LANG2MOTION_DEBUG=1``) and one real process.
"""

from __future__ import annotations

import errno
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from support.features import FeatureSample, write_feature_shard
from support.mevis import write_split

from lang2motion.apps.outputs import stem
from lang2motion.cli import main as cli_main
from lang2motion.data.mevis.layout import Expression, VideoRecord
from lang2motion.data.mevis.rle import encode_rle
from lang2motion.data.splits import MANIFEST_NAME
from lang2motion.entry import DEBUG_ENV, run_with_error_contract
from lang2motion.errors import ConfigError, DataError, Lang2MotionError
from lang2motion.model import Lang2Motion, ModelConfig
from lang2motion.model.checkpoint import save_model
from lang2motion.store import TrackRow, shard_name, tracks_path, write_tracks

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("train", "valid_u")
H, W, VIDEO_FRAMES = 12, 16, 10      # MeViS frames
T, GRID, DIM = 8, 2, 16              # tracks / features of the stages
CKPT_T, CKPT_DIM = 4, 32             # the checkpoint: L2M-Tiny embeds to 32
IMAGE_H, IMAGE_W = 24, 32            # the CLI's --image
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


def marked(cases, no_cuda: tuple[str, ...] = ()) -> list:
    """The case names as pytest params, skipped where CUDA exists when listed in ``no_cuda``."""
    return [pytest.param(case, marks=[NO_CUDA] if case in no_cuda else [], id=case)
            for case in cases]


# where each stage script reads and writes, relative to the workspace
STAGE_ARGS = {
    "prepare": ["--out", "data/raw", "--summary", "reports/prepare_summary.json"],
    "track": ["--raw", "data/raw", "--out", "data/tracks", "--summary",
              "reports/track_summary.json"],
    "render": ["--raw", "data/raw", "--tracks", "data/tracks", "--out", "data/overlays",
               "--sheet", "reports/overlays.png"],
    "embed": ["--raw", "data/raw", "--tracks", "data/tracks", "--out", "data/features",
              "--summary", "reports/embed_summary.json"],
    "train": ["--features", "data/features", "--out", "models", "--metrics",
              "reports/train_metrics.json", "--live", "dvclive"],
    "evaluate": ["--model", "models", "--features", "data/features", "--raw", "data/raw",
                 "--metrics", "reports/metrics.json", "--out", "reports/eval"],
}
# parameters that make every stage's work tiny
TINY = {
    "data": {"frames": T, "window_stride": 4, "max_windows": 1},
    "grid": {"size": GRID, "erode_iterations": 0},
    "track": {"backend": "lk", "device": "cpu"},
    "overlay": {"size": 16, "line_width": 1},
    "clip": {"model": "L2M-Tiny", "pretrained": "none", "device": "cpu"},
    "model": {"latent": DIM, "layers": 1, "heads": 2, "ff": 32, "decoder_hidden": 32},
    "train": {"epochs": 1, "min_steps": 0, "batch_size": 4, "device": "cpu"},
    "eval": {"bootstrap": 0, "device": "cpu", "clip_samples": 1, "gallery": 0,
             "timing_repeats": 1},
}


# -- running entry points and checking the contract --------------------------------------------
_MAINS: dict[str, Callable] = {}


def stage_main(name: str) -> Callable:
    """``main`` of pipeline/<name>.py, loaded once."""
    if name not in _MAINS:
        _MAINS[name] = runpy.run_path(str(REPO / "pipeline" / f"{name}.py"),
                                      run_name=f"faults_{name}")["main"]
    return _MAINS[name]


def run_stage(name: str, capsys, extra: list[str] | None = None,
              params: str = "params.yaml") -> tuple[int, str]:
    code = run_with_error_contract(name, stage_main(name),
                                   ["--params", params, *STAGE_ARGS[name], *(extra or [])])
    return code, capsys.readouterr().err


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = cli_main(args)
    return code, capsys.readouterr().err


_PROGRESS = re.compile(r"\[\d+:\d\d[<,]")    # a tqdm bar: "... 0/2 [00:00<?, ?video/s]"


def assert_one_error(code: int, err: str, prog: str, *names: str) -> str:
    """Exit 2 and stderr (progress bars aside) one ``<prog>: error:`` paragraph naming every
    one of ``names``, without a traceback; returns the paragraph."""
    assert "Traceback" not in err, err
    assert code == 2, err
    lines = [line for line in re.split(r"[\r\n]", err) if line.strip()
             and not _PROGRESS.search(line)]
    assert lines and lines[0].startswith(f"{prog}: error: "), err
    assert all(line.startswith("  ") for line in lines[1:]), err   # one paragraph
    message = "\n".join(lines)
    for name in names:
        assert name in message, f"{name!r} not named in:\n{message}"
    return message


def snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under ``root``: (size, mtime) of files, None for folders."""
    out: dict[str, tuple[int, int] | None] = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        out[str(path.relative_to(root))] = None if path.is_dir() else (stat.st_size,
                                                                        stat.st_mtime_ns)
    return out


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's working folder (the current directory), with no debug switch set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    return tmp_path


def write_params(path: Path, **sections: dict) -> None:
    merged = {name: dict(values) for name, values in TINY.items()}
    for name, values in sections.items():
        if isinstance(values, dict) and isinstance(merged.get(name), dict):
            merged[name].update(values)
        else:
            merged[name] = values
    path.write_text(yaml.safe_dump(merged))


# -- tiny inputs ---------------------------------------------------------------------------------
def video_id(split: str, i: int) -> str:
    return f"{split[0]}{i:011d}"


def _object_mask() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[2:10, 3:13] = True
    return mask


@pytest.fixture(scope="module")
def mevis_template(tmp_path_factory) -> Path:
    """A MeViS root: two splits of two 10-frame 12x16 videos, one object and caption each."""
    root = tmp_path_factory.mktemp("mevis") / "mevis"
    rng = np.random.default_rng(0)
    for split in SPLITS:
        videos = [VideoRecord(video_id(split, i),
                              rng.integers(0, 256, (VIDEO_FRAMES, H, W, 3), dtype=np.uint8),
                              {str(i): [_object_mask()] * VIDEO_FRAMES},
                              [Expression("0", f"object {i} moving", (0,), (str(i),))])
                  for i in range(2)]
        write_split(root, split, videos)
    return root


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def track_rows(split: str, *, points: int = GRID * GRID, seed: int = 0) -> list[TrackRow]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(2):
        vid = video_id(split, i)
        rows.append(TrackRow(
            track_id=f"{vid}/{i}/00000", video_id=vid, anno_ids=(str(i),), start=0,
            exp_ids=("0",), texts=(f"object {i} moving",),
            tracks=rng.uniform(-0.5, 0.5, (T, points, 2)).astype(np.float32),
            visible=np.ones((T, points), bool), width=W, height=H, tracker="lk"))
    return rows


def write_tracks_dir(folder: Path) -> None:
    for split in SPLITS:
        write_tracks(tracks_path(folder, split), track_rows(split), frames=T,
                     points=GRID * GRID)


def feature_samples(count: int, *, frames: int = 4, points: int = GRID * GRID, dim: int = DIM,
                    clip: str = "test", seed: int = 0, prefix: str = "") -> list[FeatureSample]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        vid = f"{prefix}v{i // 2}"
        if i % 2 == 0:     # samples 2k and 2k + 1 share one trajectory
            tracks = np.cumsum(rng.normal(0, 0.05, (frames, points, 2)), axis=0).astype(np.float32)
            image = rng.normal(size=(frames, dim)).astype(np.float32)
        samples.append(FeatureSample(
            sample_id=f"{vid}/0/00000/{i}", video_id=vid, exp_id=str(i), text=f"text {i}",
            track_id=f"{vid}/0/00000", motion_kind="", template_id=-1, tags={}, start=0,
            width=W, height=H, tracks=tracks, visible=np.ones((frames, points), bool),
            text_emb=rng.normal(size=dim).astype(np.float32), image_emb=image,
            image_emb_pooled=image.mean(0), clip_model=clip, clip_pretrained="none"))
    return samples


def write_shard(path: Path, samples: list[FeatureSample]) -> None:
    frames, points, _ = samples[0].tracks.shape
    write_feature_shard(path, samples, frames=frames, points=points,
                        dim=samples[0].text_emb.shape[0])


def write_features(folder: Path, **kw) -> None:
    """Valid train (8 samples) and valid_u (4 samples) shards, one each."""
    write_shard(folder / "train" / shard_name(0), feature_samples(8, seed=0, **kw))
    write_shard(folder / "valid_u" / shard_name(0), feature_samples(4, seed=1, **kw))


def rewrite_parquet(path: Path, *, meta: dict | None = None,
                    change: Callable[[pa.Table], pa.Table] | None = None) -> None:
    """Rewrite a lang2motion table in place with other metadata and/or columns."""
    table = pq.read_table(path)
    info = json.loads(table.schema.metadata[b"lang2motion"])
    info.update(meta or {})
    if change is not None:
        table = change(table)
    pq.write_table(table.replace_schema_metadata({b"lang2motion": json.dumps(info).encode()}),
                   path)


def set_list_value(name: str, row: int, index: int, value: float
                   ) -> Callable[[pa.Table], pa.Table]:
    def change(table: pa.Table) -> pa.Table:
        values = [list(v) for v in table.column(name).to_pylist()]
        values[row][index] = value
        field = table.schema.field(name)
        return table.set_column(table.schema.get_field_index(name), field,
                                pa.array(values, type=field.type))
    return change


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Two saves of a tiny model (4 frames, 2x2 grid, L2M-Tiny): 'a' and 'b' (other save id)."""
    torch.manual_seed(0)
    cfg = ModelConfig(points=GRID * GRID, frames=CKPT_T, latent=CKPT_DIM, clip_dim=CKPT_DIM,
                      layers=1, heads=2, ff=32, decoder_hidden=32, dropout=0.0)
    model = Lang2Motion(cfg)
    meta = {"clip": {"model": "L2M-Tiny", "pretrained": "none"},
            "grid": {"size": GRID, "erode_iterations": 0, "margin": 0.1},
            "overlay": {"color": "cyan", "opacity": 0.5, "size": 16, "line_width": 1}}
    base = tmp_path_factory.mktemp("ckpt")
    for name in ("a", "b"):
        save_model(base / name, model, meta)
    return {"a": base / "a", "b": base / "b"}


def copy_checkpoint(checkpoints: dict[str, Path], to: Path) -> Path:
    shutil.copytree(checkpoints["a"], to)
    return to


# ===============================================================================================
# 1. Parameters: refused at load time, before any work, naming the parameter and its value
# ===============================================================================================
PARAMS = {
    # case: (stage, params.yaml sections over TINY, what the message must name). How each value
    # is refused is tests/test_config.py's; these check a stage refuses it before any work.
    "section-not-a-mapping": ("train", {"train": "fast"}, ["train must be a mapping", "'fast'"]),
    "one-frame": ("prepare", {"data": {"frames": 1}}, ["data.frames", ">= 2", "got 1"]),
    "track-device-cuda-x": ("track", {"track": {"device": "cuda:x"}},
                            ["track.device", "'cuda:x'"]),
    "unknown-clip-model": ("embed", {"clip": {"model": "ViT-Nope"}},
                           ["clip.model", "'ViT-Nope'"]),
    "clip-weights-missing": ("embed", {"clip": {"pretrained": "weights/missing.safetensors"}},
                             ["missing.safetensors"]),
    "mevis-root-missing": ("prepare", {"data": {"source": "mevis", "mevis": {"root": "nowhere"}}},
                           ["nowhere", "meta_expressions.json", "data.mevis.download"]),
    "mevis-root-inside-output": ("prepare", {"data": {"source": "mevis",
                                                      "mevis": {"root": "data/raw/mevis"}}},
                                 ["data.mevis.root", "data/raw/mevis"]),
    "eval-device-cuda": ("evaluate", {"eval": {"device": "cuda"}},
                         ["eval.device", "'cuda'", "no CUDA device"]),
}


@pytest.mark.parametrize("case", marked(PARAMS, no_cuda=("eval-device-cuda",)))
def test_bad_parameter(workspace, capsys, case):
    stage, sections, names = PARAMS[case]
    write_params(workspace / "params.yaml", **sections)
    (workspace / "data" / "raw" / "train").mkdir(parents=True)   # an earlier output, kept
    (workspace / "data" / "raw" / "train" / MANIFEST_NAME).write_text("{}")
    before = snapshot(workspace)
    code, err = run_stage(stage, capsys)
    assert_one_error(code, err, stage, *names)
    assert snapshot(workspace) == before


# a --params file that cannot be read (how unreadable, invalid or misshapen files are refused is
# tests/test_config.py's): the stage stops before any work
@pytest.mark.parametrize("is_folder", [False, True], ids=["missing", "a-folder"])
def test_bad_parameter_file(workspace, capsys, is_folder):
    name = "params.yaml" if is_folder else "nope.yaml"
    if is_folder:
        (workspace / name).mkdir()
    names = [name] if is_folder else [name, "parameter file not found"]
    before = snapshot(workspace)
    code, err = run_stage("prepare", capsys, params=name)
    assert_one_error(code, err, "prepare", *names)
    assert snapshot(workspace) == before


# ===============================================================================================
# 2. MeViS data: prepare (data.source: mevis) and track on a broken copy
# ===============================================================================================
def _meta(root: Path, split: str = "train") -> Path:
    return root / split / "meta_expressions.json"


def _masks(root: Path, split: str = "train") -> Path:
    return root / split / "mask_dict.json"


def _expression(data: dict, key: str, value) -> None:
    data["videos"][video_id("train", 0)]["expressions"]["0"][key] = value


def _rle_entry(root: Path, anno: str, frame: int, value) -> None:
    def change(data: dict) -> None:
        data[anno][frame] = value
    edit_json(_masks(root), change)


def _truncate_mask_list(data: dict) -> None:
    data["0"] = data["0"][:-1]


PREPARE_FAULTS = {
    "meta-missing": (lambda r: _meta(r).unlink(), ["train/meta_expressions.json", "Missing"]),
    "meta-not-json": (lambda r: _meta(r).write_text('{"videos": {'),
                      ["train/meta_expressions.json", "not valid JSON"]),
    "meta-not-utf8": (lambda r: _meta(r).write_bytes(b'{"videos": "\xff\xfe"}'),
                      ["train/meta_expressions.json", "not UTF-8"]),
    "meta-a-list": (lambda r: _meta(r).write_text("[]"),
                    ["train/meta_expressions.json", "expected {'videos'"]),
    "anno-id-not-a-list": (lambda r: edit_json(_meta(r), lambda d: _expression(d, "anno_id", 0)),
                           ["train/meta_expressions.json", video_id("train", 0),
                            "expression 0", "'anno_id' must be a list"]),
    "obj-id-not-integer": (lambda r: edit_json(_meta(r), lambda d: _expression(d, "obj_id",
                                                                                ["left"])),
                           ["train/meta_expressions.json", video_id("train", 0),
                            "expression 0", "'obj_id' must hold integers"]),
    "mask-dict-truncated": (lambda r: truncate(_masks(r), 0.6),
                            ["train/mask_dict.json", "truncated"]),
    "mask-dict-empty": (lambda r: _masks(r).write_bytes(b""),
                        ["train/mask_dict.json", "empty file"]),
    "anno-id-not-in-mask-dict": (lambda r: edit_json(_meta(r), lambda d: _expression(
        d, "anno_id", [7])), ["train/mask_dict.json", "anno_id 7", video_id("train", 0),
                              "expression 0"]),
    "mask-count-not-frame-count": (lambda r: edit_json(_masks(r), _truncate_mask_list),
                                   ["train/mask_dict.json", "anno_id 0", "9 masks",
                                    video_id("train", 0), "10 frames"]),
    "valid-split-missing": (lambda r: shutil.rmtree(r / "valid_u"),
                            ["valid_u/meta_expressions.json", "valid_u/JPEGImages"]),
    "rle-undecodable": (lambda r: _rle_entry(r, "0", 0, {"size": [H, W], "counts": "~~~~"}),
                        ["train/mask_dict.json", "anno_id 0 frame 0", "undecodable RLE"]),
}


@pytest.mark.parametrize("fault", marked(PREPARE_FAULTS))
def test_broken_mevis_copy_is_refused_by_prepare(workspace, capsys, mevis_template, fault):
    root = workspace / "mevis"
    shutil.copytree(mevis_template, root)
    break_it, names = PREPARE_FAULTS[fault]
    break_it(root)
    write_params(workspace / "params.yaml",
                 data={"source": "mevis", "mevis": {"root": str(root)}})
    for split in SPLITS:                  # the previous run's manifests must survive
        (workspace / "data" / "raw" / split).mkdir(parents=True)
        (workspace / "data" / "raw" / split / MANIFEST_NAME).write_text('{"old": 1}')
    before = snapshot(workspace)
    code, err = run_stage("prepare", capsys)
    assert_one_error(code, err, "prepare", *names)
    assert snapshot(workspace) == before
    assert not (workspace / "reports" / "prepare_summary.json").exists()


def _frame(root: Path, split: str = "train", video: int = 0, frame: int = 3) -> Path:
    return root / split / "JPEGImages" / video_id(split, video) / f"{frame:05d}.jpg"


def _small_frame(path: Path) -> None:
    path.write_bytes(cv2.imencode(".jpg", np.zeros((H // 2, W // 2, 3), np.uint8))[1].tobytes())


TRACK_FAULTS = {
    "frame-missing": (lambda r: _frame(r).unlink(),
                      ["00003.jpg", "missing image file", video_id("train", 0)]),
    "frame-truncated": (lambda r: truncate(_frame(r)),
                        ["00003.jpg", "truncated or corrupt JPEG", video_id("train", 0)]),
    "frame-not-an-image": (lambda r: _frame(r).write_text("not a picture"),
                           ["00003.jpg", "unreadable or corrupt image"]),
    "frame-other-size": (lambda r: _small_frame(_frame(r)),
                         ["00003.jpg", "frame size (6, 8)", "(12, 16)"]),
    "valid-frame-truncated": (lambda r: truncate(_frame(r, "valid_u", 1, 0)),
                              ["valid_u", "00000.jpg", "truncated or corrupt JPEG",
                               video_id("valid_u", 1)]),
    "rle-undecodable": (lambda r: _rle_entry(r, "0", 0, {"size": [H, W], "counts": "~~~~"}),
                        ["train/mask_dict.json", "anno_id 0 frame 0", "undecodable RLE"]),
    "rle-runs-wrong-total": (lambda r: _rle_entry(r, "0", 0, {"size": [H, W], "counts": "12"}),
                             ["train/mask_dict.json", "anno_id 0 frame 0", "RLE runs cover"]),
    "rle-other-size": (lambda r: _rle_entry(r, "0", 0, encode_rle(np.ones((6, 8), bool))),
                       ["train/mask_dict.json", "anno_id 0 frame 0", "RLE size [6, 8]",
                        "[12, 16]"]),
    "rle-not-a-dict": (lambda r: _rle_entry(r, "0", 0, [1, 2, 3]),
                       ["train/mask_dict.json", "anno_id 0 frame 0", "RLE dict"]),
    "rle-runs-cover-nothing": (lambda r: _rle_entry(r, "0", 0, {"size": [H, W], "counts": "0"}),
                               ["train/mask_dict.json", "anno_id 0 frame 0", "RLE runs cover"]),
    "split-not-prepared": (lambda r: shutil.rmtree(r / "valid_u"),
                           ["valid_u", "split not prepared"]),
    "manifest-broken": (lambda r: (r / "train" / MANIFEST_NAME).write_text("{"),
                        ["train/SOURCE.json", "not a valid manifest"]),
}


@pytest.mark.parametrize("fault", marked(TRACK_FAULTS))
def test_broken_split_is_refused_by_track(workspace, capsys, mevis_template, fault):
    raw = workspace / "data" / "raw"
    shutil.copytree(mevis_template, raw)
    break_it, names = TRACK_FAULTS[fault]
    break_it(raw)
    write_params(workspace / "params.yaml")
    (workspace / "data" / "tracks").mkdir()            # the previous run's output must survive
    (workspace / "data" / "tracks" / "train.parquet").write_bytes(b"old tracks")
    before = snapshot(workspace)
    code, err = run_stage("track", capsys)
    assert_one_error(code, err, "track", *names)
    assert snapshot(workspace) == before


# ===============================================================================================
# 3. Tracks tables and feature shards: through the stage that reads them
# ===============================================================================================
def _train_tracks(ws: Path) -> Path:
    return tracks_path(ws / "data" / "tracks", "train")


TRACKS_FAULTS = {
    "truncated": (lambda ws: truncate(_train_tracks(ws)),
                  ["train.parquet", "not a readable Parquet file"]),
    "nan": (lambda ws: rewrite_parquet(_train_tracks(ws),
                                       change=set_list_value("tracks", 1, 5, float("nan"))),
            ["train.parquet", f"sample {video_id('train', 1)}/1/00000", "NaN"]),
    "absurd-coordinates": (lambda ws: rewrite_parquet(_train_tracks(ws),
                                                      change=set_list_value("tracks", 0, 3, 1e6)),
                           ["train.parquet", f"sample {video_id('train', 0)}/0/00000",
                            "absurd"]),
    "old-schema": (lambda ws: rewrite_parquet(_train_tracks(ws), meta={"version": "1"}),
                   ["train.parquet", "schema version '1'"]),
    "missing-column": (lambda ws: rewrite_parquet(_train_tracks(ws),
                                                  change=lambda t: t.drop(["texts"])),
                       ["train.parquet", "lacks column(s) ['texts']"]),
    "sizes-disagree-with-metadata": (lambda ws: rewrite_parquet(_train_tracks(ws),
                                                                meta={"points": 9}),
                                     ["train.parquet", f"row {video_id('train', 0)}/0/00000",
                                      "64 coordinates"]),
    "a-features-table": (lambda ws: rewrite_parquet(_train_tracks(ws),
                                                    meta={"table": "features"}),
                         ["train.parquet", "expected a tracks table"]),
    "missing": (lambda ws: _train_tracks(ws).unlink(),
                ["train.parquet", "tracks table not found"]),
    "valid-truncated": (lambda ws: truncate(tracks_path(ws / "data" / "tracks", "valid_u")),
                        ["valid_u.parquet", "not a readable Parquet file"]),
}


@pytest.mark.parametrize("fault", list(TRACKS_FAULTS))
def test_broken_tracks_table_is_refused_by_render(workspace, capsys, mevis_template, fault):
    shutil.copytree(mevis_template, workspace / "data" / "raw")
    write_tracks_dir(workspace / "data" / "tracks")
    break_it, names = TRACKS_FAULTS[fault]
    break_it(workspace)
    write_params(workspace / "params.yaml")
    (workspace / "data" / "overlays" / "train").mkdir(parents=True)
    (workspace / "data" / "overlays" / "train" / "old.mp4").write_bytes(b"old")
    before = snapshot(workspace)
    code, err = run_stage("render", capsys)
    assert_one_error(code, err, "render", *names)
    assert snapshot(workspace) == before


def test_tracks_table_of_an_older_schema_is_refused_by_embed(workspace, capsys,
                                                             mevis_template):
    shutil.copytree(mevis_template, workspace / "data" / "raw")
    write_tracks_dir(workspace / "data" / "tracks")
    rewrite_parquet(_train_tracks(workspace), meta={"version": "1"})
    write_params(workspace / "params.yaml")
    before = snapshot(workspace)
    code, err = run_stage("embed", capsys)
    assert_one_error(code, err, "embed", "train.parquet", "schema version '1'")
    assert snapshot(workspace) == before


def _train_shard(ws: Path, index: int = 0) -> Path:
    return ws / "data" / "features" / "train" / shard_name(index)


def _second_shard(ws: Path, **kw) -> None:
    write_shard(_train_shard(ws, 1), feature_samples(2, seed=5, prefix="x", **kw))


def _empty_train_features(ws: Path) -> None:
    shutil.rmtree(ws / "data" / "features" / "train")
    (ws / "data" / "features" / "train").mkdir()


SHARD_FAULTS = {
    "old-schema": (lambda ws: rewrite_parquet(_train_shard(ws), meta={"version": "1"}),
                   ["train/part-00000.parquet", "schema version '1'"]),
    "missing-column": (lambda ws: rewrite_parquet(_train_shard(ws),
                                                  change=lambda t: t.drop(["text_emb"])),
                       ["train/part-00000.parquet", "lacks column(s) ['text_emb']"]),
    "sizes-disagree-with-metadata": (lambda ws: rewrite_parquet(_train_shard(ws),
                                                                meta={"dim": 17}),
                                     ["train/part-00000.parquet", "track row v0/0/00000",
                                      "image_emb of 64 values, expected 68"]),
    "metadata-without-dim": (lambda ws: rewrite_parquet(_train_shard(ws), meta={"dim": None}),
                             ["train/part-00000.parquet", "frames/points/dim"]),
    "truncated": (lambda ws: truncate(_train_shard(ws)),
                  ["train/part-00000.parquet", "not a readable Parquet file"]),
    "nan-tracks": (lambda ws: rewrite_parquet(_train_shard(ws),
                                              change=set_list_value("tracks", 2, 0,
                                                                    float("inf"))),
                   ["train", "v2/0/00000", "NaN or infinite"]),   # row 2: trajectory 2
    "nan-embedding": (lambda ws: rewrite_parquet(_train_shard(ws),
                                                 change=set_list_value("text_emb", 3, 0,
                                                                       float("nan"))),
                      ["train", "sample v3/0/00000/6", "NaN or infinite text_emb"]),
    "two-clip-models-in-a-split": (lambda ws: _second_shard(ws, clip="other"),
                                   ["train", "clip_model mixes", "other", "test"]),
    "shards-of-different-shapes": (lambda ws: _second_shard(ws, frames=5),
                                   ["train/part-00001.parquet", "part-00000.parquet",
                                    "'frames': 5"]),
    "duplicate-sample-ids": (lambda ws: write_shard(_train_shard(ws, 1),
                                                    feature_samples(2, seed=5)),
                             ["train", "duplicate track ids", "v0/0/00000"]),
    "splits-of-different-clip-models": (
        lambda ws: write_shard(_train_shard(ws), feature_samples(8, clip="other")),
        ["data/features", "different CLIP models", "other"]),
    "grid-differs-from-grid-size": (
        lambda ws: write_features(ws / "data" / "features", points=9),
        ["data/features/train", "9 points", "grid.size = 2"]),
    "empty-folder": (_empty_train_features, ["data/features/train", "no feature shards"]),
    "split-missing": (lambda ws: shutil.rmtree(ws / "data" / "features" / "valid_u"),
                      ["data/features/valid_u", "no feature shards"]),
    "dim-differs-from-model-latent": (
        lambda ws: write_features(ws / "data" / "features", dim=24),
        ["model.latent (16)", "CLIP embedding size (24)"]),
    "tags-not-json": (lambda ws: rewrite_parquet(_train_shard(ws), change=lambda t: t.set_column(
        t.schema.get_field_index("tags"), "tags",
        pa.array([["{"] * n for n in t.column("samples").to_pylist()]))),
        ["train", "sample v0/0/00000/0", "tags '{'"]),
}


def _earlier_run(ws: Path) -> None:
    """What a previous training run left: a checkpoint and its dvclive log."""
    (ws / "models").mkdir()
    (ws / "models" / "model.json").write_text('{"epoch": 7}')
    (ws / "dvclive").mkdir()
    (ws / "dvclive" / "metrics.json").write_text('{"epoch": 7}')


@pytest.mark.parametrize("fault", marked(SHARD_FAULTS))
def test_broken_feature_shards_are_refused_by_train(workspace, capsys, fault):
    write_features(workspace / "data" / "features")
    break_it, names = SHARD_FAULTS[fault]
    break_it(workspace)
    write_params(workspace / "params.yaml")
    _earlier_run(workspace)
    before = snapshot(workspace)
    code, err = run_stage("train", capsys)
    assert_one_error(code, err, "train", *names)
    assert snapshot(workspace) == before


@NO_CUDA
def test_train_device_cuda_without_cuda_writes_nothing(workspace, capsys):
    write_features(workspace / "data" / "features")
    write_params(workspace / "params.yaml", train={"device": "cuda"})
    _earlier_run(workspace)
    before = snapshot(workspace)
    code, err = run_stage("train", capsys)
    assert_one_error(code, err, "train", "train.device", "'cuda'", "no CUDA device")
    assert snapshot(workspace) == before


@pytest.mark.parametrize(("kw", "names"), [
    ({"clip": "other", "dim": CKPT_DIM, "frames": CKPT_T},
     ["data/features/valid_u", "CLIP other", "L2M-Tiny"]),
    ({"clip": "L2M-Tiny", "dim": CKPT_DIM, "frames": CKPT_T + 1},
     ["data/features/valid_u", "T=5", f"T={CKPT_T}"]),
], ids=["other-clip", "other-frames"])
def test_features_that_do_not_fit_the_checkpoint_are_refused_by_evaluate(
        workspace, capsys, checkpoints, mevis_template, kw, names):
    copy_checkpoint(checkpoints, workspace / "models")
    shutil.copytree(mevis_template, workspace / "data" / "raw")
    write_features(workspace / "data" / "features", **kw)
    write_params(workspace / "params.yaml")
    before = snapshot(workspace)
    code, err = run_stage("evaluate", capsys)
    assert_one_error(code, err, "evaluate", *names)
    assert snapshot(workspace) == before


# ===============================================================================================
# 4. Checkpoints: through `lang2motion info`, `lang2motion generate` and the evaluate stage
# ===============================================================================================
def _meta_json(models: Path) -> Path:
    return models / "model.json"


def _model_config(key: str, value) -> Callable[[Path], None]:
    def change(models: Path) -> None:
        edit_json(_meta_json(models), lambda d: d["model_config"].__setitem__(key, value))
    return change


def _other_save(models: Path, checkpoints: dict[str, Path]) -> None:
    shutil.copy2(checkpoints["b"] / "model.safetensors", models / "model.safetensors")


CHECKPOINT_FAULTS = {
    # fault: (verb, break it, names)
    "json-missing": ("info", lambda m, c: _meta_json(m).unlink(),
                     ["models/model.json", "no model checkpoint"]),
    "json-not-json": ("info", lambda m, c: _meta_json(m).write_text('{"model_config": '),
                      ["models/model.json", "not valid JSON"]),
    "json-not-utf8": ("info", lambda m, c: _meta_json(m).write_bytes(b'{"x": "\xff"}'),
                      ["models/model.json", "UTF-8"]),
    "json-without-model-config": ("info", lambda m, c: _meta_json(m).write_text('{"epoch": 3}'),
                                  ["models/model.json", "no 'model_config'"]),
    "json-a-list": ("info", lambda m, c: _meta_json(m).write_text("[1, 2]"),
                    ["models/model.json", "not a Lang2Motion checkpoint"]),
    "weights-missing": ("generate", lambda m, c: (m / "model.safetensors").unlink(),
                        ["models/model.safetensors", "weights missing"]),
    "weights-truncated": ("generate", lambda m, c: truncate(m / "model.safetensors", 0.7),
                          ["models/model.safetensors", "unreadable safetensors"]),
    "weights-not-safetensors": ("generate",
                                lambda m, c: (m / "model.safetensors").write_text("hello"),
                                ["models/model.safetensors", "unreadable safetensors"]),
    "weights-of-another-save": ("generate", _other_save,
                                ["models", "different saves"]),
    "weights-do-not-fit-config": ("generate", lambda m, c: _model_config("ff", 64)(m),
                                  ["models/model.safetensors", "do not fit", "model.json"]),
    "config-unknown-key": ("generate", lambda m, c: _model_config("depth", 3)(m),
                           ["models/model.json", "unknown model config key(s) ['depth']"]),
    "config-bad-value": ("generate", lambda m, c: _model_config("heads", 5)(m),
                         ["model.latent (32)", "model.heads (5)"]),
    "config-wrong-type": ("generate", lambda m, c: _model_config("layers", "two")(m),
                          ["model_config.layers", "'two'"]),
    "no-clip-recorded": ("generate", lambda m, c: edit_json(_meta_json(m),
                                                            lambda d: d.pop("clip")),
                         ["models", "which CLIP"]),
    "bad-overlay-recorded": ("generate", lambda m, c: edit_json(
        _meta_json(m), lambda d: d["overlay"].__setitem__("color", "mauve")),
        ["overlay.color", "'mauve'"]),
    "evaluate-json-missing": ("evaluate", lambda m, c: _meta_json(m).unlink(),
                              ["models/model.json", "no model checkpoint"]),
}


@pytest.mark.parametrize("fault", marked(CHECKPOINT_FAULTS))
def test_broken_checkpoint(workspace, capsys, checkpoints, fault):
    verb, break_it, names = CHECKPOINT_FAULTS[fault]
    models = copy_checkpoint(checkpoints, workspace / "models")
    break_it(models, checkpoints)
    before = snapshot(workspace)
    if verb == "evaluate":
        write_params(workspace / "params.yaml")
        before = snapshot(workspace)
        code, err = run_stage("evaluate", capsys)
        prog = "evaluate"
    else:
        args = ["info", "--model", "models"] if verb == "info" else [
            "generate", "moving left", "--out", "out", "--model", "models", "--device", "cpu"]
        code, err = run_cli(args, capsys)
        prog = "lang2motion"
    assert_one_error(code, err, prog, *names)
    assert snapshot(workspace) == before


# ===============================================================================================
# 5. The lang2motion command
# ===============================================================================================
def _ntu_skeleton(path: Path, frames: int) -> None:
    """A minimal NTU RGB+D .skeleton file: one body of 25 joints walking right."""
    lines = [str(frames)]
    for f in range(frames):
        lines += ["1", " ".join(["72057594037931101"] + ["0"] * 9), "25"]
        lines += [f"0 0 3 0 0 {900 + 10 * f + 5 * j} {300 + 20 * j} 0 0 0 0 2"
                  for j in range(25)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _inputs(ws: Path) -> None:
    rng = np.random.default_rng(3)
    cv2.imwrite(str(ws / "frame.png"), rng.integers(0, 256, (IMAGE_H, IMAGE_W, 3), np.uint8))
    jpeg = cv2.imencode(".jpg", rng.integers(0, 256, (IMAGE_H, IMAGE_W, 3), np.uint8))[1]
    (ws / "broken.jpg").write_bytes(jpeg.tobytes()[:300])
    mask = np.zeros((IMAGE_H + 4, IMAGE_W), np.uint8)
    mask[4:16, 4:20] = 255
    cv2.imwrite(str(ws / "other_size_mask.png"), mask)
    (ws / "prompts_latin1.txt").write_bytes("d\xe9placement vers la gauche\n".encode("latin-1"))
    (ws / "config.json").write_text(json.dumps({"frames": 4, "tracks": [[0, 0]]}))
    (ws / "empty").mkdir()
    (ws / "notes").mkdir()
    (ws / "notes" / "readme.txt").write_text("no skeletons here")
    dot = np.zeros((IMAGE_H, IMAGE_W), np.uint8)
    dot[5, 5] = 255
    cv2.imwrite(str(ws / "dot_mask.png"), dot)
    _ntu_skeleton(ws / "ntu" / "S001C001P001R001A001.skeleton", frames=6)
    photo = rng.integers(0, 256, (IMAGE_H, IMAGE_W, 3), np.uint8)
    cv2.imwrite(str(ws / "photo_as_mask.png"), photo)
    (ws / "prompts_comments_only.txt").write_text("# nothing but comments\n\n  # and blanks\n")
    (ws / "prompts_bom_comments.txt").write_bytes("\ufeff# a comment\n".encode())
    wrong = {"schema": "lang2motion.trajectory/1", "width": IMAGE_W, "height": IMAGE_H,
             "tracks_normalised": [[[0.0, 0.0]] * 9] * 3, "label": ""}
    (ws / "wrong_shape.json").write_text(json.dumps(wrong))
    (ws / "saved").mkdir()
    (ws / "prompts_up.txt").write_text("moving up\n")
    (ws / "classes_walk.txt").write_text("walk\n")
    other = feature_samples(2, frames=CKPT_T, dim=CKPT_DIM, clip="L2M-Other")
    write_shard(ws / "other_clip" / shard_name(0), other)
    ok = {"schema": "lang2motion.trajectory/1", "width": IMAGE_W, "height": IMAGE_H,
          "tracks_normalised": [[[0.1 * t, 0.0]] * 4 for t in range(CKPT_T)], "label": "ok"}
    (ws / "generated_ok.json").write_text(json.dumps(ok))
    nan = {"schema": "lang2motion.trajectory/1", "width": IMAGE_W, "height": IMAGE_H,
           "tracks_normalised": [[[0.0, 0.0]] * 4, [[float("nan"), 0.0]] * 4]}
    (ws / "nan_trajectory.json").write_text(json.dumps(nan))


CLI_FAULTS = {
    # fault: (arguments, what the message must name)
    "empty-prompt": (["generate", ""], ["prompt 1 is empty"]),
    "blank-prompt": (["generate", "moving left", "   "], ["prompt 2 is empty"]),
    "no-prompt": (["generate"], ["give at least one prompt"]),
    "box-outside-image": (["generate", "x", "--image", "frame.png", "--box", "100,100,200,200"],
                          ["box (100, 100, 200, 200)", "covers no pixel", "32x24"]),
    "box-inverted": (["generate", "x", "--image", "frame.png", "--box", "20,5,10,15"],
                     ["box (20, 5, 10, 15)", "inverted"]),
    "box-malformed": (["generate", "x", "--image", "frame.png", "--box", "1,2,3"],
                      ["--box", "'1,2,3'", "x0,y0,x1,y1"]),
    "box-not-numbers": (["generate", "x", "--image", "frame.png", "--box", "a,b,c,d"],
                        ["--box", "'a,b,c,d'"]),
    "point-without-sam": (["generate", "x", "--image", "frame.png", "--point", "5,5"],
                          ["--point needs SAM", "--sam-checkpoint"]),
    "point-malformed": (["generate", "x", "--image", "frame.png", "--point", "5;5"],
                        ["--point", "'5;5'", "x,y"]),
    "point-outside-image": (["generate", "x", "--image", "frame.png", "--point", "500,5"],
                            ["--point 500,5", "outside"]),
    "sam-checkpoint-missing": (["generate", "x", "--image", "frame.png", "--box", "1,1,9,9",
                                "--sam-checkpoint", "sam_missing.pth"],
                               ["sam_missing.pth", "SAM checkpoint not found"]),
    "two-regions": (["generate", "x", "--mask", "other_size_mask.png", "--box", "1,1,9,9"],
                    ["exactly one of --mask, --box, --point", "--mask, --box"]),
    "image-truncated": (["generate", "x", "--image", "broken.jpg"],
                        ["broken.jpg", "truncated or corrupt JPEG"]),
    "image-missing": (["generate", "x", "--image", "nowhere.png"],
                      ["nowhere.png", "missing image file"]),
    "mask-missing": (["generate", "x", "--mask", "nowhere_mask.png"],
                     ["nowhere_mask.png", "missing mask file"]),
    "mask-other-size-than-image": (["generate", "x", "--image", "frame.png", "--mask",
                                    "other_size_mask.png"],
                                   ["other_size_mask.png", "28x32", "24x32"]),
    "size-negative": (["generate", "x", "--size", "-5", "10"], ["--size", "-5 10"]),
    "size-zero": (["generate", "x", "--size", "64", "0"], ["--size", "64 0"]),
    "from-image-without-image": (["generate", "--from-image"], ["--from-image needs --image"]),
    "from-image-and-prompt": (["generate", "x", "--from-image", "--image", "frame.png"],
                              ["exclude each other"]),
    "from-overlay-nan": (["generate", "--from-overlay", "nan_trajectory.json"],
                         ["nan_trajectory.json", "NaN"]),
    "prompts-file-missing": (["generate", "--prompts", "nowhere.txt"],
                             ["--prompts nowhere.txt", "file not found"]),
    "prompts-file-not-utf8": (["generate", "--prompts", "prompts_latin1.txt"],
                              ["--prompts prompts_latin1.txt", "not UTF-8"]),
    "same-prompt-twice": (["generate", "moving left", "moving left"],
                          ["the prompt 'moving left' is given twice"]),
    "device-cuda": (["generate", "x", "--device", "cuda"], ["--device", "'cuda'",
                                                            "no CUDA device"]),
    "device-unknown": (["generate", "x", "--device", "tpu"], ["--device", "'tpu'"]),
    "steps-1": (["interpolate", "moving left", "moving right", "--steps", "1"],
                ["--steps must be a whole number from 2", "got 1"]),
    "interpolate-blank-end": (["interpolate", "moving left", " "], ["interpolation end is empty"]),
    "edit-not-a-trajectory": (["edit", "config.json", "--from", "a", "--to", "b"],
                              ["config.json", "not a lang2motion trajectory file"]),
    "edit-missing-file": (["edit", "nowhere.json", "--from", "a", "--to", "b"],
                          ["nowhere.json", "trajectory file not found"]),
    "edit-blank-text": (["edit", "config.json", "--from", " ", "--to", "b"],
                        ["--from and --to"]),
    "classify-no-classes": (["classify", "config.json"], ["give class names", "--classes"]),
    "classify-class-twice": (["classify", "config.json", "--classes", "a", "a"],
                             ["the class name 'a' is given twice"]),
    "classify-empty-folder": (["classify", "empty", "--classes", "a", "b"],
                              ["empty", "no trajectory .json files"]),
    "recognize-no-skeletons": (["recognize", "notes", "--classes", "a", "b"],
                               ["notes", "no skeleton files"]),
    "recognize-not-a-folder": (["recognize", "config.json", "--classes", "a"],
                               ["config.json", "not a folder of skeleton files"]),
    "retrieve-nothing-to-rank": (["retrieve", "moving left", "--source", "notes"],
                                 ["notes", "no feature shards", "no trajectory .json files"]),
    "retrieve-not-a-folder": (["retrieve", "moving left", "--source", "nowhere"],
                              ["nowhere", "not a folder"]),
    "mask-too-small-for-grid": (["generate", "x", "--mask", "dot_mask.png"], ["dot_mask.png"]),
    "prompts-file-is-a-folder": (["generate", "--prompts", "empty"], ["--prompts empty"]),
    "edit-a-folder": (["edit", "empty", "--from", "a", "--to", "b"], ["empty"]),
    "out-is-a-file": (["generate", "x", "--out", "config.json"], ["config.json"]),
    # issue 18: raw library errors before, now one paragraph naming the culprit
    "size-too-large-to-allocate": (["generate", "x", "--size", "100000", "100000"],
                                   ["--size", "between 16 and 4096", "100000 100000"]),
    "size-too-small-for-a-grid": (["generate", "x", "--size", "4", "4"], ["--size", "4 4"]),
    "steps-unbounded": (["interpolate", "moving left", "moving right", "--steps", "1000000"],
                        ["--steps", "to 64", "got 1000000"]),
    "out-unwritable": (["generate", "x", "--out", "/proc/lang2motion-out"],
                       ["--out /proc/lang2motion-out", "cannot write results"]),
    "interpolate-out-unwritable": (["interpolate", "a", "b", "--out", "/proc/lang2motion-out"],
                                   ["--out /proc/lang2motion-out", "cannot write results"]),
    "edit-out-unwritable": (["edit", "generated_ok.json", "--from", "a", "--to", "b", "--out",
                             "/proc/lang2motion-out"], ["/proc/lang2motion-out"]),
    "recognize-save-unwritable": (["recognize", "ntu", "--classes", "a", "b", "--save",
                                   "/proc/lang2motion-out/r.json"], ["/proc/lang2motion-out"]),
    "recognize-save-is-a-folder": (["recognize", "ntu", "--classes", "a", "b", "--save", "saved"],
                                   ["--save saved", "is a folder"]),
    "retrieve-shards-of-another-clip": (["retrieve", "moving left", "--source", "other_clip"],
                                        ["other_clip", "CLIP L2M-Other (none)",
                                         "CLIP L2M-Tiny (none)"]),
    # silently wrong before
    "mask-is-a-colour-photo": (["generate", "x", "--mask", "photo_as_mask.png"],
                               ["photo_as_mask.png", "looks like a photograph"]),
    "clip-model-name-differs": (["generate", "x", "--clip-model", "L2M-Mini512"],
                                ["trained with CLIP 'L2M-Tiny'", "'L2M-Mini512'"]),
    "interpolate-mistyped-trajectory": (["interpolate", "moving left", "runs/bal.json"],
                                        ["runs/bal.json", "no such trajectory file"]),
    "interpolate-mistyped-first-end": (["interpolate", "runs/ball.JSON", "moving left"],
                                       ["runs/ball.JSON", "no such trajectory file"]),
    # messages that now name the culprit
    "prompts-file-empty": (["generate", "--prompts", "prompts_comments_only.txt"],
                           ["--prompts prompts_comments_only.txt", "no prompt in it"]),
    "prompts-file-bom-comment-only": (["generate", "--prompts", "prompts_bom_comments.txt"],
                                      ["--prompts prompts_bom_comments.txt", "no prompt in it"]),
    "same-prompt-twice-in-file-and-args": (["generate", "moving up", "--prompts",
                                            "prompts_up.txt"],
                                           ["the prompt 'moving up' is given twice"]),
    "classify-wrong-shape-names-the-file": (["classify", "wrong_shape.json", "--classes", "a"],
                                            ["wrong_shape.json", "(3, 9)", "(4, 4)"]),
    "edit-wrong-shape-names-the-file": (["edit", "wrong_shape.json", "--from", "a", "--to",
                                         "b"], ["wrong_shape.json", "(frames, points)"]),
    "interpolate-wrong-shape-names-the-file": (["interpolate", "wrong_shape.json", "moving up"],
                                               ["wrong_shape.json", "(3, 9)"]),
    "classes-file-class-twice": (["classify", "config.json", "--classes", "walk", "--classes-file",
                                  "classes_walk.txt"], ["the class name 'walk' is given twice"]),
}
MODEL_VERBS = ("generate", "interpolate", "edit", "classify", "recognize", "retrieve")
OUT_VERBS = ("generate", "interpolate", "edit", "retrieve")


@pytest.mark.parametrize("fault", marked(CLI_FAULTS, no_cuda=("device-cuda",)))
def test_bad_command_line(workspace, capsys, checkpoints, fault):
    _inputs(workspace)
    copy_checkpoint(checkpoints, workspace / "models")
    args, names = CLI_FAULTS[fault]
    args = list(args)
    if args[0] in OUT_VERBS and "--out" not in args:
        args += ["--out", "out"]
    if args[0] in MODEL_VERBS and "--device" not in args:
        args += ["--model", "models", "--device", "cpu"]
    before = snapshot(workspace)
    code, err = run_cli(args, capsys)
    assert_one_error(code, err, "lang2motion", *names)
    assert snapshot(workspace) == before


def test_an_existing_result_is_not_overwritten_without_overwrite(workspace, capsys,
                                                                 checkpoints):
    copy_checkpoint(checkpoints, workspace / "models")
    (workspace / "out").mkdir()
    earlier = workspace / "out" / f"{stem('moving up', kind='text')}.gif"
    earlier.write_bytes(b"an earlier animation")
    before = snapshot(workspace)
    code, err = run_cli(["generate", "moving up", "moving down", "--out", "out", "--model",
                         "models", "--device", "cpu"], capsys)
    assert_one_error(code, err, "lang2motion", str(Path("out") / earlier.name), "already exists",
                     "--overwrite")
    assert snapshot(workspace) == before
    assert earlier.read_bytes() == b"an earlier animation"


@pytest.mark.parametrize(("args", "names"), [
    (["generate", "x", "--format", "webm"], ["argument --format", "invalid choice: 'webm'"]),
    (["generate", "x", "--color", "magenta"], ["argument --color", "invalid choice: 'magenta'"]),
    (["generate", "x", "--size", "64"], ["argument --size", "expected 2 arguments"]),
    (["generate", "x", "--seed", "one"], ["argument --seed", "expected a whole number, got 'one'"]),
    (["edit", "t.json", "--to", "b"], ["the following arguments are required: --from"]),
    (["classify"], ["the following arguments are required: inputs"]),
    (["fly"], ["argument VERB", "invalid choice: 'fly'"]),
    (["classify", "config.json", "--classes", "a", "--k", "0"], ["argument --k", "got 0"]),
    (["retrieve", "moving left", "--k", "0"], ["argument --k", "must be >= 1"]),
    (["recognize", "ntu", "--classes", "a", "b", "--k", "0"], ["argument --k", "got 0"]),
    (["generate", "x", "--seed", str(2**32)], ["argument --seed", "numpy's seed range",
                                               str(2**32)]),
    (["generate", "x", "--seed", "-1"], ["argument --seed", "from 0 to 4294967295", "got -1"]),
], ids=["format-webm", "color-magenta", "size-one-number", "seed-not-int", "edit-without-from",
        "classify-without-inputs", "unknown-verb", "classify-k-0", "retrieve-k-0",
        "recognize-k-0", "seed-beyond-numpy", "seed-negative"])
def test_usage_error_exits_2_through_argparse(workspace, capsys, args, names):
    before = snapshot(workspace)
    with pytest.raises(SystemExit) as exc:
        cli_main([*args, "--out", "out"] if args[0] == "generate" else args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert re.match(r"lang2motion( \w+)?: error: ", last), err
    for name in names:
        assert name in last, err
    assert snapshot(workspace) == before


def test_a_full_disk_is_one_paragraph_and_leaves_nothing(workspace, capsys, checkpoints,
                                                         monkeypatch):
    """ENOSPC in the middle of writing a result group: one paragraph, no half-written group."""
    import lang2motion.apps.outputs as outputs

    copy_checkpoint(checkpoints, workspace / "models")

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_animation", full)
    before = snapshot(workspace)
    code, err = run_cli(["generate", "moving up", "--out", "out", "--model", "models",
                         "--device", "cpu"], capsys)
    assert_one_error(code, err, "lang2motion", "--out out", "No space left on device",
                     "free some space")
    assert snapshot(workspace) == {**before, "out": None}      # the folder, empty


def test_a_bom_in_the_prompts_file_hides_no_comment(workspace, capsys, checkpoints):
    """A prompts file saved with a byte-order mark: its first-line comment stays a comment."""
    copy_checkpoint(checkpoints, workspace / "models")
    (workspace / "p.txt").write_bytes("\ufeff# my prompts\nmoving up\n".encode())
    code, _ = run_cli(["generate", "--prompts", "p.txt", "--out", "out", "--model", "models",
                       "--device", "cpu", "--seed", str(2**32 - 1)], capsys)
    assert code == 0
    written = sorted(p.name for p in (workspace / "out").glob("*.json"))
    assert written == [f"{stem('moving up', kind='text')}.json"]


# ===============================================================================================
# 6. The Python API: the same contract as the CLI (the project's errors, naming the culprit)
# ===============================================================================================
@pytest.fixture(scope="module")
def api(checkpoints):
    from lang2motion.trained_model import Lang2MotionModel

    return Lang2MotionModel.load(checkpoints["a"], device="cpu")


def _disc(height: int = IMAGE_H, width: int = IMAGE_W) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return ((yy - height / 2) ** 2 + (xx - width / 2) ** 2) < 64


API_FAULTS = {
    # case: (call on the model, the error type, what the message must name)
    "bytes-prompt": (lambda m: m.generate([b"moving left"]), ConfigError,
                     ["prompt 1 is bytes", "decode"]),
    "bytes-prompt-alone": (lambda m: m.generate(b"moving left"), ConfigError, ["bytes"]),
    "no-prompt": (lambda m: m.generate([]), ConfigError, ["no prompt"]),
    "int-prompt": (lambda m: m.text_embeddings(["ok", 3]), ConfigError, ["prompt 2 is int"]),
    "colour-image-as-mask": (lambda m: m.generate("x", mask=np.zeros((8, 8, 3), np.uint8)),
                             DataError, ["mask", "(8, 8, 3)", "colour image"]),
    "one-d-mask": (lambda m: m.generate("x", mask=np.ones(64, bool)), DataError,
                   ["mask", "(64,)"]),
    "float-mask-out-of-range": (lambda m: m.generate("x", mask=_disc() * 255.0), DataError,
                                ["float mask", "[0, 1]"]),
    "nan-mask": (lambda m: m.generate("x", mask=np.full((IMAGE_H, IMAGE_W), np.nan)),
                 DataError, ["float mask", "NaN"]),
    "string-mask": (lambda m: m.generate("x", mask=np.array([["a"]])), DataError, ["mask"]),
    "empty-mask": (lambda m: m.generate("x", mask=np.zeros((IMAGE_H, IMAGE_W), bool)),
                   DataError, ["mask"]),
    "canvas-too-large": (lambda m: m.generate("x", size=(100000, 100000)), ConfigError,
                         ["size", "4096", "100000 100000"]),
    "canvas-zero": (lambda m: m.generate("x", size=(0, 10)), ConfigError, ["size", "0 10"]),
    "canvas-not-numbers": (lambda m: m.generate("x", size=("a", "b")), ConfigError,
                           ["size", "whole numbers"]),
    "nan-latent": (lambda m: m.decode(np.full((2, CKPT_DIM), np.nan)), DataError,
                   ["latent row(s) 0, 1", "NaN"]),
    "inf-latent-row-1": (lambda m: m.decode(np.stack([np.ones(CKPT_DIM),
                                                      np.full(CKPT_DIM, np.inf)])),
                         DataError, ["latent row(s) 1"]),
    "latent-width": (lambda m: m.decode(np.ones((1, 7))), DataError, [f"(B, {CKPT_DIM})",
                                                                      "(1, 7)"]),
    "latent-3d": (lambda m: m.decode(np.ones((1, 2, CKPT_DIM))), DataError, ["(1, 2, 32)"]),
    "latent-empty": (lambda m: m.decode(np.ones((0, CKPT_DIM))), DataError, ["(0, 32)"]),
    "latent-text": (lambda m: m.decode("not a latent"), DataError, ["latents must be numbers"]),
    "grids-wrong-shape": (lambda m: m.decode_from_grids(np.ones((1, CKPT_DIM)),
                                                        np.zeros((1, 9, 2)), width=8,
                                                        height=8), DataError,
                          [f"(B, {GRID * GRID}, 2)", "(1, 9, 2)"]),
    "retrieve-k-0": (lambda m: m.retrieve("x", np.ones((3, CKPT_DIM)), k=0), ConfigError,
                     ["k must be a whole number >= 1", "got 0"]),
    "retrieve-nan-gallery": (lambda m: m.retrieve("x", np.full((3, CKPT_DIM), np.nan), k=1),
                             DataError, ["NaN"]),
    "classify-k-0": (lambda m: m.classify(np.ones((1, CKPT_DIM)), ["a", "b"], k=0),
                     ConfigError, ["k must be", "got 0"]),
    "classify-k-float": (lambda m: m.classify(np.ones((1, CKPT_DIM)), ["a"], k=1.5),
                         ConfigError, ["k must be", "1.5"]),
    "classify-duplicate-class": (lambda m: m.classify(np.ones((1, CKPT_DIM)),
                                                      ["walk", "run", "walk"], k=1),
                                 ConfigError, ["the class name 'walk' is given twice"]),
    "classify-bytes-class": (lambda m: m.classify(np.ones((1, CKPT_DIM)), [b"walk"], k=1),
                             ConfigError, ["class names must be non-empty text", "b'walk'"]),
    "images-without-batch": (lambda m: m.image_embeddings(np.zeros((8, 8, 3), np.uint8)),
                             DataError, ["(B, H, W, 3) uint8", "(8, 8, 3)"]),
    "images-float": (lambda m: m.image_embeddings(np.zeros((1, 8, 8, 3))), DataError,
                     ["uint8", "float64"]),
    "interpolate-steps-unbounded": (lambda m: m.interpolate("a", "b", steps=10**6),
                                    ConfigError, ["--steps", "64", "1000000"]),
    "interpolate-steps-1": (lambda m: m.interpolate("a", "b", steps=1), ConfigError,
                            ["--steps", "got 1"]),
    "interpolate-steps-float": (lambda m: m.interpolate("a", "b", steps=2.5), ConfigError,
                                ["--steps", "2.5"]),
    "frames-float": (lambda m: m.encode([_trajectory()], frames=np.zeros((IMAGE_H, IMAGE_W, 3))),
                     DataError, ["frames", "uint8", "float64"]),
    "frames-grey": (lambda m: m.encode([_trajectory()],
                                       frames=np.zeros((IMAGE_H, IMAGE_W), np.uint8)),
                    DataError, ["frames", f"({IMAGE_H}, {IMAGE_W})"]),
}


def _trajectory(frames: int = CKPT_T, points: int = GRID * GRID, path: str = ""):
    from lang2motion.trajectory import Trajectory

    tracks = np.zeros((frames, points, 2), np.float32)
    return Trajectory(tracks=tracks, width=IMAGE_W, height=IMAGE_H, label="", path=path)


@pytest.mark.parametrize("case", list(API_FAULTS))
def test_python_api_raises_the_projects_errors(api, case):
    call, error, names = API_FAULTS[case]
    with pytest.raises(error) as exc:
        call(api)
    assert isinstance(exc.value, Lang2MotionError)
    message = str(exc.value)
    assert "\n" not in message.strip() or message.count("\n") < 3
    for name in names:
        assert name in message, message


def test_api_wrong_shape_trajectory_names_its_file(api, workspace):
    from lang2motion.trajectory import read_trajectory, write_trajectory

    write_trajectory(workspace / "short.json", _trajectory(frames=3))
    with pytest.raises(DataError, match=r"short\.json: is \(3, 4\) \(frames, points\)"):
        api.encode([read_trajectory(workspace / "short.json")])
    with pytest.raises(DataError, match=r"trajectory '': is \(3, 4\)"):   # no file: the label
        api.encode([_trajectory(frames=3)])


def test_api_clip_of_another_name_is_refused(checkpoints):
    from lang2motion.trained_model import Lang2MotionModel

    with pytest.raises(ConfigError, match="trained with CLIP 'L2M-Tiny', not 'L2M-Mini512'"):
        Lang2MotionModel.load(checkpoints["a"], device="cpu", clip_model="L2M-Mini512")
    same = Lang2MotionModel.load(checkpoints["a"], device="cpu", clip_model="L2M-Tiny")
    assert same.clip_model == "L2M-Tiny"


def test_api_soft_float_mask_is_binarised_at_one_half(api):
    """A soft mask (0..1 floats, a faint halo): the grid goes where it is > 0.5, as a 0..255
    mask is read at > 127, not wherever it is > 0."""
    core = np.zeros((IMAGE_H, IMAGE_W), bool)
    core[8:16, 10:22] = True
    soft = np.where(core, 0.9, 0.2)               # the halo covers the whole frame
    np.testing.assert_array_equal(api.grid(soft), api.grid(core))
    grey = np.where(core, 200, 100).astype(np.uint8)
    np.testing.assert_array_equal(api.grid(grey), api.grid(core))
    assert not np.array_equal(api.grid(soft > 0), api.grid(core))


# ===============================================================================================
# 7. Files every verb reads or writes
# ===============================================================================================
def test_rgba_cut_out_mask_is_its_alpha(workspace):
    """An RGBA cut-out (object opaque, the rest transparent, colour white everywhere): the mask
    is the alpha, not the whole frame."""
    from lang2motion.images import read_mask

    rgba = np.full((IMAGE_H, IMAGE_W, 4), 255, np.uint8)
    rgba[..., 3] = 0
    rgba[5:10, 6:12, 3] = 255
    cv2.imwrite(str(workspace / "cutout.png"), rgba)
    mask = read_mask(workspace / "cutout.png")
    assert mask.sum() == 5 * 6 and mask[5:10, 6:12].all()
    rgba[..., 3] = 255                                   # opaque everywhere: the colour counts
    rgba[..., :3] = 0
    rgba[2:4, 2:4, :3] = 255
    cv2.imwrite(str(workspace / "opaque.png"), rgba)
    assert read_mask(workspace / "opaque.png").sum() == 4


def test_palette_like_colour_mask_is_kept_and_16_bit_masks_read(workspace):
    from lang2motion.images import read_mask

    colour = np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8)
    colour[3:9, 3:9] = (0, 0, 200)                       # one red object (BGR): a palette mask
    cv2.imwrite(str(workspace / "red.png"), colour)
    assert read_mask(workspace / "red.png").sum() == 36
    deep = np.zeros((IMAGE_H, IMAGE_W), np.uint16)
    deep[1:3, 1:4] = 65535
    deep[5, 5] = 100                                     # 100 / 65535: background
    cv2.imwrite(str(workspace / "deep.png"), deep)
    assert read_mask(workspace / "deep.png").sum() == 6


def test_colour_photo_is_not_a_mask(workspace):
    from lang2motion.images import read_mask

    photo = np.random.default_rng(0).integers(0, 256, (IMAGE_H, IMAGE_W, 3), np.uint8)
    cv2.imwrite(str(workspace / "photo.png"), photo)
    with pytest.raises(DataError, match=r"photo\.png: looks like a photograph \(\d+ distinct"):
        read_mask(workspace / "photo.png")


def test_text_and_json_with_a_byte_order_mark(workspace):
    from lang2motion.apps.generate import read_prompts
    from lang2motion.io import read_json

    (workspace / "p.txt").write_bytes("\ufeff# comment\nmoving up\n  # indented\n".encode())
    assert read_prompts(["moving down"], str(workspace / "p.txt")) == ["moving down",
                                                                        "moving up"]
    (workspace / "t.json").write_bytes("\ufeff{\"a\": 1}".encode())
    assert read_json(workspace / "t.json", what="test") == {"a": 1}


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_models_are_written_with_the_umasks_mode_not_0600(workspace, checkpoints, umask, mode):
    """safetensors writes 0600 files; the model must be readable as any file the user writes."""
    from lang2motion.model.checkpoint import load_model

    model, meta = load_model(checkpoints["a"])
    before = os.umask(umask)
    try:
        save_model(workspace / "m", model, {k: meta[k] for k in ("clip", "grid", "overlay")})
    finally:
        os.umask(before)
    for name in ("model.safetensors", "model.json"):
        assert (workspace / "m" / name).stat().st_mode & 0o777 == mode, name


@pytest.mark.parametrize("entry", ["../secret.gif", "/etc/hostname", "gallery/../../x.gif"])
def test_report_gallery_entry_outside_the_eval_folder_is_skipped(workspace, entry):
    from lang2motion.report.inputs import load_gallery

    eval_dir = workspace / "reports" / "eval"
    (eval_dir / "gallery").mkdir(parents=True)
    (eval_dir / "gallery" / "ok.gif").write_bytes(b"GIF89a")
    (workspace / "reports" / "secret.gif").write_bytes(b"GIF89a")
    (workspace / "x.gif").write_bytes(b"GIF89a")
    (eval_dir / "gallery.json").write_text(json.dumps([{"file": entry, "text": "bad"},
                                                       {"file": "gallery/ok.gif"}]))
    entries, warnings = load_gallery(eval_dir)
    assert [e.file for e in entries] == ["gallery/ok.gif"]
    assert len(warnings) == 1 and "points outside" in warnings[0] and repr(entry) in warnings[0]


# ===============================================================================================
# The traceback on request, and one real process
# ===============================================================================================
def test_debug_flag_adds_the_traceback(workspace, capsys):
    code, err = run_stage("prepare", capsys, extra=["--debug"], params="nope.yaml")
    assert code == 2
    assert "Traceback (most recent call last)" in err and "ConfigError" in err
    assert err.strip().splitlines()[-1] == "prepare: error: nope.yaml: parameter file not found"
    assert not (workspace / "data").exists()


@pytest.mark.parametrize(("value", "traceback"), [("1", True), ("0", False)])
def test_debug_environment_variable_adds_the_traceback(workspace, capsys, monkeypatch, value,
                                                       traceback):
    monkeypatch.setenv(DEBUG_ENV, value)
    code, err = run_cli(["info", "--model", "nowhere"], capsys)
    assert code == 2
    assert ("Traceback (most recent call last)" in err) is traceback
    assert err.strip().splitlines()[-1].startswith("lang2motion: error: nowhere/model.json")


def test_a_real_process_exits_2_with_one_line(workspace):
    env = {k: v for k, v in os.environ.items() if k != DEBUG_ENV}
    proc = subprocess.run([sys.executable, str(REPO / "pipeline" / "prepare.py"), "--params",
                           "nope.yaml", "--out", "raw"], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr == "prepare: error: nope.yaml: parameter file not found\n"
    assert proc.stdout == "" and list(workspace.iterdir()) == []
