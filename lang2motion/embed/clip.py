"""A frozen open_clip model that turns captions and overlay images into embeddings.

``pretrained`` is ``"none"`` (random weights seeded in a forked RNG, RANDOM_INIT_SEED: the same
stand-in features every run, the caller's random state untouched), local weights (safetensors, a
``torch.save`` state dict, OpenAI's TorchScript release read as data and never run, or a Hugging
Face snapshot folder; nothing but tensors and plain containers is unpickled; checked strictly)
or an open_clip tag (``openai``...) downloaded into the Hugging Face cache.

Activation: OpenAI's weights were trained with QuickGELU and under GELU load silently with wrong
embeddings. First rule that speaks: OpenAI's markers in local weights (TorchScript, or
``OPENAI_EXTRA_KEYS``) -> QuickGELU; an ``open_clip_config.json`` beside the weights; a tag's
config; the model name's config (a switch away from it is logged). Unmarked QuickGELU weights
need the matching name (``ViT-B-32-quickgelu``).

Model names: open_clip's registry plus ``model_configs/`` (``L2M-Tiny``: a tiny CLIP for tests).
Legend: B batch, D embedding size, H height, W width, L token positions.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import logging
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lang2motion.errors import ConfigError, DataError, DependencyError, detail
from lang2motion.runtime import autocast, resolve_device

log = logging.getLogger(__name__)

MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors")
# In a weights folder (a Hugging Face snapshot of an open_clip repository), best first;
# safetensors first because it is read without unpickling.
FOLDER_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                       "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth")
OPEN_CLIP_CONFIG = "open_clip_config.json"  # open_clip's description of the weights beside it
# Entries of OpenAI's state dicts that are not weights (open_clip's OpenAI loaders drop them too).
OPENAI_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")
QUICK_GELU, GELU = "quick_gelu", "gelu"
TEXT_POOLS_AT_ONE_TOKEN = ("argmax", "eos")  # pool types that read one position per text
RANDOM_INIT_SEED = 0      # seed of the random ("none") initialisation: same weights every run
PIXEL_MAX = 255.0         # uint8 -> [0, 1]
# Resizing in encode_images only happens when the overlays were rendered at another size than
# the model's input; bicubic with antialiasing is what CLIP's own preprocessing uses.
RESIZE_MODE = "bicubic"
# Storage classes named in a TorchScript archive's pickle, and the dtype of their elements.
STORAGE_DTYPES = {"DoubleStorage": torch.float64, "FloatStorage": torch.float32,
                  "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
                  "LongStorage": torch.int64, "IntStorage": torch.int32,
                  "ShortStorage": torch.int16, "CharStorage": torch.int8,
                  "ByteStorage": torch.uint8, "BoolStorage": torch.bool}


def _register_local_configs() -> None:
    """Add our model configs to open_clip's registry once (not at import: no work at import)."""
    import open_clip

    local = {p.stem for p in MODEL_CONFIG_DIR.glob("*.json")}
    if not local <= set(open_clip.list_models()):
        open_clip.add_model_config(MODEL_CONFIG_DIR)


def is_weights_path(pretrained: str) -> bool:
    """True when ``pretrained`` names a local file rather than an open_clip tag."""
    return "/" in pretrained or "\\" in pretrained or pretrained.endswith(WEIGHT_SUFFIXES)


def _activation_of(model: torch.nn.Module) -> str:
    """What the built model runs: QuickGELU when any of its layers is open_clip's QuickGELU."""
    from open_clip.transformer import QuickGELU

    return QUICK_GELU if any(isinstance(m, QuickGELU) for m in model.modules()) else GELU


def _fast_text_applies(model: torch.nn.Module) -> bool:
    """True when ``model.encode_text`` is open_clip's causal CLIP text tower, so that the token
    positions after the pooled one cannot change the output (see ``_encode_text_prefix``)."""
    from open_clip.model import CLIP
    from open_clip.transformer import (
        CustomResidualAttentionBlock,
        ResidualAttentionBlock,
        Transformer,
    )

    if not isinstance(model, CLIP) or type(model).encode_text is not CLIP.encode_text:
        return False  # CustomTextCLIP, CoCa, HF text towers or an overridden encode_text
    if getattr(model, "text_pool_type", None) not in TEXT_POOLS_AT_ONE_TOKEN:
        return False
    mask, transformer = getattr(model, "attn_mask", None), model.transformer
    positions = model.positional_embedding.shape[0]
    if mask is None or tuple(mask.shape) != (positions, positions):
        return False
    causal = torch.full((positions, positions), float("-inf")).triu_(1)
    if not torch.equal(mask.detach().float().cpu(), causal):
        return False
    return (type(transformer).forward is Transformer.forward
            and all(type(b) in (ResidualAttentionBlock, CustomResidualAttentionBlock)
                    for b in transformer.resblocks))


