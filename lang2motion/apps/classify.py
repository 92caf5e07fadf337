"""`lang2motion classify` (trajectory files) and `lang2motion recognize` (a folder of NTU or
Kinetics skeleton files, with accuracy): zero-shot labels, the class names whose CLIP text
embeddings are closest to the latent (paper section 4.5)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.data.skeletons import (
    list_skeleton_files,
    read_class_names,
    read_skeleton,
    skeleton_to_points,
)
from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.recognition import chance_topk, class_ranks
from lang2motion.io import write_json_atomic
from lang2motion.trained_model import Lang2MotionModel, check_class_names
from lang2motion.trajectory import Trajectory, read_trajectory

RECOGNITION_KS = (1, 5)


def class_list(names: list[str], classes_file: str | None) -> list[str]:
    out = [n for n in names if n.strip()]
    if classes_file:
        out += read_class_names(classes_file)
    if not out:
        raise ConfigError("give class names (--classes a b c) or a file of them (--classes-file)")
    return check_class_names(out)


def check_save_path(out: str | os.PathLike[str] | None) -> None:
    if out is not None and Path(out).is_dir():
        raise ConfigError(f"--save {out}: is a folder; give a file name, e.g. "
                          f"{Path(out) / 'recognition.json'}")


def trajectory_files(inputs: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise DataError(f"{path}: no trajectory .json files in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such trajectory file or folder")
    return files


def classify(model: Lang2MotionModel, inputs: list[str], classes: list[str], *,
             k: int) -> list[dict[str, Any]]:
    files = trajectory_files(inputs)
    trajectories = [read_trajectory(p) for p in files]
    labels = model.classify(model.encode(trajectories), classes, k=k)
    return [{"file": str(p), "label": t.label, "classes": [[n, s] for n, s in top]}
            for p, t, top in zip(files, trajectories, labels, strict=True)]


def recognize(model: Lang2MotionModel, folder: str | os.PathLike[str], classes: list[str], *,
              k: int, out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Predictions for every skeleton file in ``folder`` and, over the files that say their
    class (NTU's ``A<nnn>``, Kinetics' ``label_index``), top-1 and top-5 accuracy."""
    check_save_path(out)
    files = list_skeleton_files(folder)
    if not files:
        raise DataError(f"{folder}: no skeleton files (.skeleton, .json)")
    sequences = [read_skeleton(p) for p in files]
    trajectories = [Trajectory(tracks=skeleton_to_points(s, frames=model.frames,
                                                         points=model.points)[0],
                               width=s.width, height=s.height, label=s.name,
                               source={"kind": "skeleton", "layout": s.layout})
                    for s in sequences]
    latents = model.encode(trajectories)
    top = model.classify(latents, classes, k=k)
    true = [classes[s.label] if s.label is not None and s.label < len(classes) else None
            for s in sequences]
    labelled = [i for i, name in enumerate(true) if name is not None]
    result: dict[str, Any] = {
        "folder": str(folder), "files": len(files), "classes": len(classes),
        "predictions": [{"file": p.name, "true": name, "top": [[n, sc] for n, sc in t]}
                        for p, name, t in zip(files, true, top, strict=True)],
        **model.describe()}
    if labelled:
        class_emb = model.text_embeddings(classes)
        ranks = class_ranks(latents[labelled], class_emb,
                            np.array([sequences[i].label for i in labelled]))
        result["labelled"] = len(labelled)
        for kk in RECOGNITION_KS:
            result[f"top{kk}"] = float((ranks <= kk).mean())
            result[f"chance_top{kk}"] = chance_topk(kk, len(classes))
    if out is not None:
        write_json_atomic(out, result)
    return result
