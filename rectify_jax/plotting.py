"""Figures for the diagnostics (matplotlib; install with ``pip install rectify-jax[plot]``).

Every function builds a ``matplotlib.figure.Figure`` without pyplot (so it works
headless and never touches global state), returns it, and saves a PNG when given
``path``. The returned figure displays itself inline in Jupyter and Colab (as a PNG),
with no ``%matplotlib`` magic needed.
"""

from __future__ import annotations

import io
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

import rectify_jax as rj
from rectify_jax._src import registry

try:
    from matplotlib.figure import Figure as _MplFigure
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rectify_jax.plotting needs matplotlib: pip install 'rectify-jax[plot]'"
    ) from e

__all__ = ["Figure", "activation_probability", "activations", "grad_norms", "noisy_samples"]


class Figure(_MplFigure):
    """A ``matplotlib.figure.Figure`` that shows itself inline in notebooks.

    Built without pyplot, a plain ``Figure`` has no rich display in Jupyter (a cell shows
    ``<Figure size ...>``); this one returns its PNG to IPython's display machinery.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


# Test-time functions of every activation, for plotting (input-noise variants are their h).
CURVES = {entry.name: entry.test_time for entry in registry.ACTIVATIONS if entry.plot}


def _finish(fig: Figure, path) -> Figure:
    """Lays the figure out and saves it to ``path`` (if given) whole or not at all."""
    fig.tight_layout()
    if isinstance(path, str | os.PathLike):
        from rectify_jax.experiments._common import write_atomic

        # the format from the path's suffix (a temporary name keeps it), PNG without one
        fmt = pathlib.Path(path).suffix[1:] or "png"
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format=fmt))
    elif path is not None:  # a file object
        fig.savefig(path, dpi=120)
    return fig


def activations(
    names: Sequence[str] | None = None, *, x_range: tuple[float, float] = (-4.0, 4.0), path=None
) -> Figure:
    """(a) Every activation and its derivative, one panel each.

    Args:
      names: keys of :data:`CURVES` (default: all).
      x_range: the input interval.
      path: where to save the PNG (optional).

    Returns:
      The figure: one axes per activation with two lines, ``f(x)`` and ``f'(x)``.

    Examples:
      >>> from rectify_jax import plotting
      >>> fig = plotting.activations(["relu", "hard_tanh"])
      >>> [len(ax.lines) for ax in fig.axes]
      [2, 2]
    """
    names = list(CURVES) if names is None else list(names)
    unknown = [n for n in names if n not in CURVES]
    if unknown:
        raise ValueError(f"activations: unknown names {unknown}; choose from {list(CURVES)}")
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows))
    x = jnp.linspace(*x_range, 801)
    for i, name in enumerate(names):
        f = CURVES[name]
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot(x, f(x), label="f(x)", color="C0")
        ax.plot(x, jax.vmap(jax.grad(f))(x), label="f'(x)", color="C1", linestyle="--")
        ax.grid(True, color="0.92")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x")
        if i == 0:
            ax.legend(fontsize=8)
    return _finish(fig, path)


def noisy_samples(
    alphas: Sequence[float] = (1.0, 1.15, 1.5),
    *,
    unit=rj.HARD_TANH_UNIT,
    noises: Sequence[str] = rj.NOISE_KINDS,
    samples: int = 20,
    c: float = 0.5,
    p: float = 1.0,
    x_range: tuple[float, float] = (-4.0, 4.0),
    seed: int = 0,
    path=None,
) -> Figure:
    """(b) The stochastic behaviour of a noisy unit: samples around the expectation.

    One panel per (noise kind, alpha); each shows ``h`` (grey), the test-time
    expectation (line) and ``samples`` noisy draws per input (dots).

    Examples:
      >>> from rectify_jax import plotting
      >>> fig = plotting.noisy_samples(alphas=(1.15,), samples=5)
      >>> len(fig.axes), [len(ax.lines) for ax in fig.axes]
      (2, [2, 2])
    """
    x = jnp.linspace(*x_range, 161)
    keys = jax.random.split(jax.random.key(seed), samples)
    fig = Figure(figsize=(3.4 * len(alphas), 2.8 * len(noises)))
    for r, noise in enumerate(noises):
        for col, alpha in enumerate(alphas):
            ax = fig.add_subplot(len(noises), len(alphas), r * len(alphas) + col + 1)
            ys = jax.vmap(
                lambda k, alpha=alpha, noise=noise: unit(x, k, p=p, alpha=alpha, c=c, noise=noise)
            )(keys)
            ax.scatter(
                np.tile(np.asarray(x), samples),
                np.asarray(ys).ravel(),
                s=2,
                alpha=0.3,
                color="C0",
                label="samples",
            )
            ax.plot(x, unit.h(x), color="0.6", label="h(x)")
            ax.plot(
                x,
                unit(x, p=p, alpha=alpha, c=c, noise=noise, deterministic=True),
                color="C3",
                label="E[phi(x)]",
            )
            ax.set_title(f"{unit.name}, {noise}, alpha={alpha}", fontsize=9)
            ax.set_xlabel("x")
            if r == 0 and col == 0:
                ax.legend(fontsize=7, markerscale=4)
    return _finish(fig, path)


def activation_probability(probabilities: Mapping[str, object], *, path=None) -> Figure:
    """(c) Per-unit activation probability, sorted, one curve per activation (Maas et al. 2013).

    Args:
      probabilities: ``{label: per-unit probabilities}`` or ``{label: CodeSummary}``.

    Examples:
      >>> from rectify_jax import plotting
      >>> fig = plotting.activation_probability({"relu": jnp.array([0.1, 0.9, 0.5])})
      >>> len(fig.axes[0].lines)
      1
    """
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for label, prob in probabilities.items():
        prob = getattr(prob, "activation_probability", prob)
        ax.plot(np.sort(np.asarray(prob))[::-1], label=label)
    ax.set_xlabel("hidden unit (sorted by activation probability)")
    ax.set_ylabel("activation probability")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return _finish(fig, path)


def grad_norms(
    norms: Mapping[str, Sequence[ArrayLike] | Mapping[Any, ArrayLike] | np.ndarray | jax.Array],
    *,
    xlabel: str = "layer",
    log: bool = True,
    path=None,
) -> Figure:
    """(d) Gradient norm against depth or time step, one line per model.

    Args:
      norms: ``{label: sequence of norms}`` (a dict of per-layer norms is plotted in order).
      xlabel: ``"layer"`` or ``"time step"``.
      log: log-scale the norm axis (vanishing and exploding gradients span decades).

    Examples:
      >>> from rectify_jax import plotting
      >>> fig = plotting.grad_norms({"tanh": [1.0, 0.1, 0.01], "relu": [1.0, 0.9, 1.1]},
      ...                           xlabel="time step")
      >>> len(fig.axes[0].lines), fig.axes[0].get_xlabel()
      (2, 'time step')
    """
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for label, values in norms.items():
        values = list(values.values()) if isinstance(values, Mapping) else values
        ax.plot(
            np.arange(len(values)),
            np.asarray(values, np.float64),
            marker="o",
            markersize=3,
            label=label,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("gradient norm")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return _finish(fig, path)
