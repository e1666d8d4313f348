"""What "active" and "saturated" mean for each activation, in terms of its pre-activation.

Rules used by the diagnostics (activation probability, saturation) and listed per
activation in the registry.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rectify_jax._src.units import NoisyUnit

# |tanh(x)| < 0.95  <=>  |x| < atanh(0.95); the sigmoid is a tanh of x / 2.
TANH_X = math.atanh(0.95)


@dataclasses.dataclass(frozen=True)
class Activity:
    r"""What "active" and "saturated" mean for one activation, in terms of its pre-activation.

    Attributes:
      name: the activation's name.
      fn: the (deterministic) activation ``x -> h``; noisy units use their ``h``.
      active: ``x -> bool``: the unit is active (rectifiers: :math:`x > 0`; saturating
        units: not saturated).
      saturated: ``x -> bool``: the unit is in a saturated (flat) regime, either side.
      negative_saturated: ``x -> bool``: saturated on the low side.

    Examples:
      >>> rule = rj.diagnostics.activity("tanh")
      >>> rule.active(jnp.array([0.5, 2.0])), rule.negative_saturated(jnp.array([-2.0]))
      (Array([ True, False], dtype=bool), Array([ True], dtype=bool))
    """

    name: str
    fn: Callable[[jax.Array], jax.Array]
    active: Callable[[jax.Array], jax.Array]
    saturated: Callable[[jax.Array], jax.Array]
    negative_saturated: Callable[[jax.Array], jax.Array]

    @classmethod
    def from_unit(cls, unit: NoisyUnit) -> Activity:
        """The rule of a (noisy) hard-saturating unit: active strictly between its thresholds."""
        lower, upper = unit.bounds
        return cls(
            unit.name,
            unit.h,
            lambda x: (x > lower) & (x < upper),
            unit.saturated,
            lambda x: x <= lower,
        )


def never(x):
    return jnp.zeros(jnp.shape(x), bool)


def symmetric(name, fn, t):
    return Activity(
        name, fn, lambda x: jnp.abs(x) < t, lambda x: jnp.abs(x) >= t, lambda x: x <= -t
    )


def one_sided(name, fn, t):
    """Active above 0; saturated (softly, towards the negative asymptote) below ``t``."""
    return Activity(name, fn, lambda x: x > 0, lambda x: x <= t, lambda x: x <= t)


def leaky(name, fn):
    return Activity(name, fn, lambda x: x > 0, never, never)
