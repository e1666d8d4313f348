"""What a result was computed with: the code (commit, source hash) and the machine.

Every seed file of ``rectify-jax reproduce`` and every benchmark result records both, so a
report can be composed from the results of one version of the code and a reader can tell
which machine and library builds made the numbers.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import pathlib
import platform
import subprocess

import jax

PACKAGE = pathlib.Path(__file__).resolve().parent.parent
"""The installed ``rectify_jax`` folder."""

LIBRARIES = ("jax", "jaxlib", "flax", "optax", "chex", "numpy")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """The machine and the library builds: CPU model and cores, OS, Python, the versions of
    JAX, jaxlib, flax, optax, chex and NumPy, the JAX backend and its devices."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{name: _version(name) for name in LIBRARIES},
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


@functools.cache
def source_hash() -> str:
    """SHA-256 of the package's Python sources (paths and contents, in sorted order): two
    results with the same hash were computed by the same code, with or without git."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(PACKAGE.parent), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code() -> dict:
    """The code: the package version, the SHA-256 of its sources, and where the package is
    a git checkout, the commit and whether the package or ``pyproject.toml`` differ from
    it (``dirty``). Outside a checkout (an installed wheel) commit and dirty are None."""
    version = _version("rectify-jax")
    commit = dirty = None
    toplevel = _git("rev-parse", "--show-toplevel")
    if toplevel is not None and pathlib.Path(toplevel).resolve() == PACKAGE.parent:
        commit = _git("rev-parse", "HEAD")
        status = _git("status", "--porcelain", "--", PACKAGE.name, "pyproject.toml")
        dirty = None if status is None else bool(status)
    return {"version": version, "source": source_hash(), "commit": commit, "dirty": dirty}


def provenance() -> dict:
    """``{"code": code(), "machine": machine()}``."""
    return {"code": code(), "machine": machine()}


def describe(machine_: dict) -> str:
    """One line for a report: CPU, cores, OS, backend, JAX and jaxlib versions."""
    return (
        f"{machine_['cpu']}, {machine_['cores']} cores, {machine_['platform']}, jax "
        f"{machine_['jax']} / jaxlib {machine_['jaxlib']} on {machine_['backend']}, Python "
        f"{machine_['python']}"
    )
