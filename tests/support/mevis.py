"""Writing a whole MeViS-format split in one call (test fixtures)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lang2motion.data.mevis.layout import VideoRecord
from lang2motion.data.mevis.writer import SplitWriter
from lang2motion.errors import DataError


def write_split(root: str | os.PathLike[str], split: str, videos: Sequence[VideoRecord], *,
                append: bool = False) -> Path:
    """Write ``videos`` with one :class:`SplitWriter`; return the split folder. Each call
    rewrites the split's JSON files: many videos go in one call, not one call each."""
    if not videos:
        raise DataError(f"{Path(root) / split}: no videos to write")
    if not append and any((Path(root) / split).glob("meta_expressions*.json")):
        raise DataError(f"{Path(root) / split}: split already exists (delete it, or append)")
    writer = SplitWriter(root, split)
    for record in videos:
        writer.add(record)
    return writer.close()
