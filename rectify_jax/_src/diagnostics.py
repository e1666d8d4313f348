"""What the rectifier literature measures, computed inside jit and accumulated.

Code statistics work on a layer's **pre-activations** ``x`` (shape ``(..., units)``:
every leading axis, batch and time alike, counts as examples) and an
:class:`Activity` rule saying what "active" and "saturated" mean for the unit.
They accumulate in a :class:`CodeStats` state, so 10,000+ examples never need to be
in memory at once; :func:`summarize` turns the state into the measurements.

Gradient flow: per-layer gradient norms, per-time-step norms of dL/dh_t of a
recurrence, and the share of a noisy unit's gradient carried by its linear,
nonlinear and stochastic paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import output_noise, registry
from rectify_jax._src import validation as v
from rectify_jax._src.activity import Activity
from rectify_jax._src.units import NoisyUnit, default

ACTIVITIES: dict[str, Activity] = {entry.name: entry.activity for entry in registry.ACTIVATIONS}
"""The :class:`Activity` rule of every activation, by name (noisy units as their ``h``)."""


def activity(rule: str | Activity | NoisyUnit) -> Activity:
    """The :class:`Activity` rule for an activation name, a :class:`NoisyUnit` or a rule.

    Known names: ``relu, nrelu, leaky_relu, prelu, rrelu, softplus, elu, tlu, tanh,
    sigmoid, hard_tanh, hard_sigmoid`` and the noisy variants (measured as their ``h``).
    Rectifiers are active for :math:`x > 0`; tanh is active (not saturated) for
    :math:`|\\tanh x| < 0.95` and the sigmoid likewise on its scale; hard tanh for
    :math:`|x| < 1`, hard sigmoid for :math:`|x| < 2`.

    Examples:
      >>> rj.diagnostics.activity("hard_sigmoid").active(jnp.array([-2.0, 0.0, 2.5]))
      Array([False,  True, False], dtype=bool)
    """
    if isinstance(rule, Activity):
        return rule
    if isinstance(rule, NoisyUnit):
        return Activity.from_unit(rule)
    if isinstance(rule, str) and rule in ACTIVITIES:
        return ACTIVITIES[rule]
    raise ValueError(
        f"activity: {rule!r} is not one of {tuple(ACTIVITIES)}, an Activity or a NoisyUnit"
    )


class CodeStats(NamedTuple):
    """Running counts for one layer (a pytree; ``units`` = size of the last axis).

    Attributes:
      count: number of examples seen (int32 scalar).
      active: per-unit number of examples where the unit was active.
      saturated: per-unit number of saturated examples.
      negative_saturated: per-unit number of negatively saturated examples.
      zero: per-unit number of exactly-zero outputs.
      output_sum: per-unit sum of outputs (float32), for the mean shift.

    Examples:
      >>> x = jnp.array([[-1.0, 0.5, 2.0], [1.0, -2.0, 3.0]])
      >>> stats = rj.diagnostics.update(rj.diagnostics.init(3), x, "relu")
      >>> int(stats.count), stats.active.tolist()
      (2, [1, 1, 2])
    """

    # a field named count shadows tuple.count, as NamedTuple allows: the public name stays
    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride]
    active: jax.Array
    saturated: jax.Array
    negative_saturated: jax.Array
    zero: jax.Array
    output_sum: jax.Array


class CodeSummary(NamedTuple):
    """The rectifier literature's measurements of one layer.

    Attributes:
      activation_probability: per unit, the fraction of examples where it is active.
      sparsity: mean fraction of exactly-zero outputs (Glorot et al. 2011).
      dispersion: std across units of the activation probabilities (0: every unit is
        active equally often).
      saturation: mean fraction of saturated outputs.
      negative_saturation: mean fraction of negatively saturated outputs.
      dead_units: number of units never active.
      mean_shift: mean output of the layer.
      count: number of examples.

    Examples:
      >>> stats = rj.diagnostics.update(rj.diagnostics.init(2), jnp.array([[0.0, 1.0]]), "relu")
      >>> summary = rj.diagnostics.summarize(stats)
      >>> float(summary.sparsity), int(summary.dead_units)
      (0.5, 1)
    """

    activation_probability: jax.Array
    sparsity: jax.Array
    dispersion: jax.Array
    saturation: jax.Array
    negative_saturation: jax.Array
    dead_units: jax.Array
    mean_shift: jax.Array
    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride]  # as CodeStats.count


def init(units: int) -> CodeStats:
    """An empty :class:`CodeStats` for a layer of ``units`` units.

    Examples:
      >>> rj.diagnostics.init(3).active
      Array([0, 0, 0], dtype=int32)
    """
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"init: units must be a positive int, got {units!r}")
    zeros = jnp.zeros((units,), jnp.int32)
    return CodeStats(
        jnp.zeros((), jnp.int32), zeros, zeros, zeros, zeros, jnp.zeros((units,), jnp.float32)
    )


def update(stats: CodeStats, x: jax.Array, rule: str | Activity | NoisyUnit) -> CodeStats:
    """Adds a batch of pre-activations ``x`` (shape ``(..., units)``) to ``stats``.

    Jit-able; ``rule`` is static (pass it by closure or as a static argument).

    Examples:
      >>> stats = rj.diagnostics.init(2)
      >>> stats = rj.diagnostics.update(stats, jnp.array([[1.0, -1.0], [2.0, -3.0]]), "relu")
      >>> stats.active, stats.zero, stats.count
      (Array([2, 0], dtype=int32), Array([0, 2], dtype=int32), Array(2, dtype=int32))
    """
    rule = activity(rule)
    x = v.float_input("diagnostics.update", x)
    if x.ndim == 0 or x.shape[-1] != stats.active.shape[0]:
        raise ValueError(
            f"diagnostics.update: x must have shape (..., {stats.active.shape[0]}) "
            f"to match the stats, got {x.shape}"
        )
    x = x.reshape(-1, x.shape[-1])
    h = rule.fn(x)

    def count(mask):
        return jnp.sum(mask, axis=0, dtype=jnp.int32)

    return CodeStats(
        count=stats.count + x.shape[0],
        active=stats.active + count(rule.active(x)),
        saturated=stats.saturated + count(rule.saturated(x)),
        negative_saturated=stats.negative_saturated + count(rule.negative_saturated(x)),
        zero=stats.zero + count(h == 0),
        output_sum=stats.output_sum + jnp.sum(h.astype(jnp.float32), axis=0),
    )


def summarize(stats: CodeStats) -> CodeSummary:
    """The measurements from accumulated counts (jit-able).

    Examples:
      >>> x = jnp.array([[1.0, -1.0, 2.0, -2.0], [3.0, -1.0, -1.0, -2.0]])
      >>> s = rj.diagnostics.summarize(rj.diagnostics.update(rj.diagnostics.init(4), x, "relu"))
      >>> s.activation_probability
      Array([1. , 0. , 0.5, 0. ], dtype=float32)
      >>> s.sparsity, s.dead_units
      (Array(0.625, dtype=float32), Array(2, dtype=int32))
    """
    n = jnp.maximum(stats.count, 1).astype(jnp.float32)
    prob = stats.active / n
    return CodeSummary(
        activation_probability=prob,
        sparsity=jnp.mean(stats.zero / n),
        dispersion=jnp.std(prob),
        saturation=jnp.mean(stats.saturated / n),
        negative_saturation=jnp.mean(stats.negative_saturated / n),
        dead_units=jnp.sum(stats.active == 0, dtype=jnp.int32),
        mean_shift=jnp.mean(stats.output_sum / n),
        count=stats.count,
    )


def code_statistics(x: jax.Array, rule: str | Activity | NoisyUnit) -> CodeSummary:
    """One-shot :func:`summarize` of ``update(init(units), x, rule)``.

    Examples:
      >>> s = rj.diagnostics.code_statistics(jnp.array([[0.5, 3.0], [-0.2, -4.0]]), "hard_tanh")
      >>> s.activation_probability, s.saturation, s.negative_saturation
      (Array([1., 0.], dtype=float32), Array(0.5, dtype=float32), Array(0.25, dtype=float32))
    """
    x = v.float_input("diagnostics.code_statistics", x)
    return summarize(update(init(int(x.shape[-1])), x, rule))


def update_tree(
    stats: Mapping[str, CodeStats],
    xs: Mapping[str, jax.Array],
    rules: Mapping[str, str | Activity | NoisyUnit] | str | Activity,
) -> dict:
    """:func:`update` for several layers at once: ``{layer: stats}`` with ``{layer: x}``.

    ``rules`` is one rule for all layers or a ``{layer: rule}`` mapping. Layers in
    ``xs`` but not in ``stats`` start from :func:`init`.

    Examples:
      >>> stats = rj.diagnostics.update_tree({}, {"h1": jnp.ones((4, 3))}, "relu")
      >>> stats["h1"].active
      Array([4, 4, 4], dtype=int32)
    """
    out = dict(stats)
    for name, x in xs.items():
        rule = rules[name] if isinstance(rules, Mapping) else rules
        prev = out.get(name)
        out[name] = update(init(int(jnp.shape(x)[-1])) if prev is None else prev, x, rule)
    return out


# --------------------------------------------------------------------------------------
# Gradient flow


def _path_name(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def grad_norms(grads, *, depth: int = 1) -> dict[str, jax.Array]:
    """Global L2 norm of the gradient per layer: leaves grouped by the first ``depth`` path keys.

    Examples:
      >>> g = {"Dense_0": {"kernel": jnp.full((2, 2), 1.0), "bias": jnp.zeros(2)},
      ...      "Dense_1": {"kernel": jnp.array([[3.0], [4.0]])}}
      >>> {k: float(n) for k, n in rj.diagnostics.grad_norms(g).items()}
      {'Dense_0': 2.0, 'Dense_1': 5.0}
    """
    sq: dict[str, jax.Array] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(grads)[0]:
        name = _path_name(path[:depth])
        sq[name] = sq.get(name, 0.0) + jnp.sum(jnp.square(leaf.astype(jnp.float32)))
    return {name: jnp.sqrt(s) for name, s in sq.items()}


def hidden_grad_norms(step: Callable, carry, xs: jax.Array, loss: Callable) -> jax.Array:
    r"""Per-time-step norms :math:`\|\partial L / \partial h_t\|` of a recurrence.

    Runs ``carry, y = step(carry, x_t)`` over the time-major inputs ``xs``
    (shape ``(T, ...)``) with ``jax.lax.scan``, and differentiates
    ``loss(final_carry, ys)`` with respect to a zero perturbation added to the carry
    after every step. Entry ``t`` is therefore the norm of the gradient reaching the
    state that step ``t`` hands on (the flow *through the recurrence*: vanishing when
    it decays with ``T - t``, exploding when it grows).

    Args:
      step: ``(carry, x) -> (carry, y)``, e.g. ``lambda c, x: cell.apply(variables, c, x)``.
      carry: the initial carry (any pytree).
      xs: time-major inputs.
      loss: ``(final_carry, ys) -> scalar``.

    Returns:
      An array of shape ``(T,)``.

    Examples:
      >>> step = lambda h, x: (0.5 * h + x, h)  # each step halves the gradient
      >>> rj.diagnostics.hidden_grad_norms(step, jnp.zeros(1), jnp.ones((4, 1)),
      ...                                  lambda h, ys: jnp.sum(h))
      Array([0.125, 0.25 , 0.5  , 1.   ], dtype=float32)
    """
    T = jnp.shape(xs)[0]
    zeros = jax.tree.map(lambda c: jnp.zeros((T, *jnp.shape(c)), jnp.result_type(c)), carry)

    def run(deltas):
        def body(c, inputs):
            x, d = inputs
            c, y = step(c, x)
            return jax.tree.map(jnp.add, c, d), y

        final, ys = jax.lax.scan(body, carry, (xs, deltas))
        return loss(final, ys)

    g = jax.grad(run)(zeros)
    sq = sum(
        jnp.sum(jnp.square(leaf), axis=tuple(range(1, leaf.ndim))) for leaf in jax.tree.leaves(g)
    )
    return jnp.sqrt(sq)


class GradientPaths(NamedTuple):
    """Contributions of the three paths of a noisy unit to dL/dx (arrays of x's shape).

    Examples:
      >>> paths = rj.diagnostics.GradientPaths(jnp.ones(2), jnp.zeros(2), jnp.zeros(2))
      >>> paths._fields
      ('linear', 'nonlinear', 'stochastic')
    """

    linear: jax.Array
    nonlinear: jax.Array
    stochastic: jax.Array


def noisy_gradient_paths(
    unit: NoisyUnit,
    x,
    key,
    cotangent=None,
    *,
    p=1.0,
    alpha=None,
    c=None,
    noise: str = "half_normal",
    generator: str = "jax",
) -> GradientPaths:
    r"""Splits a noisy unit's gradient :math:`\partial L/\partial x` into its three paths.

    With :math:`g = \partial L/\partial\phi` (``cotangent``, ones by default):
    linear :math:`g (1-\alpha) u'`, nonlinear :math:`g\,\alpha h'`, stochastic
    :math:`g\,d\,\epsilon\,2c(s-\frac12)s(1-s)\,p\,\Delta'`. They sum to the gradient
    that :func:`rectify_jax.noisy_hard_tanh` & co. return for the same key.

    Examples:
      >>> paths = rj.diagnostics.noisy_gradient_paths(rj.HARD_TANH_UNIT, jnp.array([0.5, 3.0]),
      ...                                             jax.random.key(0))
      >>> paths.linear, paths.nonlinear
      (Array([-0.15, -0.15], dtype=float32), Array([1.15, 0.  ], dtype=float32))
    """
    fn = "noisy_gradient_paths"
    x = v.float_input(fn, x)
    v.one_of(fn, "noise", noise, noise_lib.NOISE_KINDS)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    cdt = v.compute_dtype(x.dtype)
    alpha, c = default(alpha, unit.alpha), default(c, unit.c)
    p, alpha, c = (
        v.param(fn, n, val, x).astype(cdt) for n, val in (("p", p), ("alpha", alpha), ("c", c))
    )
    xc = x.astype(cdt)
    g = jnp.ones_like(xc) if cotangent is None else jnp.asarray(cotangent, cdt)
    eps = noise_lib.sample(noise_lib.as_key(fn, key), x.shape, noise, cdt, generator)
    paths = output_noise.gradient_paths(unit, xc, eps, p, alpha, c, g)
    return GradientPaths(paths.linear, paths.nonlinear, paths.stochastic)


def sown_path_shares(layer, sown: dict, cotangent) -> dict[str, jax.Array]:
    """Path shares of one noisy layer from what it sowed (``x``, ``key``, ``p``, ``c``), its
    attributes (``unit``, ``alpha``, ``noise``, ``generator``) and ``dL/dphi`` at its output.

    Shared by the linen and NNX ``noisy_path_shares``: the paths are rebuilt outside the
    layer with the same kernel as the layer's backward pass.
    """
    paths = noisy_gradient_paths(
        layer.unit,
        sown["x"],
        sown["key"],
        cotangent,
        p=sown["p"],
        alpha=layer.alpha,
        c=sown["c"],
        noise=layer.noise,
        generator=layer.generator,
    )
    return path_shares(paths)


def path_shares(paths: GradientPaths) -> dict[str, jax.Array]:
    r"""The share of each path in the total gradient magnitude, :math:`\sum|g_k| / \sum_j\sum|g_j|`.

    Examples:
      >>> shares = rj.diagnostics.path_shares(rj.diagnostics.GradientPaths(
      ...     jnp.array([1.0]), jnp.array([-3.0]), jnp.array([0.0])))
      >>> {k: float(v) for k, v in shares.items()}
      {'linear': 0.25, 'nonlinear': 0.75, 'stochastic': 0.0}
    """
    mags = {k: jnp.sum(jnp.abs(g)) for k, g in paths._asdict().items()}
    total = jnp.maximum(sum(mags.values()), jnp.finfo(jnp.float32).tiny)
    return {k: m / total for k, m in mags.items()}
