"""The prepare stage: synthetic and MeViS sources, manifests, summaries, atomic replacement."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.mevis import write_split

from lang2motion.config import DataConfig, MevisConfig, SynthConfig
from lang2motion.data.mevis.layout import Expression, VideoRecord
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.samples import REASON_NO_OBJECT, REASON_TOO_SHORT
from lang2motion.data.splits import MANIFEST_NAME, resolve_split
from lang2motion.stages import prepare as prepare_module
from lang2motion.stages.prepare import run_stage as prepare_data

REPO = Path(__file__).resolve().parents[1]
SYNTH = SynthConfig(seed=1, train_videos=2, valid_videos=2, video_frames=10, height=64,
                    width=80)


def _cfg(**kw) -> DataConfig:
    base = {"frames": 8, "window_stride": 4, "max_windows": 1, "synth": SYNTH}
    base.update(kw)
    return DataConfig(**base)


def test_prepare_synthetic(tmp_path: Path) -> None:
    out, summary_path = tmp_path / "raw", tmp_path / "reports" / "prepare_summary.json"
    summary = prepare_data(data=_cfg(), out_dir=out, summary_path=summary_path)
    assert json.loads(summary_path.read_text()) == summary
    assert sorted(p.name for p in out.iterdir()) == ["train", "valid_u"]
    for split in ("train", "valid_u"):
        info = summary["splits"][split]
        assert info["videos"] == 2 and info["frames"] == 20 and info["has_masks"]
        assert info["samples"] == info["expressions"] > 0      # one window per expression
        assert info["skipped"] == [] and not any(info["skipped_by_reason"].values())
        reader = resolve_split(out, split)
        assert isinstance(reader, MevisSplit) and len(reader) == 2
        assert (out / split / "synth_gt.json").is_file()
    assert summary["generated"]["splits"]["train"]["videos"] == 2


def test_rerun_replaces_stale_splits_and_cleans_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    prepare_data(data=_cfg(), out_dir=out)
    (out / "train" / "stale.txt").write_text("old")
    (tmp_path / ".staging-raw.interrupted").mkdir()   # left by a killed run
    first = (out / "train" / "meta_expressions.json").read_bytes()
    prepare_data(data=_cfg(), out_dir=out)
    assert not (out / "train" / "stale.txt").exists()
    assert not (tmp_path / ".staging-raw.interrupted").exists()
    assert (out / "train" / "meta_expressions.json").read_bytes() == first


def test_interrupted_generation_leaves_the_old_split_whole(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    out = tmp_path / "raw"
    prepare_data(data=_cfg(), out_dir=out)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))

    def broken(root: Path, **kwargs):
        (Path(root) / "train").mkdir()
        (Path(root) / "train" / "half.jpg").write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_module, "generate_synthetic", broken)
    with pytest.raises(KeyboardInterrupt):
        prepare_data(data=_cfg(), out_dir=out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before


def _mevis_root(root: Path) -> None:
    mask = np.zeros((12, 16), dtype=bool)
    mask[2:8, 3:9] = True
    for split in ("train", "valid_u"):
        videos = []
        for i, length in enumerate((10, 5, 10)):
            videos.append(VideoRecord(f"{split[:1]}{i:011d}", np.zeros((length, 12, 16, 3),
                                                                       np.uint8),
                                      {str(i): [mask] * length},
                                      [Expression("0", "an object", (0,), (str(i),)),
                                       Expression("1", "no object", (), ())]))
        write_split(root, split, videos)


def test_prepare_mevis_writes_manifests(tmp_path: Path) -> None:
    root, out = tmp_path / "mevis", tmp_path / "raw"
    _mevis_root(root)
    cfg = _cfg(source="mevis", mevis=MevisConfig(root=str(root), download=False, max_videos=2))
    summary = prepare_data(data=cfg, out_dir=out)
    for split in ("train", "valid_u"):
        manifest = json.loads((out / split / MANIFEST_NAME).read_text())
        assert manifest == {"source": "mevis", "root": str(root.resolve()), "split": split}
        assert sorted(p.name for p in (out / split).iterdir()) == [MANIFEST_NAME]
        reader = resolve_split(out, split)
        assert reader.split_dir == root.resolve() / split and len(reader) == 3
        info = summary["splits"][split]
        # max_videos=2: the 10-frame video gives one sample, the 5-frame one is too short
        assert info["videos"] == 2 and info["frames"] == 15 and info["samples"] == 1
        assert info["skipped_by_reason"][REASON_TOO_SHORT] == 1
        assert info["skipped_by_reason"][REASON_NO_OBJECT] == 2


def test_prepare_mevis_missing_data_is_a_dependency_error(tmp_path: Path) -> None:
    cfg = _cfg(source="mevis", mevis=MevisConfig(root=str(tmp_path / "nowhere")))
    with pytest.raises(ImportError, match="FudanCVL/MeViSv2"):
        prepare_data(data=cfg, out_dir=tmp_path / "raw")


def test_resolve_unprepared_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split not prepared"):
        resolve_split(tmp_path, "train")


def test_stage_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {
        "frames": 8, "window_stride": 4, "max_windows": 1,
        "synth": {"seed": 2, "train_videos": 1, "valid_videos": 1, "video_frames": 8,
                  "height": 64, "width": 80}}}))
    main = runpy.run_path(str(REPO / "pipeline" / "prepare.py"), run_name="stage")["main"]
    summary = tmp_path / "reports" / "prepare_summary.json"
    main(["--params", str(params), "--out", str(tmp_path / "raw"), "--summary", str(summary)])
    assert json.loads(summary.read_text())["splits"]["train"]["videos"] == 1
    assert "train: 1 videos" in capsys.readouterr().out
