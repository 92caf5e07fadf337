"""Decoding a clip (a video file or a folder of frames) at a fixed frame rate, long side capped.

Legend: T output frames, H height, W width.

Video files are decoded with PyAV rather than OpenCV's VideoCapture: it gives every frame its
presentation timestamp, so variable-frame-rate clips are resampled by when frames are shown, and
a damaged stream raises instead of VideoCapture's ``read() -> False`` (the same as the end).

Resampling: output frame k shows the source frame on screen at time t0 + k / fps (the latest
frame whose timestamp is <= that time), t0 being the timestamp of the clip's first frame (the
start frame or start time of the manifest). Sources slower than ``fps`` repeat frames, faster
ones drop frames, so T frames always span T / fps seconds. The output ends at the last source
frame's timestamp. Frames are converted to RGB and resized (OpenCV INTER_AREA) only when used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lang2motion.data.mevis.layout import IMAGE_EXTS
from lang2motion.errors import DataError
from lang2motion.images import read_rgb

TIME_EPS = 1e-6            # seconds: timestamps this close count as equal


@dataclass
class DecodedClip:
    """The frames of one clip at ``fps``, and where each came from in the source."""

    frames: np.ndarray                       # (T, H, W, 3) uint8 RGB, long side <= max_side
    source_index: list[int]                  # T: index of the source frame shown
    source_names: dict[int, str]             # source index -> its frame name (frame folders)
    first_rgb: np.ndarray                    # (H0, W0, 3) the first frame at source resolution

    @property
    def source_size(self) -> tuple[int, int]:
        return int(self.first_rgb.shape[0]), int(self.first_rgb.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def output_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(H, W) after scaling the long side down to ``max_side`` (0 = keep; never enlarged)."""
    height, width = size
    long_side = max(height, width)
    if max_side <= 0 or long_side <= max_side:
        return height, width
    scale = max_side / long_side
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H0, W0[, 3]) at (H, W): INTER_AREA for frames, nearest for bool masks."""
    if tuple(image.shape[:2]) == tuple(size):
        return image
    if image.dtype == bool:
        return cv2.resize(image.astype(np.uint8), (size[1], size[0]),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


# a source frame: (index, timestamp in seconds, a loader of its (H0, W0, 3) RGB pixels)
SourceFrame = tuple[int, float, Callable[[], np.ndarray]]


def _video_frames(path: Path) -> tuple[Iterator[SourceFrame], Callable[[], None]]:
    import av  # only this source needs it

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise DataError(f"{path}: unreadable video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{path}: no video stream (audio only, or not a video)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = float(stream.average_rate) if stream.average_rate else None

    def frames() -> Iterator[SourceFrame]:
        index = 0
        try:
            for frame in container.decode(stream):
                time = frame.time
                if time is None:           # no timestamp: place the frame by the average rate
                    if rate is None:
                        raise DataError(f"{path}: frame {index} has no timestamp and the "
                                        "stream no frame rate")
                    time = index / rate
                yield index, float(time), (lambda f=frame: f.to_ndarray(format="rgb24"))
                index += 1
        except av.FFmpegError as exc:
            raise DataError(f"{path}: video decoding failed after {index} frames ({exc})"
                            ) from None

    return frames(), container.close


def _folder_frames(path: Path, fps: float) -> tuple[Iterator[SourceFrame], dict[int, str]]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise DataError(f"{path}: no decodable frames (no {', '.join(IMAGE_EXTS)} files in "
                        "the folder)")
    frames = ((i, i / fps, (lambda p=p: read_rgb(p))) for i, p in enumerate(files))
    return frames, {i: p.stem for i, p in enumerate(files)}


def decode_clip(path: str | os.PathLike[str], *, fps: float, max_side: int,
                start_frame: int | None = None, start_time: float | None = None,
                folder_fps: float | None = None) -> DecodedClip:
    """Decode ``path`` (a video file, or a folder of frames at ``folder_fps``, default ``fps``)
    at ``fps`` from its start."""
    path = Path(path)
    close: Callable[[], None] = lambda: None      # noqa: E731 (nothing to close for folders)
    if path.is_dir():
        source, names = _folder_frames(path, folder_fps or fps)
    else:
        source, close = _video_frames(path)
        names = {}
    out: list[np.ndarray] = []
    indices: list[int] = []
    first_rgb: np.ndarray | None = None
    size: tuple[int, int] | None = None
    held: tuple[int, float, Callable[[], np.ndarray]] | None = None   # the frame on screen
    pixels: np.ndarray | None = None                      # held's pixels, once loaded
    t0 = 0.0
    pending = 0                                           # next output frame k
    seen = 0

    def emit_until(limit: float, *, inclusive: bool) -> None:
        nonlocal pending, pixels
        assert held is not None
        while True:
            target = t0 + pending / fps
            if target > limit + TIME_EPS or (not inclusive and target >= limit - TIME_EPS):
                return
            if pixels is None:
                pixels = _checked(held[0], held[2]())
            out.append(pixels)
            indices.append(held[0])
            pending += 1

    def _checked(index: int, rgb: np.ndarray) -> np.ndarray:
        assert first_rgb is not None and size is not None
        if rgb.shape[:2] != first_rgb.shape[:2]:
            raise DataError(f"{path}: frame {index} is {rgb.shape[1]}x{rgb.shape[0]}, the "
                            f"first {first_rgb.shape[1]}x{first_rgb.shape[0]} (WxH)")
        return resize(rgb, size)

    try:
        for index, time, load in source:
            seen += 1
            if start_frame is not None and index < start_frame:
                continue
            if start_time is not None and time < start_time - TIME_EPS:
                continue
            if held is not None and time <= held[1] + TIME_EPS:
                continue          # a repeated or out-of-order timestamp: keep the first shown
            if held is None:
                t0 = time
                first_rgb = load()
                size = output_size(first_rgb.shape[:2], max_side)
                held, pixels = (index, time, load), resize(first_rgb, size)
                continue
            emit_until(time, inclusive=False)
            held, pixels = (index, time, load), None
        if held is None or first_rgb is None:
            start = (f" from start_frame {start_frame}" if start_frame is not None else
                     f" from start_time {start_time} s" if start_time is not None else "")
            raise DataError(f"{path}: no decodable frames{start} ({seen} frames in the source)")
        emit_until(held[1], inclusive=True)     # inside try: a video's frames load lazily
    finally:
        close()
    return DecodedClip(frames=np.stack(out), source_index=indices, source_names=names,
                       first_rgb=first_rgb)
