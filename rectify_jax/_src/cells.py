"""Noisy recurrent cells as pure step functions, shared by the linen and NNX modules.

Each cell is a parameter layout (name -> shape and role) and a step
``(params, carry, x, key) -> (carry, y)``. The frameworks only create the
parameters and supply the key; the math lives here once, so linen and NNX cells
give identical outputs for identical parameters and keys.

Every sigmoid gate is a :func:`noisy_hard_sigmoid` and every tanh a
:func:`noisy_hard_tanh`, as in the LSTM experiments of Gulcehre et al. (2016),
each with its own learned noise slope ``p`` (one per hidden unit). For controlled
comparisons the same cell can run hard (``hard_sigmoid`` / ``hard_tanh``) or soft
(``sigmoid`` / ``tanh``) gates instead (``NoiseConfig.gates``): the parameters, their
initialisation and the rest of the step stay the same.

The fused kernels are initialised gate block by gate block
(:func:`~rectify_jax.initializers.blockwise`), so each gate's recurrent block is
orthogonal on its own, as in ``flax.linen.LSTMCell`` / ``GRUCell``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rectify_jax._src import activations, output_noise
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.initializers import blockwise
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT

# Roles pick the initialiser: "kernel", "recurrent", "bias" or "p". The third entry of a
# layout row is how many gate blocks the last axis holds (each initialised on its own).
LSTM_P = ("input_gate", "forget_gate", "candidate", "output_gate", "cell_output")
GRU_P = ("reset_gate", "update_gate", "candidate")
GATES = ("noisy", "hard", "soft")

Layout = dict[str, tuple[tuple[int, ...], str, int]]


def lstm_layout(in_features: int, hidden: int) -> Layout:
    """Parameter name -> (shape, role, blocks) of :func:`noisy_lstm_step`; gates i, f, g, o."""
    return {
        "input_kernel": ((in_features, 4 * hidden), "kernel", 4),
        "recurrent_kernel": ((hidden, 4 * hidden), "recurrent", 4),
        "bias": ((4 * hidden,), "bias", 1),
        "p": ((len(LSTM_P), hidden), "p", 1),
    }


def gru_layout(in_features: int, hidden: int) -> Layout:
    """Parameter name -> (shape, role, blocks) of :func:`noisy_gru_step`; gates r, z, n."""
    return {
        "input_kernel": ((in_features, 3 * hidden), "kernel", 3),
        "recurrent_kernel": ((hidden, 3 * hidden), "recurrent", 3),
        "bias": ((3 * hidden,), "bias", 1),
        "recurrent_bias": ((hidden,), "bias", 1),
        "p": ((len(GRU_P), hidden), "p", 1),
    }


def layout_initializers(layout: Layout, inits: dict) -> dict[str, tuple[tuple[int, ...], object]]:
    """Parameter name -> (shape, initialiser), each fused kernel initialised per gate block.

    ``inits`` maps a role (``"kernel"``, ``"recurrent"``, ``"bias"``, ``"p"``) to an
    initialiser; the linen and NNX cells both create their parameters from this.
    """
    return {
        name: (shape, blockwise(inits[role], blocks) if blocks > 1 else inits[role])
        for name, (shape, role, blocks) in layout.items()
    }


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """Static hyperparameters of the noisy units inside a cell.

    Attributes:
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      gate_alpha: alpha of the noisy hard-sigmoid gates (default ``HARD_SIGMOID_UNIT.alpha``).
      tanh_alpha: alpha of the noisy hard tanh units (default ``HARD_TANH_UNIT.alpha``).
      residual: ``"noise"`` or ``"key"``, what each unit keeps for the backward pass.
      generator: ``"jax"`` or ``"fast"``, the noise generator.
      gates: ``"noisy"`` (the noisy units), or for controlled comparisons ``"hard"``
        (``hard_sigmoid`` / ``hard_tanh``) or ``"soft"`` (``sigmoid`` / ``tanh``) with
        the same parameters (``p`` then unused) and the rest of the step unchanged.
    """

    noise: str = "half_normal"
    gate_alpha: float = HARD_SIGMOID_UNIT.alpha
    tanh_alpha: float = HARD_TANH_UNIT.alpha
    residual: str = "noise"
    generator: str = "jax"
    gates: str = "noisy"


class _Units:
    """The noisy gate and squashing functions of one step, with their noise.

    Unit ``i`` of a step draws its noise from ``split(key, n)[i]``: independent across
    units, elements and steps (each step has its own key), and fixed by the key. With
    ``residual="noise"`` the drawn noise is kept for the backward pass; with ``"key"``
    the unit draws it again there. (Drawing all the units' noise in one call, or
    batching the gates into one call, was measured no faster on CPU: see BENCHMARKS.md.)
    """

    def __init__(self, config, key, n, gate_c, tanh_c, deterministic):
        self.config, self.gate_c, self.tanh_c = config, gate_c, tanh_c
        self.deterministic = deterministic or config.gates != "noisy"
        self.keys = [None] * n if self.deterministic else list(jax.random.split(key, n))

    def noise(self, i, shape, dtype):
        """The noise of unit ``i`` (``|xi|`` for NAH) for pre-activations of ``shape``."""
        cfg = self.config
        return noise_lib.sample(self.keys[i], shape, cfg.noise, dtype, cfg.generator)

    def _apply(self, unit, z, i, p, alpha, c):
        cfg = self.config
        if not self.deterministic and cfg.residual == "noise":
            cdt = v.compute_dtype(z.dtype)
            alpha, c = jnp.asarray(alpha, cdt), jnp.asarray(c, cdt)
            return output_noise.with_noise(unit, z, self.noise(i, z.shape, cdt), p[i], alpha, c)
        return unit(
            z,
            self.keys[i],
            p=p[i],
            alpha=alpha,
            c=c,
            noise=cfg.noise,
            deterministic=self.deterministic,
            residual=cfg.residual,
            generator=cfg.generator,
        )

    def gate(self, z, i, p):
        if self.config.gates == "hard":
            return activations.hard_sigmoid(z)
        if self.config.gates == "soft":
            return activations.sigmoid(z)
        return self._apply(HARD_SIGMOID_UNIT, z, i, p, self.config.gate_alpha, self.gate_c)

    def squash(self, z, i, p):
        if self.config.gates == "hard":
            return activations.hard_tanh(z)
        if self.config.gates == "soft":
            return activations.tanh(z)
        return self._apply(HARD_TANH_UNIT, z, i, p, self.config.tanh_alpha, self.tanh_c)


def _cast(params, dtype):
    return {k: jnp.asarray(w).astype(dtype) for k, w in params.items()}


def noisy_lstm_step(
    params,
    carry,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    with_preactivations: bool = False,
):
    r"""One step of the noisy LSTM; ``carry = (c, h)`` as in ``flax.linen.LSTMCell``.

    .. math::
      i, f, o = \tilde\sigma(W_x x + W_h h + b), \quad g = \tilde{t}(\cdot), \quad
      c' = f c + i g, \quad h' = o\,\tilde{t}(c')

    with :math:`\tilde\sigma` the noisy hard sigmoid and :math:`\tilde t` the noisy hard tanh.
    With ``with_preactivations=True`` also returns the inputs of the five noisy units
    (named as in ``LSTM_P``), for diagnostics.
    """
    c, h = carry
    w = _cast(params, x.dtype)
    z = x @ w["input_kernel"] + h @ w["recurrent_kernel"] + w["bias"]
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    units = _Units(config, key, len(LSTM_P), gate_c, tanh_c, deterministic)
    p = w["p"]
    i, f, o = units.gate(zi, 0, p), units.gate(zf, 1, p), units.gate(zo, 3, p)
    new_c = f * c + i * units.squash(zg, 2, p)
    new_h = o * units.squash(new_c, 4, p)
    pre = dict(zip(LSTM_P, (zi, zf, zg, zo, new_c), strict=True))
    return ((new_c, new_h), new_h, pre) if with_preactivations else ((new_c, new_h), new_h)


def noisy_gru_step(
    params,
    h,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    with_preactivations: bool = False,
):
    r"""One step of the noisy GRU, in the gate convention of ``flax.linen.GRUCell``.

    .. math::
      r, z = \tilde\sigma(W_x x + W_h h + b), \quad
      n = \tilde t(W_{xn} x + b_n + r\,(W_{hn} h + b_{hn})), \quad h' = (1 - z)\,n + z\,h

    With ``with_preactivations=True`` also returns the inputs of the three noisy units.
    """
    w = _cast(params, x.dtype)
    xr, xz, xn = jnp.split(x @ w["input_kernel"] + w["bias"], 3, axis=-1)
    hr, hz, hn = jnp.split(h @ w["recurrent_kernel"], 3, axis=-1)
    units = _Units(config, key, len(GRU_P), gate_c, tanh_c, deterministic)
    p = w["p"]
    r, z = units.gate(xr + hr, 0, p), units.gate(xz + hz, 1, p)
    zn = xn + r * (hn + w["recurrent_bias"])
    new_h = (1 - z) * units.squash(zn, 2, p) + z * h
    pre = dict(zip(GRU_P, (xr + hr, xz + hz, zn), strict=True))
    return (new_h, new_h, pre) if with_preactivations else (new_h, new_h)
