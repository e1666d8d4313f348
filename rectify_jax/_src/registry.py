"""One registry of the library's activation functions.

One row per public activation: the function, how to call it with typical arguments,
its test-time (deterministic) function, its :class:`~rectify_jax._src.activity.Activity`
rule, whether it draws noise, the name of its module if it has one, and its ``jax.nn``
twin if there is one. The test battery, the benchmark, the plots, the diagnostics and
``python -m rectify_jax`` iterate this tuple; adding an activation is one row here plus
its function and its focused tests.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rectify_jax._src import activations as act
from rectify_jax._src import activity, noisy, stochastic
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT, NoisyUnit


@dataclasses.dataclass(frozen=True)
class Entry:
    """One activation.

    Attributes:
      name: the public function's name (``rectify_jax.<name>``).
      fn: the public function.
      call: ``(x, key) -> y`` with typical arguments (deterministic ones ignore the key).
      test_time: ``x -> y``, the function at test time (noise replaced by its mean).
      activity: what "active" and "saturated" mean for it.
      stochastic: draws noise from a key.
      module: the name of its module class in ``rectify_jax.linen``, ``rectify_jax.nnx``
        and ``rectify_jax.equinox``, if it has one.
      jax_nn: its ``jax.nn`` equivalent, if there is one (benchmarks compare the two).
      plot: drawn in the default activation figure.
    """

    name: str
    fn: Callable
    call: Callable[[jax.Array, jax.Array], jax.Array]
    test_time: Callable[[jax.Array], jax.Array]
    activity: activity.Activity
    stochastic: bool = False
    module: str | None = None
    jax_nn: Callable | None = None
    plot: bool = True


def _deterministic(name, fn, rule, jax_nn=None, module=None, **kwargs) -> Entry:
    def call(x, key):
        return fn(x, **kwargs)

    def test_time(x):
        return fn(x, **kwargs)

    return Entry(name, fn, call, test_time, rule, module=module, jax_nn=jax_nn)


def _noisy_family(
    unit: NoisyUnit, fns: dict[str, Callable], module: str, learned_c: float
) -> list[Entry]:
    """The output- and input-noise functions of one unit; all measured as its ``h``.

    The learned input noise is called with ``p = 10`` and a large ``c``, where its noise
    shows in the output (with the defaults it is tiny next to the threshold).
    """
    entries = []
    for name, fn in fns.items():
        kwargs = {"p": 10.0, "c": learned_c} if name.startswith("learned_") else {}
        rule = dataclasses.replace(activity.Activity.from_unit(unit), name=name)
        entries.append(
            Entry(
                name,
                fn,
                lambda x, key, fn=fn, kwargs=kwargs: fn(x, key, **kwargs),
                lambda x, fn=fn: fn(x, deterministic=True),
                rule,
                stochastic=True,
                module=module if fn.__name__.startswith("noisy_") else None,
                plot=fn.__name__.startswith("noisy_"),
            )
        )
    return entries


_HARD_TANH_RULE = activity.Activity.from_unit(HARD_TANH_UNIT)
_HARD_SIGMOID_RULE = activity.Activity.from_unit(HARD_SIGMOID_UNIT)

ACTIVATIONS: tuple[Entry, ...] = (
    _deterministic("relu", act.relu, activity.one_sided("relu", act.relu, 0.0), jax.nn.relu),
    _deterministic(
        "leaky_relu",
        act.leaky_relu,
        activity.leaky("leaky_relu", act.leaky_relu),
        lambda x: jax.nn.leaky_relu(x, 0.1),  # the same slope as the call
        negative_slope=0.1,
    ),
    Entry(
        "prelu",
        act.prelu,
        lambda x, key: act.prelu(x, jnp.float32(0.25)),
        lambda x: act.prelu(x, 0.25),
        activity.leaky("prelu", lambda x: act.prelu(x, 0.25)),
        module="PReLU",
    ),
    # elu and tlu reach 95% of their negative asymptote -alpha at these points
    _deterministic("elu", act.elu, activity.one_sided("elu", act.elu, math.log(0.05)), jax.nn.elu),
    _deterministic(
        "softplus", act.softplus, activity.leaky("softplus", act.softplus), jax.nn.softplus
    ),
    _deterministic(
        "sigmoid",
        act.sigmoid,
        activity.symmetric("sigmoid", act.sigmoid, 2 * activity.TANH_X),
        jax.nn.sigmoid,
    ),
    _deterministic(
        "tanh", act.tanh, activity.symmetric("tanh", act.tanh, activity.TANH_X), jnp.tanh
    ),
    _deterministic(
        "hard_sigmoid",
        act.hard_sigmoid,
        dataclasses.replace(_HARD_SIGMOID_RULE, name="hard_sigmoid"),
    ),
    _deterministic(
        "hard_tanh",
        act.hard_tanh,
        dataclasses.replace(_HARD_TANH_RULE, name="hard_tanh"),
        jax.nn.hard_tanh,
    ),
    _deterministic(
        "tlu",
        act.tlu,
        activity.one_sided("tlu", act.tlu, -activity.TANH_X),
        module="TLU",
        alpha=0.7,
    ),
    Entry(
        "rrelu",
        stochastic.rrelu,
        lambda x, key: stochastic.rrelu(x, key),
        lambda x: stochastic.rrelu(x, deterministic=True),
        activity.leaky("rrelu", lambda x: act.leaky_relu(x, (1 / 8 + 1 / 3) / 2)),
        stochastic=True,
        module="RReLU",
    ),
    Entry(
        "nrelu",
        stochastic.nrelu,
        lambda x, key: stochastic.nrelu(x, key),
        lambda x: stochastic.nrelu(x, deterministic=True),
        activity.one_sided("nrelu", act.relu, 0.0),
        stochastic=True,
        module="NReLU",
    ),
    *_noisy_family(
        HARD_TANH_UNIT,
        {
            "noisy_hard_tanh": noisy.noisy_hard_tanh,
            "input_noisy_hard_tanh": noisy.input_noisy_hard_tanh,
            "learned_input_noisy_hard_tanh": noisy.learned_input_noisy_hard_tanh,
            "saturated_input_noisy_hard_tanh": noisy.saturated_input_noisy_hard_tanh,
        },
        "NoisyHardTanh",
        learned_c=2.0,
    ),
    *_noisy_family(
        HARD_SIGMOID_UNIT,
        {
            "noisy_hard_sigmoid": noisy.noisy_hard_sigmoid,
            "input_noisy_hard_sigmoid": noisy.input_noisy_hard_sigmoid,
            "learned_input_noisy_hard_sigmoid": noisy.learned_input_noisy_hard_sigmoid,
            "saturated_input_noisy_hard_sigmoid": noisy.saturated_input_noisy_hard_sigmoid,
        },
        "NoisyHardSigmoid",
        learned_c=3.0,
    ),
)
"""Every public activation function of the library, one :class:`Entry` each."""

BY_NAME: dict[str, Entry] = {entry.name: entry for entry in ACTIVATIONS}
