"""A user's script: every public class of the three frameworks, constructed and called.

tests/test_modules.py runs it, and runs pyright on it: zero errors expected.
"""

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import nnx

import rectify_jax as rj
from rectify_jax import equinox as rje
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx

x = jnp.linspace(-3.0, 3.0, 8).reshape(2, 4)
xs = jnp.ones((2, 5, 4))
keys = {"params": jax.random.key(0), "noise": jax.random.key(1)}
noise_rngs = {"noise": jax.random.key(2)}

# linen
linen_layers: list[nn.Module] = [
    rjl.PReLU(negative_slope_init=0.1),
    rjl.TLU(alpha=0.5, learn_alpha=True),
    rjl.RReLU(lower=0.1, upper=0.3, deterministic=False),
    rjl.NReLU(generator="fast", deterministic=False),
    rjl.NoisyActivation(unit=rj.HARD_SIGMOID_UNIT, deterministic=False),
    rjl.NoisyHardTanh(c=0.3, noise="normal", deterministic=False),
    rjl.NoisyHardSigmoid(alpha=1.2, residual="key", deterministic=False),
    rjl.InputNoisy(s=0.1, deterministic=False),
    rjl.SaturatedInputNoisy(deterministic=False),
    rjl.LearnedInputNoisy(c=0.2, deterministic=False),
]
for layer in linen_layers:
    variables = layer.init(keys, x)
    y = layer.apply(variables, x, rngs=noise_rngs)
    assert jax.tree.leaves(y)[0].shape == x.shape  # flax types apply's result loosely
variables = rjl.set_noise_scale(rjl.NoisyHardTanh().init(keys, x, deterministic=True), 1.0)

for cell in (
    rjl.NoisyLSTMCell(features=6, gates="soft"),
    rjl.NoisyGRUCell(6, noise="normal", dtype=jnp.bfloat16, param_dtype=jnp.bfloat16),
    rjl.IRNNCell(features=6, scale=0.5),
):
    model = rjl.RNN(cell, return_carry=True)
    variables = model.init(keys, xs)
    carry, ys = model.apply(variables, xs, rngs=noise_rngs, seq_lengths=jnp.array([5, 3]))
    assert jax.tree.leaves(ys)[0].shape == (2, 5, 6)
    assert rjl.rnn(cell, name="encoder").name == "encoder"

# NNX
rngs = nnx.Rngs(0)
nnx_layers: list[nnx.Module] = [
    rjx.PReLU(4, rngs=rngs),
    rjx.TLU(4, alpha=0.5, learn_alpha=True, rngs=rngs),
    rjx.RReLU(rngs=rngs),
    rjx.NReLU(generator="fast", rngs=rngs),
    rjx.NoisyActivation(4, unit=rj.HARD_SIGMOID_UNIT, rngs=rngs),
    rjx.NoisyHardTanh(4, c=0.3, rngs=rngs),
    rjx.NoisyHardSigmoid(4, rngs=rngs),
    rjx.InputNoisy(s=0.1, rngs=rngs),
    rjx.SaturatedInputNoisy(rngs=rngs),
    rjx.LearnedInputNoisy(4, rngs=rngs),
]
for module in nnx_layers:
    assert module(x).shape == x.shape  # type: ignore[operator]
rjx.set_noise_scale(nnx_layers[5], 1.0)
scale: rjx.NoiseScale = nnx_layers[5].c  # type: ignore[attr-defined]

for nnx_cell in (
    rjx.NoisyLSTMCell(in_features=4, hidden_features=6, rngs=rngs),
    rjx.NoisyGRUCell(4, 6, gates="hard", rngs=rngs),
):
    ys = rjx.RNN(nnx_cell)(xs)
    assert ys.shape == (2, 5, 6)
assert jax.tree.leaves(nnx.RNN(rjx.IRNNCell(4, 6, scale=0.5, rngs=rngs))(xs))[0].shape == (2, 5, 6)

# Equinox
key = jax.random.key(3)
eqx_layers: list[eqx.Module] = [
    rje.PReLU(4, key=key),
    rje.TLU(4, alpha=0.5, learn_alpha=True),
    rje.RReLU(),
    rje.NReLU(generator="fast"),
    rje.NoisyActivation(4, unit=rj.HARD_SIGMOID_UNIT, key=key),
    rje.NoisyHardTanh(4, c=0.3, key=key),
    rje.NoisyHardSigmoid(4, key=key),
    rje.InputNoisy(s=0.1),
    rje.SaturatedInputNoisy(),
    rje.LearnedInputNoisy(4, key=key),
]
for module in eqx_layers:
    assert module(x, key=key).shape == x.shape  # type: ignore[operator]
annealed = rje.set_noise_scale(eqx_layers[5], 1.0)

for eqx_cell in (rje.NoisyLSTMCell(4, 6, key=key), rje.NoisyGRUCell(4, 6, gates="soft", key=key)):
    ys = rje.RNN(eqx_cell)(xs, key=key)
    assert ys.shape == (2, 5, 6)
irnn = rje.IRNNCell(4, 6, scale=0.5, key=key)
h, y = irnn(irnn.initialize_carry(x.shape), x)
assert y.shape == (2, 6)
