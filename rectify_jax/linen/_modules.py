"""flax.linen modules over the rectify_jax functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from rectify_jax._src import activations, diagnostics, stochastic
from rectify_jax._src.cells import (
    NoiseConfig,
    gru_layout,
    layout_initializers,
    lstm_layout,
    noisy_gru_step,
    noisy_lstm_step,
)
from rectify_jax._src.initializers import identity, uniform_range
from rectify_jax._src.noise import fill_noise_scale
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT, NoisyUnit

Initializer = Callable[..., jax.Array]
Dtype = Any

NOISE_SCALE = "noise_scale"
"""The variable collection holding every noisy module's noise scale ``c`` (not trained)."""


def _noise_key(module: nn.Module, deterministic: bool, rng: jax.Array | None) -> jax.Array | None:
    """The key for this call: None at test time, ``rng`` if given, else the module's stream."""
    if deterministic:
        return None
    if rng is not None:
        return rng
    col = module.rng_collection
    if not module.has_rng(col):  # make_rng would silently fall back to 'params'
        raise ValueError(
            f"{type(module).__name__}: deterministic=False but no PRNG stream {col!r} was "
            f"given. Pass it to init and apply, e.g. model.init({{'params': k1, '{col}': k2}}, x) "
            f"and model.apply(variables, x, rngs={{'{col}': key}}), or set deterministic=True "
            "(test time)."
        )
    return module.make_rng(col)


def _noise_scale(module: nn.Module, value: float, name: str = "c") -> jax.Array:
    return module.variable(NOISE_SCALE, name, lambda: jnp.asarray(value, module.param_dtype)).value


def _p_and_c(module: nn.Module, x, c_override):
    """The learned ``p`` (one per feature, cast to x's dtype) and this call's noise scale."""
    p = module.param("p", module.p_init, (jnp.shape(x)[-1],), module.param_dtype)
    stored = _noise_scale(module, module.unit.c if module.c is None else module.c)
    return p.astype(jnp.asarray(x).dtype), stored if c_override is None else c_override


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
      >>> import flax.linen as nn
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


def rnn(cell: nn.RNNCellBase, **kwargs) -> nn.RNN:
    """``flax.linen.RNN`` configured for noisy cells: fresh noise at every time step.

    ``nn.RNN`` scans the cell with ``nn.scan``, which by default neither passes the
    noise stream nor the ``"noise_scale"`` collection into the loop; this sets
    ``split_rngs={'params': False, <noise stream>: True}`` (a new key per step) and
    ``variable_broadcast=['params', 'noise_scale']``, and stacks the ``"intermediates"``
    collection over time (axis 1, or 0 with ``time_major=True``) so that diagnostics can
    capture what the cell sows at each step. Other keyword arguments go to ``nn.RNN`` and
    override these.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> model = rjl.rnn(rjl.NoisyLSTMCell(features=8))
      >>> x = jnp.ones((2, 5, 3))  # (batch, time, features)
      >>> variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, x)
      >>> model.apply(variables, x, rngs={"noise": jax.random.key(2)}).shape
      (2, 5, 8)
    """
    stream = getattr(cell, "rng_collection", "noise")
    kwargs.setdefault("split_rngs", {"params": False, stream: True})
    kwargs.setdefault("variable_broadcast", ["params", NOISE_SCALE])
    # Sown or captured intermediates of every step, stacked along the time axis.
    kwargs.setdefault("variable_axes", {"intermediates": 0 if kwargs.get("time_major") else 1})
    return nn.RNN(cell, **kwargs)


# --------------------------------------------------------------------------------------
# Activations with parameters


