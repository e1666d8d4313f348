"""Offline data for the experiments: scikit-learn's digits, the standard library's own
source as a text corpus, and synthetic tasks. Nothing is downloaded."""

from __future__ import annotations

import functools
import pathlib
import sysconfig

import jax
import jax.numpy as jnp
import numpy as np


def digits(test_size: int = 497, split_seed: int = 0):
    """scikit-learn's 8x8 digits (1797 images), standardised with train statistics.

    Returns ``(x_train, y_train, x_test, y_test)``; the split is fixed by ``split_seed``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - only without the extra
        raise ImportError(
            "the digits experiments need scikit-learn: pip install 'rectify-jax[experiments]'"
        ) from e
    data = load_digits()
    x, y = data.data.astype(np.float32), data.target.astype(np.int32)
    order = np.random.default_rng(split_seed).permutation(len(x))
    test, train = order[:test_size], order[test_size:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-3
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


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


def gaussian_mixture(key: jax.Array, n: int, spread: float = 1.0):
    """Points from 3 isotropic 2-D Gaussians at the corners of a triangle; label = component."""
    centres = 2.0 * jnp.array([[0.0, 1.0], [-0.87, -0.5], [0.87, -0.5]])
    k1, k2 = jax.random.split(key)
    y = jax.random.randint(k1, (n,), 0, 3)
    x = centres[y] + spread * jax.random.normal(k2, (n, 2))
    return x, y


def unique_count(
    key: jax.Array, batch: int, length: int = 26, values: int = 11, max_length: int = 26
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
