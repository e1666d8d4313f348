"""Activation modules for ``flax.nnx``: rectifiers with parameters, stochastic rectifiers and
noisy units, each a small class over a pure function of :mod:`rectify_jax`.

Conventions (those of ``nnx.Dropout`` and ``nnx.Linear``): sizes and options go to the
constructor, ``features`` (the size of the input's last axis) for a layer with
parameters, one per feature; ``rngs`` (constructor or call) is an ``nnx.Rngs`` (its
``params`` stream initialises the parameters, its ``"noise"`` stream, or ``default``,
draws the noise), an ``nnx.RngStream`` or a key. A stochastic layer keeps a fork of its
noise stream; ``model.eval()`` sets ``deterministic=True`` (the test-time function),
``model.train()`` undoes it, and ``deterministic`` at call time overrides both. Noise
scales are :class:`~rectify_jax.nnx.NoiseScale` variables, not trained
(:func:`~rectify_jax.nnx.set_noise_scale`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx
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
from rectify_jax.nnx._common import (
    NoiseScale,
    RngSource,
    call_key,
    capturing,
    check_source,
    is_deterministic,
    need_params,
    noise_stream,
    param_rngs,
)

Initializer = Callable[..., jax.Array]
Noise = Literal["half_normal", "normal"]
Residual = Literal["noise", "key"]
Generator = Literal["jax", "fast"]


def _one_per_feature(owner: str, rngs: RngSource, init, features: int | None, dtype):
    """A parameter of shape ``(features,)`` from ``init``, a number or an initialiser
    (which needs ``rngs``); ``features`` is required."""
    if features is None:
        raise TypeError(
            f"{owner}: this configuration has parameters (one per feature), so it needs "
            f"features=, the size of the input's last axis, e.g. {owner}(16, ...)"
        )
    if not callable(init):
        return nnx.Param(jnp.full((features,), init, dtype))
    return nnx.Param(init(need_params(owner, param_rngs(owner, rngs)).params(), (features,), dtype))


class PReLU(nnx.Module):
    r"""PReLU: a leaky ReLU with one learned slope per channel (the last axis).

    Computes :func:`rectify_jax.prelu`,

    .. math::
      \mathrm{prelu}(x) = \begin{cases} x, & x \ge 0 \\ a\,x, & x < 0 \end{cases}

    with the slope :math:`a` (``negative_slope``, shape ``(features,)``) initialised to
    0.25 (He et al. 2015) and cast to the input's dtype. Unlike ``flax.nnx.PReLU``
    (one scalar slope), the slope is per channel.

    Args:
      features: the size of the input's last axis.
      negative_slope_init: the initial slope, a number or an initialiser (which then
        needs ``rngs``).
      param_dtype: the dtype of the slope.
      rngs: an ``nnx.Rngs`` (its ``params`` stream), an ``nnx.RngStream`` or a key; only
        needed when ``negative_slope_init`` is an initialiser.

    Attributes:
      negative_slope: the learned slope, an ``nnx.Param`` of shape ``(features,)``.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.PReLU(3, rngs=nnx.Rngs(0))
      >>> layer(jnp.array([[-4.0, 1.0, -2.0]]))
      Array([[-1. ,  1. , -0.5]], dtype=float32)
    """

    def __init__(
        self,
        features: int,
        *,
        negative_slope_init: float | Initializer = 0.25,
        param_dtype: DTypeLike = jnp.float32,
        rngs: RngSource = None,
    ):
        arguments.check_known("PReLU", locals())  # the arguments, by name
        check_source("PReLU", rngs)
        self.features = features
        self.param_dtype = param_dtype
        self.negative_slope = _one_per_feature(
            "PReLU", rngs, negative_slope_init, features, param_dtype
        )

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = v.float_input("PReLU", x)
        return activations.prelu(x, self.negative_slope[...].astype(x.dtype))


class TLU(nnx.Module):
    r"""Tanh linear unit: ``x`` if ``x >= 0`` else ``alpha * tanh(x)``.

    Computes :func:`rectify_jax.tlu`,

    .. math::
      \mathrm{tlu}(x) = \begin{cases} x, & x \ge 0 \\ \alpha \tanh(x), & x < 0 \end{cases}

    with :math:`\alpha` the negative saturation value (as in ELU), fixed, or learned
    per channel with ``learn_alpha=True`` (Jiang & Wang 2018).

    Args:
      features: the size of the input's last axis; needed with ``learn_alpha``.
      alpha: the (initial) negative saturation value.
      learn_alpha: learn ``alpha``, one value per channel (an ``nnx.Param``).
      param_dtype: the dtype of a learned ``alpha``.
      rngs: unused (the initial ``alpha`` is a constant); accepted as by every layer.

    Attributes:
      alpha: the number, or with ``learn_alpha`` an ``nnx.Param`` of shape ``(features,)``.

    Examples:
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.TLU(alpha=0.5)
      >>> layer(jnp.array([[-30.0, 2.0]]))
      Array([[-0.5,  2. ]], dtype=float32)
    """

    def __init__(
        self,
        features: int | None = None,
        *,
        alpha: float = 1.0,
        learn_alpha: bool = False,
        param_dtype: DTypeLike = jnp.float32,
        rngs: RngSource = None,
    ):
        arguments.check_known("TLU", locals())
        check_source("TLU", rngs)
        self.features = features
        self.learn_alpha = learn_alpha
        self.param_dtype = param_dtype
        self.alpha: nnx.Param | float
        if learn_alpha:
            self.alpha = _one_per_feature("TLU", rngs, alpha, features, param_dtype)
        else:
            self.alpha = alpha

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = v.float_input("TLU", x)
        alpha = self.alpha
        if isinstance(alpha, nnx.Param):
            return activations.tlu(x, alpha=alpha[...].astype(x.dtype))
        return activations.tlu(x, alpha=alpha)


class RReLU(nnx.Module):
    r"""Randomised leaky ReLU: a negative slope drawn from U[lower, upper] per element.

    Computes :func:`rectify_jax.rrelu` (Xu et al. 2015),

    .. math::
      \mathrm{rrelu}(x) = \begin{cases} x, & x \ge 0 \\ a\,x, & x < 0 \end{cases},
      \qquad a \sim U[\mathrm{lower}, \mathrm{upper}],

    and at test time the mean slope :math:`(\mathrm{lower} + \mathrm{upper}) / 2`.

    Args:
      features: unused (no parameters); accepted as by every layer.
      lower: the smallest slope.
      upper: the largest slope.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      deterministic: if True, the test-time function (``model.eval()`` sets it).
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      rngs: an ``nnx.Rngs``, an ``nnx.RngStream`` or a key: the module keeps a fork of
        its noise stream (``rngs`` at call time takes precedence).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.RReLU(deterministic=True)
      >>> layer(jnp.array([-8.0]))
      Array([-1.8333334], dtype=float32)
      >>> layer = rjx.RReLU(rngs=nnx.Rngs(noise=0))
      >>> bool(-8 / 3 <= layer(jnp.array([-8.0]))[0] <= -1)
      True
    """

    def __init__(
        self,
        features: int | None = None,
        *,
        lower: float = 1 / 8,
        upper: float = 1 / 3,
        generator: Generator = "jax",
        deterministic: bool = False,
        rng_collection: str = "noise",
        rngs: RngSource = None,
    ):
        arguments.check_known("RReLU", locals())
        self.features = features
        self.lower, self.upper = lower, upper
        self.generator = generator
        self.deterministic = v.static_bool("RReLU", "deterministic", deterministic)
        self.rng_collection = rng_collection
        self.rngs = noise_stream("RReLU", rngs, rng_collection)

    def __call__(
        self, x: ArrayLike, *, deterministic: bool | None = None, rngs: RngSource = None
    ) -> jax.Array:
        """Applies the layer; ``deterministic`` and ``rngs`` here override the module's."""
        det = is_deterministic(self, deterministic)
        key = call_key(self, det, rngs)
        return stochastic.apply_rrelu("RReLU", x, key, self.lower, self.upper, det, self.generator)


