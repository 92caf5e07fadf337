"""Opening a prepared split: ``<raw_dir>/<split>/`` is a MeViS split, or a ``SOURCE.json``
manifest pointing at one in place (the 15 GB MeViS is never copied)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.errors import DataError

MANIFEST_NAME = "SOURCE.json"


def manifest(root: str | os.PathLike[str], split: str) -> dict[str, Any]:
    """The manifest that points ``<raw_dir>/<split>`` at MeViS split ``split`` under ``root``."""
    return {"source": "mevis", "root": str(root), "split": split}


def resolve_split(raw_dir: str | os.PathLike[str], split: str) -> MevisSplit:
    """Open ``raw_dir/split``: the MeViS split its manifest points at, or the split itself."""
    split_dir = Path(raw_dir) / split
    path = split_dir / MANIFEST_NAME
    if path.is_file():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            root = Path(info["root"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{path}: not a valid manifest ({exc}); re-run the prepare "
                            "stage") from None
        return MevisSplit(root, info.get("split", split))
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: split not prepared (run the prepare stage)")
    return MevisSplit(raw_dir, split)