class PReLU(nn.Module):
    """PReLU, one learned slope per channel (last axis): ``x`` if ``x >= 0`` else ``alpha x``.

    Unlike ``flax.linen.PReLU`` (one scalar slope), ``alpha`` has shape ``(features,)``,
    initialised to 0.25 (He et al. 2015) and cast to the input's dtype.

    Attributes:
      alpha_init: initialiser of ``alpha`` (default constant 0.25).
      param_dtype: dtype of ``alpha``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.PReLU()
      >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 3)))
      >>> layer.apply(variables, jnp.array([[-4.0, 1.0, -2.0]]))
      Array([[-1. ,  1. , -0.5]], dtype=float32)
    """

    alpha_init: Initializer = nn.initializers.constant(0.25)
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        alpha = self.param("alpha", self.alpha_init, (jnp.shape(x)[-1],), self.param_dtype)
        return activations.prelu(x, alpha.astype(jnp.asarray(x).dtype))


class TLU(nn.Module):
    """Tanh linear unit ``x`` if ``x >= 0`` else ``alpha tanh(x)``, alpha fixed or learned.

    Attributes:
      alpha: the (initial) negative saturation value.
      learn_alpha: if True, ``alpha`` is a parameter with one value per channel.
      param_dtype: dtype of the learned ``alpha``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.TLU(alpha=0.5, learn_alpha=True)
      >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 2)))
      >>> variables["params"]["alpha"]
      Array([0.5, 0.5], dtype=float32)
    """

    alpha: float = 1.0
    learn_alpha: bool = False
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        alpha = self.alpha
        if self.learn_alpha:
            alpha = self.param(
                "alpha", nn.initializers.constant(self.alpha), (jnp.shape(x)[-1],), self.param_dtype
            )
            alpha = alpha.astype(jnp.asarray(x).dtype)
        return activations.tlu(x, alpha=alpha)


# --------------------------------------------------------------------------------------
# Stochastic activations


class RReLU(nn.Module):
    """Randomised leaky ReLU (:func:`rectify_jax.rrelu`) drawing from the ``"noise"`` stream.

    Attributes:
      lower, upper: the range of the random negative slope.
      deterministic: if True, use the mean slope; may also be passed at call time.
      rng_collection: the PRNG stream to draw from (default ``"noise"``).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) noise.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.RReLU()
      >>> layer.apply({}, jnp.array([-8.0]), deterministic=True)
      Array([-1.8333334], dtype=float32)
    """

    lower: float = 1 / 8
    upper: float = 1 / 3
    deterministic: bool | None = None
    rng_collection: str = "noise"
    generator: str = "jax"

    @nn.compact
    def __call__(self, x, deterministic: bool | None = None, *, rng=None):
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        return stochastic.rrelu(
            x,
            _noise_key(self, det, rng),
            lower=self.lower,
            upper=self.upper,
            deterministic=det,
            generator=self.generator,
        )


class NReLU(nn.Module):
    """Noisy ReLU (:func:`rectify_jax.nrelu`) drawing from the ``"noise"`` stream.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> y = rjl.NReLU().apply({}, jnp.ones(4), rngs={"noise": jax.random.key(0)},
      ...                       deterministic=False)
      >>> y.shape
      (4,)
    """

    deterministic: bool | None = None
    rng_collection: str = "noise"
    generator: str = "jax"

    @nn.compact
    def __call__(self, x, deterministic: bool | None = None, *, rng=None):
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        return stochastic.nrelu(
            x, _noise_key(self, det, rng), deterministic=det, generator=self.generator
        )


# --------------------------------------------------------------------------------------
# Noisy units


