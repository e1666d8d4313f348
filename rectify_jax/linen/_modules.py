"""flax.linen modules: an adapter from the library's layer descriptions.

Every layer is described once, framework-neutrally (``rectify_jax._src.layers``); this
module turns each description into a linen module with linen's conventions: options
as dataclass attributes, parameters created at the first call (their size from the
input's last axis), noise from the ``"noise"`` PRNG stream (``self.make_rng``), the
noise scales in the ``"noise_scale"`` collection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from rectify_jax._src import activations, layers
from rectify_jax._src.initializers import identity
from rectify_jax._src.noise import fill_noise_scale

NOISE_SCALE = "noise_scale"
"""The variable collection holding every noisy module's noise scale ``c`` (not trained)."""


def _noise_key(
    module: nn.Module, noiseless: bool, rng: jax.Array | None, col: str | None = None
) -> jax.Array | None:
    """The key for this call: None without noise, ``rng`` if given, else the stream ``col``
    (by default the module's ``rng_collection``)."""
    if noiseless:
        return None
    if rng is not None:
        return rng
    col = module.rng_collection if col is None else col
    if not module.has_rng(col):  # make_rng would silently fall back to 'params'
        raise ValueError(
            f"{type(module).__name__}: deterministic=False but no PRNG stream {col!r} was "
            f"given. Pass it to init and apply, e.g. model.init({{'params': k1, '{col}': k2}}, x) "
            f"and model.apply(variables, x, rngs={{'{col}': key}}), or set deterministic=True "
            "(test time)."
        )
    return module.make_rng(col)


def _variables(module: nn.Module, layer: layers.Layer, o, in_features: int, features: int):
    """The layer's parameters (cast to the input's dtype by its apply) and noise scales."""
    params = {
        name: module.param(name, init, shape, module.param_dtype)
        for name, (shape, init) in layer.shapes(o, in_features, features).items()
    }
    state = {
        name: module.variable(
            NOISE_SCALE, name, lambda v=value: jnp.asarray(v, module.param_dtype)
        ).value
        for name, value in layer.initial_state(o).items()
    }
    return params, state


def _activation_call(layer: layers.Layer):
    @nn.compact
    def __call__(self, x, deterministic: bool | None = None, *, rng=None, **state):
        """Applies the layer; ``deterministic`` and ``rng`` as in ``flax.linen.Dropout``,
        noise scales (e.g. ``c=``) passed here take precedence over the stored ones."""
        o = self.options()
        det = (
            nn.merge_param("deterministic", self.deterministic, deterministic)
            if layer.stochastic
            else True
        )
        features = jnp.shape(x)[-1]
        params, stored = _variables(self, layer, o, features, features)
        unknown = sorted(set(state) - set(stored))
        if unknown:
            raise TypeError(f"{layer.name}: unknown call argument(s) {unknown}")
        key = _noise_key(self, det or not layer.draws_noise(o), rng)
        y, sown = layer.apply(o, params, {**stored, **state}, x, key, det)
        if sown is not None and not self.is_initializing():
            # What the layer computed, for diagnostics: no-ops unless the collections are
            # mutable (apply(..., mutable=["intermediates", "perturbations"])).
            self.sow("intermediates", layer.sows, sown)
            y = self.perturb("output", y)
        return y

    return __call__


def _cell_call(layer: layers.Layer):
    @nn.compact
    def __call__(self, carry, x, deterministic: bool | None = None, *, rng=None, noise=None):
        """One step; ``deterministic`` here overrides the attribute. ``noise``: this step's
        noise drawn ahead (what :class:`RNN` passes), used instead of a key."""
        o = self.options()
        det = self.deterministic if deterministic is None else deterministic
        params, state = _variables(self, layer, o, jnp.shape(x)[-1], self.features)
        key = _noise_key(self, det or not layer.draws_noise(o) or noise is not None, rng)
        carry, y, pre = layer.apply(o, params, state, carry, x, key, det, noise)
        # Diagnostics: a no-op unless "intermediates" is mutable (apply(..., mutable=[...])).
        self.sow("intermediates", "preactivations", pre)
        return carry, y

    @nn.nowrap
    def initialize_carry(self, rng, input_shape):
        del rng
        return layer.carry(tuple(input_shape[:-1]), self.features, self.param_dtype)

    return {
        "__call__": __call__,
        "initialize_carry": initialize_carry,
        "num_feature_axes": property(lambda self: 1),
    }


