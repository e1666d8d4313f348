"""flax.nnx modules over the rectify_jax functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rectify_jax._src import activations, diagnostics, stochastic
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.cells import (
    NoiseConfig,
    gru_layout,
    layout_initializers,
    lstm_layout,
    noisy_gru_step,
    noisy_lstm_step,
)
from rectify_jax._src.initializers import identity, uniform_range
from rectify_jax._src.output_noise import RESIDUALS
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT, NoisyUnit

Initializer = Callable[..., jax.Array]
Dtype = Any
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


def _stream(owner: str, rngs, collection: str):
    """The module's own noise stream, forked from what the constructor got (as nnx.Dropout)."""
    if rngs is None:
        return nnx.data(None)
    if isinstance(rngs, nnx.Rngs):
        return rngs[collection].fork()  # falls back to the 'default' stream
    if isinstance(rngs, nnx.RngStream):
        return rngs.fork()
    if isinstance(rngs, jax.Array):
        return nnx.RngStream(noise_lib.as_key(owner, rngs), tag=collection)
    raise TypeError(
        f"{owner}: rngs must be an nnx.Rngs, an nnx.RngStream, a PRNG key or None, "
        f"got {type(rngs).__name__}"
    )


class _Stochastic(nnx.Module):
    """Shared plumbing: the ``deterministic`` flag and where this call's key comes from."""

    def _key(self, deterministic: bool | None, rngs: RngSource):
        name = type(self).__name__
        det = v.static_bool(
            name, "deterministic", self.deterministic if deterministic is None else deterministic
        )
        if det:
            return True, None
        source = self.rngs if rngs is None else rngs
        if isinstance(source, nnx.Rngs):
            return False, source[self.rng_collection]()
        if isinstance(source, nnx.RngStream):
            return False, source()
        if source is None:
            raise ValueError(
                f"{name}: deterministic=False but there is no PRNG source. Either\n"
                f"  1. pass rngs=nnx.Rngs({self.rng_collection}=seed) (or nnx.Rngs(seed)) to "
                f"the constructor,\n"
                f"  2. pass rngs= (an nnx.Rngs, RngStream or key) to the call, or\n"
                f"  3. call model.eval() or pass deterministic=True for the test-time function."
            )
        return False, source


class PReLU(nnx.Module):
    """PReLU, one learned slope per channel (last axis): ``x`` if ``x >= 0`` else ``alpha x``.

    ``nnx.PReLU`` learns a single scalar; here ``alpha`` has shape ``(features,)``,
    initialised to 0.25 (He et al. 2015) and cast to the input's dtype.

    Examples:
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.PReLU(3)
      >>> layer(jnp.array([[-4.0, 1.0, -2.0]]))
      Array([[-1. ,  1. , -0.5]], dtype=float32)
    """

    def __init__(
        self, features: int, *, alpha_init: float = 0.25, param_dtype: Dtype = jnp.float32
    ):
        self.alpha = nnx.Param(jnp.full((features,), alpha_init, param_dtype))

    def __call__(self, x):
        return activations.prelu(x, self.alpha[...].astype(jnp.asarray(x).dtype))


class TLU(nnx.Module):
    """Tanh linear unit ``x`` if ``x >= 0`` else ``alpha tanh(x)``; ``alpha`` learned per
    channel when ``features`` is given, fixed otherwise.

    Examples:
      >>> from rectify_jax import nnx as rjx
      >>> rjx.TLU(2, alpha=0.5).alpha[...]
      Array([0.5, 0.5], dtype=float32)
      >>> rjx.TLU(alpha=0.5)(jnp.array([-30.0]))
      Array([-0.5], dtype=float32)
    """

    def __init__(
        self, features: int | None = None, *, alpha: float = 1.0, param_dtype: Dtype = jnp.float32
    ):
        self.alpha = (
            alpha if features is None else nnx.Param(jnp.full((features,), alpha, param_dtype))
        )

    def __call__(self, x):
        alpha = self.alpha
        if isinstance(alpha, nnx.Param):
            alpha = alpha[...].astype(jnp.asarray(x).dtype)
        return activations.tlu(x, alpha=alpha)


