"""MeViS on disk or from the hub: present, missing, offline, downloaded archives."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from lang2motion.data.download import HF_REPO_ID, ensure_mevis
from lang2motion.errors import DataError, DependencyError

VID = "0ab4afe7fb46"
META = {"videos": {VID: {"frames": ["00000"], "expressions": {
    "0": {"exp": "x", "obj_id": [0], "anno_id": [1]}}}}}


def _annotations(split_dir: Path) -> None:
    split_dir.mkdir(parents=True, exist_ok=True)
    (split_dir / "meta_expressions.json").write_text(json.dumps(META))
    (split_dir / "mask_dict.json").write_text(json.dumps({"1": [None]}))


def _present(root: Path, split: str) -> None:
    _annotations(root / split)
    frames = root / split / "JPEGImages" / VID
    frames.mkdir(parents=True)
    (frames / "00000.jpg").write_bytes(b"jpeg")


def _tar(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _no_hub(**kwargs):
    raise AssertionError("the hub must not be contacted")


def test_present_data_is_referenced_in_place(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _no_hub)
    _present(tmp_path, "train")
    _present(tmp_path, "valid_u")
    assert ensure_mevis(tmp_path, ["train", "valid_u"], download=True) == tmp_path
    assert ensure_mevis(tmp_path, ["train"], download=False) == tmp_path


def test_online_split_needs_no_masks(tmp_path: Path) -> None:
    _present(tmp_path, "valid")
    (tmp_path / "valid" / "mask_dict.json").unlink()
    assert ensure_mevis(tmp_path, ["valid"], download=False) == tmp_path


def test_missing_data_says_what_to_download_and_where(tmp_path: Path) -> None:
    _present(tmp_path, "train")
    with pytest.raises(DependencyError) as info:
        ensure_mevis(tmp_path, ["train", "valid_u"], download=False)
    message = str(info.value)
    assert HF_REPO_ID in message and "CodaLab" in message
    assert str(tmp_path / "valid_u" / "JPEGImages") in message
    assert str(tmp_path / "valid_u" / "mask_dict.json") in message
    assert "meta_expressions.json" in message
    assert str(tmp_path / "train" / "JPEGImages") not in message.split("Missing:")[1]


@pytest.mark.parametrize("error", [
    LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder"),
    ConnectionError("Failed to resolve 'huggingface.co'"),
])
def test_offline_download_fails_at_once_with_instructions(tmp_path: Path, error: Exception,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def offline(**kwargs):
        calls.append(kwargs)
        raise error

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    began = time.perf_counter()
    with pytest.raises(DependencyError, match="could not download FudanCVL/MeViSv2") as info:
        ensure_mevis(tmp_path / "mevis", ["train"], download=True)
    assert time.perf_counter() - began < 5
    assert str(tmp_path / "mevis" / "train" / "JPEGImages") in str(info.value)
    assert calls[0]["repo_id"] == HF_REPO_ID and calls[0]["repo_type"] == "dataset"
    assert calls[0]["local_dir"] == tmp_path / "mevis"
    assert all("train" in p for p in calls[0]["allow_patterns"])


def test_hub_returning_an_incomplete_folder_is_an_error(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # offline with a non-empty local_dir, snapshot_download returns it with only a warning
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: str(kw["local_dir"]))
    _annotations(tmp_path / "train")
    with pytest.raises(DependencyError, match="missing: .*train/JPEGImages"):
        ensure_mevis(tmp_path, ["train"], download=True)


@pytest.mark.parametrize("layout", ["flat", "nested"])
def test_download_extracts_frame_archives_once(tmp_path: Path, layout: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_hub(**kwargs):
        calls.append(kwargs)
        local = Path(kwargs["local_dir"])
        if layout == "flat":      # <split>/JPEGImages.tar holding JPEGImages/<vid>/...
            _annotations(local / "valid_u")
            _tar(local / "valid_u" / "JPEGImages.tar",
                 {f"JPEGImages/{VID}/00000.jpg": b"a", f"JPEGImages/{VID}/00001.jpg": b"b"})
        else:                     # one folder deeper, archive holding <vid>/... directly
            _annotations(local / "MeViS_v2" / "valid_u")
            _tar(local / "MeViS_v2" / "valid_u" / "frames.tar.gz",
                 {f"{VID}/00000.jpg": b"a", f"{VID}/00001.jpg": b"b"})
        return str(local)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_hub)
    root = tmp_path / "mevis"
    assert ensure_mevis(root, ["valid_u"], download=True) == root
    frames = root / "valid_u" / "JPEGImages" / VID
    assert sorted(p.name for p in frames.iterdir()) == ["00000.jpg", "00001.jpg"]
    assert (frames / "00001.jpg").read_bytes() == b"b"
    assert (root / "valid_u" / "meta_expressions.json").is_file()
    assert list((root / "valid_u").glob(".extracted-*"))
    assert not (root / "valid_u" / ".extracting").exists()
    # a second run finds everything in place: no hub call, no extraction
    ensure_mevis(root, ["valid_u"], download=True)
    assert len(calls) == 1


def test_unsafe_archive_member_is_refused(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_hub(**kwargs):
        local = Path(kwargs["local_dir"])
        _annotations(local / "train")
        _tar(local / "train" / "JPEGImages.tar", {"../../escaped.jpg": b"x"})
        return str(local)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_hub)
    with pytest.raises(DataError, match="JPEGImages.tar: cannot extract"):
        ensure_mevis(tmp_path / "m", ["train"], download=True)
    assert not (tmp_path / "escaped.jpg").exists()
