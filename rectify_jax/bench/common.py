"""Timing and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import TypedDict

import jax
import numpy as np

from rectify_jax._src import provenance


class Timing(TypedDict):
    """The keywords of :func:`time_fn` and :func:`interleaved_times` a benchmark passes on."""

    repeats: int
    min_seconds: float


def machine() -> dict:
    """What the numbers were measured on (:func:`rectify_jax._src.provenance.machine`), the
    code that measured them, and PyTorch's version and threads where it is installed."""
    info = {**provenance.machine(), "code": provenance.code()}
    try:
        import torch  # pyright: ignore[reportMissingImports]  # optional, not a dependency

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def block(out):
    jax.tree.map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, out)
    return out


def time_fn(
    fn: Callable[[], object], *, repeats: int = 7, min_seconds: float = 0.05, warmup: int = 2
) -> float:
    """Median seconds per call of ``fn()`` (which must block until its result is ready).

    Each repeat runs ``fn`` enough times to last ``min_seconds``; the median over
    repeats is returned, after ``warmup`` calls (compilation included there).
    """
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_seconds / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def interleaved_times(
    fns: dict[str, Callable[[], object]],
    *,
    repeats: int = 7,
    min_seconds: float = 0.05,
    warmup: int = 2,
) -> dict[str, float]:
    """Median seconds per call of each ``fn()``, timed in interleaved rounds.

    Each round times every function once (enough calls to last ``min_seconds``), so
    the functions are compared under the same conditions of a shared machine.
    """
    inner = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        t0 = time.perf_counter()
        fn()
        inner[name] = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-7)))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def jax_timer(jitted, *args, **kw) -> float:
    return time_fn(lambda: block(jitted(*args)), **kw)


def memory_bytes(jitted, *args) -> dict:
    """Compiled memory of ``jitted(*args)`` from XLA's memory analysis (bytes)."""
    try:
        stats = jitted.lower(*args).compile().memory_analysis()
    except Exception:  # backends without the analysis
        return {}
    if stats is None:
        return {}
    keys = (
        "temp_size_in_bytes",
        "argument_size_in_bytes",
        "output_size_in_bytes",
        "alias_size_in_bytes",
        "generated_code_size_in_bytes",
    )
    return {k: int(getattr(stats, k)) for k in keys if hasattr(stats, k)}


def write(out: str | None, name: str, payload: dict, markdown: str) -> None:
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(payload, f, indent=1, default=lambda o: np.asarray(o).tolist())
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write(markdown)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