def module(layer: layers.Layer) -> type[nn.Module]:
    """A linen module class from a layer description."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"layer": layer, "__module__": __name__}
    if layer.recurrent:
        annotations["features"] = int
    for opt in layer.options:
        annotations[opt.name] = Any
        namespace[opt.name] = opt.default
    for old in layer.renamed:
        annotations[old] = Any
        namespace[old] = None
    if layer.stochastic:
        annotations |= {"deterministic": bool | None, "rng_collection": str}
        namespace |= {
            "deterministic": False if layer.recurrent else None,
            "rng_collection": "noise",
        }
    annotations["param_dtype"] = Any
    namespace["param_dtype"] = jnp.float32
    namespace["__annotations__"] = annotations

    def __post_init__(self):
        values = {
            name: getattr(self, name) for name in layer.renamed if getattr(self, name) is not None
        }
        for new, value in layers.split_options(layer, layer.name, values).items():
            object.__setattr__(self, new, value)
        for old in values:  # mapped once: clones made by init/apply do not warn again
            object.__setattr__(self, old, None)
        layer.configure(layer.name, {opt.name: getattr(self, opt.name) for opt in layer.options})
        super(cls, self).__post_init__()

    def options(self):
        return layer.configure(layer.name, {o.name: getattr(self, o.name) for o in layer.options})

    namespace |= {"__post_init__": __post_init__, "options": nn.nowrap(options)}
    if layer.recurrent:
        namespace |= _cell_call(layer)
    else:
        namespace["__call__"] = _activation_call(layer)
    namespace["__doc__"] = layers.docstring(layer, _CONVENTIONS[layer.recurrent], _example(layer))
    cls = type(layer.name, (nn.RNNCellBase if layer.recurrent else nn.Module,), namespace)
    return cls


_CONVENTIONS = {
    False: "As a linen module: options are attributes; parameters are created at the first "
    "call, one per feature of the input's last axis, and cast to the input's dtype. A "
    'stochastic layer draws from the ``"noise"`` PRNG stream (``rngs={"noise": key}``; a '
    "missing stream is an error, never a fallback to ``params``) or from ``rng=`` at call "
    "time, and takes ``deterministic`` as an attribute or call argument (test time). Noise "
    'scales live in the ``"noise_scale"`` collection (:func:`set_noise_scale`). A noisy '
    'output unit sows its inputs as ``"noisy_inputs"`` for diagnostics.',
    True: "As a linen cell (``flax.linen.RNNCellBase``): ``features`` is the hidden size; use "
    'it with :func:`rnn`, which gives every step fresh noise from the ``"noise"`` stream. '
    "``deterministic`` is an attribute or a call argument; ``rng=`` at call time replaces "
    'the stream. Noise scales live in the ``"noise_scale"`` collection.',
}


def _example(layer: layers.Layer) -> str:
    ex = layer.example
    opts = ", ".join(f"{k}={v}" for k, v in ex.options.items())
    if layer.recurrent:
        return f"""\
>>> from rectify_jax import linen as rjl
>>> cell = rjl.{layer.name}(features={ex.features}, deterministic=True{", " + opts if opts else ""})
>>> carry = cell.initialize_carry(jax.random.key(0), {ex.x})
>>> variables = cell.init(jax.random.key(1), carry, jnp.ones({ex.x}))
>>> carry, y = cell.apply(variables, carry, jnp.ones({ex.x}))
>>> y.shape
{ex.output}"""
    det = ", deterministic=True" if layer.stochastic else ""
    return f"""\