class NoisyActivation(nn.Module):
    r"""Output-noise unit (NAH/NAN) of a :class:`rectify_jax.NoisyUnit`, as a linen module.

    Computes :math:`\alpha h + (1-\alpha) u + d\,\sigma\,\epsilon` (see
    :class:`rectify_jax.NoisyUnit`) with a learned noise slope ``p`` per feature
    (the last axis), initialised :math:`U[-1, 1]`. The noise scale ``c`` lives in the
    ``"noise_scale"`` collection, so it can be annealed with :func:`set_noise_scale`
    without recompiling; a ``c`` passed at call time takes precedence. Noise is drawn
    from the ``"noise"`` PRNG stream (``rngs={'noise': key}`` in ``apply``) or from an
    explicit ``rng`` at call time.

    Attributes:
      unit: the noisy unit (default hard tanh).
      alpha: mixing factor; None means the unit's default.
      c: initial noise scale; None means the unit's default.
      noise: ``"half_normal"`` or ``"normal"``.
      deterministic: test-time function if True; may also be passed at call time.
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      p_init: initialiser of ``p`` (default ``uniform_range(-1, 1)``).
      param_dtype: dtype of ``p`` and ``c``.
      rng_collection: PRNG stream name (default ``"noise"``).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) noise.

    Examples:
      A noisy rectifier built with :class:`rectify_jax.NoisyUnit`, as a layer:

      >>> from rectify_jax import linen as rjl
      >>> unit = rj.NoisyUnit(h=rj.relu, u=lambda x: x, threshold=(0.0, float("inf")))
      >>> layer = rjl.NoisyActivation(unit=unit)
      >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 2)), deterministic=True)
      >>> layer.apply(variables, jnp.array([[-1.0, 2.0]]), deterministic=False,
      ...             rngs={"noise": jax.random.key(1)})[0, 1]
      Array(2., dtype=float32)
    """

    unit: NoisyUnit = HARD_TANH_UNIT
    alpha: float | None = None
    c: float | None = None
    noise: str = "half_normal"
    deterministic: bool | None = None
    residual: str = "noise"
    p_init: Initializer = uniform_range(-1.0, 1.0)
    param_dtype: Dtype = jnp.float32
    rng_collection: str = "noise"
    generator: str = "jax"

    @nn.compact
    def __call__(self, x, deterministic: bool | None = None, *, c=None, rng=None):
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        p, c = _p_and_c(self, x, c)
        key = _noise_key(self, det, rng)
        alpha = self.unit.alpha if self.alpha is None else self.alpha
        y = self.unit(
            x,
            key,
            p=p,
            alpha=alpha,
            c=c,
            noise=self.noise,
            deterministic=det,
            residual=self.residual,
            generator=self.generator,
        )
        if not det and self.is_mutable_collection("intermediates") and not self.is_initializing():
            # Diagnostics (noisy_path_shares): the local derivative of each gradient path.
            paths = diagnostics.noisy_gradient_paths(
                self.unit, x, key, p=p, alpha=alpha, c=c, noise=self.noise, generator=self.generator
            )
            self.sow("intermediates", "gradient_paths", paths)
        if not self.is_initializing():
            y = self.perturb("output", y)  # a no-op unless "perturbations" are passed or mutable
        return y


class NoisyHardTanh(NoisyActivation):
    """:func:`rectify_jax.noisy_hard_tanh` as a linen module (alpha 1.15, c 0.5, ``p`` learned).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyHardTanh()
      >>> x = jnp.array([[-3.0, 0.5, 3.0]])
      >>> variables = layer.init(jax.random.key(0), x, deterministic=True)
      >>> y = layer.apply(variables, x, deterministic=False, rngs={"noise": jax.random.key(1)})
      >>> float(y[0, 1])  # no noise in the linear range
      0.5
    """

    unit: NoisyUnit = HARD_TANH_UNIT


class NoisyHardSigmoid(NoisyActivation):
    """:func:`rectify_jax.noisy_hard_sigmoid` as a linen module (alpha 1.1, c 0.15, ``p`` learned).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyHardSigmoid(deterministic=True)
      >>> variables = layer.init(jax.random.key(0), jnp.zeros((1, 2)))
      >>> layer.apply(variables, jnp.zeros((1, 2)))
      Array([[0.5, 0.5]], dtype=float32)
    """

    unit: NoisyUnit = HARD_SIGMOID_UNIT


class InputNoisy(nn.Module):
    r"""NANI: :math:`h(x + s\xi)`, input noise of fixed scale ``s`` (default 0.05).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.InputNoisy(unit=rj.HARD_SIGMOID_UNIT)
      >>> y = layer.apply({}, jnp.zeros(3), rngs={"noise": jax.random.key(0)}, deterministic=False)
      >>> bool(jnp.all(jnp.abs(y - 0.5) < 0.1))
      True
    """

    unit: NoisyUnit = HARD_TANH_UNIT
    s: float = 0.05
    deterministic: bool | None = None
    rng_collection: str = "noise"
    generator: str = "jax"

    _method = "input_noise"

    @nn.compact
    def __call__(self, x, deterministic: bool | None = None, *, rng=None):
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        return getattr(self.unit, self._method)(
            x, _noise_key(self, det, rng), s=self.s, deterministic=det, generator=self.generator
        )


