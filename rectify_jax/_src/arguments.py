"""The checks of the layers' and cells' arguments, shared by linen, NNX and Equinox.

Every class of :mod:`rectify_jax.linen`, :mod:`rectify_jax.nnx` and
:mod:`rectify_jax.equinox` passes its constructor's arguments, by name, to :func:`check`
(linen in ``__post_init__``, NNX and Equinox first thing in ``__init__``): the rule for
each name is written once, below, so the three frameworks accept and reject the same
values, with the same message naming the class. The checks themselves are those of
:mod:`rectify_jax._src.validation` that the functions use: hyperparameters given as host
values (Python numbers, NumPy arrays) are checked for their values, JAX arrays for their
dtype only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rectify_jax._src import validation as v
from rectify_jax._src.cells import GATES
from rectify_jax._src.noise import GENERATORS, NOISE_KINDS, as_key
from rectify_jax._src.output_noise import RESIDUALS
from rectify_jax._src.stochastic import check_bounds
from rectify_jax._src.units import NoisyUnit


def _unit(owner: str, name: str, value) -> None:
    if not isinstance(value, NoisyUnit):
        raise TypeError(
            f"{owner}: {name} must be a rectify_jax.NoisyUnit (rj.HARD_TANH_UNIT, "
            f"rj.HARD_SIGMOID_UNIT or one built with rj.NoisyUnit(h, u, threshold)), "
            f"got {v.shown(value)}"
        )


def _options(options: tuple[str, ...]) -> Callable[[str, str, object], None]:
    return lambda owner, name, value: v.one_of(owner, name, value, options)


def _number_or_initializer(owner: str, name: str, value) -> None:
    if not callable(value):
        v.finite(owner, name, value, why="or an initializer")


def _key(owner: str, name: str, value) -> None:
    as_key(owner, value)


def _size(owner: str, name: str, value) -> None:
    v.size(owner, name, value)


def _dtype(owner: str, name: str, value) -> None:
    v.float_dtype(owner, name, value)


_RULES: dict[str, Callable[[str, str, object], object]] = {
    # noise scales: finite and >= 0
    "c": v.finite_nonnegative,
    "s": v.finite_nonnegative,
    "gate_c": v.finite_nonnegative,
    "tanh_c": v.finite_nonnegative,
    # mixing factors and other real numbers: finite
    "alpha": v.finite,
    "gate_alpha": v.finite,
    "tanh_alpha": v.finite,
    "scale": v.finite,
    "negative_slope_init": _number_or_initializer,
    # sizes: positive ints
    "features": _size,
    "in_features": _size,
    "hidden_features": _size,
    "input_size": _size,
    "hidden_size": _size,
    "unroll": _size,
    # options
    "noise": _options(NOISE_KINDS),
    "residual": _options(RESIDUALS),
    "generator": _options(GENERATORS),
    "gates": _options(GATES),
    "unit": _unit,
    # switches, read at trace time
    "deterministic": v.static_bool,
    "inference": v.static_bool,
    "learn_alpha": v.static_bool,
    "time_major": v.static_bool,
    "return_carry": v.static_bool,
    "reverse": v.static_bool,
    "keep_order": v.static_bool,
    # initialisers, dtypes, PRNG
    "p_init": v.initializer,
    "kernel_init": v.initializer,
    "recurrent_kernel_init": v.initializer,
    "bias_init": v.initializer,
    "carry_init": v.initializer,
    "dtype": _dtype,
    "param_dtype": _dtype,
    "rng_collection": v.string,
    "key": _key,
}
"""The rule of every constructor argument, by name."""

_NONE_IS_DEFAULT = frozenset(
    {"c", "s", "alpha", "features", "deterministic", "dtype", "carry_init", "key"}
)
"""Names for which None is the default: the unit's ``c``, ``s`` and ``alpha``; no
``features`` (a layer without parameters); linen's ``deterministic`` given at call time;
the promoted ``dtype``; zeros for ``carry_init``; no ``key`` (nothing to draw)."""


def check(owner: str, **arguments) -> None:
    """Checks a layer's or a cell's arguments by name, raising the error that names ``owner``.

    ``lower`` and ``upper`` (RReLU) are checked together (:func:`stochastic.check_bounds`).

    Raises:
      TypeError: a value of the wrong type (a string for a number, a non-bool switch,
        a float size, a function for a unit).
      ValueError: a value out of range (a negative or non-finite noise scale, a NaN
        mixing factor, a size below 1, an unknown option string).
    """
    for name, value in arguments.items():
        if name in ("lower", "upper"):
            continue
        if value is None and name in _NONE_IS_DEFAULT:
            continue
        _RULES[name](owner, name, value)
    if "lower" in arguments and "upper" in arguments:
        check_bounds(owner, arguments["lower"], arguments["upper"])
    else:
        for name in {"lower", "upper"} & set(arguments):
            v.finite_nonnegative(owner, name, arguments[name], why="a slope of the negative side")


def check_known(owner: str, arguments: Mapping[str, object]) -> None:
    """:func:`check` on those entries of ``arguments`` that have a rule: a constructor's
    ``locals()`` taken first thing in ``__init__`` (its arguments), or a linen module's
    fields. Others (``self``, ``rngs``, ``cell``, flax's own fields) are left to their
    owners."""
    known = {
        name: value
        for name, value in arguments.items()
        if name in _RULES or name in ("lower", "upper")
    }
    check(owner, **known)