>>> from rectify_jax import linen as rjl
>>> layer = rjl.{layer.name}({opts})
>>> x = jnp.array({ex.x})
>>> variables = layer.init(jax.random.key(0), x{det})
>>> layer.apply(variables, x{det})
{ex.output}"""


MODULES = {layer.name: module(layer) for layer in layers.LAYERS}
"""Every layer of the library as a module of this framework, by name."""


def set_noise_scale(variables: dict, c) -> dict:
    """Returns ``variables`` with every noise scale of the model set to ``c``.

    Feed the value of any optax schedule at the current step; under ``jax.jit`` ``c``
    is a traced argument, so a new value every step does not recompile.

    Args:
      variables: the model's variables, with the ``"noise_scale"`` collection made by init.
      c: the new noise scale (scalar, >= 0), e.g. ``schedule(step)``.

    Returns:
      A new variables dict; the input is not modified.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyHardTanh(deterministic=True)
      >>> variables = layer.init(jax.random.key(0), jnp.ones((2, 3)))
      >>> rjl.set_noise_scale(variables, 30.0)["noise_scale"]
      {'c': Array(30., dtype=float32)}
    """
    if NOISE_SCALE not in variables:
        raise ValueError(
            f"set_noise_scale: variables has no {NOISE_SCALE!r} collection (it has "
            f"{sorted(variables)}); pass the full output of model.init, not only its 'params'"
        )
    return {
        **variables,
        NOISE_SCALE: fill_noise_scale("set_noise_scale", variables[NOISE_SCALE], c),
    }


class RNN(nn.Module):
    __doc__ = layers.sequence_docstring(
        what="What ``flax.linen.RNN(cell)`` computes, for the noisy cells of this library "
        "(:class:`NoisyLSTMCell`, :class:`NoisyGRUCell`), faster.",
        key='one key from the ``"noise"`` stream (or ``rng=`` at call time)',
        more="The parameters are the cell's, under ``cell`` as with ``flax.linen.RNN``; the "
        'inputs of the noisy units are sown per step into ``"intermediates"``, stacked '
        "along time. :func:`rnn` returns this module for a noisy cell and "
        "``flax.linen.RNN`` for other cells.",
        example="""\
>>> from rectify_jax import linen as rjl
>>> model = rjl.rnn(rjl.NoisyLSTMCell(features=8))  # an rjl.RNN
>>> x = jnp.ones((2, 5, 3))  # (batch, time, features)
>>> variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, x)
>>> model.apply(variables, x, rngs={"noise": jax.random.key(2)}).shape
(2, 5, 8)""",
    )

    cell: nn.RNNCellBase
    time_major: bool = False
    return_carry: bool = False
    reverse: bool = False
    keep_order: bool = False
    unroll: int = 1

    def __post_init__(self):
        layers.check_sequence_cell("RNN", self.cell)
        super().__post_init__()

    @nn.compact
    def __call__(self, inputs, *, initial_carry=None, rng=None, deterministic=None):
        """Runs the cell over ``inputs``; ``deterministic`` here overrides the cell's."""
        cell, layer = self.cell, type(self.cell).layer
        o = cell.options()
        det = cell.deterministic if deterministic is None else deterministic
        key = _noise_key(self, det or not layer.draws_noise(o), rng, cell.rng_collection)

        def run(xs, unroll):
            carry = initial_carry
            if carry is None:
                carry = cell.initialize_carry(None, xs.shape[1:])
            per_step = layers.sequence_inputs(
                layer, o, key, xs.shape[0], xs.shape[1:-1], cell.features, xs.dtype
            )

            def step(cell, carry, inputs):
                x, given = inputs
                return cell(carry, x, det, rng=given.get("key"), noise=given.get("noise"))

            scan = nn.scan(
                step,
                variable_broadcast=["params", NOISE_SCALE],
                split_rngs={"params": False},
                variable_axes={"intermediates": 0 if self.time_major else 1},
                unroll=unroll,
            )
            return scan(cell, carry, (xs, per_step))

        return layers.over_time(run, inputs, **layers.sequence_options(self))


