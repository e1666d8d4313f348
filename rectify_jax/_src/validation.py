"""Argument checks shared by every public function, layer and cell.

One function per kind of argument, each raising one error that names the function or
class, the argument, what was given and what would work: ``TypeError`` for a value of the
wrong type (a string for a number, an integer array for ``x``), ``ValueError`` for a value
of the right type outside its range (a negative noise scale, a NaN, a size of 0).

When the checks run:

- on shapes, dtypes and Python types: once per trace (eager calls check every call);
- on values: only for **host** values, i.e. Python numbers and NumPy arrays, which
  costs no transfer. JAX arrays (on a device, or traced under ``jit``) are not read
  back: a device-to-host copy on every eager call would cost more than the function.
  Their dtype and shape are still checked;
- the layers and cells check their constructor's hyperparameters (host values) at
  construction (linen: ``__post_init__``), and their inputs at every call.

Inputs ``x`` are never checked for values: a NaN in ``x`` gives NaN out.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

_FLOAT_DTYPES = "float16, bfloat16, float32 or float64"


_FLOATS = frozenset(np.dtype(t) for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64))
"""The supported floating-point dtypes (float8 and other narrow floats are not)."""


def shown(value) -> str:
    """What came in, for a message: a short repr, or the type, dtype and shape of an array."""
    if isinstance(value, (jax.Array, np.ndarray)):
        return f"an array of dtype {value.dtype} and shape {tuple(value.shape)}"
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > 60:
        text = text[:50] + "..."
    return text if isinstance(value, (int, float, str)) else f"{type(value).__name__} {text}"


def float_input(fn: str, x: ArrayLike, name: str = "x") -> jax.Array:
    """Returns ``x`` as a JAX array, raising unless it is a real floating-point array.

    TypeError for what is not an array of numbers (None, a string, a dict, a PRNG key)
    and for other dtypes (integers, bool, complex, float8); ValueError for a ragged
    nested sequence. Values are not checked: NaN and inf pass through.
    """
    if isinstance(x, jax.Array) and x.dtype in _FLOATS:  # the common case, checked first
        return x
    must = f"{fn}: {name} must be a floating-point array ({_FLOAT_DTYPES})"
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{must}, got a bool")
    dtype = getattr(x, "dtype", None)  # None for Python scalars and other dtype-less values
    # jax.dtypes re-exports issubdtype without "as", so pyright's stub reading calls it private
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):  # pyright: ignore[reportPrivateImportUsage]
        raise TypeError(
            f"{fn}: {name} must be a floating-point array, got a PRNG key; did you swap x and key?"
        )
    if x is None or isinstance(x, (str, bytes, Mapping, set, frozenset)) or callable(x):
        raise TypeError(f"{must}, got {shown(x)}")
    try:
        x = jnp.asarray(x)
    except ValueError:  # numpy's "inhomogeneous shape": rows of different lengths
        raise ValueError(
            f"{must}, got a ragged nested sequence (rows of different lengths); pad the rows "
            "to one length or pass an array"
        ) from None
    except TypeError:  # e.g. a list holding None or strings: an object array
        raise TypeError(f"{must}, got {shown(x)}, which is not an array of numbers") from None
    if x.dtype not in _FLOATS:
        raise TypeError(
            f"{fn}: {name} must have a floating-point dtype ({_FLOAT_DTYPES}), got {x.dtype}; "
            f"cast it first, e.g. {name}.astype(jnp.float32)"
        )
    return x


def float_dtype(fn: str, name: str, value, *, optional: bool = False) -> np.dtype | None:
    """``value`` as a NumPy dtype, raising TypeError unless it is a supported float dtype
    (None passes when ``optional``)."""
    if value is None and optional:
        return None
    try:
        dtype = None if value is None else np.dtype(value)
    except TypeError:  # not a dtype at all ("abc")
        dtype = None
    if dtype not in _FLOATS:
        got = shown(value) if dtype is None else dtype.name
        raise TypeError(f"{fn}: {name} must be a floating-point dtype ({_FLOAT_DTYPES}), got {got}")
    return dtype


@functools.cache
def compute_dtype(dtype) -> np.dtype:
    """The dtype the math runs in: float32 for 16- and 32-bit inputs, float64 for float64."""
    return np.dtype(jnp.float64) if np.dtype(dtype) == np.float64 else np.dtype(jnp.float32)


def _range(minimum: float | None, why: str) -> str:
    bound = "" if minimum is None else f" >= {minimum:g}"
    return f"a finite number{bound}{f' ({why})' if why else ''}"


def _check_number(fn: str, name: str, value: float, minimum: float | None, why: str) -> None:
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise ValueError(f"{fn}: {name} must be {_range(minimum, why)}, got {value!r}")


def _check_host_array(fn: str, name: str, arr: np.ndarray, minimum, why: str) -> None:
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) if minimum is None else ~(np.isfinite(arr) & (arr >= minimum))
    if np.any(bad):
        what = (
            repr(float(arr)) if arr.ndim == 0 else f"an array holding {float(arr[bad].flat[0])!r}"
        )
        raise ValueError(f"{fn}: {name} must be {_range(minimum, why)}, got {what}")


def hyperparameter(fn: str, name: str, value, *, minimum: float | None = None, why: str = ""):
    """Checks a number or array hyperparameter; returns it, as a host array where it was one.

    Its type always: a real number, or an array (or nested sequence) of a floating-point
    dtype, else TypeError. Its values when they are on the host (Python numbers, NumPy
    arrays): finite and ``>= minimum``, else ValueError. JAX arrays, on a device or traced,
    are not read back (see the module's docstring).
    """
    if type(value) is float or type(value) is int:  # the common case, checked first
        _check_number(fn, name, value, minimum, why)
        return value
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(
            f"{fn}: {name} must be a float or a floating-point array, got {shown(value)}"
        )
    if isinstance(value, numbers.Real):  # NumPy scalars, fractions
        _check_number(fn, name, float(value), minimum, why)
        return value
    if isinstance(value, jax.Array):  # device or traced: the dtype only
        dtype = value.dtype
    else:
        try:
            host = np.asarray(value)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            return value  # a sequence holding tracers: JAX converts it
        except (TypeError, ValueError):  # ragged, or not numbers
            raise TypeError(
                f"{fn}: {name} must be a float or a floating-point array, got {shown(value)}"
            ) from None
        dtype = host.dtype
        if host.dtype in _FLOATS:
            _check_host_array(fn, name, host, minimum, why)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{fn}: {name} must be a float or a floating-point array, got dtype {dtype}; "
            f"pass e.g. jnp.asarray({name}, jnp.float32)"
        )
    return value


def finite(fn: str, name: str, value, *, why: str = ""):
    """:func:`hyperparameter` with finite values of any sign (``alpha``, ``p``, slopes)."""
    return hyperparameter(fn, name, value, why=why)


def finite_nonnegative(fn: str, name: str, value, *, why: str = "it scales the noise"):
    """:func:`hyperparameter` with finite values ``>= 0`` (noise scales ``c`` and ``s``)."""
    return hyperparameter(fn, name, value, minimum=0.0, why=why)


def param(
    fn: str, name: str, value, x: jax.Array, *, minimum: float | None = None, why: str = ""
) -> jax.Array:
    """A hyperparameter or learned parameter as a floating array broadcastable to ``x``.

    Checked by :func:`hyperparameter` (finite host values, ``>= minimum``). Python numbers
    become arrays of the compute dtype (so ``alpha=1.15`` is not rounded to bfloat16);
    arrays keep their dtype, so their cotangents do too.
    """
    if type(value) is float or type(value) is int:  # the common case, checked first
        _check_number(fn, name, value, minimum, why)
        return _scalar(value, compute_dtype(x.dtype))
    hyperparameter(fn, name, value, minimum=minimum, why=why)
    if isinstance(value, numbers.Real):
        # every Real is hashable at run time; typeshed's numbers.Complex sets __hash__ = None
        return _scalar(cast(Hashable, value), compute_dtype(x.dtype))
    arr = jnp.asarray(value)
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


def size(fn: str, name: str, value, *, why: str = "") -> int:
    """A size (``features``, ``hidden_size``, ``unroll``) as an int: TypeError unless an int
    (not a bool), ValueError unless >= 1."""
    what = f"a positive int{f' ({why})' if why else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be {what}, got {shown(value)}")
    if value < 1:
        raise ValueError(f"{fn}: {name} must be {what}, got {value!r}")
    return int(value)


def shape(fn: str, name: str, value) -> tuple[int, ...]:
    """An array shape as a tuple of ints >= 0 (an int is a 1-d shape)."""
    dims = (value,) if isinstance(value, numbers.Integral) else value
    ok = isinstance(dims, Sequence) and not isinstance(dims, str)
    if not ok or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) for d in dims
    ):
        raise TypeError(f"{fn}: {name} must be a tuple of ints (or an int), got {shown(value)}")
    sizes = tuple(int(d) for d in dims)
    if any(d < 0 for d in sizes):
        raise ValueError(f"{fn}: {name} must have sizes >= 0, got {sizes}")
    return sizes


def one_of(fn: str, name: str, value, options: Sequence[str]) -> None:
    """Raises unless ``value`` is one of the strings ``options``: TypeError for a non-string."""
    if not isinstance(value, str):
        raise TypeError(f"{fn}: {name} must be one of {tuple(options)}, got {shown(value)}")
    if value not in options:
        raise ValueError(f"{fn}: {name}={value!r} is not one of {tuple(options)}")


def string(fn: str, name: str, value) -> str:
    """A name (``rng_collection``): TypeError unless a non-empty str."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{fn}: {name} must be a non-empty str, got {shown(value)}")
    return value


def initializer(fn: str, name: str, value) -> None:
    """An initialiser: TypeError unless callable as ``init(key, shape, dtype)``."""
    if not callable(value):
        raise TypeError(
            f"{fn}: {name} must be an initializer, a callable (key, shape, dtype) -> array "
            f"such as jax.nn.initializers.zeros, got {shown(value)}"
        )


def static_bool(fn: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{fn}: {name} must be a Python bool (it picks the computation at trace time), "
            f"got {type(value).__name__} {value!r}"
        )
    return bool(value)