class RReLU(_Stochastic):
    """Randomised leaky ReLU (:func:`rectify_jax.rrelu`) with NNX randomness.

    ``rngs`` (constructor or call) may be an ``nnx.Rngs`` (its ``"noise"`` stream, or
    ``default`` as a fallback), an ``RngStream`` or a key. ``model.eval()`` sets
    ``deterministic=True`` (mean slope), ``model.train()`` undoes it.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.RReLU(rngs=nnx.Rngs(noise=0))
      >>> y = layer(-jnp.ones(1000))
      >>> bool(jnp.all((y <= -1 / 8) & (y >= -1 / 3)))
      True
      >>> layer.eval()
      >>> layer(jnp.array([-8.0]))
      Array([-1.8333334], dtype=float32)
    """

    def __init__(
        self,
        *,
        lower: float = 1 / 8,
        upper: float = 1 / 3,
        deterministic: bool = False,
        rng_collection: str = "noise",
        generator: str = "jax",
        rngs: RngSource = None,
    ):
        self.lower, self.upper = lower, upper
        self.deterministic, self.rng_collection = deterministic, rng_collection
        self.generator = generator
        self.rngs = _stream("RReLU", rngs, rng_collection)

    def __call__(self, x, *, deterministic: bool | None = None, rngs: RngSource = None):
        det, key = self._key(deterministic, rngs)
        return stochastic.rrelu(
            x, key, lower=self.lower, upper=self.upper, deterministic=det, generator=self.generator
        )


class NReLU(_Stochastic):
    """Noisy ReLU (:func:`rectify_jax.nrelu`) with NNX randomness (see :class:`RReLU`).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> bool(jnp.all(rjx.NReLU(rngs=nnx.Rngs(0))(jnp.linspace(-2, 2, 9)) >= 0))
      True
    """

    def __init__(
        self,
        *,
        deterministic: bool = False,
        rng_collection: str = "noise",
        generator: str = "jax",
        rngs: RngSource = None,
    ):
        self.deterministic, self.rng_collection = deterministic, rng_collection
        self.generator = generator
        self.rngs = _stream("NReLU", rngs, rng_collection)

    def __call__(self, x, *, deterministic: bool | None = None, rngs: RngSource = None):
        det, key = self._key(deterministic, rngs)
        return stochastic.nrelu(x, key, deterministic=det, generator=self.generator)


class NoisyActivation(_Stochastic):
    r"""Output-noise unit (NAH/NAN) of a :class:`rectify_jax.NoisyUnit`, as an NNX module.

    Computes :math:`\alpha h + (1-\alpha) u + d\,\sigma\,\epsilon` (see
    :class:`rectify_jax.NoisyUnit`) with a learned noise slope ``p`` of shape
    ``(features,)`` initialised :math:`U[-1, 1]`, and the noise scale ``c`` held in a
    :class:`NoiseScale` variable (annealed with :func:`set_noise_scale`; a ``c``
    passed at call time takes precedence). Follows ``model.eval()``/``model.train()``.

    Args:
      features: size of the last axis (one ``p`` per feature).
      unit: the noisy unit (default hard tanh).
      alpha, c: None means the unit's defaults.
      noise: ``"half_normal"`` or ``"normal"``.
      deterministic: test-time function if True.
      residual: ``"noise"`` or ``"key"``.
      p_init: initialiser of ``p``.
      param_dtype: dtype of ``p`` and ``c``.
      rng_collection: the stream taken from an ``nnx.Rngs`` (default ``"noise"``).
      generator: ``"jax"`` (``jax.random``) or ``"fast"`` (counter-based) noise.
      rngs: ``nnx.Rngs`` (``params`` initialises ``p``; ``noise`` or ``default`` draws noise).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> unit = rj.NoisyUnit(h=rj.relu, u=lambda x: x, threshold=(0.0, float("inf")))
      >>> layer = rjx.NoisyActivation(2, unit=unit, rngs=nnx.Rngs(0))
      >>> layer(jnp.array([[-1.0, 2.0]]))[0, 1]
      Array(2., dtype=float32)
    """

    def __init__(
        self,
        features: int,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        alpha: float | None = None,
        c: float | None = None,
        noise: str = "half_normal",
        deterministic: bool = False,
        residual: str = "noise",
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: Dtype = jnp.float32,
        rng_collection: str = "noise",
        generator: str = "jax",
        rngs: nnx.Rngs,
    ):
        name = type(self).__name__
        v.one_of(name, "noise", noise, noise_lib.NOISE_KINDS)
        v.one_of(name, "residual", residual, RESIDUALS)
        v.one_of(name, "generator", generator, noise_lib.GENERATORS)
        self.unit, self.noise, self.residual = unit, noise, residual
        self.alpha = unit.alpha if alpha is None else alpha
        self.deterministic, self.rng_collection = deterministic, rng_collection
        self.generator = generator
        self.p = nnx.Param(p_init(rngs.params(), (features,), param_dtype))
        self.c = NoiseScale(jnp.asarray(unit.c if c is None else c, param_dtype))
        self.rngs = _stream(name, rngs, rng_collection)
        self._diagnose = False  # set by noisy_path_shares while it runs under nnx.capture

    def __call__(self, x, *, deterministic: bool | None = None, c=None, rngs: RngSource = None):
        det, key = self._key(deterministic, rngs)
        p = self.p[...].astype(jnp.asarray(x).dtype)
        c = self.c[...] if c is None else c
        y = self.unit(
            x,
            key,
            p=p,
            alpha=self.alpha,
            c=c,
            noise=self.noise,
            deterministic=det,
            residual=self.residual,
            generator=self.generator,
        )
        if self._diagnose and not det:
            paths = diagnostics.noisy_gradient_paths(
                self.unit,
                x,
                key,
                p=p,
                alpha=self.alpha,
                c=c,
                noise=self.noise,
                generator=self.generator,
            )
            self.sow(nnx.Intermediate, "gradient_paths", paths)
            y = self.perturb("output", y)
        return y


