"""Recurrent cells and their RNN for ``flax.linen``: drop-ins for flax's ``LSTMCell``,
``GRUCell`` and ``RNN`` whose gates are noisy units.

The noisy cells take flax's constructor arguments and hold flax's parameter tree
(one ``Dense`` per gate: ``ii`` ... ``ho`` for the LSTM, ``ir`` ... ``hn`` for the GRU),
plus the noise slopes ``p`` when the gates are noisy, so a trained flax checkpoint
loads unchanged and ``gates="soft"`` is flax's cell. :class:`RNN` takes every option of
``flax.linen.RNN`` and draws the noise of all steps in one call before the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core.scope import PRNGSequenceFilter
from jax.typing import ArrayLike, DTypeLike

from rectify_jax._src import activations, arguments, cells, sequence
from rectify_jax._src import validation as v
from rectify_jax._src.initializers import identity, in_float32, uniform_range
from rectify_jax._src.units import (
    HARD_SIGMOID_ALPHA,
    HARD_SIGMOID_C,
    HARD_TANH_ALPHA,
    HARD_TANH_C,
)
from rectify_jax.linen._common import NOISE_SCALE, check_fields, noise_key, noise_scale

Initializer = nn.initializers.Initializer
Noise = Literal["half_normal", "normal"]
Residual = Literal["noise", "key"]
Generator = Literal["jax", "fast"]
Gates = Literal["noisy", "hard", "soft"]


class _Dense(nn.Module):
    """The kernel (and bias) of one gate under flax's names, without the product: the
    cell fuses the gates' kernels into one product per step."""

    features: int
    use_bias: bool
    kernel_init: Initializer
    bias_init: Initializer
    param_dtype: DTypeLike

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array | None]:
        shape = (in_features, self.features)
        kernel = self.param("kernel", in_float32(self.kernel_init), shape, self.param_dtype)
        if not self.use_bias:
            return kernel, None
        bias_init = in_float32(self.bias_init)
        return kernel, self.param("bias", bias_init, (self.features,), self.param_dtype)


class _NoisyCell(nn.RNNCellBase):
    """What the two noisy cells share: options, checks, noise scales and the carry."""

    features: int
    noise: Noise = "half_normal"
    gate_alpha: float = HARD_SIGMOID_ALPHA
    tanh_alpha: float = HARD_TANH_ALPHA
    gate_c: float = HARD_SIGMOID_C
    tanh_c: float = HARD_TANH_C
    residual: Residual = "noise"
    generator: Generator = "jax"
    gates: Gates = "noisy"
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros_init()
    p_init: Initializer = uniform_range(-1.0, 1.0)
    dtype: DTypeLike | None = None
    param_dtype: DTypeLike = jnp.float32
    carry_init: Initializer = nn.initializers.zeros_init()
    deterministic: bool = False
    rng_collection: str = "noise"

    def __post_init__(self):
        v.size(self.__class__.__name__, "features", self.features)
        check_fields(self)
        super().__post_init__()

    @nn.nowrap
    def noise_config(self) -> cells.NoiseConfig:
        """The static options of the cell's noisy units."""
        return cells.NoiseConfig(
            self.noise, self.gate_alpha, self.tanh_alpha, self.residual, self.generator, self.gates
        )

    @nn.nowrap
    def step_noise(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: DTypeLike):
        """The noise one step draws from ``key`` (:class:`RNN` draws a sequence's at once)."""
        kind = self.kind  # type: ignore[attr-defined]
        return cells.step_noise(self.noise_config(), key, batch_shape, self.features, kind, dtype)

    def _dense(self, name: str, use_bias: bool, recurrent: bool) -> _Dense:
        init = self.recurrent_kernel_init if recurrent else self.kernel_init
        return _Dense(self.features, use_bias, init, self.bias_init, self.param_dtype, name=name)

    def _p(self, units: int) -> jax.Array | None:
        """The noise slopes ``(units, features)``; None without noisy gates. Applied with
        parameters that hold no ``p`` (a flax checkpoint), the functions' default 1."""
        if self.gates != "noisy":
            return None
        shape = (units, self.features)
        if self.is_initializing() or self.has_variable("params", "p"):
            return self.param("p", self.p_init, shape, self.param_dtype)
        return jnp.ones(shape, self.param_dtype)

    def _noise_inputs(self, deterministic: bool | None, rng, noise):
        """``(det, key, gate_c, tanh_c)`` for one step."""
        det = self.deterministic if deterministic is None else deterministic
        det = v.static_bool(type(self).__name__, "deterministic", det)
        noisy = self.gates == "noisy"
        key = None if det or not noisy or noise is not None else noise_key(self, rng)
        gate_c = noise_scale(self, "gate_c", self.gate_c) if noisy else self.gate_c
        tanh_c = noise_scale(self, "tanh_c", self.tanh_c) if noisy else self.tanh_c
        return det, key, gate_c, tanh_c

    @property
    def num_feature_axes(self) -> int:
        return 1


