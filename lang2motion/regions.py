"""Where the initial grid's region comes from: a mask file, a box, or clicks through SAM.

Integer (x, y) name pixel centres (OpenCV, CoTracker, SAM's prompt encoder), so pixel (x, y)
spans x +- 0.5. Legend: H height, W width, K clicked points.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.errors import ConfigError, DataError, DependencyError, detail
from lang2motion.images import read_mask
from lang2motion.runtime import resolve_device

SAM_CHECKPOINT_ENV = "LANG2MOTION_SAM_CHECKPOINT"
SAM_CHECKPOINTS_URL = "https://github.com/facebookresearch/segment-anything#model-checkpoints"
SAM_INSTALL = 'pip install -e ".[sam]"'
POSITIVE_CLICK = 1            # SAM point label: foreground

# The released checkpoints, by their segment_anything.sam_model_registry kind.
SAM_RELEASES = {"vit_b": "sam_vit_b_01ec64.pth, 375 MB", "vit_l": "sam_vit_l_0b3195.pth, 1.2 GB",
                "vit_h": "sam_vit_h_4b8939.pth, 2.4 GB"}

Box = tuple[float, float, float, float]      # x0, y0, x1, y1 in pixels, both ends inclusive
Point = tuple[float, float]                  # x, y in pixels


def _parse_numbers(text: str, *, option: str, form: str, count: int) -> tuple[float, ...]:
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{option}: expected {form} ({count} comma-separated pixel "
                          f"coordinates), got {text!r}")
    return values


def parse_box(text: str) -> Box:         # 'x0,y0,x1,y1' in pixels
    return _parse_numbers(text, option="--box", form="x0,y0,x1,y1", count=4)


def parse_point(text: str) -> Point:     # 'x,y' in pixels
    return _parse_numbers(text, option="--point", form="x,y", count=2)


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def box_mask(box: Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels whose centres lie in ``box`` (x0, y0, x1, y1), edges included:
    (2, 1, 4, 3) covers columns 2..4 and rows 1..3, (2.5, 1, 4, 3) columns 3..4; clipped."""
    height, width = size
    if len(box) != 4:
        raise ConfigError(f"box {tuple(box)}: expected (x0, y0, x1, y1)")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ConfigError(f"box {_fmt(box)}: coordinates must be finite")
    if x1 <= x0 or y1 <= y0:
        raise ConfigError(f"box {_fmt(box)} is empty or inverted (need x0 < x1 and y0 < y1)")
    c0, r0 = max(math.ceil(x0), 0), max(math.ceil(y0), 0)
    c1, r1 = min(math.floor(x1), width - 1), min(math.floor(y1), height - 1)
    if c0 > c1 or r0 > r1:
        raise ConfigError(f"box {_fmt(box)} covers no pixel centre of the {width}x{height} "
                          f"(WxH) image (pixel (x, y) is centred on integer x, y)")
    mask = np.zeros(size, dtype=bool)
    mask[r0:r1 + 1, c0:c1 + 1] = True
    return mask