class NoisyHardTanh(NoisyActivation):
    """:func:`rectify_jax.noisy_hard_tanh` as an NNX module (alpha 1.15, c 0.5, ``p`` learned).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyHardTanh(3, rngs=nnx.Rngs(0))
      >>> y = layer(jnp.array([[-3.0, 0.5, 3.0]]))
      >>> float(y[0, 1])  # no noise in the linear range
      0.5
      >>> layer.eval()  # test time: noise replaced by its mean
      >>> bool(jnp.all(layer(jnp.full((1, 3), 3.0)) == layer(jnp.full((1, 3), 3.0))))
      True
    """

    def __init__(self, features: int, **kwargs):
        super().__init__(features, unit=HARD_TANH_UNIT, **kwargs)


class NoisyHardSigmoid(NoisyActivation):
    """:func:`rectify_jax.noisy_hard_sigmoid` as an NNX module (alpha 1.1, c 0.15, ``p`` learned).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> rjx.NoisyHardSigmoid(2, deterministic=True, rngs=nnx.Rngs(0))(jnp.zeros((1, 2)))
      Array([[0.5, 0.5]], dtype=float32)
    """

    def __init__(self, features: int, **kwargs):
        super().__init__(features, unit=HARD_SIGMOID_UNIT, **kwargs)


class InputNoisy(_Stochastic):
    r"""NANI: :math:`h(x + s\xi)`, input noise of fixed scale ``s`` (default 0.05).

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.InputNoisy(unit=rj.HARD_SIGMOID_UNIT, rngs=nnx.Rngs(0))
      >>> bool(jnp.all(jnp.abs(layer(jnp.zeros(3)) - 0.5) < 0.1))
      True
    """

    _method = "input_noise"

    def __init__(
        self,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        s: float = 0.05,
        deterministic: bool = False,
        rng_collection: str = "noise",
        generator: str = "jax",
        rngs: RngSource = None,
    ):
        self.unit, self.s = unit, s
        self.deterministic, self.rng_collection = deterministic, rng_collection
        self.generator = generator
        self.rngs = _stream(type(self).__name__, rngs, rng_collection)

    def __call__(self, x, *, deterministic: bool | None = None, rngs: RngSource = None):
        det, key = self._key(deterministic, rngs)
        return getattr(self.unit, self._method)(
            x, key, s=self.s, deterministic=det, generator=self.generator
        )


