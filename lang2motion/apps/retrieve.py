"""`lang2motion retrieve "text"`: rank a split's feature shards (encoded with the embed stage's
overlay features) or a folder of trajectory files (over a plain canvas) by cosine with the text
embedding; the top ``k`` are drawn in a contact sheet. Legend: U trajectories, D latent."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.apps.outputs import Style, animate, check_free, stem
from lang2motion.errors import DataError
from lang2motion.evaluate.retrieval import unique_track_index
from lang2motion.io import write_json_atomic
from lang2motion.render.animate import still
from lang2motion.render.video import contact_sheet
from lang2motion.store import SHARD_GLOB, load_feature_tensors
from lang2motion.trained_model import Lang2MotionModel
from lang2motion.trajectory import Trajectory, read_trajectory

SHEET_COLUMNS = 4


@dataclass
class Gallery:
    ids: list[str]                   # (U,) track ids or file names
    trajectories: list[Trajectory]   # (U,)
    latents: np.ndarray              # (U, D)


def load_gallery(model: Lang2MotionModel, source: str | os.PathLike[str]) -> Gallery:
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"{source}: not a folder (give a split's feature shards, e.g. "
                        "data/features/valid_u, or a folder of trajectory .json files)")
    if any(source.glob(SHARD_GLOB)):
        data = load_feature_tensors(source)
        ours = (model.clip_model, model.clip_pretrained)
        if (data.clip_model, data.clip_pretrained) != ours:
            raise DataError(f"{source}: the feature shards were made with CLIP "
                            f"{data.clip_model} ({data.clip_pretrained}) but the model reads "
                            f"CLIP {ours[0]} ({ours[1]}): their overlay features mean nothing "
                            "to it. Re-run the embed stage with the model's CLIP, or retrieve "
                            "from a folder of trajectory files")
        firsts, owner = unique_track_index(data.track_ids)
        captions = {i: [t for t, o in zip(data.texts, owner, strict=True) if o == k]
                    for k, i in enumerate(firsts)}
        trajectories = [Trajectory(tracks=data.tracks[i], width=int(data.sizes[i][0]),
                                   height=int(data.sizes[i][1]), label=" | ".join(captions[i]))
                        for i in firsts]
        latents = model.encode_tracks(data.tracks[firsts], data.image_emb[firsts])
        return Gallery([data.track_ids[i] for i in firsts], trajectories, latents)
    files = sorted(p for p in source.glob("*.json") if not p.name.startswith("retrieve-"))
    if not files:
        raise DataError(f"{source}: no feature shards ({SHARD_GLOB}) and no trajectory .json "
                        "files")
    trajectories = [read_trajectory(p) for p in files]
    return Gallery([p.name for p in files], trajectories, model.encode(trajectories))


def rank(model: Lang2MotionModel, gallery: Gallery, text: str, *, k: int
         ) -> list[dict[str, Any]]:
    return [{"rank": r + 1, "score": score, "id": gallery.ids[i],
             "label": gallery.trajectories[i].label, "index": i}
            for r, (i, score) in enumerate(model.retrieve(text, gallery.latents, k=k))]


def retrieve_and_write(model: Lang2MotionModel, text: str, source: str | os.PathLike[str], *,
                       k: int, out_dir: str | os.PathLike[str], style: Style, overwrite: bool
                       ) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    out_dir = Path(out_dir)
    name = f"retrieve-{stem(text, kind='retrieve')}"
    paths = {"sheet": out_dir / f"{name}.png", "ranking": out_dir / f"{name}.json"}
    check_free([paths], overwrite=overwrite)
    gallery = load_gallery(model, source)
    results = rank(model, gallery, text, k=k)
    stills = [still(animate(gallery.trajectories[r["index"]], style=style)) for r in results]
    contact_sheet(paths["sheet"], stills, columns=SHEET_COLUMNS,
                  labels=[f"{r['rank']}. {r['score']:.3f} {r['label']}" for r in results])
    write_json_atomic(paths["ranking"], {"text": text, "source": str(source),
                                         "results": results, **model.describe()})
    return results, paths
