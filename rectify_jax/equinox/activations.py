"""Activation modules for Equinox: rectifiers with parameters, stochastic rectifiers and
noisy units, each a small ``eqx.Module`` over a pure function of :mod:`rectify_jax`.

Conventions (those of ``eqx.nn.Dropout``): sizes and options go to the constructor,
with a keyword-only ``key`` (required where parameters are drawn, accepted, checked and
unused by the modules without random parameters, so that any of them can be built alike);
parameters are array fields (``layer.p``, ``layer.negative_slope``) cast to the input's
dtype at call time; options are static fields. A stochastic module takes its noise key
keyword-only at call time, ``layer(x, key=key)`` (a missing key when the noise is on is
an error, never a silent default) and has an ``inference`` field:
``eqx.nn.inference_mode(model)`` switches a whole model to the test-time function, and
``inference=`` at call time overrides it.
Noise scales ``c`` are array fields too, so annealing them (:func:`set_noise_scale`) does
not recompile, but every call applies ``jax.lax.stop_gradient`` to them: a standard
Equinox training loop leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from rectify_jax._src import activations, arguments, input_noise, output_noise, stochastic
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
from rectify_jax.equinox._common import (
    check_size,
    ignored_noise_arguments,
    init_key,
    is_inference,
    noise_key,
)

Noise = Literal["half_normal", "normal"]
Residual = Literal["noise", "key"]
Generator = Literal["jax", "fast"]
Initializer = Callable[..., jax.Array]


class PReLU(eqx.Module):
    r"""PReLU: a leaky ReLU with one learned slope per channel (the last axis).

    Computes :func:`rectify_jax.prelu`,

    .. math::
      \mathrm{prelu}(x) = \begin{cases} x, & x \ge 0 \\ a\,x, & x < 0 \end{cases}

    with the slope :math:`a` (``negative_slope``, shape ``(features,)``) initialised to
    0.25 (He et al. 2015) and cast to the input's dtype. ``eqx.nn.PReLU`` keeps one
    scalar slope unless given an array; this one has a slope per channel from its size.

    Attributes:
      negative_slope: the learned slopes, ``(features,)``, of ``param_dtype``.

    Args:
      features: the size of the input's last axis.
      negative_slope_init: the initial slope, a number or an initialiser (which needs
        ``key``).
      param_dtype: the dtype of the slopes.
      key: a PRNG key, needed only when ``negative_slope_init`` is an initialiser.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.PReLU(3)
      >>> layer.negative_slope
      Array([0.25, 0.25, 0.25], dtype=float32)
      >>> layer(jnp.array([[-4.0, 1.0, -2.0]]))
      Array([[-1. ,  1. , -0.5]], dtype=float32)
    """

    negative_slope: jax.Array

    def __init__(
        self,
        features: int,
        *,
        negative_slope_init: float | Initializer = 0.25,
        param_dtype: DTypeLike = jnp.float32,
        key: jax.Array | None = None,
    ):
        arguments.check_known("PReLU", locals())  # the arguments, by name
        shape = (check_size("PReLU", "features", features),)
        if callable(negative_slope_init):
            key = init_key("PReLU", key)
            self.negative_slope = negative_slope_init(key, shape, param_dtype)
        else:
            self.negative_slope = jnp.full(shape, negative_slope_init, param_dtype)

    def __call__(
        self, x: ArrayLike, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        """``prelu(x)``; ``key`` and ``inference`` are checked and ignored (no noise)."""
        ignored_noise_arguments("PReLU", key, inference)
        x = v.float_input("PReLU", x)
        return activations.prelu(x, self.negative_slope.astype(x.dtype))


class TLU(eqx.Module):
    r"""Tanh linear unit: ``x`` if ``x >= 0`` else ``alpha * tanh(x)``.

    Computes :func:`rectify_jax.tlu`,

    .. math::
      \mathrm{tlu}(x) = \begin{cases} x, & x \ge 0 \\ \alpha\tanh(x), & x < 0 \end{cases}

    with ``alpha`` the negative saturation value (as in ELU), fixed, or learned per
    channel with ``learn_alpha=True`` (Jiang & Wang 2018).

    Attributes:
      alpha: the negative saturation value: a Python float when fixed (not an array, so
        never trained), or the learned ``(features,)`` array of ``param_dtype`` with
        ``learn_alpha=True``, cast to the input's dtype at call time.
      learn_alpha: whether ``alpha`` is learned (static).

    Args:
      features: the size of the input's last axis; needed only with ``learn_alpha``.
      alpha: the (initial) negative saturation value.
      learn_alpha: learn ``alpha``, one value per channel.
      param_dtype: the dtype of a learned ``alpha``.
      key: accepted (and checked), as by every module of this package, and unused (``alpha`` starts
        at its value).

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> rje.TLU(alpha=0.5)(jnp.array([[-30.0, 2.0]]))
      Array([[-0.5,  2. ]], dtype=float32)
      >>> rje.TLU(2, learn_alpha=True).alpha
      Array([1., 1.], dtype=float32)
    """

    alpha: float | jax.Array
    learn_alpha: bool = eqx.field(static=True)

    def __init__(
        self,
        features: int | None = None,
        *,
        alpha: float = 1.0,
        learn_alpha: bool = False,
        param_dtype: DTypeLike = jnp.float32,
        key: jax.Array | None = None,
    ):
        arguments.check_known("TLU", locals())
        self.learn_alpha = bool(learn_alpha)
        if learn_alpha:
            if features is None:
                raise TypeError(
                    "TLU: learn_alpha=True learns one alpha per feature, so it needs "
                    "features, the size of the input's last axis, e.g. TLU(16, learn_alpha=True)"
                )
            shape = (check_size("TLU", "features", features),)
            self.alpha = jnp.full(shape, alpha, param_dtype)
        else:
            self.alpha = float(alpha)

    def __call__(
        self, x: ArrayLike, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        """``tlu(x)``; ``key`` and ``inference`` are checked and ignored (no noise)."""
        ignored_noise_arguments("TLU", key, inference)
        x = v.float_input("TLU", x)
        alpha = self.alpha
        if isinstance(alpha, jax.Array):  # learned
            alpha = alpha.astype(x.dtype)
        return activations.tlu(x, alpha=alpha)


class RReLU(eqx.Module):
    r"""Randomised leaky ReLU: a negative slope drawn from U[lower, upper] per element.

    Computes :func:`rectify_jax.rrelu` (Xu et al. 2015),

    .. math::
      \mathrm{rrelu}(x) = \begin{cases} x, & x \ge 0 \\ a\,x, & x < 0 \end{cases},
      \qquad a \sim U[\mathrm{lower}, \mathrm{upper}],

    and at test time the mean slope :math:`(\mathrm{lower} + \mathrm{upper}) / 2`.

    Attributes:
      lower: the smallest slope (static).
      upper: the largest slope (static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function (as ``eqx.nn.Dropout``).

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.RReLU()
      >>> layer(jnp.array([-8.0]), inference=True)
      Array([-1.8333334], dtype=float32)
      >>> layer(jnp.array([-8.0]), key=jax.random.key(0)).shape
      (1,)
    """

    lower: float = eqx.field(static=True)
    upper: float = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        *,
        lower: float = 1 / 8,
        upper: float = 1 / 3,
        generator: Generator = "jax",
        inference: bool = False,
        key: jax.Array | None = None,
    ):
        arguments.check_known("RReLU", locals())
        self.lower = lower
        self.upper = upper
        self.generator = generator
        self.inference = bool(inference)

    def __call__(
        self, x: ArrayLike, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        """``rrelu(x)`` with noise from ``key``; ``inference`` overrides the field."""
        det = is_inference("RReLU", self.inference, inference)
        key = None if det else noise_key("RReLU", key)
        return stochastic.apply_rrelu("RReLU", x, key, self.lower, self.upper, det, self.generator)


class NReLU(eqx.Module):
    r"""Noisy ReLU: ``max(0, x + sqrt(sigmoid(x)) xi)``, xi ~ N(0, 1).

    Computes :func:`rectify_jax.nrelu` (Nair & Hinton 2010),

    .. math::
      \mathrm{nrelu}(x) = \max\!\left(0,\; x + \sqrt{\mathrm{sigmoid}(x)}\,\xi\right),
      \qquad \xi \sim \mathcal N(0, 1),

    and ``relu(x)`` at test time.

    Attributes:
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, ``relu(x)`` (as ``eqx.nn.Dropout``).

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.NReLU(inference=True)
      >>> layer(jnp.array([-1.0, 2.0]))
      Array([0., 2.], dtype=float32)
    """

    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self, *, generator: Generator = "jax", inference: bool = False, key: jax.Array | None = None
    ):
        arguments.check_known("NReLU", locals())
        self.generator = generator
        self.inference = bool(inference)

    def __call__(
        self, x: ArrayLike, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        """``nrelu(x)`` with noise from ``key``; ``inference`` overrides the field."""
        det = is_inference("NReLU", self.inference, inference)
        key = None if det else noise_key("NReLU", key)
        return stochastic.apply_nrelu("NReLU", x, key, det, self.generator)


def _output_noise(owner: str, layer, unit: NoisyUnit, x, key, inference, c) -> jax.Array:
    """The body of a noisy output unit's call: ``p`` cast to the input, the noise scale
    (the field's, not trained, unless ``c`` is given), the key, the unit."""
    det = is_inference(owner, layer.inference, inference)
    x = v.float_input(owner, x)
    c = jax.lax.stop_gradient(layer.c) if c is None else c
    key = None if det else noise_key(owner, key)
    options = output_noise.Options(layer.noise, layer.generator, layer.residual, det)
    return output_noise.apply(owner, unit, x, key, layer.p.astype(x.dtype), layer.alpha, c, options)


class NoisyActivation(eqx.Module):
    r"""Output noise (NAH / NAN) of any :class:`rectify_jax.NoisyUnit`, ``p`` learned per feature.

    Computes

    .. math::
      \alpha h(x) + (1-\alpha) u(x) + d(x)\,\sigma(x)\,\epsilon, \qquad
      \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2

    (the unit's call, :class:`rectify_jax.NoisyUnit`; Gulcehre et al. 2016) with a learned
    noise slope ``p`` per feature (the last axis, initialised U[-1, 1]) and the noise
    scale ``c``: an array field, annealed (:func:`set_noise_scale`), never trained (the
    call applies ``jax.lax.stop_gradient`` to it). At test time the noise is its mean. A
    ``c`` passed at call time takes precedence.

    Attributes:
      p: the learned noise slopes, ``(features,)``, of ``param_dtype``.
      c: the noise scale, a scalar array of ``param_dtype`` (not trained).
      unit: the noisy unit (static).
      alpha: the mixing factor of ``h`` and ``u``; None: the unit's (static).
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN) (static).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps (static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function (as ``eqx.nn.Dropout``).

    Args (constructor): ``features`` (the size of the input's last axis), the options
    above (``unit`` defaults to :data:`rectify_jax.HARD_TANH_UNIT`; ``c`` None: the
    unit's), ``p_init`` (the initialiser of ``p``, U[-1, 1]), ``param_dtype`` and the
    keyword-only ``key`` that draws ``p``.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.NoisyActivation(2, unit=rj.HARD_SIGMOID_UNIT, key=jax.random.key(0))
      >>> layer(jnp.array([[0.0, 0.0]]), inference=True)
      Array([[0.5, 0.5]], dtype=float32)
      >>> layer.c
      Array(0.15, dtype=float32)
    """

    noise_scales: ClassVar[tuple[str, ...]] = ("c",)

    p: jax.Array
    c: jax.Array
    unit: NoisyUnit = eqx.field(static=True)
    alpha: float | None = eqx.field(static=True)
    noise: Noise = eqx.field(static=True)
    residual: Residual = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        features: int,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        alpha: float | None = None,
        c: float | None = None,
        noise: Noise = "half_normal",
        residual: Residual = "noise",
        generator: Generator = "jax",
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: DTypeLike = jnp.float32,
        inference: bool = False,
        key: jax.Array,
    ):
        owner = "NoisyActivation"
        arguments.check_known(owner, locals())
        shape = (check_size(owner, "features", features),)
        self.p = p_init(init_key(owner, key), shape, param_dtype)
        self.c = jnp.asarray(unit.c if c is None else c, param_dtype)
        self.unit = unit
        self.alpha = alpha
        self.noise = noise
        self.residual = residual
        self.generator = generator
        self.inference = bool(inference)

    def __call__(
        self,
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """The noisy unit of ``x`` with noise from ``key``; ``inference`` overrides the
        field, ``c`` the stored noise scale."""
        return _output_noise("NoisyActivation", self, self.unit, x, key, inference, c)


class NoisyHardTanh(eqx.Module):
    r"""Noisy hard tanh (NAH / NAN) with a learned noise slope ``p`` per feature.

    Computes :func:`rectify_jax.noisy_hard_tanh`,

    .. math::
      \alpha\,\mathrm{hard\_tanh}(x) + (1-\alpha)\,x + d(x)\,\sigma(x)\,\epsilon,
      \qquad \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,

    :math:`\Delta = \mathrm{hard\_tanh}(x) - x`, :math:`d = -\mathrm{sgn}(x)\,
    \mathrm{sgn}(1-\alpha)`, :math:`\epsilon = |\xi|` (NAH) or :math:`\xi` (NAN),
    :math:`\xi \sim \mathcal N(0, 1)`; ``p`` per feature (the last axis, initialised
    U[-1, 1]); the noise scale ``c`` an array field, annealed (:func:`set_noise_scale`),
    never trained (the call applies ``jax.lax.stop_gradient`` to it; a ``c`` passed at
    call time takes precedence). At test time (``inference=True``) the noise is replaced
    by its mean. Gulcehre et al. 2016.

    Attributes:
      p: the learned noise slopes, ``(features,)``, of ``param_dtype``.
      c: the noise scale, a scalar array of ``param_dtype`` (0.5; not trained).
      alpha: the mixing factor of hard tanh and its linear part (1.15; static).
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN) (static).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps (static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function (as ``eqx.nn.Dropout``).

    Args (constructor): ``features`` (the size of the input's last axis), the options
    above, ``p_init`` (the initialiser of ``p``, U[-1, 1]), ``param_dtype`` and the
    keyword-only ``key`` that draws ``p``.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.NoisyHardTanh(2, key=jax.random.key(0))
      >>> x = jnp.array([[-0.5, 0.5]])
      >>> layer(x, inference=True)
      Array([[-0.5,  0.5]], dtype=float32)
      >>> layer(x, key=jax.random.key(1))  # no noise in the linear range
      Array([[-0.5,  0.5]], dtype=float32)
      >>> layer.p.shape, layer.c
      ((2,), Array(0.5, dtype=float32))
    """

    noise_scales: ClassVar[tuple[str, ...]] = ("c",)

    p: jax.Array
    c: jax.Array
    alpha: float = eqx.field(static=True)
    noise: Noise = eqx.field(static=True)
    residual: Residual = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        features: int,
        *,
        alpha: float = HARD_TANH_ALPHA,
        c: float = HARD_TANH_C,
        noise: Noise = "half_normal",
        residual: Residual = "noise",
        generator: Generator = "jax",
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: DTypeLike = jnp.float32,
        inference: bool = False,
        key: jax.Array,
    ):
        owner = "NoisyHardTanh"
        arguments.check_known(owner, locals())
        shape = (check_size(owner, "features", features),)
        self.p = p_init(init_key(owner, key), shape, param_dtype)
        self.c = jnp.asarray(HARD_TANH_UNIT.c if c is None else c, param_dtype)
        self.alpha = alpha
        self.noise = noise
        self.residual = residual
        self.generator = generator
        self.inference = bool(inference)

    @property
    def unit(self) -> NoisyUnit:
        """:data:`rectify_jax.HARD_TANH_UNIT`."""
        return HARD_TANH_UNIT

    def __call__(
        self,
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """The noisy hard tanh of ``x`` with noise from ``key``; ``inference`` overrides
        the field, ``c`` the stored noise scale."""
        return _output_noise("NoisyHardTanh", self, HARD_TANH_UNIT, x, key, inference, c)


class NoisyHardSigmoid(eqx.Module):
    r"""Noisy hard sigmoid (NAH / NAN) with a learned noise slope ``p`` per feature.

    Computes :func:`rectify_jax.noisy_hard_sigmoid`,

    .. math::
      \alpha\,h(x) + (1-\alpha)\,u(x) + d(x)\,\sigma(x)\,\epsilon, \qquad
      h(x) = \mathrm{clip}(x/4 + 1/2, 0, 1), \quad u(x) = x/4 + 1/2,

    with :math:`\sigma`, :math:`d` and :math:`\epsilon` as in :class:`NoisyHardTanh`
    (Gulcehre et al. 2016); the constructor's arguments are :class:`NoisyHardTanh`'s.

    Attributes:
      p: the learned noise slopes, ``(features,)``, of ``param_dtype``.
      c: the noise scale, a scalar array of ``param_dtype`` (0.15; not trained).
      alpha: the mixing factor of ``h`` and ``u`` (1.1; static).
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN) (static).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps (static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function (as ``eqx.nn.Dropout``).

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.NoisyHardSigmoid(2, key=jax.random.key(0))
      >>> layer(jnp.array([[0.0, 0.0]]), inference=True)
      Array([[0.5, 0.5]], dtype=float32)
    """

    noise_scales: ClassVar[tuple[str, ...]] = ("c",)

    p: jax.Array
    c: jax.Array
    alpha: float = eqx.field(static=True)
    noise: Noise = eqx.field(static=True)
    residual: Residual = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        features: int,
        *,
        alpha: float = HARD_SIGMOID_ALPHA,
        c: float = HARD_SIGMOID_C,
        noise: Noise = "half_normal",
        residual: Residual = "noise",
        generator: Generator = "jax",
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: DTypeLike = jnp.float32,
        inference: bool = False,
        key: jax.Array,
    ):
        owner = "NoisyHardSigmoid"
        arguments.check_known(owner, locals())
        shape = (check_size(owner, "features", features),)
        self.p = p_init(init_key(owner, key), shape, param_dtype)
        self.c = jnp.asarray(HARD_SIGMOID_UNIT.c if c is None else c, param_dtype)
        self.alpha = alpha
        self.noise = noise
        self.residual = residual
        self.generator = generator
        self.inference = bool(inference)

    @property
    def unit(self) -> NoisyUnit:
        """:data:`rectify_jax.HARD_SIGMOID_UNIT`."""
        return HARD_SIGMOID_UNIT

    def __call__(
        self,
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """The noisy hard sigmoid of ``x`` with noise from ``key``; ``inference``
        overrides the field, ``c`` the stored noise scale."""
        return _output_noise("NoisyHardSigmoid", self, HARD_SIGMOID_UNIT, x, key, inference, c)


class InputNoisy(eqx.Module):
    r"""NANI: :math:`h(x + s\,\xi)`, input noise of a fixed scale ``s``.

    Computes :meth:`rectify_jax.NoisyUnit.input_noise` (Gulcehre et al. 2016),

    .. math::
      y = h(x + s\,\xi), \qquad \xi \sim \mathcal N(0, 1),

    and :math:`h(x)` at test time.

    Attributes:
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`; static).
      s: the noise scale; None: the unit's ``input_s`` (0.05) (static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.InputNoisy()
      >>> layer(jnp.array([0.5, 9.0]), inference=True)
      Array([0.5, 1. ], dtype=float32)
    """

    unit: NoisyUnit = eqx.field(static=True)
    s: float | None = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        s: float | None = None,
        generator: Generator = "jax",
        inference: bool = False,
        key: jax.Array | None = None,
    ):
        arguments.check_known("InputNoisy", locals())
        self.unit = unit
        self.s = s
        self.generator = generator
        self.inference = bool(inference)

    def __call__(
        self, x: ArrayLike, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        """:math:`h(x + s\\xi)` with noise from ``key``; ``inference`` overrides the field."""
        det = is_inference("InputNoisy", self.inference, inference)
        key = None if det else noise_key("InputNoisy", key)
        options = input_noise.Options("fixed", self.generator, det)
        return input_noise.apply("InputNoisy", self.unit, x, key, options, s=self.s)


class SaturatedInputNoisy(eqx.Module):
    r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates.

    Computes :meth:`rectify_jax.NoisyUnit.saturated_input_noise`,

    .. math::
      y = h\big(x + 1[x \le x_\mathrm{lower} \lor x \ge x_\mathrm{upper}]\,s\,\xi\big),
      \qquad \xi \sim \mathcal N(0, 1),

    and :math:`h(x)` at test time.

    Attributes:
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`; static).
      s: the noise scale; None: the unit's ``saturated_s`` (0.25) (static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.SaturatedInputNoisy()
      >>> layer(jnp.array([0.5, 9.0]), inference=True)
      Array([0.5, 1. ], dtype=float32)
      >>> layer(jnp.array([0.5]), key=jax.random.key(0))  # not saturated: no noise
      Array([0.5], dtype=float32)
    """

    unit: NoisyUnit = eqx.field(static=True)
    s: float | None = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        s: float | None = None,
        generator: Generator = "jax",
        inference: bool = False,
        key: jax.Array | None = None,
    ):
        arguments.check_known("SaturatedInputNoisy", locals())
        self.unit = unit
        self.s = s
        self.generator = generator
        self.inference = bool(inference)

    def __call__(
        self, x: ArrayLike, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        """The saturated-input noise of ``x`` from ``key``; ``inference`` overrides the field."""
        det = is_inference("SaturatedInputNoisy", self.inference, inference)
        key = None if det else noise_key("SaturatedInputNoisy", key)
        options = input_noise.Options("saturated", self.generator, det)
        return input_noise.apply("SaturatedInputNoisy", self.unit, x, key, options, s=self.s)


class LearnedInputNoisy(eqx.Module):
    r"""NANIL: :math:`h(x + \sigma(x)\,\xi)`, ``p`` learned per feature, ``c`` annealable.

    Computes :meth:`rectify_jax.NoisyUnit.learned_input_noise`,

    .. math::
      y = h(x + \sigma(x)\,\xi), \qquad
      \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,

    (Gulcehre et al. 2016), :math:`h(x)` at test time. ``c`` is an array field, annealed
    (:func:`set_noise_scale`), never trained (the call applies ``jax.lax.stop_gradient``
    to it); one passed at call time takes precedence.

    Attributes:
      p: the learned noise slopes, ``(features,)``, of ``param_dtype``.
      c: the noise scale, a scalar array of ``param_dtype`` (not trained).
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`; static).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) (static).
      inference: if True, the test-time function.

    Args (constructor): ``features``, the options above (``c`` None: the unit's),
    ``p_init`` (U[-1, 1]), ``param_dtype`` and the keyword-only ``key`` that draws ``p``.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.LearnedInputNoisy(2, key=jax.random.key(0))
      >>> layer(jnp.array([[0.5, 9.0]]), inference=True)
      Array([[0.5, 1. ]], dtype=float32)
    """

    noise_scales: ClassVar[tuple[str, ...]] = ("c",)

    p: jax.Array
    c: jax.Array
    unit: NoisyUnit = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        features: int,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        c: float | None = None,
        generator: Generator = "jax",
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: DTypeLike = jnp.float32,
        inference: bool = False,
        key: jax.Array,
    ):
        owner = "LearnedInputNoisy"
        arguments.check_known(owner, locals())
        shape = (check_size(owner, "features", features),)
        self.p = p_init(init_key(owner, key), shape, param_dtype)
        self.c = jnp.asarray(unit.c if c is None else c, param_dtype)
        self.unit = unit
        self.generator = generator
        self.inference = bool(inference)

    def __call__(
        self,
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """:math:`h(x + \\sigma(x)\\xi)` with noise from ``key``; ``inference`` overrides
        the field, ``c`` the stored noise scale."""
        owner = "LearnedInputNoisy"
        det = is_inference(owner, self.inference, inference)
        x = v.float_input(owner, x)
        key = None if det else noise_key(owner, key)
        options = input_noise.Options("learned", self.generator, det)
        p, c = self.p.astype(x.dtype), jax.lax.stop_gradient(self.c) if c is None else c
        return input_noise.apply(owner, self.unit, x, key, options, p=p, c=c)
