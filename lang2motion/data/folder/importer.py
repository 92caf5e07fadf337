"""Importing a folder of clips (its manifest) into MeViS-layout train and valid splits.

Legend: T frames, H height, W width.

Each clip (a source cut at one start) is decoded once and written as one video: its frames, one
anno id per object with its mask on the first frame (and on later frames where a ``masks`` folder
has one; None elsewhere, so sample windows start only where a mask is known), one expression per
caption. Boxes and clicks become masks through :func:`lang2motion.regions.resolve_region` (as for
``generate --box/--point``) on the first frame at source resolution. Clips shorter than
``frames`` are skipped and listed; every other problem is an error naming the manifest line.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.data.folder.manifest import SPLITS, ClipLine, Manifest, read_manifest
from lang2motion.data.folder.video import DecodedClip, decode_clip, resize
from lang2motion.data.mevis.layout import IMAGE_EXTS, VIDEO_ID_HEX, Expression, VideoRecord
from lang2motion.data.mevis.writer import SplitWriter
from lang2motion.errors import DataError, DependencyError, Lang2MotionError
from lang2motion.images import read_mask
from lang2motion.io import atomic_dir, write_json_atomic

REASON_CLIP_SHORT = "clip shorter than data.frames after resampling"
SECONDS_DECIMALS = 2
SAM_DEVICE = "auto"
IMPORT_SUMMARY = "import_summary.json"


def _where(manifest: Manifest, lines: list[ClipLine]) -> str:
    numbers = sorted({item.line for item in lines})
    label = "line" if len(numbers) == 1 else "lines"
    return f"{manifest.path}, {label} {', '.join(map(str, numbers))}"


def _per_frame_masks(folder: Path, clip: DecodedClip, where: str
                     ) -> list[np.ndarray | None]:    # T entries of (H, W) bool or None
    """The masks of a ``masks`` folder for each output frame (None where the folder has none)."""
    files = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS}
    if clip.source_names:           # a frame folder: masks share the frames' stems
        by_index = {i: files.get(stem) for i, stem in clip.source_names.items()}
    else:                           # a video: 00012.png is frame 12
        by_index = {int(stem): p for stem, p in files.items() if stem.isdigit()}
    first = clip.source_index[0]
    if by_index.get(first) is None:
        name = clip.source_names.get(first, f"{first:05d}")
        raise DataError(f"{where}: masks folder {folder} has no mask of the clip's first frame "
                        f"({name}.png); the first frame's mask places the tracking grid")
    cache: dict[int, np.ndarray | None] = {}
    out = []
    for index in clip.source_index:
        if index not in cache:
            path = by_index.get(index)
            try:
                cache[index] = None if path is None else resize(
                    read_mask(path, size=clip.source_size, allow_empty=index != first),
                    clip.size)
            except DataError as exc:
                raise DataError(f"{where}: {exc} (the frames of {folder.parent} are "
                                f"{clip.source_size[1]}x{clip.source_size[0]} WxH)") from None
        out.append(cache[index])
    return out


def _object_masks(item: ClipLine, clip: DecodedClip, where: str, *,
                  sam_checkpoint: str | None) -> list[np.ndarray | None]:
    """T masks of the object of ``item`` (its region), None where unknown."""
    region = item.region
    assert region is not None, "checked by the manifest reader"
    if region.kind == "masks":
        return _per_frame_masks(region.path, clip, where)
    # imported here: it loads torch (for SAM), which folders of per-frame masks do not need
    from lang2motion.regions import resolve_region

    try:
        mask, _how = resolve_region(
            size=clip.source_size, image=clip.first_rgb,
            mask_path=str(region.path) if region.kind == "mask" else None,
            box=region.box, points=region.points, sam_checkpoint=sam_checkpoint,
            device=SAM_DEVICE)
    except Lang2MotionError as exc:
        kind = DependencyError if isinstance(exc, DependencyError) else DataError
        hint = (" (the checkpoint is data.folder.sam_checkpoint in the pipeline, "
                "--sam-checkpoint of lang2motion import)" if region.kind == "points" else "")
        raise kind(f"{where}: {region.describe()} on the clip's first frame "
                   f"({clip.source_size[1]}x{clip.source_size[0]} WxH): {exc}{hint}") from None
    masks: list[np.ndarray | None] = [None] * len(clip.frames)
    masks[0] = resize(mask, clip.size)
    return masks


def _clip_records(manifest: Manifest, lines: list[ClipLine], clip: DecodedClip, *,
                  sam_checkpoint: str | None, next_anno: dict[str, int]
                  ) -> dict[str, VideoRecord]:
    """One record per split holding the clip's objects of that split (anno ids from
    ``next_anno[split]``, advanced)."""
    objects: dict[str, list[ClipLine]] = {}
    for item in lines:
        objects.setdefault(item.object_key, []).append(item)
    parts: dict[str, tuple[dict[str, list], list[Expression]]] = {}
    for obj_id, (_key, items) in enumerate(objects.items()):
        with_region = next(item for item in items if item.region is not None)
        masks = _object_masks(with_region, clip, _where(manifest, items),
                              sam_checkpoint=sam_checkpoint)
        split = items[0].split
        anno_id = str(next_anno[split])
        next_anno[split] += 1
        annos, expressions = parts.setdefault(split, ({}, []))
        annos[anno_id] = masks
        for caption in (c for item in items for c in item.captions):
            expressions.append(Expression(str(len(expressions)), caption, (obj_id,),
                                          (anno_id,)))
    video_id = hashlib.sha1(repr(lines[0].clip_key).encode("utf-8")).hexdigest()[:VIDEO_ID_HEX]
    return {split: VideoRecord(video_id=video_id, frames=clip.frames, masks=annos,
                               expressions=expressions)
            for split, (annos, expressions) in parts.items()}


def import_manifest(root: str | os.PathLike[str], *, out_root: str | os.PathLike[str],
                    split_names: dict[str, str], frames: int, fps: float, max_side: int,
                    sam_checkpoint: str = "") -> dict[str, Any]:
    """Write the clips of the manifest of ``root`` as MeViS splits under ``out_root`` (named by
    ``split_names``: manifest train / valid -> split folder); return the summary."""
    began = time.perf_counter()
    manifest = read_manifest(root)
    clips: dict[tuple[Any, ...], list[ClipLine]] = {}
    for item in manifest.lines:
        clips.setdefault(item.clip_key, []).append(item)
    next_anno = {split: 1 for split in SPLITS}
    writers: dict[str, SplitWriter] = {}
    written: Counter[str] = Counter()
    skipped: list[dict[str, Any]] = []
    for lines in clips.values():
        first = lines[0]
        where = _where(manifest, lines)
        try:
            clip = decode_clip(first.video, fps=fps, max_side=max_side,
                               start_frame=first.start_frame, start_time=first.start_time,
                               folder_fps=first.fps)
        except Lang2MotionError as exc:
            raise type(exc)(f"{where}: {exc}") from None
        if len(clip.frames) < frames:
            skipped.append({"lines": sorted({item.line for item in lines}),
                            "video": str(first.video), "reason": REASON_CLIP_SHORT,
                            "detail": f"{len(clip.frames)} frames at {fps:g} fps, "
                                      f"data.frames is {frames}"})
            continue
        records = _clip_records(manifest, lines, clip, sam_checkpoint=sam_checkpoint or None,
                                next_anno=next_anno)
        for split, record in records.items():
            if split not in writers:
                writers[split] = SplitWriter(out_root, split_names[split])
            writers[split].add(record)
            written[split] += 1
    for split in SPLITS:
        if not written[split]:
            raise DataError(f"{manifest.path}: no {split} clips left to write: every {split} "
                            f"clip is shorter than data.frames ({frames}) at data.folder.fps "
                            f"({fps:g}); skipped: "
                            + "; ".join(f"lines {s['lines']} ({s['detail']})" for s in skipped
                                        if any(item.line in s["lines"] and item.split == split
                                               for item in manifest.lines))
                            + f". Give longer {split} clips or lower data.frames (a window "
                            f"spans data.frames / data.folder.fps seconds)")
    for writer in writers.values():
        writer.close()
    return {"manifest": str(manifest.path), "lines": len(manifest.lines),
            "clips": len(clips), "videos": {split_names[s]: written[s] for s in SPLITS},
            "fps": fps, "max_side": max_side,
            "skipped_by_reason": {REASON_CLIP_SHORT: len(skipped)}, "skipped_clips": skipped,
            "seconds": round(time.perf_counter() - began, SECONDS_DECIMALS)}


def import_to_folder(root: str | os.PathLike[str], *, out_dir: str | os.PathLike[str],
                     split_names: dict[str, str], frames: int, fps: float, max_side: int,
                     sam_checkpoint: str = "") -> dict[str, Any]:
    """``lang2motion import``: :func:`import_manifest` into a new folder ``out_dir`` (a MeViS
    root for ``data.source=mevis``), whole or not at all, the summary in IMPORT_SUMMARY."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: already exists and is not an empty folder; give a new --out "
                        "folder (nothing is overwritten)")
    with atomic_dir(out) as staging:
        summary = import_manifest(root, out_root=staging, split_names=split_names,
                                  frames=frames, fps=fps, max_side=max_side,
                                  sam_checkpoint=sam_checkpoint)
        write_json_atomic(staging / IMPORT_SUMMARY, summary)
    return summary
