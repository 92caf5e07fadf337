"""The config dataclasses: a bad value is refused early with its name, value and what is allowed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lang2motion.config import (
    SECTIONS,
    GridConfig,
    TrackConfig,
    accepted_text,
    load_params,
    param,
)
from lang2motion.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_params_yaml_loads_every_section() -> None:
    # params.yaml is generated from the declarations: tests/test_dvc_yaml.py
    params = load_params(REPO / "params.yaml")
    assert set(params) == set(SECTIONS)
    assert params["grid"].size == 6 and params["data"].frames == 30   # the paper's 6x6, T=30


def _load(tmp_path: Path, text: str, *sections: str):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return load_params(path, *sections)


# (params.yaml text, the section to load, what the message must name)
BAD = [
    ("train:\n  lr: -0.001\n", "train", r"train\.lr must be > 0.0, got -0\.001"),
    ("train:\n  lr: .nan\n", "train", r"train\.lr must be a finite number > 0.0"),
    ("train:\n  epochs: many\n", "train", r"train\.epochs must be an integer, got 'many'"),
    ("train:\n  device: gpu\n", "train", r"train\.device must be one of auto, cpu, cuda"),
    ("loss:\n  text: -1\n", "loss", r"loss\.text must be >= 0.0, got -1"),
    ("loss:\n  l1: maybe\n", "loss", r"loss\.l1 must be true or false, got 'maybe'"),
    ("grid:\n  erode_iterations: -2\n", "grid", r"grid\.erode_iterations must be >= 0, got -2"),
    ("grid:\n  margin: 0.5\n", "grid", r"grid\.margin must be in \[0.0, 0.5\), got 0\.5"),
    ("overlay:\n  color: magenta\n", "overlay", r"overlay\.color must be one of cyan, blue"),
    ("overlay:\n  opacity: 1.5\n", "overlay", r"overlay\.opacity must be in \[0.0, 1.0\]"),
    ("clip:\n  batch_size: 0\n", "clip", r"clip\.batch_size must be >= 1, got 0"),
    ("model:\n  decoder: lstm\n", "model", r"model\.decoder must be one of autoregressive"),
    ("model:\n  heads: 3\n", "model", r"model\.latent \(512\) must be divisible by model\.heads"),
    ("track:\n  backend: raft\n", "track", r"track\.backend must be one of lk, cotracker3"),
    ("data:\n  source: kinetics\n", "data", r"data\.source must be one of synth, mevis"),
    ("data:\n  frames: 70\n", "data", r"data\.synth\.video_frames \(30\) must be >= data\.frames"),
    ("data:\n  valid_split: train\n", "data", r"both 'train'"),
    ("eval:\n  level: 1.0\n", "eval", r"eval\.level must be in \(0.0, 1.0\)"),
    ("report:\n  experiments: 3\n", "report", r"report\.experiments must be true or false"),
    ("data:\n  mevis:\n    download: yes please\n", "data",
     r"data\.mevis\.download must be true or false, got 'yes please'"),
    ("data:\n  frames: 1\n", "data", r"data\.frames must be >= 2, got 1"),
    ("loss:\n  l1: true\n  velocity: 0.1\n", "loss", r"unknown parameter\(s\) loss\.velocity"),
    ("lossy:\n  a: 1\n", None, r"unknown parameter section\(s\) lossy"),
    ("- a\n- b\n", None, r"expected a mapping of sections"),
    ("train: [1, 2\n", None, r"not valid YAML"),
]


@pytest.mark.parametrize(("text", "section", "message"), BAD, ids=[b[2][:30] for b in BAD])
def test_bad_value_is_refused_with_name_value_and_what_is_accepted(tmp_path: Path, text: str,
                                                                  section: str | None,
                                                                  message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text, *([section] if section else []))


def test_source_specific_checks_apply_to_that_source_only(tmp_path: Path) -> None:
    # a MeViS run does not care how long synthetic videos would be
    params = _load(tmp_path, "data:\n  source: mevis\n  frames: 40\n", "data")
    assert params["data"].frames == 40


def test_yaml_exponent_without_dot_is_a_number(tmp_path: Path) -> None:
    # YAML 1.1 reads 1e-3 as a string; `dvc exp run -S train.lr=1e-3` must still work
    assert _load(tmp_path, "train:\n  lr: 1e-3\n", "train")["train"].lr == pytest.approx(1e-3)


def test_missing_file_and_non_utf8_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="parameter file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_bytes(b"train:\n  epochs: 3 # \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_params(bad)


def test_accepted_values_in_words_for_the_params_yaml_comments() -> None:
    meta = {f.name: f.metadata for f in dataclasses.fields(GridConfig)}
    assert accepted_text(meta["margin"]) == "[0.0, 0.5)"
    assert accepted_text(meta["size"]) == ">= 1"
    assert accepted_text(dataclasses.fields(TrackConfig)[0].metadata) == "lk | cotracker3"


def test_a_range_that_cannot_be_read_fails_at_declaration() -> None:
    with pytest.raises(ValueError, match="cannot read the range 'at least 1'"):
        param(1, "at least 1", help="an example")
