"""Equinox modules for rectify_jax (extra ``equinox``).

Every layer is described once, framework-neutrally, and turned here into an
``equinox.Module`` with Equinox's conventions (the model is ``eqx.nn.Dropout``):

- parameters and noise scales are array fields, created in the constructor from a
  keyword-only ``key=`` (``features`` given there);
- the noise key is keyword-only at call time, ``layer(x, key=key)``; a missing key
  when noise is on is a clear error, never a silent default;
- an ``inference`` field (``eqx.nn.inference_mode(model)`` switches a whole model to
  the test-time function; ``inference=`` at call time overrides it);
- noise scales are the arrays in each layer's ``noise_scale`` dict: anneal them with
  :func:`set_noise_scale` (``eqx.tree_at`` under the hood), which changes values, not
  the structure, so ``eqx.filter_jit`` does not recompile.

Options are static (``layer.options``). Recurrent cells step ``(carry, x) -> (carry, y)``
as the flax cells do, with ``initialize_carry(input_shape)``; :class:`RNN` runs one over
a sequence with every step's noise drawn in one call.

Examples:
  >>> from rectify_jax import equinox as rje
  >>> layer = rje.NoisyHardTanh(3, key=jax.random.key(0))
  >>> y = layer(jnp.array([-3.0, 0.5, 3.0]), key=jax.random.key(1))
  >>> float(y[1])  # no noise in the linear range
  0.5
  >>> layer = rje.set_noise_scale(layer, 30.0)
  >>> layer.noise_scale["c"]
  Array(30., dtype=float32)
"""

from __future__ import annotations

from typing import Any

try:
    import equinox as eqx
except ModuleNotFoundError as e:  # pragma: no cover - exercised without the extra
    raise ModuleNotFoundError(
        "rectify_jax.equinox needs Equinox: pip install 'rectify-jax[equinox]'"
    ) from e
import jax
import jax.numpy as jnp

from rectify_jax._src import layers
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v


class _Layer(eqx.Module):
    """What every generated module shares: fields and the plumbing of a call."""

    params: dict[str, jax.Array]
    noise_scale: dict[str, jax.Array]
    options: Any = eqx.field(static=True)
    inference: bool = False

    def __init__(self, *sizes, key=None, inference=False, param_dtype=jnp.float32, **kwargs):
        layer, name = self.layer, self.layer.name
        o, in_features, features, shapes = layers.construct(layer, sizes, kwargs)
        if shapes and key is None:
            raise ValueError(f"{name}: key= is needed to initialise the parameters")
        keys = jax.random.split(noise_lib.as_key(name, key), len(shapes)) if shapes else ()
        self.params = {
            pname: init(k, shape, param_dtype)
            for k, (pname, (shape, init)) in zip(keys, shapes.items(), strict=True)
        }
        self.noise_scale = {
            sname: jnp.asarray(value, param_dtype)
            for sname, value in layer.initial_state(o).items()
        }
        self.options = o
        self.inference = v.static_bool(name, "inference", inference)

    def _key(self, inference, key):
        det = self.inference if inference is None else inference
        det = v.static_bool(self.layer.name, "inference", det) or not self.layer.stochastic
        if det or not self.layer.draws_noise(self.options):
            return det, None
        if key is None:
            raise ValueError(
                f"{self.layer.name}: noise is on but no key was given: call it with "
                "key=jax.random.key(...), or with inference=True (or after "
                "eqx.nn.inference_mode(model)) for the test-time function"
            )
        return det, noise_lib.as_key(self.layer.name, key)

    def _state(self, overrides):
        unknown = sorted(set(overrides) - set(self.noise_scale))
        if unknown:
            raise TypeError(f"{self.layer.name}: unknown call argument(s) {unknown}")
        return {**self.noise_scale, **overrides}


class _Activation(_Layer):
    def __call__(self, x, *, key=None, inference=None, **state):
        """Applies the layer; noise scales (e.g. ``c=``) passed here take precedence."""
        det, key = self._key(inference, key)
        return self.layer.apply(self.options, self.params, self._state(state), x, key, det)[0]


class _Cell(_Layer):
    def __call__(self, carry, x, *, key=None, inference=None):
        """One step: ``(carry, x) -> (carry, y)``."""
        det, key = self._key(inference, key)
        return self.layer.apply(self.options, self.params, self.noise_scale, carry, x, key, det)[:2]

    def initialize_carry(self, input_shape):
        """Zeros for a batch of inputs of ``input_shape`` (batch dims, in_features)."""
        features = self.params["recurrent_kernel"].shape[0]
        dtype = self.params["recurrent_kernel"].dtype
        return self.layer.carry(tuple(input_shape[:-1]), features, dtype)


