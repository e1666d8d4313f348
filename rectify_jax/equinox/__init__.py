"""Equinox modules for rectify_jax (extra ``equinox``).

Every module is a plain ``equinox.Module`` over the pure functions of the library, with
Equinox's conventions (the model is ``eqx.nn.Dropout``):

- parameters are array fields (``layer.p``, ``layer.negative_slope``, ``cell.weight_ih``,
  ...), drawn in the constructor from a keyword-only ``key=``; options are static fields;
- the noise key is keyword-only at call time, ``layer(x, key=key)``; a missing key when
  the noise is on is a clear error, never a silent default;
- an ``inference`` field: ``eqx.nn.inference_mode(model)`` switches a whole model to the
  test-time function (the noise replaced by its mean); ``inference=`` at call time
  overrides it;
- noise scales (``c``; the cells' ``gate_c`` and ``tanh_c``) are array fields, so
  :func:`set_noise_scale` (``eqx.tree_at``) anneals them without recompiling a step
  under ``eqx.filter_jit``; every call applies ``jax.lax.stop_gradient`` to them, so a
  standard training loop (``eqx.partition(model, eqx.is_inexact_array)``,
  ``eqx.filter_grad``) gives them zero gradients and Adam or SGD leave them as they are.
  An optimiser with weight decay would shrink them: mask them out (below).

The recurrent cells keep ``eqx.nn.LSTMCell``'s and ``eqx.nn.GRUCell``'s arrays (a trained
cell's copy in; ``gates="soft"`` computes it) but step as the flax cells do, ``(carry, x)
-> (carry, y)``, with ``initialize_carry(input_shape)``; :class:`RNN` runs one over a
sequence with every step's noise drawn in one call.

Examples:
  >>> import equinox as eqx
  >>> from rectify_jax import equinox as rje
  >>> layer = rje.NoisyHardTanh(3, key=jax.random.key(0))
  >>> y = layer(jnp.array([-3.0, 0.5, 3.0]), key=jax.random.key(1))
  >>> float(y[1])  # no noise in the linear range
  0.5
  >>> layer = rje.set_noise_scale(layer, 30.0)
  >>> layer.c
  Array(30., dtype=float32)

  Training: ``c`` gets no gradient; weight decay leaves it alone once masked out:

  >>> params, static = eqx.partition(layer, eqx.is_inexact_array)
  >>> @eqx.filter_grad
  ... def grads_of(params):
  ...     model = eqx.combine(params, static)
  ...     return jnp.sum(model(jnp.array([3.0, -3.0, 0.5]), key=jax.random.key(2)))
  >>> grads = grads_of(params)
  >>> float(grads.c)
  0.0
  >>> mask = eqx.tree_at(lambda m: m.c, jax.tree.map(lambda _: True, params), False)
  >>> optimiser = optax.adamw(1e-3, weight_decay=0.1, mask=mask)
  >>> updates, _ = optimiser.update(grads, optimiser.init(params), params)
  >>> float(updates.c)
  0.0
"""

from __future__ import annotations

try:
    import equinox as _eqx  # noqa: F401
except ModuleNotFoundError as e:  # pragma: no cover - exercised without the extra
    raise ModuleNotFoundError(
        "rectify_jax.equinox needs Equinox: pip install 'rectify-jax[equinox]'"
    ) from e

from rectify_jax.equinox._common import set_noise_scale as set_noise_scale
from rectify_jax.equinox.activations import TLU as TLU
from rectify_jax.equinox.activations import InputNoisy as InputNoisy
from rectify_jax.equinox.activations import LearnedInputNoisy as LearnedInputNoisy
from rectify_jax.equinox.activations import NoisyActivation as NoisyActivation
from rectify_jax.equinox.activations import NoisyHardSigmoid as NoisyHardSigmoid
from rectify_jax.equinox.activations import NoisyHardTanh as NoisyHardTanh
from rectify_jax.equinox.activations import NReLU as NReLU
from rectify_jax.equinox.activations import PReLU as PReLU
from rectify_jax.equinox.activations import RReLU as RReLU
from rectify_jax.equinox.activations import SaturatedInputNoisy as SaturatedInputNoisy
from rectify_jax.equinox.recurrent import RNN as RNN
from rectify_jax.equinox.recurrent import IRNNCell as IRNNCell
from rectify_jax.equinox.recurrent import NoisyGRUCell as NoisyGRUCell
from rectify_jax.equinox.recurrent import NoisyLSTMCell as NoisyLSTMCell

__all__ = [
    "RNN",
    "TLU",
    "IRNNCell",
    "InputNoisy",
    "LearnedInputNoisy",
    "NReLU",
    "NoisyActivation",
    "NoisyGRUCell",
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisyLSTMCell",
    "PReLU",
    "RReLU",
    "SaturatedInputNoisy",
    "set_noise_scale",
]
