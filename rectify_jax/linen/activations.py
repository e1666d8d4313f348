"""Activation modules for ``flax.linen``: rectifiers with parameters, stochastic rectifiers and
noisy units, each a small class over a pure function of :mod:`rectify_jax`.

Conventions (those of ``flax.linen.Dropout``): hyperparameters are attributes;
parameters are created at the first call, one per feature of the input's last axis,
and cast to the input's dtype; a stochastic module draws from the ``"noise"`` PRNG
stream (``rngs={"noise": key}``; a missing stream is an error, never a fallback to
``"params"``) or from ``rng=`` at call time, and takes ``deterministic`` as an attribute
or a call argument (test time). Noise scales live in the ``"noise_scale"`` collection
(:func:`~rectify_jax.linen.set_noise_scale`); without it they take their attribute's
value.
"""

from __future__ import annotations

from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from rectify_jax._src import activations, input_noise, output_noise, stochastic
from rectify_jax._src import validation as v
from rectify_jax._src.initializers import uniform_range
from rectify_jax._src.units import (
    HARD_SIGMOID_ALPHA,
    HARD_SIGMOID_C,
    HARD_SIGMOID_UNIT,
    HARD_TANH_ALPHA,
    HARD_TANH_C,
    HARD_TANH_UNIT,
    NoisyUnit,
)
from rectify_jax.linen._common import check_fields, noise_key, noise_scale

Initializer = nn.initializers.Initializer
Noise = Literal["half_normal", "normal"]
Residual = Literal["noise", "key"]
Generator = Literal["jax", "fast"]


class PReLU(nn.Module):
    r"""PReLU: a leaky ReLU with one learned slope per channel (the last axis).

    Computes :func:`rectify_jax.prelu`,

    .. math::
      \mathrm{prelu}(x) = \begin{cases} x, & x \ge 0 \\ a\,x, & x < 0 \end{cases}

    with the slope :math:`a` (``negative_slope``, shape ``(features,)``) initialised to
    0.25 (He et al. 2015) and cast to the input's dtype. Unlike ``flax.linen.PReLU``
    (one scalar slope), the slope is per channel.

    Attributes:
      negative_slope_init: the initial slope, a number or an initialiser.
      param_dtype: the dtype of the slope.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.PReLU()
      >>> x = jnp.array([[-4.0, 1.0, -2.0]])
      >>> variables = layer.init(jax.random.key(0), x)
      >>> layer.apply(variables, x)
      Array([[-1. ,  1. , -0.5]], dtype=float32)
    """

    negative_slope_init: float | Initializer = 0.25
    param_dtype: DTypeLike = jnp.float32

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        x = v.float_input(self.__class__.__name__, x)
        init = self.negative_slope_init
        init = init if callable(init) else nn.initializers.constant(init)
        slope = self.param("negative_slope", init, (jnp.shape(x)[-1],), self.param_dtype)
        return activations.prelu(x, slope.astype(x.dtype))


class TLU(nn.Module):
    r"""Tanh linear unit: ``x`` if ``x >= 0`` else ``alpha * tanh(x)``.

    Computes :func:`rectify_jax.tlu` with ``alpha`` the negative saturation value (as
    in ELU), fixed, or learned per channel with ``learn_alpha=True`` (Jiang & Wang 2018).

    Attributes:
      alpha: the (initial) negative saturation value.
      learn_alpha: learn ``alpha``, one value per channel (parameter ``"alpha"``).
      param_dtype: the dtype of a learned ``alpha``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.TLU(alpha=0.5)
      >>> x = jnp.array([[-30.0, 2.0]])
      >>> layer.apply(layer.init(jax.random.key(0), x), x)
      Array([[-0.5,  2. ]], dtype=float32)
    """

    alpha: float = 1.0
    learn_alpha: bool = False
    param_dtype: DTypeLike = jnp.float32

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        x = v.float_input(self.__class__.__name__, x)
        alpha: ArrayLike = self.alpha
        if self.learn_alpha:
            init = nn.initializers.constant(self.alpha)
            alpha = self.param("alpha", init, (jnp.shape(x)[-1],), self.param_dtype)
            alpha = alpha.astype(x.dtype)
        return activations.tlu(x, alpha=alpha)