class SaturatedInputNoisy(InputNoisy):
    r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.SaturatedInputNoisy()
      >>> layer.apply({}, jnp.array([0.5]), rngs={"noise": jax.random.key(0)}, deterministic=False)
      Array([0.5], dtype=float32)
    """

    s: float = 0.25

    _method = "saturated_input_noise"


class LearnedInputNoisy(nn.Module):
    r"""NANIL: :math:`h(x + \sigma(x)\xi)` with ``p`` learned per feature, ``c`` annealable.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.LearnedInputNoisy(deterministic=True)
      >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 4)))
      >>> variables["params"]["p"].shape, variables["noise_scale"]["c"]
      ((4,), Array(0.5, dtype=float32))
    """

    unit: NoisyUnit = HARD_TANH_UNIT
    c: float | None = None
    deterministic: bool | None = None
    p_init: Initializer = uniform_range(-1.0, 1.0)
    param_dtype: Dtype = jnp.float32
    rng_collection: str = "noise"
    generator: str = "jax"

    @nn.compact
    def __call__(self, x, deterministic: bool | None = None, *, c=None, rng=None):
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        p, c = _p_and_c(self, x, c)
        return self.unit.learned_input_noise(
            x, _noise_key(self, det, rng), p=p, c=c, deterministic=det, generator=self.generator
        )


# --------------------------------------------------------------------------------------
# Recurrent cells


class _NoisyCell(nn.RNNCellBase):
    features: int
    noise: str = "half_normal"
    gate_alpha: float = 1.1
    tanh_alpha: float = 1.15
    gate_c: float = 0.15
    tanh_c: float = 0.5
    deterministic: bool = False
    residual: str = "noise"
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros_init()
    p_init: Initializer = uniform_range(-1.0, 1.0)
    param_dtype: Dtype = jnp.float32
    rng_collection: str = "noise"
    generator: str = "jax"
    gates: str = "noisy"

    _layout = staticmethod(lstm_layout)
    _step = staticmethod(noisy_lstm_step)

    @nn.compact
    def __call__(self, carry, x, *, rng=None):
        config = NoiseConfig(
            self.noise, self.gate_alpha, self.tanh_alpha, self.residual, self.generator, self.gates
        )
        config.check(type(self).__name__)
        inits = {
            "kernel": self.kernel_init,
            "recurrent": self.recurrent_kernel_init,
            "bias": self.bias_init,
            "p": self.p_init,
        }
        layout = self._layout(jnp.shape(x)[-1], self.features)
        params = {
            name: self.param(name, init, shape, self.param_dtype)
            for name, (shape, init) in layout_initializers(layout, inits).items()
        }
        noiseless = self.deterministic or self.gates != "noisy"
        carry, y, pre = self._step(
            params,
            carry,
            x,
            _noise_key(self, noiseless, rng),
            gate_c=_noise_scale(self, self.gate_c, "gate_c"),
            tanh_c=_noise_scale(self, self.tanh_c, "tanh_c"),
            config=config,
            deterministic=self.deterministic,
            with_preactivations=True,
        )
        # Diagnostics: a no-op unless "intermediates" is mutable (apply(..., mutable=[...])).
        self.sow("intermediates", "preactivations", pre)
        return carry, y

    @property
    def num_feature_axes(self) -> int:
        return 1


class NoisyLSTMCell(_NoisyCell):
    r"""LSTM cell whose gates are noisy hard sigmoids and whose tanh units are noisy hard tanh.

    .. math::
      i, f, o = \tilde\sigma(W_x x + W_h h + b), \quad g = \tilde t(\cdot), \quad
      c' = f c + i g, \quad h' = o\,\tilde t(c')

    as in the LSTM experiments of Gulcehre et al. (2016). Carry ``(c, h)`` as in
    ``flax.linen.LSTMCell``. Each of the five noisy units (i, f, g, o, and the
    output tanh) has its own learned ``p`` per hidden unit; the noise scales
    ``gate_c`` and ``tanh_c`` live in the ``"noise_scale"`` collection
    (:func:`set_noise_scale` anneals them). Use it with :func:`rnn`, which gives every
    time step fresh noise. Set ``deterministic=True`` for the test-time cell. Called
    by hand, ``cell(carry, x, rng=key)`` uses ``key`` instead of the ``"noise"`` stream.
    Each step sows the inputs of its noisy units (a dict named as the gates) as
    ``"preactivations"`` in the ``"intermediates"`` collection, for diagnostics.

    Initialisation follows ``flax.linen.LSTMCell``: ``kernel_init`` (LeCun normal) and
    ``recurrent_kernel_init`` (orthogonal) are applied to each gate's block of the fused
    kernels on its own (:func:`rectify_jax.initializers.blockwise`), so every gate's
    recurrent block is orthogonal, and biases start at zero. A comparison with flax's
    cell therefore starts from the same distribution of weights. For a controlled
    comparison inside one implementation, ``gates="hard"`` or ``gates="soft"`` runs the
    same cell with hard or soft gates (same parameters; ``p`` unused), and
    ``deterministic=True`` during training trains the noisy units' expectation.

    Attributes:
      features: hidden size.
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      gate_alpha, gate_c: alpha and initial c of the noisy hard sigmoid gates (1.1, 0.15).
      tanh_alpha, tanh_c: alpha and initial c of the noisy hard tanh units (1.15, 0.5).
      deterministic: test-time cell if True.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) noise.
      gates: ``"noisy"`` (default), ``"hard"`` (``hard_sigmoid`` / ``hard_tanh``) or
        ``"soft"`` (``sigmoid`` / ``tanh``).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> cell = rjl.NoisyLSTMCell(features=4, deterministic=True)
      >>> carry = cell.initialize_carry(jax.random.key(0), (2, 3))
      >>> variables = cell.init(jax.random.key(1), carry, jnp.ones((2, 3)))
      >>> (c, h), y = cell.apply(variables, carry, jnp.ones((2, 3)))
      >>> y.shape
      (2, 4)
    """

    @nn.nowrap
    def initialize_carry(self, rng, input_shape):
        del rng
        zeros = jnp.zeros((*input_shape[:-1], self.features), self.param_dtype)
        return zeros, zeros


class NoisyGRUCell(_NoisyCell):
    r"""GRU cell whose gates are noisy hard sigmoids and whose candidate is a noisy hard tanh.

    .. math::
      r, z = \tilde\sigma(W_x x + W_h h + b), \quad
      n = \tilde t(W_{xn} x + b_n + r\,(W_{hn} h + b_{hn})), \quad h' = (1 - z)\,n + z\,h

    in the gate convention of ``flax.linen.GRUCell``. Attributes and initialisation (per
    gate block, as flax's cell) as in :class:`NoisyLSTMCell`; the carry is ``h``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> model = rjl.rnn(rjl.NoisyGRUCell(features=4, deterministic=True))
      >>> variables = model.init(jax.random.key(0), jnp.ones((2, 7, 3)))
      >>> model.apply(variables, jnp.ones((2, 7, 3))).shape
      (2, 7, 4)
    """

    _layout = staticmethod(gru_layout)
    _step = staticmethod(noisy_gru_step)

    @nn.nowrap
    def initialize_carry(self, rng, input_shape):
        del rng
        return jnp.zeros((*input_shape[:-1], self.features), self.param_dtype)


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
    recurrent_kernel_init: Initializer | None = None  # None: scale * identity

    def __post_init__(self):
        if self.recurrent_kernel_init is None:
            object.__setattr__(self, "recurrent_kernel_init", identity(self.scale))
        super().__post_init__()
