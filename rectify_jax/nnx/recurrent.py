"""Recurrent cells and their RNN for ``flax.nnx``: drop-ins for ``nnx.LSTMCell``,
``nnx.GRUCell`` and ``nnx.RNN`` whose gates are noisy units.

The noisy cells take flax's constructor arguments and hold flax's submodules (one
``nnx.Linear`` per gate, ``ii`` ... ``ho``, for the LSTM; ``dense_i`` and ``dense_h`` for
the GRU), created in flax's order from the same ``rngs``, plus the noise slopes ``p``
when the gates are noisy: a flax cell's state loads unchanged (``nnx.update``) and
``gates="soft"`` is flax's cell. :class:`RNN` takes ``nnx.RNN``'s options and draws the
noise of all steps in one call before the loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, cast

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.recurrent import default_kernel_init, modified_orthogonal
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
from rectify_jax.nnx._common import (
    NoiseScale,
    RngSource,
    call_key,
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
Gates = Literal["noisy", "hard", "soft"]


def _initial_carry(cell, input_shape, rngs, carry_init, parts: int) -> Any:
    """The carry from ``carry_init``, else the cell's, else zeros. As flax's cells: an
    ``nnx.Rngs`` gives its ``carry`` stream, and a stream one key per part, in turn."""
    init = cell.carry_init if carry_init is None else carry_init
    batch = tuple(input_shape[:-1])
    args = (batch, cell.hidden_features, cell.param_dtype)
    if isinstance(rngs, nnx.Rngs):
        rngs = rngs.carry
    if isinstance(rngs, nnx.RngStream):
        carry = tuple(sequence.initial_carry(init, rngs(), *args, parts=1) for _ in range(parts))
        return carry if parts > 1 else carry[0]
    check_source(f"{type(cell).__name__}.initialize_carry", rngs)
    return sequence.initial_carry(init, rngs, *args, parts=parts)


class _NoisyCell(nnx.RNNCellBase):
    """What the two noisy cells share: the noise options, the key of a step, the axes."""

    kind: str
    in_features: int
    hidden_features: int
    noise: str
    gate_alpha: float
    tanh_alpha: float
    residual: str
    generator: str
    gates: str
    dtype: DTypeLike | None
    param_dtype: DTypeLike
    carry_init: Initializer | None
    deterministic: bool
    rng_collection: str
    gate_c: NoiseScale
    tanh_c: NoiseScale

    def noise_config(self) -> cells.NoiseConfig:
        """The static options of the cell's noisy units."""
        return cells.NoiseConfig(
            self.noise, self.gate_alpha, self.tanh_alpha, self.residual, self.generator, self.gates
        )

    def step_noise(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: DTypeLike):
        """The noise one step draws from ``key`` (:class:`RNN` draws a sequence's at once)."""
        config = self.noise_config()
        return cells.step_noise(config, key, batch_shape, self.hidden_features, self.kind, dtype)

    def _step_key(self, deterministic: bool, rngs: RngSource, noise) -> jax.Array | None:
        """The key of one step: None without noise or with the noise given."""
        if deterministic or self.gates != "noisy" or noise is not None:
            return None
        return call_key(self, False, rngs)

    def _scales(self) -> tuple[jax.Array, jax.Array]:
        """The noise scales ``(gate_c, tanh_c)``, read once per call."""
        return self.gate_c[...], self.tanh_c[...]

    def _fused(self) -> dict:
        """The weights of the pure step, fused once per call (:class:`RNN`: per sequence)."""
        raise NotImplementedError

    def _pure_step(self, weights, scales, carry, x, key, noise, deterministic: bool) -> Any:
        """The step ``(carry, y, pre)`` of the pure function of :mod:`cells`."""
        raise NotImplementedError

    @property
    def num_feature_axes(self) -> int:
        return 1