class SaturatedInputNoisy(InputNoisy):
    r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> rjx.SaturatedInputNoisy(rngs=nnx.Rngs(0))(jnp.array([0.5]))
      Array([0.5], dtype=float32)
    """

    _method = "saturated_input_noise"

    def __init__(self, *, s: float = 0.25, **kwargs):
        super().__init__(s=s, **kwargs)


class LearnedInputNoisy(_Stochastic):
    r"""NANIL: :math:`h(x + \sigma(x)\xi)` with ``p`` learned per feature, ``c`` annealable.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.LearnedInputNoisy(4, rngs=nnx.Rngs(0))
      >>> layer.p[...].shape, layer.c[...]
      ((4,), Array(0.5, dtype=float32))
    """

    def __init__(
        self,
        features: int,
        *,
        unit: NoisyUnit = HARD_TANH_UNIT,
        c: float | None = None,
        deterministic: bool = False,
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: Dtype = jnp.float32,
        rng_collection: str = "noise",
        generator: str = "jax",
        rngs: nnx.Rngs,
    ):
        self.unit = unit
        self.deterministic, self.rng_collection = deterministic, rng_collection
        self.generator = generator
        self.p = nnx.Param(p_init(rngs.params(), (features,), param_dtype))
        self.c = NoiseScale(jnp.asarray(unit.c if c is None else c, param_dtype))
        self.rngs = _stream(type(self).__name__, rngs, rng_collection)

    def __call__(self, x, *, deterministic: bool | None = None, c=None, rngs: RngSource = None):
        det, key = self._key(deterministic, rngs)
        return self.unit.learned_input_noise(
            x,
            key,
            p=self.p[...].astype(jnp.asarray(x).dtype),
            c=self.c[...] if c is None else c,
            deterministic=det,
            generator=self.generator,
        )


class _NoisyCell(nnx.RNNCellBase, _Stochastic):
    _layout = staticmethod(lstm_layout)
    _step = staticmethod(noisy_lstm_step)

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        *,
        noise: str = "half_normal",
        gate_alpha: float = 1.1,
        tanh_alpha: float = 1.15,
        gate_c: float = 0.15,
        tanh_c: float = 0.5,
        deterministic: bool = False,
        residual: str = "noise",
        kernel_init: Initializer = nnx.initializers.lecun_normal(),
        recurrent_kernel_init: Initializer = nnx.initializers.orthogonal(),
        bias_init: Initializer = nnx.initializers.zeros_init(),
        p_init: Initializer = uniform_range(-1.0, 1.0),
        param_dtype: Dtype = jnp.float32,
        rng_collection: str = "noise",
        generator: str = "jax",
        gates: str = "noisy",
        rngs: nnx.Rngs,
    ):
        self.config = NoiseConfig(noise, gate_alpha, tanh_alpha, residual, generator, gates)
        self.config.check(type(self).__name__)
        self.in_features, self.hidden_features = in_features, hidden_features
        self.param_dtype = param_dtype
        inits = {
            "kernel": kernel_init,
            "recurrent": recurrent_kernel_init,
            "bias": bias_init,
            "p": p_init,
        }
        layout = layout_initializers(self._layout(in_features, hidden_features), inits)
        self._names = tuple(layout)
        for name, (shape, init) in layout.items():
            setattr(self, name, nnx.Param(init(rngs.params(), shape, param_dtype)))
        self.gate_c = NoiseScale(jnp.asarray(gate_c, param_dtype))
        self.tanh_c = NoiseScale(jnp.asarray(tanh_c, param_dtype))
        self.deterministic, self.rng_collection = deterministic, rng_collection
        self.rngs = _stream(type(self).__name__, rngs, rng_collection)

    def __call__(self, carry, x, *, rngs: RngSource = None):
        return self.step_with_preactivations(carry, x, rngs=rngs)[:2]

    def step_with_preactivations(self, carry, x, *, rngs: RngSource = None):
        """One step, also returning the inputs of the noisy units (a dict), for diagnostics."""
        noiseless = self.config.gates != "noisy"  # hard or soft gates draw no noise
        det, key = (True, None) if noiseless else self._key(None, rngs)
        params = {name: getattr(self, name)[...] for name in self._names}
        return self._step(
            params,
            carry,
            x,
            key,
            gate_c=self.gate_c[...],
            tanh_c=self.tanh_c[...],
            config=self.config,
            deterministic=det,
            with_preactivations=True,
        )

    def _zeros(self, input_shape):
        return jnp.zeros((*input_shape[:-1], self.hidden_features), self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1


class NoisyLSTMCell(_NoisyCell):
    r"""LSTM cell with noisy hard-sigmoid gates and noisy hard tanh units (NNX).

    The same cell as :class:`rectify_jax.linen.NoisyLSTMCell` (same parameter names,
    math, per-gate-block initialisation and ``gates`` switch; see there). Each call
    draws one key from its ``"noise"`` stream, so under ``nnx.RNN`` (which carries the
    stream's counter through the scan) every time step gets fresh noise.
    ``model.eval()`` switches to the test-time cell. ``cell(carry, x, rngs=key)`` uses
    ``key`` instead of the cell's stream.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> model = nnx.RNN(rjx.NoisyLSTMCell(3, 8, rngs=nnx.Rngs(0)))
      >>> model(jnp.ones((2, 5, 3))).shape  # (batch, time, features)
      (2, 5, 8)
    """

    def initialize_carry(self, input_shape, rngs=None, carry_init=None):
        zeros = self._zeros(input_shape)
        return zeros, zeros


class NoisyGRUCell(_NoisyCell):
    r"""GRU cell with noisy hard-sigmoid gates and a noisy hard tanh candidate (NNX).

    The same cell as :class:`rectify_jax.linen.NoisyGRUCell`; the carry is ``h``.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> cell = rjx.NoisyGRUCell(3, 4, deterministic=True, rngs=nnx.Rngs(0))
      >>> h, y = cell(cell.initialize_carry((2, 3)), jnp.ones((2, 3)))
      >>> y.shape
      (2, 4)
    """

    _layout = staticmethod(gru_layout)
    _step = staticmethod(noisy_gru_step)

    def initialize_carry(self, input_shape, rngs=None, carry_init=None):
        return self._zeros(input_shape)


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
        rngs: nnx.Rngs,
        **kwargs,
    ):
        kwargs.setdefault("activation_fn", activations.relu)
        kwargs.setdefault("bias_init", nnx.initializers.zeros_init())
        super().__init__(
            in_features, hidden_features, recurrent_kernel_init=identity(scale), rngs=rngs, **kwargs
        )