class NReLU(nnx.Module):
    r"""Noisy ReLU: ``max(0, x + sqrt(sigmoid(x)) xi)``, xi ~ N(0, 1).

    Computes :func:`rectify_jax.nrelu` (Nair & Hinton 2010),

    .. math::
      \mathrm{nrelu}(x) = \max\bigl(0,\ x + \sqrt{\mathrm{sigmoid}(x)}\,\xi\bigr),
      \qquad \xi \sim \mathcal N(0, 1),

    and :math:`\mathrm{relu}(x)` at test time.

    Args:
      features: unused (no parameters); accepted as by every layer.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      deterministic: if True, ``relu(x)`` (``model.eval()`` sets it).
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      rngs: an ``nnx.Rngs``, an ``nnx.RngStream`` or a key: the module keeps a fork of
        its noise stream (``rngs`` at call time takes precedence).

    Examples:
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NReLU(deterministic=True)
      >>> layer(jnp.array([-1.0, 2.0]))
      Array([0., 2.], dtype=float32)
    """

    def __init__(
        self,
        features: int | None = None,
        *,
        generator: Generator = "jax",
        deterministic: bool = False,
        rng_collection: str = "noise",
        rngs: RngSource = None,
    ):
        arguments.check_known("NReLU", locals())
        self.features = features
        self.generator = generator
        self.deterministic = v.static_bool("NReLU", "deterministic", deterministic)
        self.rng_collection = rng_collection
        self.rngs = noise_stream("NReLU", rngs, rng_collection)

    def __call__(
        self, x: ArrayLike, *, deterministic: bool | None = None, rngs: RngSource = None
    ) -> jax.Array:
        """Applies the layer; ``deterministic`` and ``rngs`` here override the module's."""
        det = is_deterministic(self, deterministic)
        key = call_key(self, det, rngs)
        return stochastic.apply_nrelu("NReLU", x, key, det, self.generator)


