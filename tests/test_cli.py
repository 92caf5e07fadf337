"""The `lang2motion` command on a tiny trained checkpoint."""

import json

import cv2
import numpy as np
import pytest
import torch

from lang2motion.cli import main
from lang2motion.model import ModelConfig, build_model
from lang2motion.model.checkpoint import save_model


@pytest.fixture()
def checkpoint(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(points=9, frames=6, latent=32, clip_dim=32, layers=1, heads=2, ff=64,
                      decoder_hidden=64)
    directory = tmp_path / "models"
    save_model(directory, build_model(cfg), {"clip": {"model": "L2M-Tiny", "pretrained": "none"},
                                             "grid": {"size": 3, "erode_iterations": 1,
                                                      "margin": 0.1}})
    return directory


def test_generate_writes_tracks_that_start_on_the_mask(checkpoint, tmp_path):
    mask = np.zeros((48, 64), np.uint8)
    mask[10:40, 20:50] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    out = tmp_path / "gen"
    assert main(["generate", "a red ball moving left", "--mask", str(tmp_path / "mask.png"),
                 "--model", str(checkpoint), "--out", str(out)]) == 0
    result = json.loads((out / "a_red_ball_moving_left.json").read_text())
    tracks = np.array(result["tracks_px"])
    assert tracks.shape == (6, 9, 2)
    x, y = np.round(tracks[0]).astype(int).T
    assert (mask[y, x] > 0).all()  # the initial grid lies inside the mask
    assert (out / "a_red_ball_moving_left.mp4").stat().st_size > 0


def test_generate_reports_bad_mask_and_missing_model(checkpoint, tmp_path, capsys):
    assert main(["generate", "x", "--mask", str(tmp_path / "none.png"),
                 "--model", str(checkpoint)]) == 2
    assert "none.png" in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((8, 8), np.uint8))
    assert main(["generate", "x", "--mask", str(blank), "--model", str(checkpoint)]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["generate", "x", "--model", str(tmp_path / "nomodel")]) == 2
    assert "nomodel" in capsys.readouterr().err
