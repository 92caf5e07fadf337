"""Writing the synthetic set: videos in the exact MeViS layout plus the ground-truth sidecar.

The sidecar ``<split>/synth_gt.json`` stores every affine, depth and sprite support, and each
expression's motion kind and caption template, so :class:`SynthGroundTruth` can give exact point
tracks. Same arguments, byte-identical files. Legend: T frames, H height, W width.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lang2motion.data.mevis.layout import VIDEO_ID_HEX, VideoRecord
from lang2motion.data.mevis.rle import encode_rle
from lang2motion.data.mevis.writer import SplitWriter
from lang2motion.data.synth.captions import TEMPLATES, expressions_for
from lang2motion.data.synth.motion import MOVING_KINDS
from lang2motion.data.synth.scenes import (
    MIN_START_VISIBLE,
    VIDEO_TRIES,
    SceneObject,
    make_scene,
    render_scene,
)
from lang2motion.data.synth.sprites import make_background
from lang2motion.data.synth.truth import SIDECAR_FORMAT, SIDECAR_NAME
from lang2motion.errors import DataError
from lang2motion.io import write_text_atomic

# ----------------------------------------------------------------------------------------------
# Generation


def video_id_for(seed: int, split: str, index: int) -> str:
    """12 hex characters, a pure function of (seed, split, index)."""
    return hashlib.sha256(f"lang2motion-synth/{seed}/{split}/{index}".encode()).hexdigest()[
        :VIDEO_ID_HEX]


def kind_schedule(seed: int, split: str, videos: int) -> list[str]:
    """Primary motion kind of each video: shuffled rounds over every moving kind (balanced)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode())]))
    rounds = -(-videos // len(MOVING_KINDS))
    order = np.concatenate([rng.permutation(len(MOVING_KINDS)) for _ in range(rounds)])
    return [MOVING_KINDS[int(i)] for i in order[:videos]]


def _make_video(rng: np.random.Generator, frames: int, height: int, width: int, primary: str
                ) -> tuple[str, list[SceneObject], list[list[int]], np.ndarray, dict, str]:
    for _ in range(VIDEO_TRIES):
        scenario, objects, groups = make_scene(rng, frames, height, width, primary)
        background, bg_kind = make_background(rng, height, width)
        video, visible, full = render_scene(objects, background, frames)
        ok = all(visible[o.obj_id][0] is not None
                 and visible[o.obj_id][0].sum() >= MIN_START_VISIBLE * full[o.obj_id][0]
                 for o in objects)
        if ok:
            return scenario, objects, groups, video, visible, bg_kind
    raise DataError(f"could not lay out a synthetic video with every object visible at frame 0 "
                    f"in {VIDEO_TRIES} tries ({width}x{height} is too small?)")


def generate_split(out_root: str | Path, split: str, *, videos: int, video_frames: int,
                   height: int, width: int, seed: int,
                   seen_templates: frozenset[int] | None = None) -> dict[str, Any]:
    """Write one synthetic split (MeViS layout + sidecar); return its summary.

    ``seen_templates`` None makes it a training split (train templates only, no phrasing tags);
    otherwise it is an evaluation split whose ``seen`` expressions draw from these template ids
    (the ones the training split used) and whose ``unseen`` ones from templates train never uses.
    The summary lists ``templates_used``.
    """
    if videos < 1 or video_frames < 2:
        raise DataError(f"synthetic split {split}: need videos >= 1 and video_frames >= 2")
    out_root = Path(out_root)
    if (out_root / split).exists() and any((out_root / split).iterdir()):
        raise DataError(f"{out_root / split}: already exists; delete it before generating")
    role = "train" if seen_templates is None else "evaluation"
    sidecar: dict[str, Any] = {"format": SIDECAR_FORMAT, "split": split, "seed": seed,
                               "role": role, "height": height, "width": width,
                               "frames": video_frames, "videos": {}}
    kinds: Counter[str] = Counter()
    object_kinds: Counter[str] = Counter()
    next_anno = 0
    expressions_total = 0
    used: set[int] = set()
    schedule = kind_schedule(seed, split, videos)
    writer = SplitWriter(out_root, split)
    for index in tqdm(range(videos), desc=f"synth {split}", leave=False, disable=None):
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode()),
                                                             index]))
        video_id = video_id_for(seed, split, index)
        scenario, objects, groups, frames, visible, bg_kind = _make_video(
            rng, video_frames, height, width, schedule[index])
        for obj in objects:
            obj.anno_id = str(next_anno)
            next_anno += 1
        exps = expressions_for(rng, objects, groups, split=split, seen_templates=seen_templates)
        record = VideoRecord(video_id=video_id, frames=frames,
                             masks={o.anno_id: visible[o.obj_id] for o in objects},
                             expressions=[e for e, _ in exps])
        writer.add(record)
        sidecar["videos"][video_id] = {
            "scenario": scenario, "background": bg_kind,
            "objects": {o.anno_id: _object_entry(o) for o in objects},
            "expressions": {e.exp_id: info for e, info in exps}}
        kinds.update(info["motion_kind"] for _, info in exps)
        used.update(info["template_id"] for _, info in exps)
        object_kinds.update(o.motion.kind for o in objects)
        expressions_total += len(exps)
    writer.close()
    sidecar["templates"] = {str(t.template_id): {"kind": t.kind, "pattern": t.pattern,
                                                 "group": t.group} for t in TEMPLATES}
    write_text_atomic(out_root / split / SIDECAR_NAME,
                      json.dumps(sidecar, sort_keys=True, separators=(",", ":")) + "\n")
    return {"videos": videos, "expressions": expressions_total, "frames": videos * video_frames,
            "objects": next_anno, "motion_kinds": dict(sorted(kinds.items())),
            "object_motion_kinds": dict(sorted(object_kinds.items())),
            "templates_used": sorted(used)}


def _object_entry(obj: SceneObject) -> dict[str, Any]:
    return {"obj_id": obj.obj_id, "shape": obj.shape, "colour": obj.colour,
            "texture": obj.texture, "sprite_size": [obj.size, obj.size],
            "sprite_support": encode_rle(obj.support.astype(bool)), "depth": obj.depth,
            "motion_kind": obj.motion.kind, "direction": obj.motion.direction,
            "speed": obj.motion.speed, "affine": obj.affines.tolist()}


def generate_synthetic(out_root: str | Path, *, splits: dict[str, int], train_split: str,
                       video_frames: int, height: int, width: int, seed: int) -> dict[str, Any]:
    """Write ``<out_root>/<split>/`` for every ``split -> number of videos``; return a summary.

    ``train_split`` (one of ``splits``) is generated first; the others are evaluation splits
    whose ``seen`` phrasing uses the templates it used. Same arguments, byte-identical files.
    The split folders must not exist yet.
    """
    if train_split not in splits:
        raise DataError(f"synthetic set: the training split {train_split!r} is not among the "
                        f"splits to generate {sorted(splits)}")
    summary: dict[str, Any] = {"seed": seed, "height": height, "width": width,
                               "video_frames": video_frames, "splits": {}}
    seen: frozenset[int] | None = None
    for split in [train_split, *(s for s in splits if s != train_split)]:
        summary["splits"][split] = generate_split(
            out_root, split, videos=splits[split], video_frames=video_frames, height=height,
            width=width, seed=seed, seen_templates=seen)
        if seen is None:
            seen = frozenset(summary["splits"][split]["templates_used"])
    return summary