def _pooled_positions(model: Any, tokens: torch.Tensor) -> torch.Tensor:  # (B, L) -> (B,)
    """The position ``text_global_pool`` reads for each text (open_clip 3.3.0's rule)."""
    if model.text_pool_type == "argmax":  # the end-of-text token has the highest id
        return tokens.argmax(dim=-1)
    return (tokens == model.text_eos_id).int().argmax(dim=-1)


def _encode_text_prefix(model: Any, tokens: torch.Tensor) -> torch.Tensor:  # (B, L) -> (B, D)
    """open_clip 3.3.0 ``CLIP.encode_text`` (unnormalised) over the first L positions only: with
    a causal mask and L = the last pooled position + 1, cut positions cannot reach the output."""
    from open_clip.transformer import text_global_pool

    length = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)  # (B, L, width)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type,
                         eos_token_id=getattr(model, "text_eos_id", None))
    if model.text_projection is not None:
        if isinstance(model.text_projection, torch.nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return x


@dataclass
class ClipEncoder:
    """A frozen CLIP model in eval mode with its tokenizer; encodes text and images to (B, D)."""

    model: Any                 # open_clip CLIP module
    tokenizer: Any             # open_clip tokenizer for this model
    name: str
    pretrained: str
    device: torch.device
    random: bool               # True when the weights are random stand-ins
    dim: int                   # D: the joint embedding size
    image_size: int            # side of the square input image
    mean: tuple[float, ...]    # per-channel normalisation of [0, 1] pixels
    std: tuple[float, ...]
    activation: str = field(init=False)        # QUICK_GELU or GELU: what the model runs
    text_fast_path: bool = field(init=False)   # encode_text runs only the needed positions

    def __post_init__(self) -> None:
        self.activation = _activation_of(self.model)
        self.text_fast_path = _fast_text_applies(self.model)

    @property
    def context_length(self) -> int:
        """Tokens per text the model reads, start and end tokens included; longer is cut."""
        return int(getattr(self.tokenizer, "context_length", None) or self.model.context_length)

    def describe(self) -> dict[str, Any]:
        """What produced the features, for logs, summaries and the report."""
        return {"model": self.name, "pretrained": self.pretrained, "dim": self.dim,
                "device": str(self.device), "random": self.random,
                "activation": self.activation}

    def autocast(self) -> Any:
        """fp16 autocast on CUDA, fp32 on CPU (where fp16 is slow)."""
        return autocast(self.device, torch.float16)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each text needs, start and end tokens included, before the cut to
        ``context_length``: a count above it means the text was truncated."""
        from open_clip.tokenizer import HFTokenizer, SimpleTokenizer

        tok = self.tokenizer
        if isinstance(tok, SimpleTokenizer):  # encode() adds neither start nor end token
            return [len(tok.encode(text)) + 2 for text in texts]
        if isinstance(tok, HFTokenizer):
            return [len(tok.tokenizer(tok.clean_fn(text))["input_ids"]) for text in texts]
        # Another tokenizer: only what it keeps can be counted (non-padding ids).
        return (tok(list(texts)) != 0).sum(dim=-1).tolist()

    def encode_text(self, texts: list[str], *, batch_size: int) -> np.ndarray:  # (B, D) float32
        """Unnormalised CLIP text embeddings of ``texts``, in order; on the fast path texts are
        batched by length and each batch runs only up to its last end-of-text token."""
        if batch_size < 1:
            raise ConfigError(f"clip.batch_size must be >= 1, got {batch_size}")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        tokens = self.tokenizer(list(texts))  # (B, context_length) on the CPU
        if self.text_fast_path:
            ends = _pooled_positions(self.model, tokens)
            order = torch.argsort(ends, stable=True)  # similar lengths share a batch
        else:
            order = torch.arange(len(texts))
        with torch.inference_mode(), self.autocast():
            for index in order.split(batch_size):
                batch = tokens[index]
                if self.text_fast_path:
                    length = int(ends[index].max()) + 1
                    features = _encode_text_prefix(self.model, batch[:, :length].to(self.device))
                else:
                    features = self.model.encode_text(batch.to(self.device))
                out[index.numpy()] = features.float().cpu().numpy()
        return out

    def preprocess(
        self,
        images: torch.Tensor,  # (B, H, W, 3) uint8 RGB
    ) -> torch.Tensor:         # (B, 3, S, S) float, S = image_size
        """uint8 RGB on the model's device -> normalised float input, resized only if needed."""
        x = images.permute(0, 3, 1, 2).float().div_(PIXEL_MAX)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode=RESIZE_MODE,
                              antialias=True, align_corners=False).clamp_(0.0, 1.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def encode_images(
        self,
        images: np.ndarray,  # (B, H, W, 3) uint8 RGB, normally H = W = image_size
        *,
        batch_size: int,
    ) -> np.ndarray:         # (B, D) float32
        """Unnormalised CLIP image embeddings; preprocessing is a tensor op on the device."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(f"images must be (B, H, W, 3) uint8, got {images.shape} "
                            f"{images.dtype}")
        if batch_size < 1:
            raise ConfigError(f"clip.batch_size must be >= 1, got {batch_size}")
        out = np.empty((len(images), self.dim), dtype=np.float32)
        pin = self.device.type == "cuda"
        with torch.inference_mode(), self.autocast():
            for lo in range(0, len(images), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(images[lo:lo + batch_size]))
                if pin:
                    batch = batch.pin_memory()
                # Move uint8 (4x fewer bytes than float), convert on the device.
                x = self.preprocess(batch.to(self.device, non_blocking=pin))
                out[lo:lo + len(x)] = self.model.encode_image(x).float().cpu().numpy()
        return out


def _quick_gelu_name(model: str) -> str | None:
    """The registered name of ``model`` with QuickGELU (itself if it already has it)."""
    import open_clip

    if open_clip.get_model_config(model).get("quick_gelu", False):
        return model
    name = f"{model}-quickgelu"
    return name if name in open_clip.list_models() else None


def _dependency_hint(model: str, tag: str) -> str:  # how to get a tag's weights offline
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    hub = (cfg.get("hf_hub") or "").rstrip("/")
    where = (f"the Hugging Face repository {hub} (file open_clip_pytorch_model.bin or "
             "open_clip_model.safetensors, with open_clip_config.json)" if hub
             else cfg.get("url", "its source"))
    if cfg.get("quick_gelu", False):
        quick_name = _quick_gelu_name(model) or f"a QuickGELU variant of {model}"
        activation = (f"these weights need the QuickGELU activation: with a local file of them "
                      f"set clip.model={quick_name} (or keep the repository's "
                      f"{OPEN_CLIP_CONFIG} beside the file), plain {model} would run GELU and "
                      "give wrong embeddings")
    else:
        activation = f"these weights use the GELU activation: keep clip.model={model}"
    return (f"download the weights for {model!r} tag {tag!r} on a machine with internet access "
            f"from {where}, copy the file (or the snapshot folder) here and set clip.pretrained "
            f"to its path (e.g. -S clip.pretrained=/path/to/open_clip_pytorch_model.bin); "
            f"{activation}; or use clip.pretrained=none for random stand-in weights")


@dataclass(frozen=True)
class _LocalWeights:
    """A local weights file, with what it says about its activation and preprocessing."""

    file: Path
    torchscript: dict[str, torch.Tensor] | None  # a TorchScript archive's tensors, else None
    quick_gelu: bool | None     # None: nothing in or beside the file says
    reason: str                 # why quick_gelu is what it is
    preprocess: dict[str, Any]  # image_mean/image_std from open_clip_config.json, if any


def _weights_file(path: Path, model: str) -> Path:
    """``path`` itself, or the weights file inside a folder (a Hugging Face snapshot)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise DependencyError(f"CLIP weights {path} (clip.pretrained, model {model}) do not "
                              "exist; set clip.pretrained to a weights file or folder, a tag, "
                              "or none")
    snapshots, ref = path / "snapshots", path / "refs" / "main"
    if snapshots.is_dir() and ref.is_file():  # a Hugging Face cache repository: its main
        path = snapshots / ref.read_text().strip()
    for name in FOLDER_WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    others = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    if len(others) == 1:
        return others[0]
    if others:
        raise DependencyError(f"CLIP weights folder {path} (model {model}) holds several weights "
                              f"files ({', '.join(p.name for p in others)}); set "
                              "clip.pretrained to the one to use")
    raise DependencyError(f"CLIP weights folder {path} (model {model}) holds no weights: looked "
                          f"for {', '.join(FOLDER_WEIGHT_FILES)} or one file ending in "
                          f"{', '.join(WEIGHT_SUFFIXES)}; download the repository's weights "
                          "file into it or set clip.pretrained to the file")


def _torchscript_prefix(file: Path) -> str | None:
    """The top folder (``name/``) of a TorchScript archive, OpenAI's release format (a zip
    holding ``name/data.pkl`` and ``name/constants.pkl``), or None for any other file."""
    if not zipfile.is_zipfile(file):
        return None
    with zipfile.ZipFile(file) as archive:
        names = set(archive.namelist())
    return next((n[:-len("constants.pkl")] for n in names if n.endswith("/constants.pkl")
                 and n.count("/") == 1 and n[:-len("constants.pkl")] + "data.pkl" in names),
                None)


class _ScriptObject:
    """A module of a TorchScript archive: the attributes it was saved with, none of its code."""

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_: Any) -> torch.Tensor:
    return storage.as_strided(size, stride, offset)


