"""Noisy recurrent cells as pure step functions, shared by the linen, NNX and Equinox cells.

Each framework's cell holds its parameters in its own idiom (flax's cells: one kernel
per gate, ``ii`` ... ``ho``; Equinox's: ``weight_ih``, ``weight_hh``), fuses them with
:func:`fuse_lstm` / :func:`fuse_gru` and calls the step ``(weights, carry, x, key) ->
(carry, y)`` here: the mathematics is written once, so the three frameworks give
identical outputs for identical weights and keys.

Every sigmoid gate is a :func:`noisy_hard_sigmoid` and every tanh a
:func:`noisy_hard_tanh`, as in the LSTM experiments of Gulcehre et al. (2016),
each with its own learned noise slope ``p`` (one per hidden unit). For controlled
comparisons the same cell can run hard (``hard_sigmoid`` / ``hard_tanh``) or soft
(``sigmoid`` / ``tanh``) gates instead (``NoiseConfig.gates``): the rest of the step
stays the same, and with soft gates it is flax's ``LSTMCell`` / ``GRUCell``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, overload

import jax
import jax.numpy as jnp

from rectify_jax._src import activations, output_noise
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT

LSTM_P = ("input_gate", "forget_gate", "candidate", "output_gate", "cell_output")
"""The five noisy units of the LSTM, in the order of the rows of its ``p``."""
GRU_P = ("reset_gate", "update_gate", "candidate")
"""The three noisy units of the GRU, in the order of the rows of its ``p``."""
GATES = ("noisy", "hard", "soft")
"""What a cell's gates are: the noisy units, or for controls hard or soft functions."""

LSTM_INPUT = ("ii", "if", "ig", "io")
"""flax's names of the LSTM's input kernels, gates i, f, g, o (``if_`` in NNX)."""
LSTM_RECURRENT = ("hi", "hf", "hg", "ho")
"""flax's names of the LSTM's recurrent kernels and biases, gates i, f, g, o."""
GRU_INPUT = ("ir", "iz", "in")
"""flax's names of the GRU's input kernels and biases, gates r, z, n (``in_`` in NNX)."""
GRU_RECURRENT = ("hr", "hz", "hn")
"""flax's names of the GRU's recurrent kernels, gates r, z, n (``hn`` also has a bias)."""


def fuse_lstm(input_kernels, recurrent_kernels, biases, p=None) -> dict:
    """The weights of :func:`noisy_lstm_step` from flax's per-gate ones (gates i, f, g, o).

    ``input_kernels`` are four ``(in_features, hidden)`` kernels, ``recurrent_kernels``
    four ``(hidden, hidden)`` kernels and ``biases`` four ``(hidden,)`` biases, as in
    ``flax.linen.LSTMCell`` (``ii``/``hi`` ... ``io``/``ho``); ``p`` is ``(5, hidden)`` or
    None (hard or soft gates). Returns ``{"kernel": [[W_i]; [W_h]], "bias": b, "p": p}``
    with the gates side by side, so that a step is one product ``[x, h] @ kernel``.
    """
    kernel = jnp.concatenate(
        [jnp.concatenate(input_kernels, axis=-1), jnp.concatenate(recurrent_kernels, axis=-1)],
        axis=0,
    )
    return {"kernel": kernel, "bias": jnp.concatenate(biases, axis=-1), "p": p}