def module(layer: layers.Layer) -> type[eqx.Module]:
    """An Equinox module class from a layer description."""
    ex = layer.example
    opts = "".join(f", {k}={val}" for k, val in ex.options.items())
    if layer.recurrent:
        example = f"""\
>>> from rectify_jax import equinox as rje
>>> cell = rje.{layer.name}({ex.in_features}, {ex.features}, key=jax.random.key(0){opts})
>>> carry, y = cell(cell.initialize_carry({ex.x}), jnp.ones({ex.x}), inference=True)
>>> y.shape
{ex.output}"""
    else:
        features = "" if ex.features is None else f"{ex.features}, "
        det = ", inference=True" if layer.stochastic else ""
        example = f"""\
>>> from rectify_jax import equinox as rje
>>> layer = rje.{layer.name}({features}key=jax.random.key(0){opts})
>>> layer(jnp.array({ex.x}){det})
{ex.output}"""
    conventions = (
        "As an Equinox module: sizes and options go to the constructor with a keyword-only "
        "``key`` for the parameters (``params`` dict); the noise key is keyword-only at call "
        "time; ``inference=True`` (field or call argument, or ``eqx.nn.inference_mode``) "
        "gives the test-time function; noise scales are the ``noise_scale`` dict "
        "(:func:`set_noise_scale`)."
    )
    namespace = {
        "layer": layer,
        "__module__": __name__,
        "__doc__": layers.docstring(layer, conventions, example),
    }
    return type(layer.name, (_Cell if layer.recurrent else _Activation,), namespace)


MODULES = {layer.name: module(layer) for layer in layers.LAYERS}
"""Every layer of the library as an Equinox module, by name."""
globals().update(MODULES)  # PReLU, TLU, ..., NoisyGRUCell: one module per description


class RNN(eqx.Module):
    __doc__ = layers.sequence_docstring(
        what="The noisy cells of this library (``NoisyLSTMCell``, ``NoisyGRUCell``) scanned "
        "over a sequence, with the options of ``flax.linen.RNN``.",
        key="the call's keyword-only ``key``",
        more="``inference`` (the cell's field, or at call time) gives the test-time function.",
        example="""\
>>> from rectify_jax import equinox as rje
>>> model = rje.RNN(rje.NoisyLSTMCell(3, 8, key=jax.random.key(0)))
>>> model(jnp.ones((2, 5, 3)), key=jax.random.key(1)).shape  # (batch, time, features)
(2, 5, 8)""",
    )

    cell: _Cell
    time_major: bool = eqx.field(static=True, default=False)
    return_carry: bool = eqx.field(static=True, default=False)
    reverse: bool = eqx.field(static=True, default=False)
    keep_order: bool = eqx.field(static=True, default=False)
    unroll: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        layers.check_sequence_cell("RNN", self.cell)

    def __call__(self, inputs, *, key=None, initial_carry=None, inference=None):
        """Runs the cell over ``inputs``; ``key`` and ``inference`` as for the cell."""
        cell = self.cell
        det, key = cell._key(inference, key)
        kernel = cell.params["recurrent_kernel"]
        return layers.run_sequence(
            cell.layer,
            cell.options,
            cell.params,
            cell.noise_scale,
            inputs,
            key,
            det,
            features=kernel.shape[0],
            initial_carry=initial_carry,
            carry_dtype=kernel.dtype,
            **layers.sequence_options(self),
        )


def set_noise_scale(model, c):
    """Returns ``model`` with every noise scale of every rectify_jax layer in it set to ``c``.

    Uses ``eqx.tree_at``: the values change, not the structure, so a step compiled with
    ``eqx.filter_jit`` that takes ``c`` as an array argument does not recompile.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.NoisyHardSigmoid(2, key=jax.random.key(0))
      >>> rje.set_noise_scale(layer, 1.0).noise_scale["c"]
      Array(1., dtype=float32)
    """

    def ours(node):
        return isinstance(node, _Layer)

    def scales(tree):
        return [
            leaf
            for node in jax.tree.leaves(tree, is_leaf=ours)
            if ours(node)
            for leaf in node.noise_scale.values()
        ]

    old = scales(model)
    if not old:
        return model
    new = noise_lib.fill_noise_scale("set_noise_scale", old, c)
    return eqx.tree_at(scales, model, new)


__all__ = [
    "MODULES",
    *MODULES,
    "RNN",
    "set_noise_scale",
]
