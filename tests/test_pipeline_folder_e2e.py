"""`dvc repro` end to end on a folder of own clips (data.source: folder), in a temporary copy.

The clips are MP4s written here: a textured square sliding over a textured background in one of
four directions, one box and one caption each; tiny settings as in test_pipeline_e2e.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v2 as iio
import numpy as np
import pytest
import yaml
from test_pipeline_e2e import TINY, _merge, _run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
HEIGHT, WIDTH, SIDE, FRAMES, FPS = 96, 128, 24, 20, 10    # 2 s clips at 10 fps
STEP = 2                                                    # pixels per frame
MOTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def _clip(path: Path, direction: tuple[int, int], seed: int) -> tuple[int, int, int, int]:
    """Write the clip; return the square's box on the first frame (x0, y0, x1, y1)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    texture = rng.integers(130, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    x0 = (WIDTH - SIDE) // 2 - direction[0] * STEP * FRAMES // 2
    y0 = (HEIGHT - SIDE) // 2 - direction[1] * STEP * FRAMES // 2
    frames = []
    for t in range(FRAMES):
        frame = background.copy()
        x, y = x0 + direction[0] * STEP * t, y0 + direction[1] * STEP * t
        frame[y:y + SIDE, x:x + SIDE] = texture
        frames.append(frame)
    iio.mimwrite(path, frames, fps=FPS, macro_block_size=1)
    return x0, y0, x0 + SIDE - 1, y0 + SIDE - 1


@pytest.fixture(scope="module")
def clips_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own_clips")
    lines = []
    for i, (split, name) in enumerate([(s, n) for s in ("train", "valid") for n in MOTIONS]):
        if split == "valid" and name in ("down", "up"):
            continue
        box = _clip(folder / f"{split}_{name}.mp4", MOTIONS[name], seed=i)
        lines.append({"video": f"{split}_{name}.mp4", "box": ",".join(map(str, box)),
                      "captions": [f"a square moving {name}", f"the block slides {name}"],
                      "split": split})
    (folder / "clips.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, clips_folder):
    work = tmp_path_factory.mktemp("e2e_folder") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    params = yaml.safe_load((work / "params.yaml").read_text())
    folder = {"data": {"source": "folder",
                       "folder": {"root": str(clips_folder), "fps": 5.0, "max_side": 0}}}
    params = _merge(_merge(params, TINY), folder)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        _run(args, work, env)
    return work, env


def test_dvc_repro_on_own_clips_runs_through_the_report(workspace):
    work, env = workspace
    _run(["dvc", "repro"], work, env)
    summary = json.loads((work / "reports/prepare_summary.json").read_text())
    assert summary["source"] == "folder"
    assert summary["generated"]["videos"] == {"train": 4, "valid_u": 2}
    assert summary["splits"]["train"]["samples"] == 8       # 4 clips x 2 captions, window 0
    assert summary["splits"]["valid_u"]["samples"] == 4
    assert (work / "models/model.safetensors").exists()
    evaluation = json.loads((work / "reports/metrics.json").read_text())
    assert 0.0 <= evaluation["r1"] <= 1.0
    report = (work / "reports/report.md").read_text()
    assert "## Table 1" in report or "**Table 1" in report
    assert "own clips" in report and "clips.jsonl" in report
    # the model generates from text
    _run([sys.executable, "-m", "lang2motion.cli", "generate", "a square moving left",
          "--out", "generated"], work, env)
    (trajectory,) = (work / "generated").glob("*.json")
    assert np.asarray(json.loads(trajectory.read_text())["tracks_px"]).shape[1] == 9   # 3x3