class NoisyLSTMCell(_NoisyCell):
    r"""LSTM cell whose gates are noisy hard sigmoids and whose tanh units are noisy.

    .. math::
      \begin{array}{ll}
      i = \tilde\sigma(W_{ii} x + W_{hi} h + b_{hi}) \\
      f = \tilde\sigma(W_{if} x + W_{hf} h + b_{hf}) \\
      g = \tilde t(W_{ig} x + W_{hg} h + b_{hg}) \\
      o = \tilde\sigma(W_{io} x + W_{ho} h + b_{ho}) \\
      c' = f c + i g, \quad h' = o\,\tilde t(c')
      \end{array}

    as in the LSTM experiments of Gulcehre et al. (2016): :math:`\tilde\sigma` is
    :func:`rectify_jax.noisy_hard_sigmoid` (``alpha=gate_alpha``, ``c=gate_c``) and
    :math:`\tilde t` is :func:`rectify_jax.noisy_hard_tanh` (``tanh_alpha``,
    ``tanh_c``), each of the five units with its own learned noise slope, the rows of
    ``p`` (shape ``(5, hidden_features)``, order i, f, g, o and the cell output). The
    noise scales ``gate_c`` and ``tanh_c`` are :class:`~rectify_jax.nnx.NoiseScale`
    variables (annealed, never trained). A step draws its noise from the cell's stream
    (a fork of ``rngs``' ``"noise"`` stream, or ``default``) or from ``rngs`` at call
    time; run it over a sequence with :class:`RNN`, which gives every step fresh noise.

    A drop-in for ``nnx.LSTMCell``: the same constructor arguments (``gate_fn`` and
    ``activation_fn`` aside: ``gates`` picks them), the same carry ``(c, h)`` and the
    same submodules, ``nnx.Linear`` layers ``ii``, ``if_``, ``ig``, ``io`` (no bias) and
    ``hi``, ``hf``, ``hg``, ``ho`` (with bias), created in flax's order with flax's
    initialisers, so the same ``rngs`` give the same weights, bit for bit; plus ``p``.
    ``gates="soft"`` (sigmoid and tanh) computes flax's cell and holds exactly its
    parameters, so a flax cell's state loads into any of the three
    (``nnx.update(cell, nnx.state(flax_cell))``); ``gates="hard"`` runs hard sigmoid /
    hard tanh: the controls of a comparison. ``deterministic=True`` (``model.eval()``)
    replaces the noise by its mean: the test-time cell, or the noisy units' expectation
    in training.

    Args:
      in_features: the size of the input's last axis.
      hidden_features: the hidden size.
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      gate_alpha: the mixing factor of the gates (1.1).
      tanh_alpha: the mixing factor of the tanh units (1.15).
      gate_c: the initial noise scale of the gates (0.15).
      tanh_c: the initial noise scale of the tanh units (0.5).
      residual: ``"noise"`` or ``"key"``: what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``'s numbers) or ``"fast"`` (counter-based).
      gates: ``"noisy"``, or ``"hard"`` / ``"soft"`` for controls (no ``p`` then).
      kernel_init: the input kernels' initialiser (LeCun normal, as flax).
      recurrent_kernel_init: the recurrent kernels' initialiser (flax's
        ``modified_orthogonal``).
      bias_init: the biases' initialiser (zeros).
      p_init: the initialiser of ``p`` (U[-1, 1]).
      dtype: the computation dtype; None promotes the inputs and parameters, as flax.
      param_dtype: the parameters' dtype (16-bit ones are initialised in float32 and
        rounded once, so they initialise on a CPU too).
      carry_init: the initialiser of :meth:`initialize_carry` (None: zeros).
      deterministic: if True, the noise is replaced by its mean.
      rng_collection: the stream of an ``nnx.Rngs`` the noise is drawn from.
      rngs: an ``nnx.Rngs`` (``params`` initialises the weights, as flax's; the noise
        stream, or ``default``, is forked for the noise), an ``nnx.RngStream`` or a key.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> cell = rjx.NoisyLSTMCell(3, 4, rngs=nnx.Rngs(0))
      >>> x = jnp.ones((2, 3))
      >>> (c, h), y = cell(cell.initialize_carry(x.shape), x)
      >>> y.shape
      (2, 4)
      >>> sorted(nnx.to_pure_dict(nnx.state(cell, nnx.Param)))
      ['hf', 'hg', 'hi', 'ho', 'if_', 'ig', 'ii', 'io', 'p']
    """

    kind = "lstm"

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        *,
        noise: Noise = "half_normal",
        gate_alpha: float = HARD_SIGMOID_ALPHA,
        tanh_alpha: float = HARD_TANH_ALPHA,
        gate_c: float = HARD_SIGMOID_C,
        tanh_c: float = HARD_TANH_C,
        residual: Residual = "noise",
        generator: Generator = "jax",
        gates: Gates = "noisy",
        kernel_init: Initializer = default_kernel_init,
        recurrent_kernel_init: Initializer = modified_orthogonal,
        bias_init: Initializer = nnx.initializers.zeros_init(),
        p_init: Initializer = uniform_range(-1.0, 1.0),
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        carry_init: Initializer | None = None,
        deterministic: bool = False,
        rng_collection: str = "noise",
        rngs: RngSource,
    ):
        owner = "NoisyLSTMCell"
        arguments.check_known(owner, locals())  # the arguments, by name
        det = v.static_bool(owner, "deterministic", deterministic)
        self.in_features = in_features
        self.hidden_features = hidden_features
        self.noise = noise
        self.gate_alpha = gate_alpha
        self.tanh_alpha = tanh_alpha
        self.residual = residual
        self.generator = generator
        self.gates = gates
        self.dtype = dtype
        self.param_dtype = param_dtype
        self.carry_init = carry_init
        self.deterministic = det
        self.rng_collection = rng_collection
        params = need_params(owner, param_rngs(owner, rngs))
        # As nnx.LSTMCell: input and recurrent products are summed, so only one has a bias.
        dense_i = functools.partial(
            nnx.Linear,
            in_features,
            hidden_features,
            use_bias=False,
            kernel_init=in_float32(kernel_init),
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=params,
        )
        dense_h = functools.partial(
            nnx.Linear,
            hidden_features,
            hidden_features,
            use_bias=True,
            kernel_init=in_float32(recurrent_kernel_init),
            bias_init=in_float32(bias_init),
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=params,
        )
        self.ii, self.if_, self.ig, self.io = dense_i(), dense_i(), dense_i(), dense_i()
        self.hi, self.hf, self.hg, self.ho = dense_h(), dense_h(), dense_h(), dense_h()
        if gates == "noisy":
            shape = (len(cells.LSTM_P), hidden_features)
            self.p = nnx.Param(p_init(params.params(), shape, param_dtype))
        self.gate_c = NoiseScale(jnp.asarray(gate_c, param_dtype))
        self.tanh_c = NoiseScale(jnp.asarray(tanh_c, param_dtype))
        # last: forking advances a stream that ``params`` may share (an nnx.Rngs(0))
        self.rngs = noise_stream(owner, rngs, rng_collection)

    def _fused(self) -> dict:
        """The gates' kernels, biases and ``p`` fused for :func:`cells.noisy_lstm_step`."""
        recurrent = (self.hi, self.hf, self.hg, self.ho)
        return cells.fuse_lstm(
            [self.ii.kernel[...], self.if_.kernel[...], self.ig.kernel[...], self.io.kernel[...]],
            [h.kernel[...] for h in recurrent],
            [cast(nnx.Param, h.bias)[...] for h in recurrent],
            self.p[...] if self.gates == "noisy" else None,
        )

    def _pure_step(self, weights, scales, carry, x, key, noise, deterministic: bool) -> Any:
        return cells.noisy_lstm_step(
            weights,
            carry,
            jnp.asarray(x),
            key,
            gate_c=scales[0],
            tanh_c=scales[1],
            config=self.noise_config(),
            deterministic=deterministic,
            dtype=self.dtype,
            with_preactivations=True,
            noise=noise,
        )

    def step_with_preactivations(
        self,
        carry: tuple[jax.Array, jax.Array],
        inputs: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        noise: Any = None,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array, dict[str, jax.Array]]:
        """One step, also returning the inputs of the five noisy units (named as in
        ``cells.LSTM_P``), for diagnostics; the arguments are :meth:`__call__`'s."""
        det = is_deterministic(self, deterministic)
        inputs = v.float_input(type(self).__name__, inputs, "inputs")
        key = self._step_key(det, rngs, noise)
        return self._pure_step(self._fused(), self._scales(), carry, inputs, key, noise, det)

    def __call__(
        self,
        carry: tuple[jax.Array, jax.Array],
        inputs: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        noise: Any = None,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """One step: ``(carry, inputs) -> (carry, y)``. ``deterministic`` and ``rngs``
        override the cell's; ``noise`` is the step's noise drawn ahead (:meth:`step_noise`)."""
        carry, y, _ = self.step_with_preactivations(
            carry, inputs, deterministic=deterministic, rngs=rngs, noise=noise
        )
        return carry, y

    def initialize_carry(
        self,
        input_shape: tuple[int, ...],
        rngs: RngSource = None,
        carry_init: Initializer | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """``(c, h)``, each ``(*input_shape[:-1], hidden_features)`` in ``param_dtype``,
        from ``carry_init``, else the constructor's, else zeros. As flax: an ``nnx.Rngs``
        gives its ``carry`` stream, from which ``c`` and ``h`` draw a key each."""
        return _initial_carry(self, input_shape, rngs, carry_init, parts=2)


class NoisyGRUCell(_NoisyCell):
    r"""GRU cell whose gates are noisy hard sigmoids and whose candidate is a noisy hard tanh.

    .. math::
      \begin{array}{ll}
      r = \tilde\sigma(W_{ir} x + b_{ir} + W_{hr} h) \\
      z = \tilde\sigma(W_{iz} x + b_{iz} + W_{hz} h) \\
      n = \tilde t(W_{in} x + b_{in} + r\,W_{hn} h) \\
      h' = (1 - z)\,n + z\,h
      \end{array}

    with the noisy units of :class:`NoisyLSTMCell` (Gulcehre et al. 2016), three rows of
    ``p`` (r, z, n) and the gate convention of ``nnx.GRUCell`` (no bias on
    :math:`W_{hn} h`, unlike ``flax.linen.GRUCell``). A drop-in for it: the same
    constructor arguments, the carry ``h`` and flax's submodules, ``dense_i`` (the
    three input kernels side by side, with bias) and ``dense_h`` (the recurrent ones,
    no bias; orthogonal, as flax), the same weights from the same ``rngs``, plus ``p``
    when the gates are noisy. The arguments are :class:`NoisyLSTMCell`'s.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> cell = rjx.NoisyGRUCell(3, 4, deterministic=True, rngs=nnx.Rngs(0))
      >>> x = jnp.ones((2, 3))
      >>> carry, y = cell(cell.initialize_carry(x.shape), x)
      >>> y.shape
      (2, 4)
      >>> sorted(nnx.to_pure_dict(nnx.state(cell, nnx.Param)))
      ['dense_h', 'dense_i', 'p']
    """

    kind = "gru"

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        *,
        noise: Noise = "half_normal",
        gate_alpha: float = HARD_SIGMOID_ALPHA,
        tanh_alpha: float = HARD_TANH_ALPHA,
        gate_c: float = HARD_SIGMOID_C,
        tanh_c: float = HARD_TANH_C,
        residual: Residual = "noise",
        generator: Generator = "jax",
        gates: Gates = "noisy",
        kernel_init: Initializer = default_kernel_init,
        recurrent_kernel_init: Initializer = nnx.initializers.orthogonal(),
        bias_init: Initializer = nnx.initializers.zeros_init(),
        p_init: Initializer = uniform_range(-1.0, 1.0),
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        carry_init: Initializer | None = None,
        deterministic: bool = False,
        rng_collection: str = "noise",
        rngs: RngSource,
    ):
        owner = "NoisyGRUCell"
        arguments.check_known(owner, locals())  # the arguments, by name
        det = v.static_bool(owner, "deterministic", deterministic)
        self.in_features = in_features
        self.hidden_features = hidden_features
        self.noise = noise
        self.gate_alpha = gate_alpha
        self.tanh_alpha = tanh_alpha
        self.residual = residual
        self.generator = generator
        self.gates = gates
        self.dtype = dtype
        self.param_dtype = param_dtype
        self.carry_init = carry_init
        self.deterministic = det
        self.rng_collection = rng_collection
        params = need_params(owner, param_rngs(owner, rngs))
        self.dense_i = nnx.Linear(
            in_features,
            3 * hidden_features,  # r, z, n
            use_bias=True,
            kernel_init=in_float32(kernel_init),
            bias_init=in_float32(bias_init),
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=params,
        )
        self.dense_h = nnx.Linear(
            hidden_features,
            3 * hidden_features,  # r, z, n
            use_bias=False,
            kernel_init=in_float32(recurrent_kernel_init),
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=params,
        )
        if gates == "noisy":
            shape = (len(cells.GRU_P), hidden_features)
            self.p = nnx.Param(p_init(params.params(), shape, param_dtype))
        self.gate_c = NoiseScale(jnp.asarray(gate_c, param_dtype))
        self.tanh_c = NoiseScale(jnp.asarray(tanh_c, param_dtype))
        # last: forking advances a stream that ``params`` may share (an nnx.Rngs(0))
        self.rngs = noise_stream(owner, rngs, rng_collection)

    def _fused(self) -> dict:
        """The kernels, bias and ``p`` for :func:`cells.noisy_gru_step` (nnx's layout: no
        recurrent bias)."""
        return cells.fuse_gru(
            [self.dense_i.kernel[...]],
            [cast(nnx.Param, self.dense_i.bias)[...]],
            [self.dense_h.kernel[...]],
            None,
            self.p[...] if self.gates == "noisy" else None,
        )

    def _pure_step(self, weights, scales, carry, x, key, noise, deterministic: bool) -> Any:
        return cells.noisy_gru_step(
            weights,
            carry,
            jnp.asarray(x),
            key,
            gate_c=scales[0],
            tanh_c=scales[1],
            config=self.noise_config(),
            deterministic=deterministic,
            dtype=self.dtype,
            with_preactivations=True,
            noise=noise,
        )

    def step_with_preactivations(
        self,
        carry: jax.Array,
        inputs: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        noise: Any = None,
    ) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
        """One step, also returning the inputs of the three noisy units (named as in
        ``cells.GRU_P``), for diagnostics; the arguments are :meth:`__call__`'s."""
        det = is_deterministic(self, deterministic)
        inputs = v.float_input(type(self).__name__, inputs, "inputs")
        key = self._step_key(det, rngs, noise)
        return self._pure_step(self._fused(), self._scales(), carry, inputs, key, noise, det)

    def __call__(
        self,
        carry: jax.Array,
        inputs: ArrayLike,
        *,
        deterministic: bool | None = None,
        rngs: RngSource = None,
        noise: Any = None,
    ) -> tuple[jax.Array, jax.Array]:
        """One step: ``(h, inputs) -> (h, h)``; the arguments as for
        :meth:`NoisyLSTMCell.__call__`."""
        carry, y, _ = self.step_with_preactivations(
            carry, inputs, deterministic=deterministic, rngs=rngs, noise=noise
        )
        return carry, y

    def initialize_carry(
        self,
        input_shape: tuple[int, ...],
        rngs: RngSource = None,
        carry_init: Initializer | None = None,
    ) -> jax.Array:
        """``h``, ``(*input_shape[:-1], hidden_features)`` in ``param_dtype``, from
        ``carry_init``, else the constructor's, else zeros (an ``nnx.Rngs`` gives its
        ``carry`` stream, as flax)."""
        return _initial_carry(self, input_shape, rngs, carry_init, parts=1)


def _rnn_sources(rngs: RngSource):
    """``(noise source, carry source)`` from the ``rngs`` of an :class:`RNN` call."""
    check_source("RNN", rngs)
    if isinstance(rngs, nnx.Rngs):
        streams = set(rngs)
        return rngs, rngs if {"carry", "default"} & streams else None
    if isinstance(rngs, nnx.RngStream) and rngs.tag == "carry":
        return None, rngs  # what nnx.Bidirectional passes: for the carry only
    return rngs, None


class RNN(nnx.Module):
    r"""A noisy cell over a sequence: ``nnx.RNN``'s options, every step's noise drawn ahead.

    Computes, for :class:`NoisyLSTMCell` and :class:`NoisyGRUCell`,

    .. math::
      (\mathrm{carry}_{t+1}, y_t) = \mathrm{cell}(\mathrm{carry}_t, x_t;\ k_t),
      \qquad k_t = \mathrm{split}(k, T)_t,

    what ``nnx.RNN(cell)`` computes, faster: the cell's weights are fused once, and
    with ``residual="noise"`` (the cells' default) the noise of all ``T`` steps is
    drawn from the keys :math:`k_t` in one vectorised call before the
    ``jax.lax.scan``, so each step only reads its noise. With the cell's
    ``residual="key"`` each step draws its own noise from its key (forward, and again
    backward) and no noise array of the sequence's size is kept. Both give the numbers
    of a loop over the cell called with ``rngs=k_t``. The key :math:`k` is one draw from
    the cell's noise stream, or from ``rngs`` at call time. Without noise (test time,
    hard or soft gates) no key is needed. The cell's ``deterministic``
    (``model.eval()`` / ``model.train()``) decides whether noise is drawn;
    ``deterministic`` at call time overrides it.

    It works inside ``nnx.Bidirectional``, which passes its own ``"carry"`` stream as
    ``rngs``: a stream tagged ``"carry"`` only initialises the carry, so the noise still
    comes from each cell's stream (a ``Bidirectional`` built with ``rngs=nnx.Rngs(seed)``
    passes that ``default`` stream instead, which then draws the noise of both RNNs).

    ``flax.nnx.RNN`` also runs the noisy cells, with no configuration: it carries the
    cell's noise stream through its scan, so each step draws a fresh key from it (inside
    the loop, slower). Leave its ``broadcast_rngs`` at None: a broadcast noise stream
    would give every step the same noise.

    Any other cell (flax's, or one with noisy activations inside) is run by
    ``flax.nnx.RNN`` with the same options, ``state_axes`` and ``broadcast_rngs`` included.

    Args:
      cell: the cell; :class:`NoisyLSTMCell` or :class:`NoisyGRUCell` get the noise drawn
        ahead.
      time_major: inputs ``(time, *batch, features)`` instead of ``(*batch, time, features)``.
      return_carry: return ``(carry, outputs)`` instead of the outputs.
      reverse: run from the last step to the first (outputs in that order; with
        ``seq_lengths`` the padding stays at the end).
      keep_order: with ``reverse``, return the outputs in the inputs' order.
      unroll: steps unrolled per loop iteration (``jax.lax.scan``'s ``unroll``).
      state_axes: for another cell, ``nnx.RNN``'s ``state_axes``.
      broadcast_rngs: for another cell, ``nnx.RNN``'s ``broadcast_rngs``.
      rngs: for another cell, ``nnx.RNN``'s ``rngs``.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> model = rjx.RNN(rjx.NoisyLSTMCell(3, 8, rngs=nnx.Rngs(0)))
      >>> model(jnp.ones((2, 5, 3))).shape  # (batch, time, features)
      (2, 5, 8)
      >>> carry, ys = model(jnp.ones((2, 5, 3)), seq_lengths=jnp.array([5, 2]),
      ...                   return_carry=True, rngs=jax.random.key(1))
      >>> ys.shape, carry[1].shape
      ((2, 5, 8), (2, 8))
    """

    def __init__(
        self,
        cell: nnx.RNNCellBase,
        *,
        time_major: bool = False,
        return_carry: bool = False,
        reverse: bool = False,
        keep_order: bool = False,
        unroll: int = 1,
        state_axes: Any = None,
        broadcast_rngs: Any = None,
        rngs: nnx.Rngs | nnx.RngStream | bool = True,
    ):
        if not isinstance(cell, nnx.RNNCellBase):
            raise TypeError(
                "RNN: cell must be an nnx RNN cell (an nnx.RNNCellBase such as NoisyLSTMCell "
                f"or nnx.LSTMCell), got {v.shown(cell)}"
            )
        if not isinstance(rngs, (nnx.Rngs, nnx.RngStream, bool)):
            raise TypeError(
                f"RNN: rngs must be an nnx.Rngs, an nnx.RngStream or a bool, got {v.shown(rngs)}"
            )
        arguments.check(
            "RNN",
            time_major=time_major,
            return_carry=return_carry,
            reverse=reverse,
            keep_order=keep_order,
            unroll=unroll,
        )
        self.cell = cell
        self.time_major = time_major
        self.return_carry = return_carry
        self.reverse = reverse
        self.keep_order = keep_order
        self.unroll = unroll
        if isinstance(cell, _NoisyCell):
            if state_axes is not None or broadcast_rngs is not None:
                raise TypeError(
                    "RNN: state_axes and broadcast_rngs are options of flax's loop over other "
                    f"cells; {type(cell).__name__} draws every step's noise ahead and keeps no "
                    "state in the loop"
                )
            self.flax_rnn = nnx.data(None)
        else:  # any other cell: flax's nnx.RNN, with its options
            self.flax_rnn = nnx.RNN(
                cell,
                time_major=time_major,
                return_carry=return_carry,
                reverse=reverse,
                keep_order=keep_order,
                unroll=unroll,
                state_axes=state_axes,
                broadcast_rngs=broadcast_rngs,
                rngs=rngs,
            )

    def __call__(
        self,
        inputs: ArrayLike,
        *,
        initial_carry: Any = None,
        seq_lengths: ArrayLike | None = None,
        return_carry: bool | None = None,
        time_major: bool | None = None,
        reverse: bool | None = None,
        keep_order: bool | None = None,
        rngs: RngSource = None,
        deterministic: bool | None = None,
    ) -> Any:
        """Runs the cell over ``inputs``; the keyword arguments are ``nnx.RNN``'s (each
        overrides the attribute of its name), plus ``deterministic`` (overrides the
        cell's). ``rngs``: an ``nnx.Rngs`` gives the noise (its ``"noise"`` stream, or
        ``default``) and the carry's keys (``carry``); a key or an ``RngStream`` gives the
        noise, except a stream tagged ``"carry"`` (``nnx.Bidirectional``'s), which only
        initialises the carry. ``initial_carry`` defaults to ``cell.initialize_carry``.
        Another cell is run by ``flax.nnx.RNN`` with these arguments."""
        cell = self.cell
        inputs = v.float_input("RNN", inputs, "inputs")
        if not isinstance(cell, _NoisyCell):
            if deterministic is not None:
                raise TypeError(
                    f"RNN: deterministic= is for the noisy cells; {type(cell).__name__} follows "
                    "its own attributes (model.eval() / model.train())"
                )
            return self.flax_rnn(
                jnp.asarray(inputs),
                initial_carry=initial_carry,
                seq_lengths=None if seq_lengths is None else jnp.asarray(seq_lengths),
                return_carry=return_carry,
                time_major=time_major,
                reverse=reverse,
                keep_order=keep_order,
                rngs=rngs,  # type: ignore[arg-type]
            )
        det = cell.deterministic if deterministic is None else deterministic
        det = v.static_bool("RNN", "deterministic", det)
        noise_rngs, carry_rngs = _rnn_sources(rngs)
        key = cell._step_key(det, noise_rngs, None)
        weights, scales = cell._fused(), cell._scales()

        def step(carry, x, step_key, noise):
            new, y, _ = cell._pure_step(weights, scales, carry, x, step_key, noise, det)
            # the loop keeps the carry's dtype (a bfloat16 carry with float32 inputs)
            return jax.tree.map(lambda a, b: a.astype(b.dtype), new, carry), y

        def run(xs, keep_carries):
            dtype = cells.compute_dtype(cell.dtype, xs, weights)
            carry = initial_carry
            if carry is None:  # in the step's dtype: float32 for float32 inputs
                carry = cell.initialize_carry(xs.shape[1:], carry_rngs)
                carry = jax.tree.map(lambda a: a.astype(dtype), carry)
            per_step = sequence.step_inputs(
                lambda k: cell.step_noise(k, xs.shape[1:-1], dtype),
                key,
                xs.shape[0],
                cell.residual,
            )
            return sequence.scan(
                step, carry, xs, per_step, unroll=self.unroll, keep_carries=keep_carries
            )

        return sequence.over_time(
            run,
            inputs,
            time_major=self.time_major if time_major is None else time_major,
            return_carry=self.return_carry if return_carry is None else return_carry,
            reverse=self.reverse if reverse is None else reverse,
            keep_order=self.keep_order if keep_order is None else keep_order,
            seq_lengths=seq_lengths,
        )


class IRNNCell(nnx.SimpleCell):
    r"""IRNN cell: :math:`h' = \mathrm{relu}(W_x x + W_h h + b)`, :math:`W_h = sI`, :math:`b = 0`.

    An ``nnx.SimpleCell`` with a ReLU and identity recurrent initialisation times
    ``scale`` (Le, Jaitly & Hinton 2015, arXiv:1504.00941): at the start the state is
    copied forward unchanged, so gradients neither vanish nor explode over long spans.
    Run it with ``nnx.RNN``.

    Args:
      in_features: the size of the input's last axis.
      hidden_features: the hidden size.
      scale: multiplies the identity (the paper uses 1; smaller values damp the state).
      rngs: an ``nnx.Rngs``, an ``nnx.RngStream`` or a key.
      **kwargs: ``nnx.SimpleCell``'s other arguments (``activation_fn`` defaults to
        :func:`rectify_jax.relu`, ``bias_init`` to zeros).

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
        rngs: RngSource,
        **kwargs: Any,
    ):
        arguments.check(
            "IRNNCell", in_features=in_features, hidden_features=hidden_features, scale=scale
        )
        kwargs.setdefault("activation_fn", activations.relu)
        kwargs.setdefault("bias_init", nnx.initializers.zeros_init())
        if not isinstance(rngs, nnx.Rngs):  # a key or an RngStream, as for the other layers
            rngs = need_params("IRNNCell", param_rngs("IRNNCell", rngs))
        super().__init__(
            in_features, hidden_features, recurrent_kernel_init=identity(scale), rngs=rngs, **kwargs
        )

    def __call__(self, carry: jax.Array, inputs: ArrayLike) -> tuple[jax.Array, jax.Array]:  # pyright: ignore[reportIncompatibleMethodOverride]
        """One step ``(h, inputs) -> (h', h')``: ``nnx.SimpleCell``'s, on checked inputs."""
        return super().__call__(carry, v.float_input("IRNNCell", inputs, "inputs"))