def fuse_gru(input_kernels, input_biases, recurrent_kernels, recurrent_bias, p=None) -> dict:
    """The weights of :func:`noisy_gru_step` from flax's per-gate ones (gates r, z, n).

    As ``flax.linen.GRUCell``: three input kernels with biases (``ir``, ``iz``, ``in``),
    three recurrent kernels (``hr``, ``hz``, ``hn``) and the bias of ``hn`` (None for
    ``flax.nnx.GRUCell``'s layout, which has none); ``p`` is ``(3, hidden)`` or None
    (hard or soft gates).
    """
    return {
        "input_kernel": jnp.concatenate(input_kernels, axis=-1),
        "bias": jnp.concatenate(input_biases, axis=-1),
        "recurrent_kernel": jnp.concatenate(recurrent_kernels, axis=-1),
        "recurrent_bias": recurrent_bias,
        "p": p,
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


_CONTROLS = {
    "hard": (activations.hard_sigmoid, activations.hard_tanh),
    "soft": (activations.sigmoid, activations.tanh),
}
"""The (gate, squashing) functions of ``gates="hard"`` and ``gates="soft"``."""


class _Units:
    r"""The noisy gate and squashing units of one step, with their noise.

    A step applies its units in two calls, each over a whole block of pre-activations:
    the units that read the matrix product (LSTM: i, f, g, o; GRU: r, z) in one call
    and the unit that reads the cell update (LSTM: the cell output; GRU: the
    candidate) in another. Each call draws its noise for all its elements from its own
    key, ``split(key, 2)[call]`` (:func:`step_noise`): independent across units
    (columns), elements and steps (each step has its own key), and fixed by the key.
    The noise may also come drawn ahead (``noise``, e.g. a whole sequence's at once).

    One call serves gates and tanh units together because a noisy hard sigmoid is an
    affine image of a noisy hard tanh: for the same noise,

    .. math::
      \tilde\sigma(x; p, \alpha, c) = \tfrac12 + \tfrac12\,\tilde t(x/2;\ p/2, \alpha, 2c)

    (:math:`h`, :math:`u` and :math:`\Delta` of the hard sigmoid are those of the hard
    tanh at :math:`x/2`, halved and shifted), so each column gets a scale ``m`` (1/2 for
    a gate, 1 for a tanh unit) and its own ``p``, ``alpha`` and ``c``. On a CPU this
    runs the step in fewer, larger XLA operations than one call per unit (measured in
    BENCHMARKS.md). With ``residual="noise"`` the noise is kept for the backward pass;
    with ``"key"`` the call draws it again there. Deterministic units (test time, or
    training the expectation) use the same custom VJP with the noise replaced by its
    mean, which keeps only ``x`` for the backward pass.
    """

    def __init__(self, config, key, gate_c, tanh_c, deterministic, noise=None):
        self.config, self.gate_c, self.tanh_c = config, gate_c, tanh_c
        self.deterministic = deterministic or config.gates != "noisy"
        self.given = None if self.deterministic else noise
        self.keys = None if self.deterministic or noise is not None else jax.random.split(key, 2)

    def noise(self, call, shape, dtype):
        """The noise of call ``call`` (``|xi|`` for NAH) for pre-activations of ``shape``."""
        if self.given is not None:
            return self.given[call].astype(dtype)
        assert self.keys is not None, "noisy units without given noise have their keys"
        cfg = self.config
        return noise_lib.sample(self.keys[call], shape, cfg.noise, dtype, cfg.generator)

    def __call__(self, z, kinds, p, call):
        """The units ``kinds`` (``"gate"`` or ``"squash"``) applied to the equal blocks of
        ``z``'s last axis, each block with its row of ``p``; returns the blocks."""
        cfg = self.config
        n = len(kinds)
        if cfg.gates != "noisy":
            gate_fn, squash_fn = _CONTROLS[cfg.gates]
            blocks = zip(kinds, jnp.split(z, n, axis=-1), strict=True)
            return [gate_fn(b) if k == "gate" else squash_fn(b) for k, b in blocks]
        cdt = v.compute_dtype(z.dtype)
        width = z.shape[-1] // n

        def columns(values):
            return jnp.concatenate([jnp.full((width,), value, cdt) for value in values])

        gate = [k == "gate" for k in kinds]
        m = columns(0.5 if g else 1.0 for g in gate)
        alpha = columns(cfg.gate_alpha if g else cfg.tanh_alpha for g in gate)
        c = columns(self.gate_c if g else self.tanh_c for g in gate) / m
        pm = jnp.reshape(p, (-1,)).astype(cdt) * m
        x = z * m.astype(z.dtype) if any(gate) else z
        if self.deterministic:
            mean = jnp.asarray(noise_lib.NOISE_MEAN[cfg.noise], cdt)
            y = output_noise.with_noise(HARD_TANH_UNIT, x, mean, pm, alpha, c)
        elif cfg.residual == "key" and self.given is None:
            assert self.keys is not None, "noisy units without given noise have their keys"
            options = output_noise.Options(cfg.noise, cfg.generator, "key")
            y = output_noise.with_key(HARD_TANH_UNIT, options, x, self.keys[call], pm, alpha, c)
        else:
            y = output_noise.with_noise(
                HARD_TANH_UNIT, x, self.noise(call, x.shape, cdt), pm, alpha, c
            )
        if any(gate):
            y = (1 - m).astype(z.dtype) + m.astype(z.dtype) * y
        return jnp.split(y, n, axis=-1)


UNITS_PER_CALL = {"lstm": (4, 1), "gru": (2, 1)}
"""How many units of ``hidden`` columns each of a step's two noisy calls covers."""


def step_noise(config: NoiseConfig, key, batch_shape, hidden: int, kind: str, dtype):
    """The noise one step of a cell of ``kind`` (``"lstm"`` or ``"gru"``) draws from ``key``.

    A tuple with one array per call of the step, of shape ``(*batch_shape, n * hidden)``
    for the ``n`` units of that call (``UNITS_PER_CALL``), each drawn from
    ``split(key, 2)[call]``: the same numbers the step draws itself from ``key``, so a
    step given this noise computes what it computes from the key. Drawn in the compute
    dtype of ``dtype``.
    """
    units = _Units(config, key, None, None, deterministic=False)
    cdt = v.compute_dtype(jnp.dtype(dtype))
    return tuple(
        units.noise(call, (*batch_shape, n * hidden), cdt)
        for call, n in enumerate(UNITS_PER_CALL[kind])
    )


def _cast(weights, dtype):
    return {k: None if w is None else jnp.asarray(w).astype(dtype) for k, w in weights.items()}


def compute_dtype(dtype, x, weights) -> jnp.dtype:
    """``dtype`` if given, else the promoted dtype of ``x`` and the weights (flax's rule)."""
    if dtype is not None:
        return jnp.dtype(dtype)
    return jnp.result_type(x, *(w for w in weights.values() if w is not None))


LSTMStep = tuple[tuple[jax.Array, jax.Array], jax.Array]
"""What :func:`noisy_lstm_step` returns: ``((c, h), h)``."""
GRUStep = tuple[jax.Array, jax.Array]
"""What :func:`noisy_gru_step` returns: ``(h, h)``."""
Preactivations = dict[str, jax.Array]
"""The inputs of a step's noisy units, by the names of ``LSTM_P`` / ``GRU_P``."""


@overload
def noisy_lstm_step(
    weights,
    carry,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: Literal[False] = False,
    noise=None,
) -> LSTMStep: ...
@overload
def noisy_lstm_step(
    weights,
    carry,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: Literal[True],
    noise=None,
) -> tuple[tuple[jax.Array, jax.Array], jax.Array, Preactivations]: ...
@overload
def noisy_lstm_step(
    weights,
    carry,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: bool,
    noise=None,
) -> LSTMStep | tuple[tuple[jax.Array, jax.Array], jax.Array, Preactivations]: ...
def noisy_lstm_step(
    weights,
    carry,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: bool = False,
    noise=None,
) -> LSTMStep | tuple[tuple[jax.Array, jax.Array], jax.Array, Preactivations]:
    r"""One step of the noisy LSTM; ``carry = (c, h)`` as in ``flax.linen.LSTMCell``.

    .. math::
      i, f, o = \tilde\sigma(W_x x + W_h h + b), \quad g = \tilde{t}(\cdot), \quad
      c' = f c + i g, \quad h' = o\,\tilde{t}(c')

    with :math:`\tilde\sigma` the noisy hard sigmoid and :math:`\tilde t` the noisy hard tanh.
    With ``with_preactivations=True`` also returns the inputs of the five noisy units
    (named as in ``LSTM_P``), for diagnostics. ``noise``: the step's noise drawn ahead
    (:func:`step_noise`), used instead of drawing it from ``key``. ``weights`` come from
    :func:`fuse_lstm`; the step computes in ``dtype`` (default: the promoted dtype of
    ``x`` and the weights, as flax's cells do).
    """
    cdt = compute_dtype(dtype, x, weights)
    w = _cast(weights, cdt)
    x = x.astype(cdt)
    c, h = (a.astype(cdt) for a in carry)
    kernel, bias = w["kernel"], w["bias"]
    assert kernel is not None and bias is not None, "fuse_lstm's weights have both"
    # one product [x, h] @ [W_x; W_h]: on a CPU faster than two at every size measured
    z = jnp.concatenate([x, h], axis=-1) @ kernel + bias
    units = _Units(config, key, gate_c, tanh_c, deterministic, noise)
    p = w["p"]
    i, f, g, o = units(z, ("gate", "gate", "squash", "gate"), None if p is None else p[:4], 0)
    new_c = f * c + i * g
    (t,) = units(new_c, ("squash",), None if p is None else p[4:], 1)
    new_h = o * t
    pre: Preactivations = dict(zip(LSTM_P, (*jnp.split(z, 4, axis=-1), new_c), strict=True))
    return ((new_c, new_h), new_h, pre) if with_preactivations else ((new_c, new_h), new_h)


@overload
def noisy_gru_step(
    weights,
    h,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: Literal[False] = False,
    noise=None,
) -> GRUStep: ...
@overload
def noisy_gru_step(
    weights,
    h,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: Literal[True],
    noise=None,
) -> tuple[jax.Array, jax.Array, Preactivations]: ...
@overload
def noisy_gru_step(
    weights,
    h,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: bool,
    noise=None,
) -> GRUStep | tuple[jax.Array, jax.Array, Preactivations]: ...
def noisy_gru_step(
    weights,
    h,
    x,
    key,
    *,
    gate_c,
    tanh_c,
    config: NoiseConfig,
    deterministic: bool,
    dtype=None,
    with_preactivations: bool = False,
    noise=None,
) -> GRUStep | tuple[jax.Array, jax.Array, Preactivations]:
    r"""One step of the noisy GRU, in the gate convention of ``flax.linen.GRUCell``.

    .. math::
      r, z = \tilde\sigma(W_x x + W_h h + b), \quad
      n = \tilde t(W_{xn} x + b_n + r\,(W_{hn} h + b_{hn})), \quad h' = (1 - z)\,n + z\,h

    With ``with_preactivations=True`` also returns the inputs of the three noisy units;
    ``noise`` and ``dtype`` as in :func:`noisy_lstm_step`; ``weights`` from :func:`fuse_gru`.
    """
    cdt = compute_dtype(dtype, x, weights)
    w = _cast(weights, cdt)
    x, h = x.astype(cdt), h.astype(cdt)
    xs = x @ w["input_kernel"] + w["bias"]
    hs = h @ w["recurrent_kernel"]
    hidden = h.shape[-1]
    zrz = xs[..., : 2 * hidden] + hs[..., : 2 * hidden]
    units = _Units(config, key, gate_c, tanh_c, deterministic, noise)
    p = w["p"]
    r, z = units(zrz, ("gate", "gate"), None if p is None else p[:2], 0)
    hn = hs[..., 2 * hidden :]
    if w["recurrent_bias"] is not None:  # flax.linen's GRUCell has it, nnx.GRUCell does not
        hn = hn + w["recurrent_bias"]
    zn = xs[..., 2 * hidden :] + r * hn
    (n,) = units(zn, ("squash",), None if p is None else p[2:], 1)
    new_h = (1 - z) * n + z * h
    pre: Preactivations = dict(zip(GRU_P, (*jnp.split(zrz, 2, axis=-1), zn), strict=True))
    return (new_h, new_h, pre) if with_preactivations else (new_h, new_h)