class NoisyLSTMCell(_NoisyCell):
    r"""LSTM cell whose gates are noisy hard sigmoids and whose tanh units are noisy.

    .. math::
      i, f, o = \tilde\sigma(W_{i\cdot} x + W_{h\cdot} h + b_\cdot), \quad
      g = \tilde t(W_{ig} x + W_{hg} h + b_g), \quad
      c' = f c + i g, \quad h' = o\,\tilde t(c')

    as in the LSTM experiments of Gulcehre et al. (2016): :math:`\tilde\sigma` is
    :func:`rectify_jax.noisy_hard_sigmoid` (``alpha=gate_alpha``, ``c=gate_c``) and
    :math:`\tilde t` is :func:`rectify_jax.noisy_hard_tanh` (``tanh_alpha``,
    ``tanh_c``), each of the five units with its own learned noise slope, the rows of
    ``p`` (shape ``(5, features)``, order i, f, g, o and the cell output). The noise
    scales are in the ``"noise_scale"`` collection (annealed, never trained; applied with
    ``{"params": ...}`` alone they take the attributes' values). The noise comes from the
    ``"noise"`` stream; use the cell with :class:`RNN` (or :func:`rnn`), which gives every
    step fresh noise.

    A drop-in for ``flax.linen.LSTMCell``: the same constructor arguments, the same carry
    ``(c, h)`` and the same parameters (``ii``, ``if``, ``ig``, ``io`` kernels;
    ``hi``, ``hf``, ``hg``, ``ho`` kernels and biases, initialised alike from the same
    key), plus ``p``. ``gates="soft"`` (sigmoid and tanh) computes flax's cell and holds
    exactly its parameters, so a flax checkpoint loads into any of the three; a noisy
    cell initialises only its ``p``. ``gates="hard"`` runs hard sigmoid / hard tanh:
    the controls of a comparison. ``deterministic=True`` (attribute or call) replaces the
    noise by its mean: the test-time cell, or the noisy units' expectation in training.

    Attributes:
      features: the hidden size.
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      gate_alpha, tanh_alpha: the mixing factors of the gates (1.1) and tanh units (1.15).
      gate_c, tanh_c: the initial noise scales of the gates (0.15) and tanh units (0.5).
      residual: ``"noise"`` or ``"key"``: what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``'s numbers) or ``"fast"`` (counter-based).
      gates: ``"noisy"``, or ``"hard"`` / ``"soft"`` for controls (no ``p`` then).
      kernel_init: the input kernels' initialiser (LeCun normal, as flax).
      recurrent_kernel_init: the recurrent kernels' initialiser (orthogonal, as flax).
      bias_init: the biases' initialiser (zeros).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      dtype: the computation dtype; None promotes the inputs and parameters, as flax.
      param_dtype: the parameters' dtype (16-bit ones are initialised in float32 and
        rounded once).
      carry_init: the initialiser of :meth:`initialize_carry` (zeros).
      deterministic: if True, the noise is replaced by its mean.
      rng_collection: the PRNG stream the noise is drawn from.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> cell = rjl.NoisyLSTMCell(features=4)
      >>> x = jnp.ones((2, 3))
      >>> carry = cell.initialize_carry(jax.random.key(0), x.shape)
      >>> variables = cell.init({"params": jax.random.key(1), "noise": jax.random.key(2)},
      ...                       carry, x)
      >>> sorted(variables["params"])
      ['hf', 'hg', 'hi', 'ho', 'if', 'ig', 'ii', 'io', 'p']
      >>> (c, h), y = cell.apply(variables, carry, x, rngs={"noise": jax.random.key(3)})
      >>> y.shape
      (2, 4)
    """

    kind = "lstm"

    @nn.compact
    def __call__(
        self,
        carry: tuple[jax.Array, jax.Array],
        inputs: ArrayLike,
        deterministic: bool | None = None,
        *,
        rng: jax.Array | None = None,
        noise: Any = None,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """One step. ``deterministic`` here overrides the attribute; ``rng`` replaces the
        stream; ``noise`` is the step's noise drawn ahead (what :class:`RNN` passes)."""
        inputs = v.float_input(self.__class__.__name__, inputs, "inputs")
        n_in = jnp.shape(inputs)[-1]
        w_i = [self._dense(name, False, False)(n_in)[0] for name in cells.LSTM_INPUT]
        w_h, b = zip(
            *(self._dense(name, True, True)(self.features) for name in cells.LSTM_RECURRENT),
            strict=True,
        )
        p = self._p(len(cells.LSTM_P))
        det, key, gate_c, tanh_c = self._noise_inputs(deterministic, rng, noise)
        carry, y, pre = cells.noisy_lstm_step(
            cells.fuse_lstm(w_i, w_h, b, p),
            carry,
            inputs,
            key,
            gate_c=gate_c,
            tanh_c=tanh_c,
            config=self.noise_config(),
            deterministic=det,
            dtype=self.dtype,
            with_preactivations=True,
            noise=noise,
        )
        # For diagnostics: a no-op unless "intermediates" is mutable.
        self.sow("intermediates", "preactivations", pre)
        return carry, y

    @nn.nowrap
    def initialize_carry(
        self, rng: jax.Array | None, input_shape: tuple[int, ...]
    ) -> tuple[jax.Array, jax.Array]:
        """``(c, h)`` from ``carry_init``, each ``(*input_shape[:-1], features)``, as flax."""
        batch = tuple(input_shape[:-1])
        return sequence.initial_carry(
            self.carry_init, rng, batch, self.features, self.param_dtype, parts=2
        )


class NoisyGRUCell(_NoisyCell):
    r"""GRU cell whose gates are noisy hard sigmoids and whose candidate is a noisy hard tanh.

    .. math::
      r, z = \tilde\sigma(W_{i\cdot} x + b_{i\cdot} + W_{h\cdot} h), \quad
      n = \tilde t(W_{in} x + b_{in} + r\,(W_{hn} h + b_{hn})), \quad
      h' = (1 - z)\,n + z\,h

    with the noisy units of :class:`NoisyLSTMCell` (Gulcehre et al. 2016), three rows of
    ``p`` (r, z, n) and the gate convention of ``flax.linen.GRUCell``. A drop-in for it:
    the same constructor arguments, the carry ``h`` and flax's parameters (``ir``, ``iz``,
    ``in`` kernels and biases; ``hr``, ``hz`` kernels; ``hn`` kernel and bias), plus
    ``p`` when the gates are noisy. The attributes are :class:`NoisyLSTMCell`'s.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> cell = rjl.NoisyGRUCell(features=4, deterministic=True)
      >>> x = jnp.ones((2, 3))
      >>> carry = cell.initialize_carry(jax.random.key(0), x.shape)
      >>> variables = cell.init(jax.random.key(1), carry, x)
      >>> sorted(variables["params"])
      ['hn', 'hr', 'hz', 'in', 'ir', 'iz', 'p']
      >>> cell.apply(variables, carry, x)[1].shape
      (2, 4)
    """

    kind = "gru"

    @nn.compact
    def __call__(
        self,
        carry: jax.Array,
        inputs: ArrayLike,
        deterministic: bool | None = None,
        *,
        rng: jax.Array | None = None,
        noise: Any = None,
    ) -> tuple[jax.Array, jax.Array]:
        """One step; the arguments as for :meth:`NoisyLSTMCell.__call__`."""
        inputs = v.float_input(self.__class__.__name__, inputs, "inputs")
        n_in = jnp.shape(inputs)[-1]
        w_i, b_i = zip(*(self._dense(n, True, False)(n_in) for n in cells.GRU_INPUT), strict=True)
        hr, hz, hn = (
            self._dense(name, name == "hn", True)(self.features) for name in cells.GRU_RECURRENT
        )
        p = self._p(len(cells.GRU_P))
        det, key, gate_c, tanh_c = self._noise_inputs(deterministic, rng, noise)
        carry, y, pre = cells.noisy_gru_step(
            cells.fuse_gru(w_i, b_i, (hr[0], hz[0], hn[0]), hn[1], p),
            carry,
            inputs,
            key,
            gate_c=gate_c,
            tanh_c=tanh_c,
            config=self.noise_config(),
            deterministic=det,
            dtype=self.dtype,
            with_preactivations=True,
            noise=noise,
        )
        self.sow("intermediates", "preactivations", pre)
        return carry, y

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array | None, input_shape: tuple[int, ...]) -> jax.Array:
        """``h`` from ``carry_init``, ``(*input_shape[:-1], features)``, as flax."""
        batch = tuple(input_shape[:-1])
        return sequence.initial_carry(
            self.carry_init, rng, batch, self.features, self.param_dtype, parts=1
        )