def rnn(cell: nn.RNNCellBase, **kwargs) -> nn.Module:
    """A cell scanned over a sequence, with fresh noise at every time step.

    For the noisy cells of this library returns :class:`RNN` (every step's noise drawn
    in one call before the scan), which takes ``flax.linen.RNN``'s options
    ``time_major``, ``return_carry``, ``reverse``, ``keep_order`` and ``unroll``.

    For any other cell returns ``flax.linen.RNN`` configured for noise: ``nn.RNN`` scans
    the cell with ``nn.scan``, which by default neither passes the noise stream nor the
    ``"noise_scale"`` collection into the loop; this sets ``split_rngs={'params': False,
    <noise stream>: True}`` (a new key per step) and ``variable_broadcast=['params',
    'noise_scale']``, and stacks the ``"intermediates"`` collection over time (axis 1, or
    0 with ``time_major=True``) so that diagnostics can capture what the cell sows at each
    step. Other keyword arguments go to ``nn.RNN`` and override these.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> model = rjl.rnn(rjl.NoisyLSTMCell(features=8))
      >>> x = jnp.ones((2, 5, 3))  # (batch, time, features)
      >>> variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, x)
      >>> model.apply(variables, x, rngs={"noise": jax.random.key(2)}).shape
      (2, 5, 8)
    """
    stream = getattr(cell, "rng_collection", "noise")
    if layers.sequence_cell(cell) is not None:
        names = [opt.name for opt in layers.SEQUENCE_OPTIONS]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(
                f"rnn: {unknown} are not options of rectify_jax.linen.RNN, which scans "
                f"{type(cell).__name__} (its options: {names}); "
                "for flax.linen.RNN's other options scan the cell with nn.RNN(cell, "
                f"split_rngs={{'params': False, {stream!r}: True}}, variable_broadcast="
                f"['params', {NOISE_SCALE!r}], ...), which draws the noise inside the loop"
            )
        return RNN(cell, **kwargs)
    kwargs.setdefault("split_rngs", {"params": False, stream: True})
    kwargs.setdefault("variable_broadcast", ["params", NOISE_SCALE])
    # Sown or captured intermediates of every step, stacked along the time axis.
    kwargs.setdefault("variable_axes", {"intermediates": 0 if kwargs.get("time_major") else 1})
    return nn.RNN(cell, **kwargs)


class IRNNCell(nn.SimpleCell):
    r"""IRNN cell: :math:`h' = \mathrm{relu}(W_x x + W_h h + b)`, :math:`W_h = sI`, :math:`b = 0`.

    A ``flax.linen.SimpleCell`` with a ReLU and identity recurrent initialisation
    (Le, Jaitly & Hinton 2015, arXiv:1504.00941): at the start the state is copied
    forward unchanged, so gradients neither vanish nor explode over long spans.

    Attributes:
      features: hidden size.
      scale: multiplies the identity (the paper uses 1; smaller values damp the state).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> cell = rjl.IRNNCell(features=3, scale=0.5)
      >>> carry = cell.initialize_carry(jax.random.key(0), (1, 2))
      >>> variables = cell.init(jax.random.key(1), carry, jnp.ones((1, 2)))
      >>> variables["params"]["h"]["kernel"]
      Array([[0.5, 0. , 0. ],
             [0. , 0.5, 0. ],
             [0. , 0. , 0.5]], dtype=float32)
    """

    scale: float = 1.0
    activation_fn: Callable[..., Any] = activations.relu
    recurrent_kernel_init: Callable[..., jax.Array] | None = None  # None: scale * identity

    def __post_init__(self):
        if self.recurrent_kernel_init is None:
            object.__setattr__(self, "recurrent_kernel_init", identity(self.scale))
        super().__post_init__()