def _output_noise(module, x: ArrayLike, deterministic, rngs, c) -> jax.Array:
    """The call of a noisy output unit, and what diagnostics read inside ``nnx.capture``
    (its inputs sown as ``"noisy_inputs"``, a perturbation of its output)."""
    owner = module.__class__.__name__
    det = is_deterministic(module, deterministic)
    x = v.float_input(owner, x)
    p = module.p[...].astype(x.dtype)
    c = module.c[...] if c is None else c
    key = call_key(module, det, rngs)
    options = output_noise.Options(module.noise, module.generator, module.residual, det)
    y = output_noise.apply(owner, module.unit, x, key, p, module.alpha, c, options)
    if not det and capturing(module):
        module.sow(nnx.Intermediate, "noisy_inputs", {"x": x, "key": key, "p": p, "c": c})
        y = module.perturb("output", y)
    return y


class NoisyActivation(nnx.Module):
    r"""Output noise (NAH / NAN) of any :class:`rectify_jax.NoisyUnit`, ``p`` learned per feature.

    Computes the unit's call (Gulcehre et al. 2016),

    .. math::
      \phi(x) = \alpha h(x) + (1-\alpha) u(x) + d(x)\,\sigma(x)\,\epsilon,
      \qquad \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,

    with :math:`h` the unit, :math:`u` its linear part, :math:`\Delta = h - u`,
    :math:`d = \mathrm{sgn}(\Delta)\,\mathrm{sgn}(1-\alpha)` and :math:`\epsilon =
    |\xi|` (NAH) or :math:`\xi` (NAN), :math:`\xi \sim \mathcal N(0, 1)`; a learned noise
    slope ``p`` per feature (the last axis) and the noise scale ``c``, a
    :class:`~rectify_jax.nnx.NoiseScale`: annealed, never trained. At test time the
    noise is its mean. A ``c`` passed at call time takes precedence.

    Args:
      features: the size of the input's last axis.
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`).
      alpha: the mixing factor of ``h`` and ``u``; None: the unit's.
      c: the initial noise scale; None: the unit's.
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      deterministic: if True, the test-time function (``model.eval()`` sets it).
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      param_dtype: the dtype of ``p`` and ``c``.
      rngs: an ``nnx.Rngs`` (``params`` initialises ``p``; the noise stream, or
        ``default``, is forked for the noise), an ``nnx.RngStream`` or a key.

    Attributes:
      p: the noise slopes, an ``nnx.Param`` of shape ``(features,)``.
      c: the noise scale, a :class:`~rectify_jax.nnx.NoiseScale`.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyActivation(2, unit=rj.HARD_SIGMOID_UNIT, rngs=nnx.Rngs(0))
      >>> layer.eval()
      >>> layer(jnp.array([[0.0, 0.0]]))
      Array([[0.5, 0.5]], dtype=float32)
    """

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
        deterministic: bool = False,
        rng_collection: str = "noise",
        param_dtype: DTypeLike = jnp.float32,
        rngs: RngSource = None,
    ):
        owner = "NoisyActivation"
        arguments.check_known(owner, locals())
        det = v.static_bool(owner, "deterministic", deterministic)
        self.features = features
        self.unit = unit
        self.alpha = alpha
        self.noise = noise
        self.residual = residual
        self.generator = generator
        self.deterministic = det
        self.rng_collection = rng_collection
        self.param_dtype = param_dtype
        self.p = _one_per_feature(owner, rngs, p_init, features, param_dtype)
        self.c = NoiseScale(jnp.asarray(unit.c if c is None else c, param_dtype))
        self.rngs = noise_stream(owner, rngs, rng_collection)

    def __call__(
        self,
        x: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """Applies the layer; ``deterministic``, ``rngs`` and ``c`` here override the module's."""
        return _output_noise(self, x, deterministic, rngs, c)


class NoisyHardTanh(nnx.Module):
    r"""Noisy hard tanh (NAH / NAN) with a learned noise slope ``p`` per feature.

    Computes :func:`rectify_jax.noisy_hard_tanh`,

    .. math::
      \alpha\,\mathrm{hard\_tanh}(x) + (1-\alpha)\,x + d(x)\,\sigma(x)\,\epsilon,
      \qquad \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,

    :math:`\Delta = \mathrm{hard\_tanh}(x) - x`, :math:`d = -\mathrm{sgn}(x)\,
    \mathrm{sgn}(1-\alpha)`, :math:`\epsilon = |\xi|` (NAH) or :math:`\xi` (NAN),
    :math:`\xi \sim \mathcal N(0, 1)`; ``p`` per feature (the last axis, initialised
    U[-1, 1]); the noise scale ``c`` a :class:`~rectify_jax.nnx.NoiseScale`: annealed,
    never trained (a ``c`` passed at call time takes precedence). At test time
    (``deterministic=True``, ``model.eval()``) the noise is replaced by its mean.
    Gulcehre et al. 2016.

    Args:
      features: the size of the input's last axis.
      alpha: the mixing factor of hard tanh and its linear part (1.15).
      c: the initial noise scale (0.5).
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      deterministic: if True, the test-time function (``model.eval()`` sets it).
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      param_dtype: the dtype of ``p`` and ``c``.
      rngs: an ``nnx.Rngs`` (``params`` initialises ``p``; the noise stream, or
        ``default``, is forked for the noise), an ``nnx.RngStream`` or a key.

    Attributes:
      unit: :data:`rectify_jax.HARD_TANH_UNIT`.
      p: the noise slopes, an ``nnx.Param`` of shape ``(features,)``.
      c: the noise scale, a :class:`~rectify_jax.nnx.NoiseScale`.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyHardTanh(2, rngs=nnx.Rngs(0))
      >>> layer(jnp.array([[-0.5, 0.5]]), deterministic=True)
      Array([[-0.5,  0.5]], dtype=float32)
      >>> layer(jnp.array([[-0.5, 0.5]])).shape  # noisy: a key from the module's stream
      (1, 2)
    """

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
        deterministic: bool = False,
        rng_collection: str = "noise",
        param_dtype: DTypeLike = jnp.float32,
        rngs: RngSource = None,
    ):
        owner = "NoisyHardTanh"
        arguments.check_known(owner, locals())
        det = v.static_bool(owner, "deterministic", deterministic)
        self.features = features
        self.unit = HARD_TANH_UNIT
        self.alpha = alpha
        self.noise = noise
        self.residual = residual
        self.generator = generator
        self.deterministic = det
        self.rng_collection = rng_collection
        self.param_dtype = param_dtype
        self.p = _one_per_feature(owner, rngs, p_init, features, param_dtype)
        self.c = NoiseScale(jnp.asarray(HARD_TANH_UNIT.c if c is None else c, param_dtype))
        self.rngs = noise_stream(owner, rngs, rng_collection)

    def __call__(
        self,
        x: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """Applies the layer; ``deterministic``, ``rngs`` and ``c`` here override the module's."""
        return _output_noise(self, x, deterministic, rngs, c)


class NoisyHardSigmoid(nnx.Module):
    r"""Noisy hard sigmoid (NAH / NAN) with a learned noise slope ``p`` per feature.

    Computes :func:`rectify_jax.noisy_hard_sigmoid`: the formula of
    :class:`NoisyHardTanh`,

    .. math::
      \alpha\,h(x) + (1-\alpha)\,u(x) + d(x)\,\sigma(x)\,\epsilon,
      \qquad h(x) = \mathrm{clip}(x/4 + 1/2, 0, 1), \quad u(x) = x/4 + 1/2,

    (Gulcehre et al. 2016). The arguments are :class:`NoisyHardTanh`'s, with
    ``alpha=1.1`` and ``c=0.15``; ``unit`` is :data:`rectify_jax.HARD_SIGMOID_UNIT`.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyHardSigmoid(2, deterministic=True, rngs=nnx.Rngs(0))
      >>> layer(jnp.array([[0.0, 0.0]]))
      Array([[0.5, 0.5]], dtype=float32)
    """

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
        deterministic: bool = False,
        rng_collection: str = "noise",
        param_dtype: DTypeLike = jnp.float32,
        rngs: RngSource = None,
    ):
        owner = "NoisyHardSigmoid"
        arguments.check_known(owner, locals())
        det = v.static_bool(owner, "deterministic", deterministic)
        self.features = features
        self.unit = HARD_SIGMOID_UNIT
        self.alpha = alpha
        self.noise = noise
        self.residual = residual
        self.generator = generator
        self.deterministic = det
        self.rng_collection = rng_collection
        self.param_dtype = param_dtype
        self.p = _one_per_feature(owner, rngs, p_init, features, param_dtype)
        self.c = NoiseScale(jnp.asarray(HARD_SIGMOID_UNIT.c if c is None else c, param_dtype))
        self.rngs = noise_stream(owner, rngs, rng_collection)

    def __call__(
        self,
        x: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """Applies the layer; ``deterministic``, ``rngs`` and ``c`` here override the module's."""
        return _output_noise(self, x, deterministic, rngs, c)


class InputNoisy(nnx.Module):
    r"""NANI: :math:`h(x + s\,\xi)`, input noise of a fixed scale ``s``.

    Computes :meth:`rectify_jax.NoisyUnit.input_noise` (Gulcehre et al. 2016),

    .. math::
      \phi(x) = h(x + s\,\xi), \qquad \xi \sim \mathcal N(0, 1),

    and :math:`h(x)` at test time.

    Args:
      features: unused (no parameters); accepted as by every layer.
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`).
      s: the noise scale; None: the unit's ``input_s`` (0.05).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      deterministic: if True, the test-time function (``model.eval()`` sets it).
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      rngs: an ``nnx.Rngs``, an ``nnx.RngStream`` or a key: the module keeps a fork of
        its noise stream (``rngs`` at call time takes precedence).

    Examples:
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.InputNoisy(deterministic=True)
      >>> layer(jnp.array([0.5, 9.0]))
      Array([0.5, 1. ], dtype=float32)
    """

    def __init__(
        self,
        features: int | None = None,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        s: float | None = None,
        generator: Generator = "jax",
        deterministic: bool = False,
        rng_collection: str = "noise",
        rngs: RngSource = None,
    ):
        arguments.check_known("InputNoisy", locals())
        self.features = features
        self.unit = unit
        self.s = s
        self.generator = generator
        self.deterministic = v.static_bool("InputNoisy", "deterministic", deterministic)
        self.rng_collection = rng_collection
        self.rngs = noise_stream("InputNoisy", rngs, rng_collection)

    def __call__(
        self, x: ArrayLike, *, deterministic: bool | None = None, rngs: RngSource = None
    ) -> jax.Array:
        """Applies the layer; ``deterministic`` and ``rngs`` here override the module's."""
        det = is_deterministic(self, deterministic)
        key = call_key(self, det, rngs)
        options = input_noise.Options("fixed", self.generator, det)
        return input_noise.apply("InputNoisy", self.unit, x, key, options, s=self.s)


class SaturatedInputNoisy(nnx.Module):
    r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates.

    Computes :meth:`rectify_jax.NoisyUnit.saturated_input_noise`,

    .. math::
      \phi(x) = h\bigl(x + \mathbb 1[h'(x) = 0]\,s\,\xi\bigr), \qquad \xi \sim \mathcal N(0, 1),

    and :math:`h(x)` at test time. The arguments are :class:`InputNoisy`'s; ``s`` None
    is the unit's ``saturated_s`` (0.25).

    Examples:
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.SaturatedInputNoisy(deterministic=True)
      >>> layer(jnp.array([0.5, 9.0]))
      Array([0.5, 1. ], dtype=float32)
    """

    def __init__(
        self,
        features: int | None = None,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        s: float | None = None,
        generator: Generator = "jax",
        deterministic: bool = False,
        rng_collection: str = "noise",
        rngs: RngSource = None,
    ):
        arguments.check_known("SaturatedInputNoisy", locals())
        self.features = features
        self.unit = unit
        self.s = s
        self.generator = generator
        self.deterministic = v.static_bool("SaturatedInputNoisy", "deterministic", deterministic)
        self.rng_collection = rng_collection
        self.rngs = noise_stream("SaturatedInputNoisy", rngs, rng_collection)

    def __call__(
        self, x: ArrayLike, *, deterministic: bool | None = None, rngs: RngSource = None
    ) -> jax.Array:
        """Applies the layer; ``deterministic`` and ``rngs`` here override the module's."""
        det = is_deterministic(self, deterministic)
        key = call_key(self, det, rngs)
        options = input_noise.Options("saturated", self.generator, det)
        return input_noise.apply("SaturatedInputNoisy", self.unit, x, key, options, s=self.s)


class LearnedInputNoisy(nnx.Module):
    r"""NANIL: :math:`h(x + \sigma(x)\,\xi)`, ``p`` learned per feature, ``c`` annealable.

    Computes :meth:`rectify_jax.NoisyUnit.learned_input_noise` (Gulcehre et al. 2016),

    .. math::
      \phi(x) = h(x + \sigma(x)\,\xi), \qquad
      \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,

    and :math:`h(x)` at test time. ``c`` is a :class:`~rectify_jax.nnx.NoiseScale`; one
    passed at call time takes precedence.

    Args:
      features: the size of the input's last axis.
      unit: the noisy unit (default :data:`rectify_jax.HARD_TANH_UNIT`).
      c: the initial noise scale; None: the unit's.
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      deterministic: if True, the test-time function (``model.eval()`` sets it).
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      param_dtype: the dtype of ``p`` and ``c``.
      rngs: an ``nnx.Rngs`` (``params`` initialises ``p``; the noise stream, or
        ``default``, is forked for the noise), an ``nnx.RngStream`` or a key.

    Attributes:
      p: the noise slopes, an ``nnx.Param`` of shape ``(features,)``.
      c: the noise scale, a :class:`~rectify_jax.nnx.NoiseScale`.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.LearnedInputNoisy(2, deterministic=True, rngs=nnx.Rngs(0))
      >>> layer(jnp.array([[0.5, 9.0]]))
      Array([[0.5, 1. ]], dtype=float32)
    """

    def __init__(
        self,
        features: int,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        c: float | None = None,
        generator: Generator = "jax",
        p_init: Initializer = uniform_range(-1.0, 1.0),
        deterministic: bool = False,
        rng_collection: str = "noise",
        param_dtype: DTypeLike = jnp.float32,
        rngs: RngSource = None,
    ):
        arguments.check_known("LearnedInputNoisy", locals())
        self.features = features
        self.unit = unit
        self.generator = generator
        self.deterministic = v.static_bool("LearnedInputNoisy", "deterministic", deterministic)
        self.rng_collection = rng_collection
        self.param_dtype = param_dtype
        self.p = _one_per_feature("LearnedInputNoisy", rngs, p_init, features, param_dtype)
        self.c = NoiseScale(jnp.asarray(unit.c if c is None else c, param_dtype))
        self.rngs = noise_stream("LearnedInputNoisy", rngs, rng_collection)

    def __call__(
        self,
        x: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        c: ArrayLike | None = None,
    ) -> jax.Array:
        """Applies the layer; ``deterministic``, ``rngs`` and ``c`` here override the module's."""
        det = is_deterministic(self, deterministic)
        x = v.float_input("LearnedInputNoisy", x)
        key = call_key(self, det, rngs)
        options = input_noise.Options("learned", self.generator, det)
        p, c = self.p[...].astype(x.dtype), self.c[...] if c is None else c
        return input_noise.apply("LearnedInputNoisy", self.unit, x, key, options, p=p, c=c)
