"""Self-describing checkpoints: ``model.safetensors`` beside ``model.json``, which holds
``model_config`` (rebuilds the model) and the caller's metadata; a random ``save_id`` in both
detects a pair torn apart by an interrupted save. The resumable training state (model,
optimizer, epoch, RNG) lives in its own folder: :func:`save_train_state`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from lang2motion.config import ModelConfig
from lang2motion.errors import DataError
from lang2motion.io import atomic_path, read_json, write_json_atomic
from lang2motion.model.autoencoder import Lang2Motion

WEIGHTS_NAME = "model.safetensors"
META_NAME = "model.json"
STATE_META_NAME = "state.json"
STATE_TENSORS_PATTERN = "state-{epoch:05d}.safetensors"
CONFIG_KEY = "model_config"
SAVE_ID_KEY = "save_id"


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], **metadata: str) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
                  metadata=metadata or None)


def save_model(directory: str | Path, model: Lang2Motion, meta: dict[str, Any]) -> None:
    """Write ``model.safetensors`` then ``model.json`` (config + ``meta``) into ``directory``."""
    directory = Path(directory)
    save_id = uuid.uuid4().hex
    _save_tensors(directory / WEIGHTS_NAME, model.state_dict(), **{SAVE_ID_KEY: save_id})
    write_json_atomic(directory / META_NAME,
                      {**meta, CONFIG_KEY: model.cfg.to_dict(), SAVE_ID_KEY: save_id})


def read_model_meta(directory: str | Path) -> dict[str, Any]:
    """The JSON half of a checkpoint, checked to hold a model config."""
    path = Path(directory) / META_NAME
    if not path.exists():
        raise DataError(f"{path}: no model checkpoint here (run the train stage first)")
    meta = read_json(path, what="checkpoint metadata file")
    if not isinstance(meta, dict) or CONFIG_KEY not in meta:
        raise DataError(f"{path}: not a Lang2Motion checkpoint (no {CONFIG_KEY!r})")
    return meta


def load_model(directory: str | Path, *, device: str | torch.device = "cpu"
               ) -> tuple[Lang2Motion, dict[str, Any]]:
    """Rebuild the model from ``model.json`` alone and load its weights; returns (model, meta),
    the model in eval mode."""
    directory = Path(directory)
    meta = read_model_meta(directory)
    cfg = ModelConfig.from_dict(meta[CONFIG_KEY], where=str(directory / META_NAME))
    weights = directory / WEIGHTS_NAME
    if not weights.exists():
        raise DataError(f"{weights}: weights missing beside {META_NAME}")
    try:
        state = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as handle:
            weights_id = (handle.metadata() or {}).get(SAVE_ID_KEY)
    except SafetensorError as exc:
        raise DataError(f"{weights}: unreadable safetensors file: {exc}") from None
    if meta.get(SAVE_ID_KEY) is not None and weights_id != meta[SAVE_ID_KEY]:
        raise DataError(f"{directory}: {WEIGHTS_NAME} and {META_NAME} come from different saves "
                        f"(an interrupted write); re-run training")
    model = Lang2Motion(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(f"{weights}: weights do not fit the model described in {META_NAME}: "
                        f"{exc}") from None
    return model.to(device).eval(), meta


# ---------------------------------------------------------------------------------------------
# Resumable training state
# ---------------------------------------------------------------------------------------------

def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (safetensors) and plain values (JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, slots in meta["plain"].items():
        state.setdefault(int(index), {}).update(slots)
    # JSON turned tuples (AdamW's betas) into lists; "params" is the one list that is a list.
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v)
               for k, v in group.items()} for group in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def save_train_state(directory: str | Path, *, model: Lang2Motion,
                     optimizer: torch.optim.Optimizer, epoch: int,
                     rng: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``state-<epoch>.safetensors`` (weights, optimizer tensors, RNG) then ``state.json``
    (epoch, optimizer hyper-parameters, ``meta``), which names the tensor file: the commit point,
    so a run killed between the two writes still finds the previous pair. Older files go after.
    """
    directory = Path(directory)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    tensors.update({f"rng.{k}": v for k, v in rng.items()})
    name = STATE_TENSORS_PATTERN.format(epoch=epoch)
    _save_tensors(directory / name, tensors)
    write_json_atomic(directory / STATE_META_NAME,
                      {"epoch": epoch, "tensors": name, "optimizer": optim_meta, **meta})
    for old in directory.glob(STATE_TENSORS_PATTERN.replace("{epoch:05d}", "*")):
        if old.name != name:
            old.unlink(missing_ok=True)


def read_train_state_meta(directory: str | Path) -> dict[str, Any] | None:
    """The JSON of a resumable state, or None when there is none (or it is unreadable)."""
    path = Path(directory) / STATE_META_NAME
    try:
        meta = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict) or not (Path(directory) / str(meta.get("tensors"))).exists():
        return None
    return meta


def load_train_state(directory: str | Path, *, model: Lang2Motion,
                     optimizer: torch.optim.Optimizer,
                     ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load weights and optimizer state in place; returns (state meta, RNG tensors)."""
    directory = Path(directory)
    meta = read_train_state_meta(directory)
    if meta is None:
        raise DataError(f"{directory}: no resumable training state")
    tensors = load_file(str(directory / meta["tensors"]))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items()
                           if k.startswith("model.")}, strict=True)
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    rng = {k[len("rng."):]: v for k, v in tensors.items() if k.startswith("rng.")}
    return meta, rng
