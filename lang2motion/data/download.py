"""Find MeViS on disk, or fetch MeViS v2 from the Hugging Face hub.

The data set (about 15 GB of frames) is referenced in place, never copied. Assumption about
the hub repository ``FudanCVL/MeViSv2`` (its file list cannot be checked offline): each split
lives under a folder named after it, ``<split>/mask_dict.json``, ``<split>/meta_expressions*.json``
and its frames as ``<split>/JPEGImages/`` or as tar archive(s) matching ``**/<split>/**/*.tar*`` or
``<split>*.tar*``, possibly one folder deeper. Archives are extracted safely (tarfile's ``data``
filter: no absolute paths, no ``..``, no links out of the folder) into ``<root>/<split>/``; a
marker file per archive makes re-runs skip extraction.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from lang2motion.data.mevis.layout import FRAMES_DIR, MASK_DICT_NAME, META_NAMES
from lang2motion.errors import DataError, DependencyError

HF_REPO_ID = "FudanCVL/MeViSv2"
HF_REPO_TYPE = "dataset"
HUB_TIMEOUT_S = 10.0                 # metadata requests; a dead network fails within this
ONLINE_ONLY_SPLITS = ("valid",)      # MeViS' online split ships without mask_dict.json
EXTRACTED_MARKER = ".extracted-{name}"
EXTRACT_STAGING = ".extracting"


def instructions(root: Path, splits: Sequence[str]) -> str:
    """What to download and where to put it."""
    lines = [f"MeViS is not present under {root} for split(s) {', '.join(splits)}.",
             (f"Get MeViS v2 from the Hugging Face dataset {HF_REPO_ID} "
              f"(https://huggingface.co/datasets/{HF_REPO_ID}), or v1 from the MeViS CodaLab "
              "competition page (links at https://github.com/henghuiding/MeViS), and arrange:")]
    for split in splits:
        masks = "" if split in ONLINE_ONLY_SPLITS else f", {root / split / MASK_DICT_NAME}"
        lines.append(f"  {root / split / FRAMES_DIR}/<video_id>/<frame>.jpg{masks}, "
                     f"{root / split / META_NAMES[0]} (or {META_NAMES[1]})")
    lines.append("or set data.mevis.download: true (needs network access and ~16 GB of disk).")
    return "\n".join(lines)


def missing_parts(root: Path, split: str) -> list[str]:
    """What a split folder lacks (empty when it is complete)."""
    split_dir = root / split
    missing = []
    frames = split_dir / FRAMES_DIR
    if not frames.is_dir() or not any(frames.iterdir()):
        missing.append(f"{frames}/ (frame folders)")
    if not any((split_dir / name).is_file() for name in META_NAMES):
        missing.append(str(split_dir / META_NAMES[0]))
    if split not in ONLINE_ONLY_SPLITS and not (split_dir / MASK_DICT_NAME).is_file():
        missing.append(str(split_dir / MASK_DICT_NAME))
    return missing


def _download(root: Path, splits: Sequence[str]) -> None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise DependencyError(f"huggingface_hub is needed to download MeViS ({exc}); "
                              f"install it or download by hand.\n"
                              f"{instructions(root, splits)}") from None
    try:
        # resumable: files already complete in local_dir are skipped
        snapshot_download(repo_id=HF_REPO_ID, repo_type=HF_REPO_TYPE, local_dir=root,
                          allow_patterns=[p for s in splits for p in (
                              f"{s}/*", f"{s}/**", f"*/{s}/*", f"*/{s}/**", f"{s}*.tar*")],
                          etag_timeout=HUB_TIMEOUT_S)
    except (OSError, ValueError) as exc:
        # connection errors, HTTP errors (401/404/gated) and offline mode all land here
        raise DependencyError(f"could not download {HF_REPO_ID} ({type(exc).__name__}: {exc}).\n"
                              f"{instructions(root, splits)}") from None


def _archives(root: Path, split: str) -> list[Path]:
    found = set(root.glob(f"**/{split}/**/*.tar*")) | set(root.glob(f"{split}*.tar*"))
    found |= set(root.glob(f"*/{split}*.tar*"))
    return sorted(p for p in found if p.is_file() and EXTRACT_STAGING not in p.parts)


def _extract(archive: Path, split_dir: Path) -> None:
    """Extract one archive into ``split_dir/JPEGImages`` (whatever folder depth it uses)."""
    marker = split_dir / EXTRACTED_MARKER.format(name=archive.name)
    if marker.exists():
        return
    staging = split_dir / EXTRACT_STAGING
    if staging.exists():
        shutil.rmtree(staging)          # a previous extraction was interrupted
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            for member in tqdm(tar, desc=f"extract {archive.name}", unit="file", disable=None):
                tar.extract(member, staging, filter="data")
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{archive}: cannot extract ({type(exc).__name__}: {exc}); delete it "
                        "to download it again") from None
    # the archive may hold JPEGImages/<vid>/..., <split>/JPEGImages/<vid>/... or <vid>/...
    inner = next((p for p in staging.rglob(FRAMES_DIR) if p.is_dir()), staging)
    target = split_dir / FRAMES_DIR
    target.mkdir(parents=True, exist_ok=True)
    for item in inner.iterdir():
        destination = target / item.name
        if destination.exists():
            shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
        os.replace(item, destination)
    shutil.rmtree(staging)
    marker.write_text(f"{archive}\n", encoding="utf-8")


def _gather(root: Path, split: str) -> None:
    """Move annotation files found one folder deeper (``<root>/<x>/<split>/``) into place."""
    split_dir = root / split
    split_dir.mkdir(parents=True, exist_ok=True)
    for name in (*META_NAMES, MASK_DICT_NAME):
        if (split_dir / name).exists():
            continue
        for candidate in root.glob(f"*/{split}/{name}"):
            os.replace(candidate, split_dir / name)
            break
    for archive in _archives(root, split):
        _extract(archive, split_dir)


def ensure_mevis(root: str | os.PathLike[str], splits: Sequence[str], *, download: bool) -> Path:
    """Return ``root`` once every split is present; download MeViS v2 there if allowed.

    Raises DependencyError with what to download and where when the data is missing and
    ``download`` is false, or when the download fails (for instance offline).
    """
    root = Path(root)
    todo = [s for s in splits if missing_parts(root, s)]
    if not todo:
        return root
    if not download:
        parts = [p for s in todo for p in missing_parts(root, s)]
        raise DependencyError(f"{instructions(root, todo)}\nMissing: {', '.join(parts)}")
    root.mkdir(parents=True, exist_ok=True)
    _download(root, todo)
    for split in todo:
        _gather(root, split)
    still = [p for s in todo for p in missing_parts(root, s)]
    if still:
        raise DependencyError(f"downloaded {HF_REPO_ID} into {root} but the layout is not the "
                              f"expected one; missing: {', '.join(still)}.\n"
                              f"{instructions(root, todo)}")
    return root