class RNN(nn.Module):
    r"""A cell over a sequence: ``flax.linen.RNN``'s options, a noisy cell's noise drawn ahead.

    Computes what ``flax.linen.RNN(cell)`` computes. For :class:`NoisyLSTMCell` and
    :class:`NoisyGRUCell` it is faster: step ``t`` gets the key ``split(key, T)[t]`` of one
    key from the ``"noise"`` stream (or ``rng=`` at call time), and with
    ``residual="noise"`` (the cells' default) the noise of all ``T`` steps is drawn from
    those keys in one vectorised call before the loop, so each step only reads its noise.
    With the cell's ``residual="key"`` each step draws its own noise from its key
    (forward, and again backward) and no noise array of the sequence's size is kept. Both
    give the numbers of a ``jax.lax.scan`` over the cell with those keys. Without noise
    (test time, hard or soft gates) no key is needed. Any other cell (flax's, or one with
    noisy activations inside) is scanned as ``flax.linen.RNN`` scans it, with the
    ``"noise"`` stream split per step, so it gets fresh noise at every step too.

    The parameters are the cell's, under ``cell`` as with ``flax.linen.RNN``; the noise
    scales are broadcast to every step; what the cell sows into ``"intermediates"`` is
    stacked along time. It works inside ``flax.linen.Bidirectional``.

    Attributes:
      cell: the cell; :class:`NoisyLSTMCell` or :class:`NoisyGRUCell` get the noise drawn
        ahead.
      time_major: inputs ``(time, *batch, features)`` instead of ``(*batch, time, features)``.
      return_carry: return ``(carry, outputs)`` instead of the outputs.
      reverse: run from the last step to the first (outputs in that order; with
        ``seq_lengths`` the padding stays at the end).
      keep_order: with ``reverse``, return the outputs in the inputs' order.
      unroll: steps unrolled per loop iteration (``jax.lax.scan``'s ``unroll``).

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> model = rjl.RNN(rjl.NoisyLSTMCell(features=8))
      >>> x = jnp.ones((2, 5, 3))  # (batch, time, features)
      >>> variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, x)
      >>> model.apply(variables, x, rngs={"noise": jax.random.key(2)}).shape
      (2, 5, 8)
    """

    cell: nn.RNNCellBase
    time_major: bool = False
    return_carry: bool = False
    reverse: bool = False
    keep_order: bool = False
    unroll: int = 1

    def __post_init__(self):
        if not isinstance(self.cell, nn.RNNCellBase):
            raise TypeError(
                "RNN: cell must be a flax.linen RNN cell (an nn.RNNCellBase such as "
                f"NoisyLSTMCell or nn.LSTMCell), got {v.shown(self.cell)}"
            )
        check_fields(self)
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        inputs: ArrayLike,
        *,
        initial_carry: Any = None,
        init_key: jax.Array | None = None,
        seq_lengths: ArrayLike | None = None,
        return_carry: bool | None = None,
        time_major: bool | None = None,
        reverse: bool | None = None,
        keep_order: bool | None = None,
        rng: jax.Array | None = None,
        deterministic: bool | None = None,
    ) -> Any:
        """Runs the cell over ``inputs``; the keyword arguments are ``flax.linen.RNN``'s
        (each overrides the attribute of its name), plus, for a noisy cell, ``rng`` (a key
        replacing the stream) and ``deterministic`` (overrides the cell's)."""
        cell = self.cell
        inputs = v.float_input("RNN", inputs, "inputs")
        time_major = self.time_major if time_major is None else time_major
        det, key = False, None  # a noisy cell's; other cells take neither
        if isinstance(cell, _NoisyCell):
            det = cell.deterministic if deterministic is None else deterministic
            det = v.static_bool("RNN", "deterministic", det)
            noiseless = det or cell.gates != "noisy"
            key = None if noiseless else noise_key(self, rng, cell.rng_collection)
        elif rng is not None or deterministic is not None:
            raise TypeError(
                f"RNN: rng= and deterministic= are for the noisy cells; {type(cell).__name__} "
                "takes its noise from the module's streams and its own attributes"
            )
        streams: dict[PRNGSequenceFilter, bool] = {
            "params": False,
            getattr(cell, "rng_collection", "noise"): True,
        }

        def run(xs, keep_carries):
            carry = initial_carry
            if carry is None:
                carry = cell.initialize_carry(
                    jax.random.key(0) if init_key is None else init_key, xs.shape[1:]
                )
            step: Callable[..., Any]
            split: dict[PRNGSequenceFilter, bool]
            if isinstance(cell, _NoisyCell):
                batch = xs.shape[1:-1]
                per_step = sequence.step_inputs(
                    lambda k: cell.step_noise(k, batch, xs.dtype), key, xs.shape[0], cell.residual
                )

                def noisy_step(cell, carry, inputs):
                    x, given = inputs
                    carry, y = cell(carry, x, det, rng=given.get("key"), noise=given.get("noise"))
                    return carry, ((carry, y) if keep_carries else y)

                step, scanned = noisy_step, (xs, per_step)
                split = {"params": False}
            else:

                def plain_step(cell, carry, x):
                    carry, y = cell(carry, x)
                    return carry, ((carry, y) if keep_carries else y)

                step, split, scanned = plain_step, streams, xs
            scan = nn.scan(
                step,
                variable_broadcast=["params", NOISE_SCALE],
                split_rngs=split,
                variable_axes={"intermediates": 0 if time_major else 1},
                unroll=self.unroll,
            )
            carry, out = scan(cell, carry, scanned)
            return (carry, out[1], out[0]) if keep_carries else (carry, out, None)

        return sequence.over_time(
            run,
            inputs,
            time_major=time_major,
            return_carry=self.return_carry if return_carry is None else return_carry,
            reverse=self.reverse if reverse is None else reverse,
            keep_order=self.keep_order if keep_order is None else keep_order,
            seq_lengths=seq_lengths,
            num_feature_axes=cell.num_feature_axes,
        )


