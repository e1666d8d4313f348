"""Argument checks shared by every public function.

Each check runs at trace time (on shapes and dtypes) or on concrete values only,
so it costs nothing inside a compiled computation. Errors name the function, the
argument, what was given and what would work.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Hashable, Sequence
from typing import cast

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

_FLOAT_DTYPES = "float16, bfloat16, float32 or float64"


_FLOATS = frozenset(np.dtype(t) for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64))


def float_input(fn: str, x: ArrayLike, name: str = "x") -> jax.Array:
    """Returns ``x`` as a JAX array, raising TypeError unless it is real floating point."""
    if isinstance(x, jax.Array) and x.dtype in _FLOATS:  # the common case, checked first
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(
            f"{fn}: {name} must be a floating-point array ({_FLOAT_DTYPES}), got a bool"
        )
    dtype = getattr(x, "dtype", None)  # None for Python scalars and other dtype-less values
    # jax.dtypes re-exports issubdtype without "as", so pyright's stub reading calls it private
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):  # pyright: ignore[reportPrivateImportUsage]
        raise TypeError(
            f"{fn}: {name} must be a floating-point array, got a PRNG key; did you swap x and key?"
        )
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: {name} must have a floating-point dtype ({_FLOAT_DTYPES}), got {x.dtype}; "
            f"cast it first, e.g. {name}.astype(jnp.float32)"
        )
    return x


@functools.cache
def compute_dtype(dtype) -> np.dtype:
    """The dtype the math runs in: float32 for 16- and 32-bit inputs, float64 for float64."""
    return np.dtype(jnp.float64) if np.dtype(dtype) == np.float64 else np.dtype(jnp.float32)


def param(fn: str, name: str, value, x: jax.Array) -> jax.Array:
    """A hyperparameter or learned parameter as a floating array broadcastable to ``x``.

    Python numbers become arrays of the compute dtype (so ``alpha=1.15`` is not
    rounded to bfloat16); arrays keep their dtype, so their cotangents do too.
    """
    if type(value) is float or type(value) is int:  # the common case, checked first
        return _scalar(value, compute_dtype(x.dtype))
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a float or a floating-point array, got {value!r}")
    if isinstance(value, numbers.Real):
        # every Real is hashable at run time; typeshed's numbers.Complex sets __hash__ = None
        return _scalar(cast(Hashable, value), compute_dtype(x.dtype))
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{fn}: {name} must be a float or a floating-point array, got {value!r}")
    arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: {name} must be a float or a floating-point array, got dtype {arr.dtype}; "
            f"pass e.g. jnp.asarray({name}, jnp.float32)"
        )
    broadcastable(fn, name, arr.shape, x.shape)
    return arr


@functools.lru_cache(maxsize=512)
def _scalar(value, dtype) -> jax.Array:
    """A Python number as a device scalar, made once per (value, dtype): eager calls with
    the default hyperparameters do not transfer them to the device every time."""
    with jax.ensure_compile_time_eval():
        return jnp.asarray(value, dtype=dtype)


def broadcastable(fn: str, name: str, shape: Sequence[int], x_shape: Sequence[int]) -> None:
    """Raises ValueError unless ``shape`` broadcasts to ``x_shape`` without growing it."""
    shape, x_shape = tuple(shape), tuple(x_shape)
    try:
        ok = np.broadcast_shapes(shape, x_shape) == x_shape
    except ValueError:
        ok = False
    if not ok:
        hint = f" (e.g. shape {x_shape[-1:]} for one value per feature)" if x_shape else ""
        raise ValueError(
            f"{fn}: {name} with shape {shape} does not broadcast to x's shape {x_shape}; "
            f"use a scalar or an array whose trailing dimensions match x{hint}"
        )


def concrete(value) -> np.ndarray | None:
    """The value as a NumPy array, or None when it is traced (unknown until run time) or
    lives partly on other processes' devices (multi-host: not readable here, so not checked)."""
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        if not value.is_fully_addressable:
            return None
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def nonnegative(fn: str, name: str, value) -> None:
    """Raises ValueError if a host ``value`` (Python number, NumPy array) has a negative entry.

    JAX arrays pass unchecked: reading one back would be a device-to-host copy on every
    eager call. NaN passes through.
    """
    if isinstance(value, jax.Array):
        return
    if isinstance(value, (int, float)) and not math.isnan(value):
        if value < 0:
            raise ValueError(f"{fn}: {name} must be >= 0 (it scales the noise), got {value}")
        return
    arr = concrete(value)
    if arr is not None and np.any(arr < 0):
        shown = value if np.ndim(arr) == 0 else f"an array with minimum {np.nanmin(arr)}"
        raise ValueError(f"{fn}: {name} must be >= 0 (it scales the noise), got {shown}")


def one_of(fn: str, name: str, value, options: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{fn}: {name}={value!r} is not one of {tuple(options)}")


def static_bool(fn: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{fn}: {name} must be a Python bool (it picks the computation at trace time), "
            f"got {type(value).__name__} {value!r}"
        )
    return bool(value)
