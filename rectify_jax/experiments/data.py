"""Offline data for the experiments: scikit-learn's digits, the standard library's own
source as a text corpus, and synthetic tasks. Nothing is downloaded."""

from __future__ import annotations

import functools
import pathlib
import sysconfig
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np


def digits(
    test_size: int = 497, split_seed: int = 0, valid_size: int = 0, train_size=None
) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (1797 images), standardised with training-set statistics
    (each pixel's std floored at one grey level, so a pixel constant or rare in the training
    images cannot blow up elsewhere).

    The images are shuffled by ``split_seed``, then cut into ``test_size`` test,
    ``valid_size`` validation and ``train_size`` (default: all the rest) training images.
    Returns ``(x_train, y_train, x_test, y_test)``, or with ``valid_size > 0``
    ``(x_train, y_train, x_valid, y_valid, x_test, y_test)``.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.utils import Bunch
    except ImportError as e:  # pragma: no cover - only without the extra
        raise ImportError(
            "the digits experiments need scikit-learn: pip install 'rectify-jax[experiments]'"
        ) from e
    data = cast(Bunch, load_digits())  # a Bunch unless return_X_y=True
    x, y = data.data.astype(np.float32), data.target.astype(np.int32)
    order = np.random.default_rng(split_seed).permutation(len(x))
    test, valid = order[:test_size], order[test_size : test_size + valid_size]
    rest = order[test_size + valid_size :]
    train = rest if train_size is None else rest[:train_size]
    if len(train) == 0 or (train_size is not None and len(train) < train_size):
        raise ValueError(
            f"digits: {len(x)} images do not hold test_size={test_size}, "
            f"valid_size={valid_size} and train_size={train_size}"
        )
    x = (x - x[train].mean(0)) / _scale(x[train].std(0))
    if valid_size:
        return x[train], y[train], x[valid], y[valid], x[test], y[test]
    return x[train], y[train], x[test], y[test]


def _scale(std: np.ndarray) -> np.ndarray:
    """The standard deviation to divide by, floored at one grey level (the pixels are
    integers 0..16). A pixel constant in the training images is then only centred (as
    scikit-learn's ``StandardScaler`` treats constant features), and a pixel that is rare
    in training cannot become a 100-sigma outlier elsewhere, so every standardised value
    is within 16 of 0. Adding a small constant instead (``std + 1e-3``) multiplied such a
    pixel by 1000 wherever it was not constant: values up to 4000 in test images."""
    return np.maximum(std, GREY_LEVEL)


GREY_LEVEL = np.float32(1.0)
"""The floor of :func:`digits`' standard deviations: one of the images' 17 grey levels."""


@functools.cache
def stdlib_corpus(
    max_bytes: int = 5_000_000, every: int = 10
) -> tuple[np.ndarray, np.ndarray, str]:
    """The Python standard library's top-level ``*.py`` files as bytes (about 4.7 MB on 3.11).

    Files are read in sorted order; every ``every``-th file is validation, the rest
    training. Returns ``(train_bytes, valid_bytes, description)`` as uint8 arrays.
    The corpus is the running interpreter's, so it differs slightly between Python
    versions: the description says which.
    """
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))
    train, valid, total = [], [], 0
    for i, path in enumerate(files):
        data = path.read_bytes()
        total += len(data)
        if total > max_bytes:
            break
        (valid if i % every == every - 1 else train).append(data)
    join = lambda parts: np.frombuffer(b"\n".join(parts), np.uint8)  # noqa: E731
    tr, va = join(train), join(valid)
    import platform

    desc = (
        f"Python {platform.python_version()} standard library, {len(train) + len(valid)} "
        f"top-level .py files: {len(tr) / 1e6:.2f} MB train, {len(va) / 1e6:.2f} MB valid "
        "(every 10th file), byte-level"
    )
    return tr, va, desc