class _ArchiveUnpickler(pickle.Unpickler):
    """Reads a TorchScript archive's ``data.pkl`` as data: module classes become
    ``_ScriptObject``, tensors are read from the archive's storages, and any other class or
    function is refused, so no code of the archive runs (``torch.jit.load`` would compile it and
    run its ``__setstate__`` methods)."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(archive.read(prefix + "data.pkl")))
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__."):
            return _ScriptObject
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a traced model's "
                                     "weights do not need")

    def persistent_load(self, pid: Any) -> torch.Tensor:  # ('storage', dtype, key, device, n)
        _, dtype, key, _device, _numel = pid
        if key not in self.storages:
            data = bytearray(self.archive.read(f"{self.prefix}data/{key}"))
            self.storages[key] = (torch.frombuffer(data, dtype=dtype) if data
                                  else torch.empty(0, dtype=dtype))
        return self.storages[key]


def _read_torchscript(file: Path, prefix: str, where: str) -> dict[str, torch.Tensor]:
    """Every tensor attribute of the archive's modules by its dotted name: the state dict of a
    traced model such as OpenAI's release. Read as data, never executed."""
    try:
        with zipfile.ZipFile(file) as archive:
            root = _ArchiveUnpickler(archive, prefix).load()
    except Exception as exc:
        raise DependencyError(f"{where} is a TorchScript archive whose weights could not be read "
                              f"({detail(exc)}); re-save only the weights, e.g. "
                              "torch.save(torch.jit.load(path).state_dict(), 'weights.pt'), or "
                              "download it again") from exc
    tensors: dict[str, torch.Tensor] = {}
    pending = [("", root)]
    while pending:
        prefix_, node = pending.pop()
        if not isinstance(node.state, dict):
            module = prefix_.rstrip(".") or "(root)"
            raise DependencyError(f"{where} is a TorchScript archive whose module {module} "
                                  "saves custom state; re-save only the weights")
        for name, value in node.state.items():
            if isinstance(value, torch.Tensor):
                tensors[prefix_ + name] = value
            elif isinstance(value, _ScriptObject):
                pending.append((f"{prefix_}{name}.", value))
    return tensors