class RReLU(nn.Module):
    r"""Randomised leaky ReLU: a negative slope drawn from U[lower, upper] per element.

    Computes :func:`rectify_jax.rrelu` (Xu et al. 2015); at test time the mean slope
    ``(lower + upper) / 2``. The noise comes from the ``"noise"`` stream.

    Attributes:
      lower: the smallest slope.
      upper: the largest slope.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      deterministic: if True, the test-time function (as ``flax.linen.Dropout``).
      rng_collection: the PRNG stream the noise is drawn from.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.RReLU()
      >>> x = jnp.array([-8.0])
      >>> layer.apply(layer.init(jax.random.key(0), x, deterministic=True), x,
      ...             deterministic=True)
      Array([-1.8333334], dtype=float32)
    """

    lower: float = 1 / 8
    upper: float = 1 / 3
    generator: Generator = "jax"
    deterministic: bool | None = None
    rng_collection: str = "noise"

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(
        self, x: ArrayLike, deterministic: bool | None = None, *, rng: jax.Array | None = None
    ) -> jax.Array:
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        key = None if det else noise_key(self, rng)
        return stochastic.apply_rrelu(
            self.__class__.__name__, x, key, self.lower, self.upper, det, self.generator
        )


class NReLU(nn.Module):
    r"""Noisy ReLU: ``max(0, x + sqrt(sigmoid(x)) xi)``, xi ~ N(0, 1).

    Computes :func:`rectify_jax.nrelu` (Nair & Hinton 2010); ``relu(x)`` at test time.

    Attributes:
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      deterministic: if True, ``relu(x)`` (as ``flax.linen.Dropout``).
      rng_collection: the PRNG stream the noise is drawn from.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NReLU(deterministic=True)
      >>> x = jnp.array([-1.0, 2.0])
      >>> layer.apply(layer.init(jax.random.key(0), x), x)
      Array([0., 2.], dtype=float32)
    """

    generator: Generator = "jax"
    deterministic: bool | None = None
    rng_collection: str = "noise"

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(
        self, x: ArrayLike, deterministic: bool | None = None, *, rng: jax.Array | None = None
    ) -> jax.Array:
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        key = None if det else noise_key(self, rng)
        return stochastic.apply_nrelu(self.__class__.__name__, x, key, det, self.generator)


def _output_noise(
    module: nn.Module, unit: NoisyUnit, x: ArrayLike, deterministic, rng, c
) -> jax.Array:
    """The body of a noisy output unit's call: ``p``, the noise scale, the key, the unit,
    and what diagnostics read (sown inputs, a perturbation of the output)."""
    owner = module.__class__.__name__
    det = nn.merge_param("deterministic", module.deterministic, deterministic)
    x = v.float_input(owner, x)
    p = module.param("p", module.p_init, (jnp.shape(x)[-1],), module.param_dtype).astype(x.dtype)
    stored = noise_scale(module, "c", unit.c if module.c is None else module.c)
    c = stored if c is None else c
    key = None if det else noise_key(module, rng)
    options = output_noise.Options(module.noise, module.generator, module.residual, det)
    y = output_noise.apply(owner, unit, x, key, p, module.alpha, c, options)
    if not det and not module.is_initializing():
        # For diagnostics: no-ops unless the collections are mutable
        # (apply(..., mutable=["intermediates", "perturbations"])).
        module.sow("intermediates", "noisy_inputs", {"x": x, "key": key, "p": p, "c": c})
        y = module.perturb("output", y)
    return y


class NoisyActivation(nn.Module):
    r"""Output noise (NAH / NAN) of any :class:`rectify_jax.NoisyUnit`, ``p`` learned per feature.

    Computes :math:`\alpha h(x) + (1-\alpha) u(x) + d(x)\,\sigma(x)\,\epsilon` with
    :math:`\sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2` (the unit's call,
    :class:`rectify_jax.NoisyUnit`; Gulcehre et al. 2016), a learned noise slope ``p``
    per feature (the last axis) and the noise scale ``c`` in the ``"noise_scale"``
    collection: annealed, never trained. At test time the noise is its mean. A ``c``
    passed at call time takes precedence.

    Attributes:
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`).
      alpha: the mixing factor of ``h`` and ``u``; None: the unit's.
      c: the initial noise scale; None: the unit's.
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      deterministic: if True, the test-time function (as ``flax.linen.Dropout``).
      rng_collection: the PRNG stream the noise is drawn from.
      param_dtype: the dtype of ``p`` and ``c``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyActivation(unit=rj.HARD_SIGMOID_UNIT)
      >>> x = jnp.array([[0.0, 0.0]])
      >>> variables = layer.init(jax.random.key(0), x, deterministic=True)
      >>> layer.apply(variables, x, deterministic=True)
      Array([[0.5, 0.5]], dtype=float32)
    """

    unit: NoisyUnit = HARD_TANH_UNIT
    alpha: float | None = None
    c: float | None = None
    noise: Noise = "half_normal"
    residual: Residual = "noise"
    generator: Generator = "jax"
    p_init: Initializer = uniform_range(-1.0, 1.0)
    deterministic: bool | None = None
    rng_collection: str = "noise"
    param_dtype: DTypeLike = jnp.float32

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        x: ArrayLike,
        deterministic: bool | None = None,
        *,
        rng: jax.Array | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        return _output_noise(self, self.unit, x, deterministic, rng, c)