def text_batch(data: jax.Array, key: jax.Array, batch: int, length: int):
    """``batch`` random windows of ``length + 1`` bytes: inputs and next-byte targets."""
    starts = jax.random.randint(key, (batch,), 0, data.shape[0] - length - 1)
    windows = jax.vmap(lambda s: jax.lax.dynamic_slice(data, (s,), (length + 1,)))(starts)
    return windows[:, :-1].astype(jnp.int32), windows[:, 1:].astype(jnp.int32)


def text_windows(data, length: int, max_bytes: int):
    """The first ``max_bytes`` bytes of ``data`` as non-overlapping windows of ``length``.

    A fixed held-out text for validation: returns inputs and next-byte targets, each of
    shape ``(max_bytes // (length + 1), length)``, so every window predicts ``length``
    bytes from its own start (no context carried between windows).
    """
    data = np.asarray(data)
    n = min(max_bytes, len(data)) // (length + 1)
    if n < 1:
        raise ValueError(f"text_windows: {len(data)} bytes hold no window of {length + 1}")
    w = data[: n * (length + 1)].reshape(n, length + 1).astype(np.int32)
    return jnp.asarray(w[:, :-1]), jnp.asarray(w[:, 1:])


MIXTURE_MEANS = ((0.0, 0.5), (-0.87, -0.5), (0.87, -0.5))
MIXTURE_STDS = (0.4, 1.0, 2.0)


def gaussian_mixture(key: jax.Array, n: int):
    """Points from 3 equally likely 2-D Gaussians with different means *and* spreads.

    Component k has mean ``MIXTURE_MEANS[k]`` and isotropic standard deviation
    ``MIXTURE_STDS[k]``; the label is the component. With unequal spreads the Bayes
    decision boundaries are quadratic, so a linear classifier falls short of the Bayes
    rate (about 0.79 here, a linear model about 0.69).
    """
    means, stds = jnp.asarray(MIXTURE_MEANS), jnp.asarray(MIXTURE_STDS)
    k1, k2 = jax.random.split(key)
    y = jax.random.randint(k1, (n,), 0, 3)
    x = means[y] + stds[y, None] * jax.random.normal(k2, (n, 2))
    return x, y


def mixture_bayes(x: jax.Array) -> jax.Array:
    """The Bayes classifier of :func:`gaussian_mixture`: the most likely component."""
    means, stds = jnp.asarray(MIXTURE_MEANS), jnp.asarray(MIXTURE_STDS)
    d2 = jnp.sum((x[:, None, :] - means[None]) ** 2, -1)
    return jnp.argmax(-d2 / (2 * stds**2) - 2 * jnp.log(stds), axis=1)


def unique_count(
    key: jax.Array,
    batch: int,
    length: int | jax.Array = 26,
    values: int = 11,
    max_length: int = 26,
):
    """Integer sequences (values 0..values-1) and the number of distinct values in each.

    Sequences shorter than ``max_length`` (curriculum) are padded with -1 after
    ``length``; the returned mask marks real steps.
    """
    seq = jax.random.randint(key, (batch, max_length), 0, values)
    mask = jnp.arange(max_length)[None, :] < length
    seq = jnp.where(mask, seq, -1)
    present = jnp.any(seq[:, :, None] == jnp.arange(values)[None, None, :], axis=1)
    return seq, mask, jnp.sum(present, axis=1).astype(jnp.int32)


def adding_problem(key: jax.Array, batch: int, length: int):
    """The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

    Each step holds a value ~ U[0, 1] and a marker; exactly two markers are 1, one in
    each half of the sequence. The target is the sum of the two marked values
    (predicting 1 always gives MSE 1/6).
    """
    k1, k2, k3 = jax.random.split(key, 3)
    values = jax.random.uniform(k1, (batch, length))
    first = jax.random.randint(k2, (batch,), 0, length // 2)
    second = jax.random.randint(k3, (batch,), length // 2, length)
    markers = jax.nn.one_hot(first, length) + jax.nn.one_hot(second, length)
    target = jnp.sum(values * markers, axis=1)
    return jnp.stack([values, markers], axis=-1), target