def _check_points(points: Sequence[Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    height, width = size
    coords = np.asarray(points, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) == 0:
        raise ConfigError(f"points {points!r}: expected a non-empty list of (x, y)")
    for x, y in coords:
        # pixel (x, y) spans x +- 0.5: the image covers [-0.5, W - 0.5) x [-0.5, H - 0.5)
        if not (-0.5 <= x < width - 0.5 and -0.5 <= y < height - 0.5):
            raise ConfigError(f"--point {x:g},{y:g} lies outside the {width}x{height} (WxH) "
                              f"image")
    return coords


def pick_objects(masks: np.ndarray,              # (K, H, W) bool: the known objects
                 points: Sequence[Sequence[float]]  # (P, 2) clicks (x, y) in pixels
                 ) -> tuple[np.ndarray, list[int]]:  # (H, W) bool, the objects' indices
    """The union of the known objects (e.g. a data set's annotated masks) under the clicks; a
    click picks the first object holding its pixel."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise DataError(f"object masks must be (K, H, W), got shape {masks.shape}")
    coords = _check_points(points, masks.shape[1:])
    picked: list[int] = []
    for x, y in coords:
        col, row = int(round(x)), int(round(y))
        hits = np.flatnonzero(masks[:, row, col])
        if len(hits) == 0:
            raise ConfigError(f"the click at ({x:g}, {y:g}) lands on none of the "
                              f"{len(masks)} known object(s): click inside one, or draw a box")
        if int(hits[0]) not in picked:
            picked.append(int(hits[0]))
    return masks[picked].any(axis=0), picked


def _import_sam() -> tuple[Any, Any]:
    try:
        predictor = importlib.import_module("segment_anything.predictor")
        # the package's `build_sam` attribute is a function: import the module by its path
        build = importlib.import_module("segment_anything.build_sam")
    except (ImportError, RuntimeError) as exc:    # torchvision raises RuntimeError when broken
        raise DependencyError(f"segment-anything is not installed or cannot be imported "
                              f"({exc}); install it with: {SAM_INSTALL}") from exc
    return build, predictor.SamPredictor


def _checkpoint_help() -> str:
    releases = ", ".join(f"{kind}: {file}" for kind, file in SAM_RELEASES.items())
    return (f"SAM checkpoints come from {SAM_CHECKPOINTS_URL} ({releases}); give the file with "
            f"--sam-checkpoint or ${SAM_CHECKPOINT_ENV}")


def kind_from_file_name(path: Path, kinds: Sequence[str]) -> str:
    """``sam_vit_b_01ec64.pth`` -> ``vit_b``: the one of ``kinds`` the name has as a word."""
    name = path.name.lower()
    found = [k for k in kinds if k != "default"
             and re.search(rf"(?<![a-z0-9]){re.escape(k.lower())}(?![a-z0-9])", name)]
    if len(found) != 1:
        raise ConfigError(f"{path}: cannot tell which SAM architecture this checkpoint is from "
                          f"its file name (it names {', '.join(found) or 'none'} of "
                          f"{', '.join(k for k in kinds if k != 'default')}); keep the released "
                          "file name (e.g. sam_vit_b_01ec64.pth), put the kind in the name, or "
                          "give --sam-kind (generate)")
    return found[0]


class SamSegmenter:
    """segment_anything's SamPredictor, its costly image embedding cached per image."""

    def __init__(self, model: Any, *, name: str) -> None:
        _, predictor_cls = _import_sam()
        self.name = name
        self.predictor = predictor_cls(model)
        self._image_key: tuple[tuple[int, ...], int] | None = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], *, device: str = "cpu",
                        kind: str | None = None) -> SamSegmenter:
        """``sam_model_registry[kind]`` (None: from the file name) on the checkpoint, loaded
        with ``torch.load``'s default ``weights_only=True``: nothing but tensors is unpickled."""
        build, _ = _import_sam()
        registry = build.sam_model_registry
        path = Path(path)
        if not path.is_file():
            raise DependencyError(f"{path}: SAM checkpoint not found. " + _checkpoint_help())
        kind = kind or kind_from_file_name(path, list(registry))
        if kind not in registry:
            raise ConfigError(f"--sam-kind {kind!r} is not a SAM architecture; known: "
                              f"{', '.join(k for k in registry if k != 'default')}")
        try:
            model = registry[kind](checkpoint=str(path))
        except Exception as exc:    # zip, pickle, I/O and state-dict errors
            if isinstance(exc, RuntimeError) and "loading state_dict" in str(exc):
                raise DependencyError(f"{path}: SAM weights do not fit the {kind} architecture "
                                      f"({detail(exc)}); give the --sam-kind the file was released "
                                      "as") from exc
            raise DependencyError(f"{path}: unreadable SAM checkpoint ({detail(exc)}). "
                                  + _checkpoint_help()) from exc
        model.to(device).eval()
        return cls(model, name=kind)

    def segment(self, image: np.ndarray, *,   # (H, W, 3) uint8 RGB
                box: Sequence[float] | None = None,
                points: Sequence[Sequence[float]] | None = None) -> np.ndarray:
        """(H, W) bool: SAM's best of its three masks for a box and/or positive clicks."""
        has_points = points is not None and len(points) > 0
        if box is None and not has_points:
            raise ConfigError("SAM needs a box or at least one point")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise DataError(f"SAM expects an (H, W, 3) uint8 RGB image, got shape {image.shape} "
                            f"and dtype {image.dtype}")
        key = (image.shape, hash(image.tobytes()))   # ~1 ms; set_image takes seconds
        if key != self._image_key:
            self.predictor.set_image(image, image_format="RGB")
            self._image_key = key
        coords = labels = None
        if has_points:
            coords = np.asarray(points, dtype=np.float32).reshape(-1, 2)
            labels = np.full(len(coords), POSITIVE_CLICK, dtype=np.int64)
        box_xyxy = None if box is None else np.asarray(box, dtype=np.float32)
        masks, scores, _ = self.predictor.predict(point_coords=coords, point_labels=labels,
                                                  box=box_xyxy, multimask_output=True)
        return np.asarray(masks[int(np.argmax(scores))], dtype=bool)


