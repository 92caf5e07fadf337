"""Where and how tensors run: device choice, mixed precision, moving arrays, batching, threads.

One home for what training, evaluation, tracking, embedding and the apps all need, so none of them
imports another's loop. Legend: S samples, B batch.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

from lang2motion.config import check_device_name
from lang2motion.errors import ConfigError

# CPU feature flags that select different float kernels (oneDNN / ATen dispatch): two machines
# that differ in one of them compute the same run's features and metrics in a different order
# and agree only within float noise (README, Reproducibility).
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
CPUINFO = "/proc/cpuinfo"

# Threads that read and render ahead of their consumer (CLIP, the MP4 encoder): cv2 and JPEG
# decoding release the GIL, so they scale with cores up to this many.
WORKER_THREADS_MAX = 8

_In = TypeVar("_In")
_Out = TypeVar("_Out")


def resolve_device(name: str, *, param: str = "device") -> torch.device:
    """auto -> CUDA when present, else CPU; cpu / cuda / cuda:N as given, a ConfigError naming
    ``param`` (``train.device``, ``--device``) where that CUDA device does not exist."""
    check_device_name(name, param=param)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{param} is {name!r} but no CUDA device is available here; use "
                              "auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"{param} is {name!r} but only {torch.cuda.device_count()} CUDA "
                              "device(s) exist")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); without it CPU bf16 is
    emulated and slower than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _cpuinfo(path: str = CPUINFO) -> tuple[str, set[str]]:
    """(model name, flags) of the first CPU in ``path`` (Linux); ("", empty) elsewhere."""
    info: dict[str, str] = {}
    with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as handle:
        for key, _, value in (line.partition(":") for line in handle):
            info.setdefault(key.strip(), value.strip())
    return info.get("model name", ""), set(info.get("flags", "").split())


def machine_facts(device: torch.device | None = None) -> dict[str, object]:
    """What a run's floating-point results depend on besides the code and the data (CPU, kernel
    flags, threads, torch, GPU), JSON-ready; every stage summary records it."""
    model, flags = _cpuinfo()
    facts: dict[str, object] = {
        "cpu": model or platform.processor() or platform.machine() or "unknown",
        "cpu_flags": [f for f in KERNEL_FLAGS if f in flags],
        "cpu_bf16": cpu_has_bf16(),
        "cpu_kernels": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if device is not None and device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def machine_text(facts: Mapping[str, object]) -> str:
    """One line for a summary or the report: ``AMD EPYC (AVX2 kernels; avx2, fma; no native
    bf16), 2 torch threads``."""
    flags = ", ".join(str(f) for f in facts.get("cpu_flags") or []) or "none listed"
    bf16 = "native bf16" if facts.get("cpu_bf16") else "no native bf16"
    gpu = f"; GPU {facts['gpu']}" if facts.get("gpu") else ""
    return (f"{facts.get('cpu', '?')} ({facts.get('cpu_kernels', '?')} kernels; flags {flags}; "
            f"{bf16}), {facts.get('torch_threads', '?')} torch threads, torch "
            f"{facts.get('torch', '?')}{gpu}")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CUDA and on CPUs with native bf16 (measured 1.5x faster training on
    such a CPU, benchmarks/NOTES.md), fp32 elsewhere; ``fp32`` / ``bf16`` as given."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16()) else "fp32"


def autocast(device: torch.device, dtype: torch.dtype = torch.bfloat16, *,
             precision: str = "auto-cuda") -> contextlib.AbstractContextManager:
    """Mixed precision for a block: ``auto-cuda`` (inference) ``dtype`` on CUDA, fp32 elsewhere;
    ``fp32`` none; ``bf16`` on any device (``train.precision`` after :func:`resolve_precision`)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=dtype)
    return contextlib.nullcontext()


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` intra-op CPU threads (None: unchanged), then restore.

    Small-batch inference (a prompt, a trajectory) gains nothing from splitting its tiny matrix
    products, and loses badly when another process keeps a core busy: the threads wait for each
    other at every operation (measured on 2 busy cores: 91 ms with 2 threads, 0.5 ms with 1).
    """
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def to_device(arrays: Mapping[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """float32 tensors on ``device``; copies only what torch cannot share (read-only, other
    dtypes)."""
    return {k: torch.from_numpy(np.require(v, np.float32, ["C", "W"])).to(device)
            for k, v in arrays.items()}


def batch_slices(total: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``batch_size`` covering ``range(total)``."""
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    for start in range(0, total, batch_size):
        yield slice(start, min(start + batch_size, total))


def worker_threads() -> int:
    """Threads for I/O-bound helpers: one per core, at most WORKER_THREADS_MAX."""
    return max(1, min(WORKER_THREADS_MAX, os.cpu_count() or 1))


class prefetch(Iterator[_Out]):
    """``map(fn, items)`` in order, computed by ``threads`` workers up to ``depth`` items ahead.

    Work starts at construction, so a caller can do something else (encode texts) while the
    first items are prepared. Use as a context manager, or exhaust it, to stop the workers; on an
    error in ``fn`` the error is raised from ``next`` and pending work is cancelled.
    """

    def __init__(self, fn: Callable[[_In], _Out], items: Iterable[_In], *, threads: int,
                 depth: int):
        self._fn, self._source = fn, iter(items)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="l2m-prefetch")
        self._pending: deque[Future[_Out]] = deque(
            self._pool.submit(fn, item) for item in itertools.islice(self._source, depth))

    def __next__(self) -> _Out:
        if not self._pending:
            self.close()
            raise StopIteration
        future = self._pending.popleft()
        for item in itertools.islice(self._source, 1):  # keep the workers busy meanwhile
            self._pending.append(self._pool.submit(self._fn, item))
        try:
            return future.result()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Cancel what has not started, wait for what has, release the threads."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> prefetch[_Out]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
