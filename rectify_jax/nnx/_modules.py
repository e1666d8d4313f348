"""flax.nnx modules: an adapter from the library's layer descriptions.

Every layer is described once, framework-neutrally (``rectify_jax._src.layers``); this
module turns each description into an NNX module with NNX's conventions: parameters
created in the constructor (``features`` given there), ``rngs`` as an ``nnx.Rngs``, an
``nnx.RngStream`` or a key, ``eval()`` / ``train()`` through the ``deterministic``
attribute, the noise scales as :class:`NoiseScale` variables.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rectify_jax._src import activations, layers
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.initializers import identity

RngSource = nnx.Rngs | nnx.RngStream | jax.Array | None


class NoiseScale(nnx.Variable):
    """The noise scale ``c`` of a noisy module: state that is annealed, not trained."""


def set_noise_scale(model: nnx.Module, c) -> None:
    """Sets every :class:`NoiseScale` in ``model`` to ``c``, in place.

    Call it inside an ``nnx.jit`` train step with ``c`` from an optax schedule: ``c``
    is a traced argument, so a new value every step does not recompile, and
    ``nnx.grad`` (which differentiates ``nnx.Param`` only) leaves it alone.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyHardTanh(3, rngs=nnx.Rngs(0))
      >>> rjx.set_noise_scale(layer, 30.0)
      >>> layer.c[...]
      Array(30., dtype=float32)
    """
    state = nnx.state(model, NoiseScale)
    nnx.update(model, noise_lib.fill_noise_scale("set_noise_scale", state, c))


def _streams(owner: str, rngs, collection: str):
    """(a key for the parameters, the module's own noise stream) from what it was given.

    As ``nnx.Dropout``: an ``nnx.Rngs`` gives its ``params`` key and a fork of its noise
    stream (``default`` as a fallback); an ``RngStream`` or a key serves both.
    """
    if rngs is None:
        return None, nnx.data(None)
    if isinstance(rngs, nnx.Rngs):
        return rngs.params, rngs[collection].fork()
    if isinstance(rngs, nnx.RngStream):
        return rngs, rngs.fork()
    if isinstance(rngs, jax.Array):
        key = noise_lib.as_key(owner, rngs)
        return nnx.RngStream(jax.random.fold_in(key, 1), tag="params"), nnx.RngStream(
            key, tag=collection
        )
    raise TypeError(
        f"{owner}: rngs must be an nnx.Rngs, an nnx.RngStream, a PRNG key or None, "
        f"got {type(rngs).__name__}"
    )


def _call_key(module, deterministic: bool, rngs: RngSource):
    """The key for this call: None without noise, else from ``rngs`` or the module's stream."""
    if deterministic:
        return None
    source = module.rngs if rngs is None else rngs
    if isinstance(source, nnx.Rngs):
        return source[module.rng_collection]()
    if isinstance(source, nnx.RngStream):
        return source()
    if source is None:
        raise ValueError(
            f"{type(module).__name__}: deterministic=False but there is no PRNG source. Either\n"
            f"  1. pass rngs=nnx.Rngs({module.rng_collection}=seed) (or nnx.Rngs(seed)) to "
            f"the constructor,\n"
            f"  2. pass rngs= (an nnx.Rngs, RngStream or key) to the call, or\n"
            f"  3. call model.eval() or pass deterministic=True for the test-time function."
        )
    return noise_lib.as_key(type(module).__name__, source)


def _capturing(module: nnx.Module) -> bool:
    """True inside ``nnx.capture`` (flax marks the module so); sow and perturb only then."""
    return hasattr(module, "__captures__")


def _init(layer: layers.Layer):
    def __init__(
        self,
        *sizes,
        deterministic=False,
        rng_collection="noise",
        param_dtype=jnp.float32,
        rngs: RngSource = None,
        **kwargs,
    ):
        name = layer.name
        o, in_features, features, shapes = layers.construct(layer, sizes, kwargs)
        self.options, self.param_dtype = o, param_dtype
        self.deterministic = v.static_bool(name, "deterministic", deterministic)
        self.rng_collection = rng_collection
        params_key, self.rngs = _streams(name, rngs, rng_collection)
        if shapes and params_key is None:
            raise ValueError(
                f"{name}: rngs= is needed to initialise the parameters, e.g. rngs=nnx.Rngs(0)"
            )
        for pname, (shape, init) in shapes.items():
            setattr(self, pname, nnx.Param(init(params_key(), shape, param_dtype)))
        for sname, value in layer.initial_state(o).items():
            setattr(self, sname, NoiseScale(jnp.asarray(value, param_dtype)))
        self._param_names, self._state_names = tuple(shapes), tuple(layer.initial_state(o))
        if layer.recurrent:
            self.in_features, self.hidden_features = in_features, features

    return __init__


def _variables(module, overrides: dict):
    params = {n: getattr(module, n)[...] for n in module._param_names}
    state = {n: getattr(module, n)[...] for n in module._state_names}
    unknown = sorted(set(overrides) - set(state))
    if unknown:
        raise TypeError(f"{type(module).__name__}: unknown call argument(s) {unknown}")
    return params, {**state, **overrides}


def _activation_call(layer: layers.Layer):
    def __call__(self, x, *, deterministic: bool | None = None, rngs: RngSource = None, **state):
        """Applies the layer; ``deterministic`` and ``rngs`` here override the module's;
        noise scales (e.g. ``c=``) passed here take precedence over the stored ones."""
        det = self.deterministic if deterministic is None else deterministic
        det = v.static_bool(layer.name, "deterministic", det) or not layer.stochastic
        params, state = _variables(self, state)
        key = _call_key(self, det or not layer.draws_noise(self.options), rngs)
        y, sown = layer.apply(self.options, params, state, x, key, det)
        if sown is not None and _capturing(self):
            self.sow(nnx.Intermediate, layer.sows, sown)
            y = self.perturb("output", y)
        return y

    return __call__


def _cell_methods(layer: layers.Layer) -> dict:
    def step_with_preactivations(self, carry, x, *, deterministic=None, rngs: RngSource = None):
        """One step, also returning the inputs of the noisy units (a dict), for diagnostics."""
        det = self.deterministic if deterministic is None else deterministic
        params, state = _variables(self, {})
        key = _call_key(self, det or not layer.draws_noise(self.options), rngs)
        return layer.apply(self.options, params, state, carry, x, key, det)

    def __call__(self, carry, x, *, deterministic=None, rngs: RngSource = None):
        return self.step_with_preactivations(carry, x, deterministic=deterministic, rngs=rngs)[:2]

    def initialize_carry(self, input_shape, rngs=None, carry_init=None):
        return layer.carry(tuple(input_shape[:-1]), self.hidden_features, self.param_dtype)

    return {
        "step_with_preactivations": step_with_preactivations,
        "__call__": __call__,
        "initialize_carry": initialize_carry,
        "num_feature_axes": property(lambda self: 1),
    }


def module(layer: layers.Layer) -> type[nnx.Module]:
    """An NNX module class from a layer description."""
    namespace: dict[str, Any] = {"layer": layer, "__module__": __name__, "__init__": _init(layer)}
    if layer.recurrent:
        namespace |= _cell_methods(layer)
    else:
        namespace["__call__"] = _activation_call(layer)
    namespace["__doc__"] = layers.docstring(layer, _conventions(layer), _example(layer))
    cls = type(layer.name, (nnx.RNNCellBase if layer.recurrent else nnx.Module,), namespace)
    sizes = ["in_features", "hidden_features"] if layer.recurrent else ["features"]
    params = [
        inspect.Parameter(
            s,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=inspect.Parameter.empty if layer.recurrent else None,
        )
        for s in sizes
    ]
    kw = inspect.Parameter.KEYWORD_ONLY
    params += [inspect.Parameter(opt.name, kw, default=opt.default) for opt in layer.options]
    params += [
        inspect.Parameter("deterministic", kw, default=False),
        inspect.Parameter("param_dtype", kw, default=jnp.float32),
        inspect.Parameter("rngs", kw, default=None),
    ]
    cls.__signature__ = inspect.Signature(params)
    return cls


def _conventions(layer: layers.Layer) -> str:
    size = (
        "``in_features`` and ``hidden_features``"
        if layer.recurrent
        else "``features`` (the size of the input's last axis; needed when it has parameters)"
    )
    return (
        f"As an NNX module: {size} and the options go to the constructor. ``rngs`` (constructor "
        "or call) may be an ``nnx.Rngs`` (``params`` initialises the parameters; the "
        '``"noise"`` stream, or ``default``, draws the noise), an ``nnx.RngStream`` or a key. '
        "``model.eval()`` sets ``deterministic=True`` (test time), ``model.train()`` undoes "
        "it; a ``deterministic`` passed at call time overrides both. Noise scales are "
        ":class:`NoiseScale` variables (:func:`set_noise_scale`)."
    )


def _example(layer: layers.Layer) -> str:
    ex = layer.example
    opts = "".join(f", {k}={v}" for k, v in ex.options.items())
    if layer.recurrent:
        return f"""\
>>> from flax import nnx
>>> from rectify_jax import nnx as rjx
>>> rngs = nnx.Rngs(0)
>>> cell = rjx.{layer.name}({ex.in_features}, {ex.features}, deterministic=True, rngs=rngs{opts})
>>> carry, y = cell(cell.initialize_carry({ex.x}), jnp.ones({ex.x}))
>>> y.shape
{ex.output}"""
    det = ", deterministic=True" if layer.stochastic else ""
    features = "" if ex.features is None else f"{ex.features}, "
    return f"""\
>>> from flax import nnx
>>> from rectify_jax import nnx as rjx
>>> layer = rjx.{layer.name}({features}rngs=nnx.Rngs(0){opts}{det})
>>> layer(jnp.array({ex.x}))
{ex.output}"""


MODULES = {layer.name: module(layer) for layer in layers.LAYERS}
"""Every layer of the library as a module of this framework, by name."""


class RNN(nnx.Module):
    __doc__ = layers.sequence_docstring(
        what="What ``nnx.RNN(cell)`` computes, for the noisy cells of this library "
        "(:class:`NoisyLSTMCell`, :class:`NoisyGRUCell`), faster.",
        key="one key per call (from ``rngs`` at call time, or the cell's stream)",
        more="The cell's ``deterministic`` (``eval()`` / ``train()``) decides whether noise "
        "is drawn; ``deterministic`` at call time overrides it.",
        example="""\
>>> from flax import nnx
>>> from rectify_jax import nnx as rjx
>>> model = rjx.RNN(rjx.NoisyLSTMCell(3, 8, rngs=nnx.Rngs(0)))
>>> model(jnp.ones((2, 5, 3))).shape  # (batch, time, features)
(2, 5, 8)""",
    )

    def __init__(
        self,
        cell: nnx.RNNCellBase,
        *,
        time_major: bool = False,
        return_carry: bool = False,
        reverse: bool = False,
        keep_order: bool = False,
        unroll: int = 1,
    ):
        layers.check_sequence_cell("RNN", cell)
        self.cell = cell
        self.time_major, self.return_carry = time_major, return_carry
        self.reverse, self.keep_order, self.unroll = reverse, keep_order, unroll

    def __call__(self, inputs, *, initial_carry=None, rngs: RngSource = None, deterministic=None):
        """Runs the cell over ``inputs``; ``rngs`` and ``deterministic`` as for the cell."""
        cell = self.cell
        layer = type(cell).layer
        det = cell.deterministic if deterministic is None else deterministic
        det = v.static_bool("RNN", "deterministic", det)
        params, state = _variables(cell, {})
        return layers.run_sequence(
            layer,
            cell.options,
            params,
            state,
            inputs,
            _call_key(cell, det or not layer.draws_noise(cell.options), rngs),
            det,
            features=cell.hidden_features,
            initial_carry=initial_carry,
            carry_dtype=cell.param_dtype,
            **layers.sequence_options(self),
        )


class IRNNCell(nnx.SimpleCell):
    r"""IRNN cell: :math:`h' = \mathrm{relu}(W_x x + W_h h + b)`, :math:`W_h = sI`, :math:`b = 0`.

    An ``nnx.SimpleCell`` with a ReLU and identity recurrent initialisation times
    ``scale`` (Le, Jaitly & Hinton 2015, arXiv:1504.00941).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> cell = rjx.IRNNCell(2, 3, scale=0.5, rngs=nnx.Rngs(0))
      >>> cell.dense_h.kernel[...]
      Array([[0.5, 0. , 0. ],
             [0. , 0.5, 0. ],
             [0. , 0. , 0.5]], dtype=float32)
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        *,
        scale: float = 1.0,
        rngs: RngSource,
        **kwargs,
    ):
        kwargs.setdefault("activation_fn", activations.relu)
        kwargs.setdefault("bias_init", nnx.initializers.zeros_init())
        if not isinstance(rngs, nnx.Rngs):  # a key or an RngStream, as for the other layers
            rngs = nnx.Rngs(params=_streams("IRNNCell", rngs, "noise")[0]())
        super().__init__(
            in_features, hidden_features, recurrent_kernel_init=identity(scale), rngs=rngs, **kwargs
        )