@functools.lru_cache(maxsize=1)      # the last one built, while file, device and kind stay
def _cached_segmenter(path: str, mtime_ns: int, device: str, kind: str | None) -> SamSegmenter:
    return SamSegmenter.from_checkpoint(path, device=device, kind=kind)


def resolve_region(*, size: tuple[int, int] | None,
                   image: np.ndarray | None,          # (H, W, 3) uint8 RGB first frame
                   mask_path: str | None,
                   box: Sequence[float] | None,
                   points: Sequence[Sequence[float]] | None,
                   sam_checkpoint: str | None,
                   device: str,
                   sam_kind: str | None = None) -> tuple[np.ndarray, str]:
    """(mask (H, W) bool, how it was made) from exactly one of a mask file, a box or points;
    ``size`` (H, W) stands in for the image (None: the mask file's). With a SAM checkpoint
    (None: $LANG2MOTION_SAM_CHECKPOINT) and an image a box or points go through SAM; without,
    a box is its rectangle and points are refused."""
    given = [name for name, value in (("--mask", mask_path), ("--box", box), ("--point", points))
             if value is not None and (name != "--point" or len(value) > 0)]
    if len(given) != 1:
        raise ConfigError(f"give exactly one of --mask, --box, --point to place the grid "
                          f"(got {', '.join(given) if given else 'none'})")
    if image is not None:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise DataError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        image_size = (int(image.shape[0]), int(image.shape[1]))
        if size is not None and tuple(size) != image_size:
            raise ConfigError(f"size {tuple(size)} differs from the image's (H, W) {image_size}")
        size = image_size
    if mask_path is not None:
        return read_mask(mask_path, size=size), f"mask file {mask_path}"
    if size is None:
        raise ConfigError(f"{given[0]} needs the frame size: give the first frame (--image)")
    size = (int(size[0]), int(size[1]))
    checkpoint = sam_checkpoint or os.environ.get(SAM_CHECKPOINT_ENV) or None
    sam_box = sam_points = None
    if box is not None:
        rectangle = box_mask(box, size)             # refuses empty, inverted or outside boxes
        if checkpoint is None or image is None:
            why = "no SAM checkpoint" if checkpoint is None else "no image for SAM"
            return rectangle, f"rectangle from box {_fmt(box)} ({why})"
        height, width = size
        x0, y0, x1, y1 = (float(v) for v in box)    # clipped to the pixel centres, as box_mask
        sam_box = (max(x0, 0.0), max(y0, 0.0), min(x1, width - 1.0), min(y1, height - 1.0))
        described = f"box {_fmt(box)}"
    else:
        sam_points = _check_points(points, size)
        if checkpoint is None or image is None:
            missing = ("no SAM checkpoint: install the [sam] extra "
                       f"({SAM_INSTALL}) and give --sam-checkpoint or ${SAM_CHECKPOINT_ENV}"
                       if checkpoint is None else "no image: SAM needs the first frame (--image)")
            raise ConfigError(f"--point needs SAM to turn clicks into a mask ({missing}); "
                              f"or give --box or --mask instead")
        described = "points " + ", ".join(_fmt(p) for p in sam_points)
    if not Path(checkpoint).expanduser().is_file():
        raise DependencyError(f"{checkpoint}: SAM checkpoint not found. " + _checkpoint_help())
    resolved = Path(checkpoint).expanduser().resolve()
    segmenter = _cached_segmenter(str(resolved), resolved.stat().st_mtime_ns,
                                  str(resolve_device(device, param="--device")), sam_kind)
    mask = segmenter.segment(image, box=sam_box, points=sam_points)
    if not mask.any():
        raise DataError(f"SAM {segmenter.name} returned an empty mask for {described}; "
                        f"try a box around the object (--box x0,y0,x1,y1)")
    return mask, f"SAM {segmenter.name} from {described}"