def _peek_keys(file: Path, where: str) -> list[str]:
    """The state dict keys of a safetensors or ``torch.save`` file, unpickling nothing but
    tensors and plain containers; the errors open_clip's loader would give obscurely."""
    try:
        if file.suffix == ".safetensors":  # open_clip's own rule for safetensors
            from safetensors import safe_open

            with safe_open(str(file), framework="pt") as f:
                return list(f.keys())
        checkpoint = torch.load(file, map_location="cpu", weights_only=True,
                                mmap=zipfile.is_zipfile(file))  # mmap: tensors not read
    except Exception as exc:
        if "weights only load failed" in str(exc).lower():
            raise DependencyError(f"{where} holds Python objects besides tensors; it is refused "
                                  "because unpickling them could run code. Re-save only the "
                                  "weights, e.g. torch.save(model.state_dict(), path)") from exc
        raise DependencyError(f"{where} is not a readable checkpoint (expected safetensors, a "
                              "torch.save state dict or OpenAI's TorchScript archive; "
                              f"{type(exc).__name__}: {detail(exc)}); check "
                              "the path or download it again") from exc
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]  # a training checkpoint
    if (not isinstance(checkpoint, dict) or not checkpoint
            or not all(isinstance(v, torch.Tensor) for v in checkpoint.values())):
        keys = list(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise DependencyError(f"{where} holds no state dict of tensors (found {keys}); save "
                              "model.state_dict() or {'state_dict': model.state_dict()}")
    return list(checkpoint)


def _read_config(file: Path, model: str) -> dict[str, Any] | None:
    """The ``open_clip_config.json`` beside ``file`` (inside its folder), if there is one."""
    path = file.parent / OPEN_CLIP_CONFIG
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError(f"it holds a {type(config).__name__}")
    except (OSError, ValueError) as exc:
        raise DependencyError(f"{path} beside the CLIP weights (model {model}) is not a "
                              f"readable JSON object ({exc}); fix or remove it") from exc
    return config


def _read_local_weights(path: Path, model: str) -> _LocalWeights:
    """Find local weights and decide the activation they need (module docstring's rules)."""
    file = _weights_file(path, model)
    where = f"CLIP weights file {file} (model {model})"
    prefix = _torchscript_prefix(file)
    torchscript = None if prefix is None else _read_torchscript(file, prefix, where)
    keys = list(torchscript) if torchscript is not None else _peek_keys(file, where)
    extras = [k for k in OPENAI_EXTRA_KEYS if k in keys]
    config = _read_config(file, model)
    model_cfg = (config or {}).get("model_cfg", config or {})
    preprocess = (config or {}).get("preprocess_cfg", {})
    quick_gelu: bool | None = None
    reason = "nothing in or beside the weights says which activation they need"
    if torchscript is not None or extras:
        quick_gelu = True
        reason = ("it is a TorchScript archive, OpenAI's release format" if torchscript else
                  f"it holds OpenAI's non-weight entries ({', '.join(extras)})")
        reason += ", and OpenAI's weights were trained with QuickGELU"
        if config is not None and not model_cfg.get("quick_gelu", False):
            log.warning("%s beside %s says GELU but the file is OpenAI's: using QuickGELU",
                        OPEN_CLIP_CONFIG, file)
    elif config is not None:
        quick_gelu = bool(model_cfg.get("quick_gelu", False))
        reason = f"{file.parent / OPEN_CLIP_CONFIG} says quick_gelu={quick_gelu}"
    return _LocalWeights(file=file, torchscript=torchscript, quick_gelu=quick_gelu,
                         reason=reason, preprocess={f"image_{k}": tuple(preprocess[k])
                                                    for k in ("mean", "std") if preprocess.get(k)})


def _load_weights(clip_model: torch.nn.Module, weights: _LocalWeights, model: str) -> None:
    """open_clip's ``load_checkpoint`` (prefixes, ``state_dict`` key, position-embedding
    resizing), or for a TorchScript archive its tensors loaded directly; then strictly checked
    but for OpenAI's non-weight entries."""
    import open_clip
    from open_clip.model import resize_pos_embed, resize_text_pos_embed

    where = f"CLIP weights file {weights.file} does not fit model {model}"
    fix = ("set clip.model to the architecture these weights were trained as (see "
           "open_clip.list_models()) or clip.pretrained to weights of this one")
    try:
        if weights.torchscript is None:
            result = open_clip.load_checkpoint(clip_model, str(weights.file), strict=False)
        else:  # OpenAI's weights are in open_clip's CLIP layout already
            state_dict = dict(weights.torchscript)
            resize_pos_embed(state_dict, clip_model)
            resize_text_pos_embed(state_dict, clip_model)
            result = clip_model.load_state_dict(state_dict, strict=False)
    except Exception as exc:  # size mismatches (RuntimeError), width asserts, odd tensors
        raise DependencyError(f"{where} ({type(exc).__name__}: "
                              f"{detail(exc)}); {fix}") from exc
    unexpected = [k for k in result.unexpected_keys if k not in OPENAI_EXTRA_KEYS]
    if result.missing_keys or unexpected:
        raise DependencyError(
            f"{where}: {len(result.missing_keys)} weights missing (e.g. "
            f"{', '.join(result.missing_keys[:3]) or '-'}), {len(unexpected)} "
            f"unexpected (e.g. {', '.join(unexpected[:3]) or '-'}); {fix}")


@contextlib.contextmanager
def _quiet_random_init_notice() -> Iterator[None]:
    """open_clip logs 'No pretrained weights loaded' whenever it loads none itself; here local
    weights are loaded afterwards and random ones get their own louder warning."""
    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No pretrained weights loaded")

    logging.getLogger().addFilter(keep)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(keep)


def load_clip(*, model: str, pretrained: str, device: str = "auto",
              cache_dir: str | None = None) -> ClipEncoder:
    """A frozen CLIP; ``pretrained``: ``none``, local weights (file or folder) or a tag (cached
    in ``cache_dir``, default the Hugging Face cache)."""
    import open_clip

    _register_local_configs()
    if model not in open_clip.list_models():
        raise ConfigError(f"clip.model {model!r} is not an open_clip model; see "
                          "open_clip.list_models() (e.g. ViT-B-32) or the configs in "
                          f"{MODEL_CONFIG_DIR}")
    target = resolve_device(device, param="clip.device")
    random_init = pretrained.lower() == "none"
    local = not random_init and (is_weights_path(pretrained)
                                 or Path(pretrained).expanduser().is_dir())
    named_quick_gelu = bool(open_clip.get_model_config(model).get("quick_gelu", False))
    quick_gelu = named_quick_gelu
    tag: str | None = None
    weights: _LocalWeights | None = None
    kwargs: dict[str, Any] = {"device": "cpu", "cache_dir": cache_dir}
    if random_init:
        log.warning("=" * 78)
        log.warning("CLIP %s has RANDOM weights (clip.pretrained=none): its text and image "
                    "features are meaningless stand-ins, not CLIP's. Set clip.pretrained to a "
                    "tag (openai) or a local weights file for real features.", model)
        log.warning("=" * 78)
    elif local:
        weights = _read_local_weights(Path(pretrained).expanduser(), model)
        if weights.quick_gelu is not None:
            quick_gelu = weights.quick_gelu
        if quick_gelu != named_quick_gelu:
            log.warning("CLIP weights %s: running model %s with %s instead of its %s because "
                        "%s", weights.file, model, QUICK_GELU if quick_gelu else GELU,
                        QUICK_GELU if named_quick_gelu else GELU, weights.reason)
        kwargs.update(weights.preprocess)
    else:
        tag_cfg = open_clip.get_pretrained_cfg(model, pretrained)
        if not tag_cfg:
            tags = open_clip.list_pretrained_tags_by_model(model)
            raise ConfigError(f"clip.pretrained {pretrained!r} is neither 'none', local weights "
                              f"(a folder, a path, or a file ending in "
                              f"{', '.join(WEIGHT_SUFFIXES)}) nor a tag of {model}; known tags: "
                              f"{', '.join(tags) or '(none)'}")
        tag = pretrained
        # OpenAI's weights were trained with QuickGELU; a plain config would silently differ.
        quick_gelu = bool(tag_cfg.get("quick_gelu", False))
    if quick_gelu and not named_quick_gelu:
        kwargs["force_quick_gelu"] = True
    elif named_quick_gelu and not quick_gelu:
        kwargs["quick_gelu"] = False  # a model keyword: overrides the config's value

    try:
        with torch.random.fork_rng(devices=[]), _quiet_random_init_notice():
            torch.manual_seed(RANDOM_INIT_SEED)
            clip_model, _, _ = open_clip.create_model_and_transforms(model, pretrained=tag,
                                                                     **kwargs)
    except Exception as exc:  # open_clip raises RuntimeError/OSError from the download
        if tag is None:
            raise
        raise DependencyError(f"CLIP weights {model!r} tag {tag!r} could not be "
                              f"downloaded ({detail(exc)}); {_dependency_hint(model, tag)}"
                              ) from exc
    if weights is not None:
        _load_weights(clip_model, weights, model)
        log.info("CLIP weights loaded from %s", weights.file)

    clip_model = clip_model.to(target).eval().requires_grad_(False)
    pp_cfg = open_clip.get_model_preprocess_cfg(clip_model)  # what its own transforms use
    size = pp_cfg["size"]
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise ConfigError(f"clip.model {model}: non-square input {size} is not supported")
        size = size[0]
    encoder = ClipEncoder(
        model=clip_model, tokenizer=open_clip.get_tokenizer(model), name=model,
        pretrained=pretrained, device=target, random=random_init,
        dim=int(open_clip.get_model_config(model)["embed_dim"]), image_size=int(size),
        mean=tuple(pp_cfg["mean"]), std=tuple(pp_cfg["std"]))
    log.info("CLIP %s", encoder.describe())
    return encoder