class NoisyHardTanh(nn.Module):
    r"""Noisy hard tanh (NAH / NAN) with a learned noise slope ``p`` per feature.

    Computes :func:`rectify_jax.noisy_hard_tanh`,

    .. math::
      \alpha\,\mathrm{hard\_tanh}(x) + (1-\alpha)\,x + d(x)\,\sigma(x)\,\epsilon,
      \qquad \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,

    :math:`\Delta = \mathrm{hard\_tanh}(x) - x`, :math:`d = -\mathrm{sgn}(x)\,
    \mathrm{sgn}(1-\alpha)`, :math:`\epsilon = |\xi|` (NAH) or :math:`\xi` (NAN),
    :math:`\xi \sim \mathcal N(0, 1)`; ``p`` per feature (the last axis, initialised
    U[-1, 1]); the noise scale ``c`` in the ``"noise_scale"`` collection: annealed, never
    trained (a ``c`` passed at call time takes precedence). At test time
    (``deterministic=True``) the noise is replaced by its mean. Gulcehre et al. 2016.

    Attributes:
      alpha: the mixing factor of hard tanh and its linear part (1.15).
      c: the initial noise scale (0.5).
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      deterministic: if True, the test-time function (as ``flax.linen.Dropout``).
      rng_collection: the PRNG stream the noise is drawn from.
      param_dtype: the dtype of ``p`` and ``c``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyHardTanh()
      >>> x = jnp.array([[-0.5, 0.5]])
      >>> variables = layer.init(jax.random.key(0), x, deterministic=True)
      >>> layer.apply(variables, x, deterministic=True)
      Array([[-0.5,  0.5]], dtype=float32)
    """

    alpha: float = HARD_TANH_ALPHA
    c: float = HARD_TANH_C
    noise: Noise = "half_normal"
    residual: Residual = "noise"
    generator: Generator = "jax"
    p_init: Initializer = uniform_range(-1.0, 1.0)
    deterministic: bool | None = None
    rng_collection: str = "noise"
    param_dtype: DTypeLike = jnp.float32

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @property
    def unit(self) -> NoisyUnit:
        """:data:`rectify_jax.HARD_TANH_UNIT`."""
        return HARD_TANH_UNIT

    @nn.compact
    def __call__(
        self,
        x: ArrayLike,
        deterministic: bool | None = None,
        *,
        rng: jax.Array | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        return _output_noise(self, HARD_TANH_UNIT, x, deterministic, rng, c)


class NoisyHardSigmoid(nn.Module):
    r"""Noisy hard sigmoid (NAH / NAN) with a learned noise slope ``p`` per feature.

    Computes :func:`rectify_jax.noisy_hard_sigmoid`: the formula of
    :class:`NoisyHardTanh` with :math:`h(x) = \mathrm{clip}(x/4 + 1/2, 0, 1)` and its
    linear part :math:`u(x) = x/4 + 1/2` (Gulcehre et al. 2016). The attributes are
    :class:`NoisyHardTanh`'s, with ``alpha=1.1`` and ``c=0.15``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyHardSigmoid()
      >>> x = jnp.array([[0.0, 0.0]])
      >>> variables = layer.init(jax.random.key(0), x, deterministic=True)
      >>> layer.apply(variables, x, deterministic=True)
      Array([[0.5, 0.5]], dtype=float32)
    """

    alpha: float = HARD_SIGMOID_ALPHA
    c: float = HARD_SIGMOID_C
    noise: Noise = "half_normal"
    residual: Residual = "noise"
    generator: Generator = "jax"
    p_init: Initializer = uniform_range(-1.0, 1.0)
    deterministic: bool | None = None
    rng_collection: str = "noise"
    param_dtype: DTypeLike = jnp.float32

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @property
    def unit(self) -> NoisyUnit:
        """:data:`rectify_jax.HARD_SIGMOID_UNIT`."""
        return HARD_SIGMOID_UNIT

    @nn.compact
    def __call__(
        self,
        x: ArrayLike,
        deterministic: bool | None = None,
        *,
        rng: jax.Array | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        return _output_noise(self, HARD_SIGMOID_UNIT, x, deterministic, rng, c)


class InputNoisy(nn.Module):
    r"""NANI: :math:`h(x + s\,\xi)`, input noise of a fixed scale ``s``.

    Computes :meth:`rectify_jax.NoisyUnit.input_noise` (Gulcehre et al. 2016);
    :math:`h(x)` at test time.

    Attributes:
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`).
      s: the noise scale; None: the unit's ``input_s`` (0.05).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      deterministic: if True, the test-time function.
      rng_collection: the PRNG stream the noise is drawn from.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.InputNoisy(deterministic=True)
      >>> x = jnp.array([0.5, 9.0])
      >>> layer.apply(layer.init(jax.random.key(0), x), x)
      Array([0.5, 1. ], dtype=float32)
    """

    unit: NoisyUnit = HARD_TANH_UNIT
    s: float | None = None
    generator: Generator = "jax"
    deterministic: bool | None = None
    rng_collection: str = "noise"

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(
        self, x: ArrayLike, deterministic: bool | None = None, *, rng: jax.Array | None = None
    ) -> jax.Array:
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        key = None if det else noise_key(self, rng)
        options = input_noise.Options("fixed", self.generator, det)
        return input_noise.apply(self.__class__.__name__, self.unit, x, key, options, s=self.s)


class SaturatedInputNoisy(InputNoisy):
    r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates.

    Computes :meth:`rectify_jax.NoisyUnit.saturated_input_noise`; :math:`h(x)` at test
    time. The attributes are :class:`InputNoisy`'s; ``s`` None is the unit's
    ``saturated_s`` (0.25).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.SaturatedInputNoisy(deterministic=True)
      >>> x = jnp.array([0.5, 9.0])
      >>> layer.apply(layer.init(jax.random.key(0), x), x)
      Array([0.5, 1. ], dtype=float32)
    """

    @nn.compact
    def __call__(
        self, x: ArrayLike, deterministic: bool | None = None, *, rng: jax.Array | None = None
    ) -> jax.Array:
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        key = None if det else noise_key(self, rng)
        options = input_noise.Options("saturated", self.generator, det)
        return input_noise.apply(self.__class__.__name__, self.unit, x, key, options, s=self.s)


class LearnedInputNoisy(nn.Module):
    r"""NANIL: :math:`h(x + \sigma(x)\,\xi)`, ``p`` learned per feature, ``c`` annealable.

    Computes :meth:`rectify_jax.NoisyUnit.learned_input_noise` with
    :math:`\sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2` (Gulcehre et
    al. 2016); :math:`h(x)` at test time. ``c`` lives in the ``"noise_scale"``
    collection; one passed at call time takes precedence.

    Attributes:
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`).
      c: the initial noise scale; None: the unit's.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      deterministic: if True, the test-time function.
      rng_collection: the PRNG stream the noise is drawn from.
      param_dtype: the dtype of ``p`` and ``c``.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.LearnedInputNoisy(deterministic=True)
      >>> x = jnp.array([[0.5, 9.0]])
      >>> layer.apply(layer.init(jax.random.key(0), x), x)
      Array([[0.5, 1. ]], dtype=float32)
    """

    unit: NoisyUnit = HARD_TANH_UNIT
    c: float | None = None
    generator: Generator = "jax"
    p_init: Initializer = uniform_range(-1.0, 1.0)
    deterministic: bool | None = None
    rng_collection: str = "noise"
    param_dtype: DTypeLike = jnp.float32

    def __post_init__(self):
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        x: ArrayLike,
        deterministic: bool | None = None,
        *,
        rng: jax.Array | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        owner = self.__class__.__name__
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        x = v.float_input(owner, x)
        p = self.param("p", self.p_init, (jnp.shape(x)[-1],), self.param_dtype).astype(x.dtype)
        stored = noise_scale(self, "c", self.unit.c if self.c is None else self.c)
        key = None if det else noise_key(self, rng)
        options = input_noise.Options("learned", self.generator, det)
        c = stored if c is None else c
        return input_noise.apply(owner, self.unit, x, key, options, p=p, c=c)