def rnn(cell: nn.RNNCellBase, **kwargs: Any) -> nn.Module:
    """A cell scanned over a sequence, with fresh noise at every time step.

    For :class:`NoisyLSTMCell` and :class:`NoisyGRUCell` returns :class:`RNN` (every step's
    noise drawn in one call before the loop), which takes ``flax.linen.RNN``'s options
    ``time_major``, ``return_carry``, ``reverse``, ``keep_order``, ``unroll`` and
    ``name``.

    For any other cell returns ``flax.linen.RNN`` configured for noise: ``nn.RNN`` scans
    the cell with ``nn.scan``, which by default neither passes the noise stream nor the
    ``"noise_scale"`` collection into the loop; this sets ``split_rngs={'params': False,
    <noise stream>: True}`` (a new key per step) and ``variable_broadcast=['params',
    'noise_scale']``, and stacks the ``"intermediates"`` collection over time (axis 1, or
    0 with ``time_major=True``). Other keyword arguments go to ``nn.RNN`` and override
    these. The same configuration makes ``flax.linen.RNN`` itself run the noisy cells.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> model = rjl.rnn(rjl.NoisyLSTMCell(features=8), name="encoder")
      >>> x = jnp.ones((2, 5, 3))  # (batch, time, features)
      >>> variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, x)
      >>> model.apply(variables, x, rngs={"noise": jax.random.key(2)}).shape
      (2, 5, 8)
    """
    stream = getattr(cell, "rng_collection", "noise")
    if isinstance(cell, _NoisyCell):
        names = ("time_major", "return_carry", "reverse", "keep_order", "unroll", "name", "parent")
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(
                f"rnn: {unknown} are not options of rectify_jax.linen.RNN, which scans "
                f"{type(cell).__name__} (its options: {list(names[:-1])}); for "
                "flax.linen.RNN's other options scan the cell with nn.RNN(cell, "
                f"split_rngs={{'params': False, {stream!r}: True}}, variable_broadcast="
                f"['params', {NOISE_SCALE!r}], ...), which draws the noise inside the loop"
            )
        return RNN(cell, **kwargs)
    kwargs.setdefault("split_rngs", {"params": False, stream: True})
    kwargs.setdefault("variable_broadcast", ["params", NOISE_SCALE])
    kwargs.setdefault("variable_axes", {"intermediates": 0 if kwargs.get("time_major") else 1})
    return nn.RNN(cell, **kwargs)


class IRNNCell(nn.SimpleCell):
    r"""IRNN cell: :math:`h' = \mathrm{relu}(W_x x + W_h h + b)`, :math:`W_h = sI`, :math:`b = 0`.

    A ``flax.linen.SimpleCell`` with a ReLU and identity recurrent initialisation
    (Le, Jaitly & Hinton 2015, arXiv:1504.00941): at the start the state is copied
    forward unchanged, so gradients neither vanish nor explode over long spans.

    Attributes:
      features: the hidden size.
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
    recurrent_kernel_init: Initializer | None = None  # type: ignore[assignment]

    def __post_init__(self):
        v.size(self.__class__.__name__, "features", self.features)
        arguments.check(self.__class__.__name__, scale=self.scale)
        if self.recurrent_kernel_init is None:
            object.__setattr__(self, "recurrent_kernel_init", identity(self.scale))
        super().__post_init__()

    def __call__(self, carry: jax.Array, inputs: ArrayLike) -> tuple[jax.Array, jax.Array]:
        """One step ``(h, inputs) -> (h', h')``: ``flax.linen.SimpleCell``'s, on checked
        inputs."""
        return super().__call__(carry, v.float_input(self.__class__.__name__, inputs, "inputs"))
