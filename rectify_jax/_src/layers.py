"""Framework-neutral layer descriptions: each layer of the library written once.

A :class:`Layer` says what a layer is, independently of any framework: its options
(names, defaults, allowed values), its parameters (names, shapes, initialisers), its
state (the noise scales, annealed rather than trained), and a pure ``apply`` on the
functional API. ``rectify_jax.linen``, ``rectify_jax.nnx`` and ``rectify_jax.equinox``
turn each description into a module with that framework's conventions; no layer is
written by hand in an adapter, so the three agree by construction.

``apply`` receives ``o`` (the options, as attributes), ``params`` and ``state`` (dicts of
arrays), the input, the key (None when deterministic) and ``deterministic``; it returns
``(y, sown)`` for an activation layer and ``(carry, y, sown)`` for a recurrent cell, where
``sown`` is a dict of what the layer computed that diagnostics may want (or None).
A cell's ``apply`` also takes ``noise=``, its step's noise drawn ahead by
``step_noise``; :func:`sequence_inputs` and :func:`scan` run a cell over a whole
sequence with every step's noise drawn in one call.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import textwrap
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from rectify_jax._src import activations, cells, stochastic
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.initializers import uniform_range
from rectify_jax._src.output_noise import RESIDUALS
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT, NoisyUnit, default

Initializer = Callable[..., jax.Array]
Shapes = dict[str, tuple[tuple[int, ...], Initializer]]


@dataclasses.dataclass(frozen=True)
class Option:
    """One hyperparameter of a layer: a static attribute of its modules.

    Attributes:
      name: the attribute and keyword name.
      default: the default value.
      doc: one line for the docstring.
      choices: the allowed values (checked at construction), or None.
    """

    name: str
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Example:
    """A docstring example every adapter renders in its own idiom.

    ``x`` is the source of the input array, ``output`` what the call prints (the same
    in every framework); for a recurrent cell ``x`` is an input shape and ``output``
    the shape of the step's output.
    """

    x: str
    output: str
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)
    features: int | None = None
    in_features: int | None = None


@dataclasses.dataclass(frozen=True)
class Layer:
    """A layer described once, for every framework.

    Attributes:
      name: the class name in each adapter.
      doc: what the layer computes (the first part of each adapter's docstring).
      apply: the pure computation (see the module docstring).
      options: the hyperparameters, in keyword order.
      params: ``(o, in_features, features) -> {name: (shape, initializer)}``; an
        activation layer has ``in_features == features`` (the last axis of its input).
      state: ``o -> {name: initial value}``, the noise scales.
      stochastic: draws noise (takes ``deterministic`` and a key).
      recurrent: a cell ``(carry, x) -> (carry, y)`` rather than ``x -> y``.
      carry: for a cell, ``(batch_shape, features, dtype) -> carry``.
      draws_noise: ``o -> bool``: False when options make a stochastic layer noiseless
        (a cell with hard or soft gates), so no key is needed.
      step_noise: for a cell, ``(o, key, batch_shape, features, dtype) -> noise``: the
        noise one step draws from ``key``, drawn ahead (``apply(..., noise=noise)``
        then computes what ``apply(..., key)`` computes).
      renamed: deprecated keyword -> its new name (accepted one release with a warning).
      sows: the name under which a layer's ``sown`` dict is reported to diagnostics.
      example: the docstring example.
    """

    name: str
    doc: str
    apply: Callable[..., Any]
    options: tuple[Option, ...] = ()
    params: Callable[[Any, int, int], Shapes] | None = None
    state: Callable[[Any], dict[str, float]] | None = None
    stochastic: bool = False
    recurrent: bool = False
    carry: Callable[[tuple[int, ...], int, Any], Any] | None = None
    draws_noise: Callable[[Any], bool] = lambda o: True
    step_noise: Callable[..., Any] | None = None
    renamed: Mapping[str, str] = dataclasses.field(default_factory=dict)
    sows: str | None = None
    example: Example | None = None

    @functools.cached_property
    def options_type(self) -> type:
        """A namedtuple of the options: hashable, so frameworks can keep it as static data."""
        return collections.namedtuple(f"{self.name}Options", [opt.name for opt in self.options])

    def configure(self, owner: str, values: Mapping[str, Any]):
        """The options with defaults filled in, checked; raises naming ``owner``."""
        names = {opt.name for opt in self.options}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError(
                f"{owner}: unknown option(s) {unknown}; the options are {sorted(names)}"
            )
        o = self.options_type(*(values.get(opt.name, opt.default) for opt in self.options))
        for opt in self.options:
            if opt.choices is not None:
                v.one_of(owner, opt.name, getattr(o, opt.name), opt.choices)
        return o

    def shapes(self, o, in_features: int, features: int) -> Shapes:
        return {} if self.params is None else self.params(o, in_features, features)

    def initial_state(self, o) -> dict[str, float]:
        return {} if self.state is None else self.state(o)


# --------------------------------------------------------------------------------------
# Options shared by several layers.

NOISE = Option(
    "noise", "half_normal", '``"half_normal"`` (NAH) or ``"normal"`` (NAN).', noise_lib.NOISE_KINDS
)
RESIDUAL = Option(
    "residual", "noise", '``"noise"`` or ``"key"``, what the backward pass keeps.', RESIDUALS
)
GENERATOR = Option(
    "generator",
    "jax",
    '``"jax"`` (``jax.random``) or ``"fast"`` (counter-based).',
    noise_lib.GENERATORS,
)
P_INIT = Option("p_init", uniform_range(-1.0, 1.0), "initialiser of ``p`` (default U[-1, 1]).")


def _unit_option(unit: NoisyUnit) -> Option:
    return Option("unit", unit, f"the noisy unit (default ``{unit.name}``).")


def _one_per_feature(name: str, init_of: Callable[[Any], Initializer]):
    return lambda o, in_features, features: {name: ((features,), init_of(o))}


def _constant(value) -> Initializer:
    """An initialiser from a number, or the initialiser itself."""
    return value if callable(value) else jax.nn.initializers.constant(value)


def _cast_like(a, x):
    return a.astype(jnp.asarray(x).dtype)


# --------------------------------------------------------------------------------------
# Deterministic layers with parameters.


def _prelu(o, params, state, x, key, deterministic):
    return activations.prelu(x, _cast_like(params["negative_slope"], x)), None


PRELU = Layer(
    name="PReLU",
    doc=r"""PReLU, one learned slope per channel (the last axis).

    Computes :func:`rectify_jax.prelu`: ``x`` if ``x >= 0`` else ``negative_slope * x``,
    with ``negative_slope`` of shape ``(features,)`` initialised to 0.25 (He et al. 2015)
    and cast to the input's dtype. Unlike flax's ``PReLU`` (one scalar slope), the slope
    is per channel.""",
    apply=_prelu,
    options=(
        Option(
            "negative_slope_init", 0.25, "initial slope: a number or an initialiser (default 0.25)."
        ),
    ),
    params=_one_per_feature("negative_slope", lambda o: _constant(o.negative_slope_init)),
    renamed={"alpha_init": "negative_slope_init"},
    example=Example(
        "[[-4.0, 1.0, -2.0]]", "Array([[-1. ,  1. , -0.5]], dtype=float32)", features=3
    ),
)


def _tlu(o, params, state, x, key, deterministic):
    alpha = _cast_like(params["alpha"], x) if o.learn_alpha else o.alpha
    return activations.tlu(x, alpha=alpha), None


TLU = Layer(
    name="TLU",
    doc=r"""Tanh linear unit: ``x`` if ``x >= 0`` else ``alpha * tanh(x)``.

    Computes :func:`rectify_jax.tlu`. Here ``alpha`` is the negative saturation value
    (as in ELU), fixed, or learned per channel with ``learn_alpha=True`` (Jiang & Wang
    2018).""",
    apply=_tlu,
    options=(
        Option("alpha", 1.0, "the (initial) negative saturation value."),
        Option("learn_alpha", False, "learn ``alpha``, one value per channel."),
    ),
    params=lambda o, i, f: {"alpha": ((f,), _constant(o.alpha))} if o.learn_alpha else {},
    example=Example("[[-30.0, 2.0]]", "Array([[-0.5,  2. ]], dtype=float32)", {"alpha": "0.5"}),
)


# --------------------------------------------------------------------------------------
# Stochastic rectifiers.


def _rrelu(o, params, state, x, key, deterministic):
    y = stochastic.rrelu(
        x, key, lower=o.lower, upper=o.upper, deterministic=deterministic, generator=o.generator
    )
    return y, None


RRELU = Layer(
    name="RReLU",
    doc=r"""Randomised leaky ReLU: a negative slope drawn from U[lower, upper] per element.

    Computes :func:`rectify_jax.rrelu` (Xu et al. 2015); at test time the mean slope
    ``(lower + upper) / 2``.""",
    apply=_rrelu,
    options=(
        Option("lower", 1 / 8, "lower end of the random slope (default 1/8)."),
        Option("upper", 1 / 3, "upper end of the random slope (default 1/3)."),
        GENERATOR,
    ),
    stochastic=True,
    example=Example("[-8.0]", "Array([-1.8333334], dtype=float32)"),
)


def _nrelu(o, params, state, x, key, deterministic):
    return stochastic.nrelu(x, key, deterministic=deterministic, generator=o.generator), None


NRELU = Layer(
    name="NReLU",
    doc=r"""Noisy ReLU: ``max(0, x + sqrt(sigmoid(x)) xi)``, xi ~ N(0, 1).

    Computes :func:`rectify_jax.nrelu` (Nair & Hinton 2010); ``relu(x)`` at test time.""",
    apply=_nrelu,
    options=(GENERATOR,),
    stochastic=True,
    example=Example("[-1.0, 2.0]", "Array([0., 2.], dtype=float32)"),
)


# --------------------------------------------------------------------------------------
# Noisy units: output noise and input noise.


def _noisy(o, params, state, x, key, deterministic):
    p = _cast_like(params["p"], x)
    y = o.unit(
        x,
        key,
        p=p,
        alpha=o.alpha,
        c=state["c"],
        noise=o.noise,
        deterministic=deterministic,
        residual=o.residual,
        generator=o.generator,
    )
    return y, None if deterministic else {"x": x, "key": key, "p": p, "c": state["c"]}


def _noisy_activation(name: str, unit: NoisyUnit, doc: str, example: Example) -> Layer:
    return Layer(
        name=name,
        doc=doc,
        apply=_noisy,
        options=(
            _unit_option(unit),
            Option("alpha", None, "mixing factor of ``h`` and ``u``; None: the unit's."),
            NOISE,
            RESIDUAL,
            GENERATOR,
            P_INIT,
            Option("c", None, "initial noise scale; None: the unit's."),
        ),
        params=_one_per_feature("p", lambda o: o.p_init),
        state=lambda o: {"c": default(o.c, o.unit.c)},
        stochastic=True,
        sows="noisy_inputs",
        example=example,
    )


_NOISY_DOC = r"""{title}

    Computes :math:`\alpha h + (1-\alpha) u + d\,\sigma\,\epsilon` ({fn}; see
    :class:`rectify_jax.NoisyUnit`) with a learned noise slope ``p`` per feature (the last
    axis), initialised :math:`U[-1, 1]`, and the noise scale ``c`` held as state (not
    trained) so that it can be annealed without recompiling; a ``c`` passed at call
    time takes precedence. ``alpha`` is the noisy units' mixing factor. At test time
    the noise is replaced by its mean."""

NOISY_ACTIVATION = _noisy_activation(
    "NoisyActivation",
    HARD_TANH_UNIT,
    _NOISY_DOC.format(
        title="Output noise (NAH / NAN) of any :class:`rectify_jax.NoisyUnit`.",
        fn="the unit's output noise",
    ),
    Example("[[-0.5, 0.5]]", "Array([[-0.5,  0.5]], dtype=float32)", features=2),
)
NOISY_HARD_TANH = _noisy_activation(
    "NoisyHardTanh",
    HARD_TANH_UNIT,
    _NOISY_DOC.format(
        title=f"Noisy hard tanh (alpha {HARD_TANH_UNIT.alpha}, c {HARD_TANH_UNIT.c}, "
        "``p`` learned).",
        fn=":func:`rectify_jax.noisy_hard_tanh`",
    ),
    Example("[[-0.5, 0.5]]", "Array([[-0.5,  0.5]], dtype=float32)", features=2),
)
NOISY_HARD_SIGMOID = _noisy_activation(
    "NoisyHardSigmoid",
    HARD_SIGMOID_UNIT,
    _NOISY_DOC.format(
        title=f"Noisy hard sigmoid (alpha {HARD_SIGMOID_UNIT.alpha}, c {HARD_SIGMOID_UNIT.c}, "
        "``p`` learned).",
        fn=":func:`rectify_jax.noisy_hard_sigmoid`",
    ),
    Example("[[0.0, 0.0]]", "Array([[0.5, 0.5]], dtype=float32)", features=2),
)


def _input_noisy(method: str):
    def apply(o, params, state, x, key, deterministic):
        y = getattr(o.unit, method)(
            x, key, s=o.s, deterministic=deterministic, generator=o.generator
        )
        return y, None

    return apply


INPUT_NOISY = Layer(
    name="InputNoisy",
    doc=r"""NANI: :math:`h(x + s\xi)`, input noise of fixed scale ``s``.

    See :meth:`rectify_jax.NoisyUnit.input_noise`; :math:`h(x)` at test time.""",
    apply=_input_noisy("input_noise"),
    options=(
        _unit_option(HARD_TANH_UNIT),
        Option("s", None, "noise scale; None: the unit's ``input_s``."),
        GENERATOR,
    ),
    stochastic=True,
    example=Example("[0.5, 9.0]", "Array([0.5, 1. ], dtype=float32)"),
)

SATURATED_INPUT_NOISY = Layer(
    name="SaturatedInputNoisy",
    doc=r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates.

    See :meth:`rectify_jax.NoisyUnit.saturated_input_noise`; :math:`h(x)` at test time.""",
    apply=_input_noisy("saturated_input_noise"),
    options=(
        _unit_option(HARD_TANH_UNIT),
        Option("s", None, "noise scale; None: the unit's ``saturated_s``."),
        GENERATOR,
    ),
    stochastic=True,
    example=Example("[0.5, 9.0]", "Array([0.5, 1. ], dtype=float32)"),
)


def _learned_input_noisy(o, params, state, x, key, deterministic):
    y = o.unit.learned_input_noise(
        x,
        key,
        p=_cast_like(params["p"], x),
        c=state["c"],
        deterministic=deterministic,
        generator=o.generator,
    )
    return y, None


LEARNED_INPUT_NOISY = Layer(
    name="LearnedInputNoisy",
    doc=r"""NANIL: :math:`h(x + \sigma(x)\xi)` with ``p`` learned per feature, ``c`` annealable.

    See :meth:`rectify_jax.NoisyUnit.learned_input_noise`; :math:`h(x)` at test time.""",
    apply=_learned_input_noisy,
    options=(
        _unit_option(HARD_TANH_UNIT),
        GENERATOR,
        P_INIT,
        Option("c", None, "initial noise scale; None: the unit's."),
    ),
    params=_one_per_feature("p", lambda o: o.p_init),
    state=lambda o: {"c": default(o.c, o.unit.c)},
    stochastic=True,
    example=Example("[[0.5, 9.0]]", "Array([[0.5, 1. ]], dtype=float32)", features=2),
)


# --------------------------------------------------------------------------------------
# Recurrent cells.


_SIG, _TANH = HARD_SIGMOID_UNIT, HARD_TANH_UNIT


def _cell_options() -> tuple[Option, ...]:
    return (
        NOISE,
        Option(
            "gate_alpha",
            None,
            f"mixing factor alpha of the noisy hard-sigmoid gates; None: {_SIG.alpha}.",
        ),
        Option(
            "tanh_alpha",
            None,
            f"mixing factor alpha of the noisy hard tanh units; None: {_TANH.alpha}.",
        ),
        Option("gate_c", None, f"initial c of the gates; None: {_SIG.c}."),
        Option("tanh_c", None, f"initial c of the tanh units; None: {_TANH.c}."),
        RESIDUAL,
        GENERATOR,
        Option(
            "gates", "noisy", '``"noisy"``, or ``"hard"`` / ``"soft"`` for controls.', cells.GATES
        ),
        Option(
            "kernel_init",
            jax.nn.initializers.lecun_normal(),
            "input kernel initialiser, per gate block (LeCun normal).",
        ),
        Option(
            "recurrent_kernel_init",
            jax.nn.initializers.orthogonal(),
            "recurrent kernel initialiser, per gate block (orthogonal).",
        ),
        Option("bias_init", jax.nn.initializers.zeros, "bias initialiser (zeros)."),
        P_INIT,
    )


def _cell_config(o) -> cells.NoiseConfig:
    return cells.NoiseConfig(
        o.noise,
        default(o.gate_alpha, HARD_SIGMOID_UNIT.alpha),
        default(o.tanh_alpha, HARD_TANH_UNIT.alpha),
        o.residual,
        o.generator,
        o.gates,
    )


def _cell_state(o):
    return {
        "gate_c": default(o.gate_c, HARD_SIGMOID_UNIT.c),
        "tanh_c": default(o.tanh_c, HARD_TANH_UNIT.c),
    }


_CELL_DOC = r"""{title}

    .. math::
      {math}

    as in the LSTM experiments of Gulcehre et al. (2016): :math:`\tilde\sigma` is the
    noisy hard sigmoid, :math:`\tilde t` the noisy hard tanh, each unit with its own
    learned ``p`` per hidden unit; the noise scales ``gate_c`` and ``tanh_c`` are state
    (annealed, not trained). A step applies its noisy units in two calls, the units
    that read the matrix product together and then the one after the update, each
    drawing its noise from its own key, split from the step's: independent across units,
    elements and steps, and fixed by the key. Each step also reports the inputs of its
    noisy units (named as the gates), for diagnostics.

    Initialisation follows flax's ``{flax}``: ``kernel_init`` (LeCun normal) and
    ``recurrent_kernel_init`` (orthogonal) are applied to each gate's block of the fused
    kernels on its own (:func:`rectify_jax.initializers.blockwise`), so every gate's
    recurrent block is orthogonal, and biases start at zero: a comparison with flax's
    cell starts from the same distribution of weights. For a controlled comparison
    inside one implementation, ``gates="hard"`` or ``gates="soft"`` runs the same cell
    with hard or soft gates (same parameters; ``p`` unused), and training with
    ``deterministic=True`` trains the noisy units' expectation."""


def _zeros(batch_shape, features, dtype):
    return jnp.zeros((*batch_shape, features), dtype)


def _cell(name, *, title, math, flax, carry_doc, layout, step, carry, kind) -> Layer:
    """A noisy recurrent cell: ``layout`` (parameter shapes and roles) and ``step`` (the
    pure step of ``rectify_jax._src.cells``) with the options, state and docs they share."""

    def params(o, in_features, hidden):
        inits = {
            "kernel": o.kernel_init,
            "recurrent": o.recurrent_kernel_init,
            "bias": o.bias_init,
            "p": o.p_init,
        }
        return cells.layout_initializers(layout(in_features, hidden), inits)

    def apply(o, params, state, carry, x, key, deterministic, noise=None):
        return step(
            params,
            carry,
            x,
            key,
            gate_c=state["gate_c"],
            tanh_c=state["tanh_c"],
            config=_cell_config(o),
            deterministic=deterministic,
            with_preactivations=True,
            noise=noise,
        )

    def step_noise(o, key, batch_shape, features, dtype):
        return cells.step_noise(_cell_config(o), key, batch_shape, features, kind, dtype)

    return Layer(
        name=name,
        doc=_CELL_DOC.format(title=title, math=math, flax=flax) + f"\n\n    {carry_doc}",
        apply=apply,
        options=_cell_options(),
        params=params,
        state=_cell_state,
        stochastic=True,
        recurrent=True,
        carry=carry,
        draws_noise=lambda o: o.gates == "noisy",
        step_noise=step_noise,
        example=Example("(2, 3)", "(2, 4)", features=4, in_features=3),
    )


NOISY_LSTM_CELL = _cell(
    "NoisyLSTMCell",
    title="LSTM cell whose gates are noisy hard sigmoids and whose tanh units are noisy.",
    math=r"i, f, o = \tilde\sigma(W_x x + W_h h + b), \quad g = \tilde t(\cdot), \quad "
    r"c' = f c + i g, \quad h' = o\,\tilde t(c')",
    flax="LSTMCell",
    carry_doc="The carry is ``(c, h)``, as in flax's ``LSTMCell``.",
    layout=cells.lstm_layout,
    step=cells.noisy_lstm_step,
    carry=lambda batch, features, dtype: (_zeros(batch, features, dtype),) * 2,
    kind="lstm",
)

NOISY_GRU_CELL = _cell(
    "NoisyGRUCell",
    title="GRU cell whose gates are noisy hard sigmoids and whose candidate is noisy.",
    math=r"r, z = \tilde\sigma(W_x x + W_h h + b), \quad "
    r"n = \tilde t(W_{xn} x + b_n + r\,(W_{hn} h + b_{hn})), \quad h' = (1 - z)\,n + z\,h",
    flax="GRUCell",
    carry_doc="The carry is ``h``; the gates follow flax's ``GRUCell``.",
    layout=cells.gru_layout,
    step=cells.noisy_gru_step,
    carry=_zeros,
    kind="gru",
)

LAYERS: tuple[Layer, ...] = (
    PRELU,
    TLU,
    RRELU,
    NRELU,
    NOISY_ACTIVATION,
    NOISY_HARD_TANH,
    NOISY_HARD_SIGMOID,
    INPUT_NOISY,
    SATURATED_INPUT_NOISY,
    LEARNED_INPUT_NOISY,
    NOISY_LSTM_CELL,
    NOISY_GRU_CELL,
)
"""Every layer description; each adapter builds one module per entry."""


# --------------------------------------------------------------------------------------
# A cell over a whole sequence.


def sequence_inputs(layer: Layer, o, key, length: int, batch_shape, features: int, dtype):
    """What each of ``length`` steps of a cell gets besides its input, stacked on a
    leading time axis: ``{"noise": ...}`` or ``{"key": ...}``, or ``{}`` without noise.

    Step ``t`` has the key ``split(key, length)[t]``. With ``residual="noise"`` every
    step's noise is drawn from those keys in one vectorised call before the scan (the
    step then only reads it: on a CPU much faster than drawing inside the loop, where
    XLA recomputes the generator in each reader; the memory is the same, since the
    backward pass keeps the noise anyway). With ``residual="key"`` each step gets its key
    and draws its noise itself, in the forward and again in the backward pass (no
    ``(length, ...)`` noise array is kept). Both give the same numbers for the same key.
    ``key`` is None when the cell draws no noise (deterministic, or hard/soft gates).
    """
    if key is None:
        return {}
    keys = jax.random.split(key, length)
    if o.residual == "key":
        return {"key": keys}
    draw = functools.partial(layer.step_noise, o, batch_shape=batch_shape, features=features)
    return {"noise": jax.vmap(lambda k: draw(k, dtype=dtype))(keys)}


def scan(layer: Layer, o, params, state, carry, xs, key, deterministic, *, features, unroll=1):
    """Runs a cell over the time-major sequence ``xs`` ``(time, *batch, in_features)``
    with ``jax.lax.scan``, each step given :func:`sequence_inputs`; returns
    ``(carry, ys, sown)`` with ``ys`` and every leaf of ``sown`` stacked on time."""
    per_step = sequence_inputs(
        layer, o, key, xs.shape[0], xs.shape[1:-1], features, jnp.asarray(xs).dtype
    )

    def body(carry, inputs):
        x, given = inputs
        carry, y, sown = layer.apply(
            o, params, state, carry, x, given.get("key"), deterministic, given.get("noise")
        )
        return carry, (y, sown)

    carry, (ys, sown) = jax.lax.scan(body, carry, (xs, per_step), unroll=unroll)
    return carry, ys, sown


def run_sequence(
    layer: Layer,
    o,
    params,
    state,
    inputs,
    key,
    deterministic,
    *,
    features: int,
    initial_carry,
    carry_dtype,
    **options,
):
    """A cell over ``inputs`` with the :data:`SEQUENCE_OPTIONS` (see :func:`over_time`),
    from zeros of ``carry_dtype`` unless ``initial_carry``."""

    def run(xs, unroll):
        carry = initial_carry
        if carry is None:
            carry = layer.carry(tuple(xs.shape[1:-1]), features, carry_dtype)
        carry, ys, _ = scan(
            layer, o, params, state, carry, xs, key, deterministic, features=features, unroll=unroll
        )
        return carry, ys

    return over_time(run, inputs, **options)


def sequence_cell(cell) -> Layer | None:
    """The description of ``cell``'s class if it is a cell of this library, else None."""
    layer = getattr(type(cell), "layer", None)
    return layer if isinstance(layer, Layer) and layer.recurrent else None


def check_sequence_cell(owner: str, cell) -> Layer:
    """The description of ``cell``'s class, if it is a cell of this library; else a TypeError."""
    layer = sequence_cell(cell)
    if layer is None:
        raise TypeError(
            f"{owner}: cell must be a rectify_jax cell (NoisyLSTMCell, NoisyGRUCell), got "
            f"{type(cell).__name__}; scan other cells with the framework's own RNN"
        )
    return layer


SEQUENCE_OPTIONS = (
    Option(
        "time_major",
        False,
        "inputs ``(time, *batch, features)`` instead of ``(*batch, time, features)``.",
    ),
    Option("return_carry", False, "return ``(carry, outputs)`` instead of the outputs."),
    Option("reverse", False, "run from the last step to the first (outputs in that order)."),
    Option("keep_order", False, "with ``reverse``, return the outputs in the inputs' order."),
    Option("unroll", 1, "steps unrolled per loop iteration (``jax.lax.scan``'s ``unroll``)."),
)
"""The options of every adapter's ``RNN``, with the meaning of ``flax.linen.RNN``'s."""


def sequence_options(module) -> dict:
    """The :data:`SEQUENCE_OPTIONS` of an adapter's ``RNN``, read from its attributes."""
    return {opt.name: getattr(module, opt.name) for opt in SEQUENCE_OPTIONS}


def over_time(
    run, inputs, *, time_major=False, return_carry=False, reverse=False, keep_order=False, unroll=1
):
    """Calls ``run(xs, unroll) -> (carry, ys)`` on ``inputs`` with time moved to the front.

    ``inputs`` is ``(*batch, time, features)``, or ``(time, *batch, features)`` when
    ``time_major``; as in ``flax.linen.RNN``, ``reverse`` runs from the last step to the
    first and returns the outputs in that order unless ``keep_order``. Returns ``ys``
    laid out as ``inputs``, or ``(carry, ys)`` with ``return_carry``.
    """
    inputs = jnp.asarray(inputs)
    if inputs.ndim < 2:
        raise ValueError(
            "RNN: inputs must have a time and a feature axis, (*batch, time, features) "
            f"or with time_major=True (time, *batch, features); got shape {inputs.shape}"
        )
    time_axis = 0 if time_major else inputs.ndim - 2
    xs = jnp.moveaxis(inputs, time_axis, 0)
    if reverse:
        xs = jnp.flip(xs, 0)
    carry, ys = run(xs, unroll)
    if reverse and keep_order:
        ys = jnp.flip(ys, 0)
    ys = jnp.moveaxis(ys, 0, time_axis)
    return (carry, ys) if return_carry else ys


_SEQUENCE_DOC = (
    "{what} Step ``t`` gets the key ``split(key, T)[t]`` of {key}, and with "
    '``residual="noise"`` (the cells\' default) the noise of all ``T`` steps is drawn from '
    "those keys in one vectorised call before the scan, so each step only reads its noise "
    "(on a CPU much faster than drawing inside the loop); the memory is what the backward "
    'pass keeps anyway. With the cell\'s ``residual="key"`` each step draws its own noise '
    "from its key (forward, and again backward), and no noise array of the sequence's size "
    "is kept. Both give the same numbers for the same key: those of a ``jax.lax.scan`` over "
    "the cell with those keys. Without noise (test time, hard or soft gates) no key is "
    "needed. {more}"
)


def sequence_docstring(*, what: str, key: str, more: str, example: str) -> str:
    """The docstring of an adapter's ``RNN``: the shared text, the options, an example."""
    body = textwrap.fill(
        _SEQUENCE_DOC.format(what=what, key=key, more=more),
        92,
        initial_indent="    ",
        subsequent_indent="    ",
    )
    lines = [
        "A rectify_jax cell over a sequence, with every step's noise drawn in one call.",
        "",
        body,
        "",
        "    Attributes:",
        "      cell: a rectify_jax cell (``NoisyLSTMCell`` or ``NoisyGRUCell``).",
        *(f"      {opt.name}: {opt.doc}" for opt in SEQUENCE_OPTIONS),
        "",
        "    Examples:",
        *("      " + line for line in example.strip().splitlines()),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# What every adapter needs: options from keywords, deprecations, docstrings.


def split_options(layer: Layer, owner: str, kwargs: dict) -> dict:
    """Maps deprecated keywords to their new names (with a DeprecationWarning)."""
    out = dict(kwargs)
    for old, new in layer.renamed.items():
        if old in out:
            warnings.warn(
                f"{owner}: {old!r} is deprecated, use {new!r} (the flax name); "
                f"{old!r} will be removed in the next release",
                DeprecationWarning,
                stacklevel=4,
            )
            value = out.pop(old)
            if value is not None:
                out.setdefault(new, value)
    return out


def docstring(layer: Layer, conventions: str, example: str) -> str:
    """The docstring of an adapter's module: what it computes, its options, an example."""
    lines = [
        layer.doc.rstrip(),
        "",
        textwrap.fill(conventions.strip(), 92, initial_indent="    ", subsequent_indent="    "),
        "",
        "    Attributes:",
    ]
    for opt in layer.options:
        lines.append(f"      {opt.name}: {opt.doc}")
    lines += ["", "    Examples:"]
    lines += ["      " + line for line in example.strip().splitlines()]
    return "\n".join(lines) + "\n"


def check_features(owner: str, layer: Layer, o, features) -> None:
    """Raises a clear error when a layer with parameters gets no ``features``."""
    if features is None and layer.shapes(o, 1, 1):
        raise TypeError(
            f"{owner}: this configuration has parameters (one per feature), so it needs "
            f"features=, the size of the input's last axis, e.g. {owner}(16, ...)"
        )


def construct(layer: Layer, sizes: tuple, kwargs: dict):
    """What a constructor taking sizes positionally (NNX, Equinox) makes of its arguments.

    ``sizes`` is ``(features,)`` or ``()`` for an activation layer and ``(in_features,
    hidden_features)`` for a cell. Returns ``(options, in_features, features, shapes)``.
    """
    name = layer.name
    n = 2 if layer.recurrent else 1
    if len(sizes) > n or (layer.recurrent and len(sizes) < n):
        raise TypeError(
            f"{name}: takes {'in_features, hidden_features' if n == 2 else 'features'} "
            f"positionally, got {len(sizes)} positional arguments"
        )
    o = layer.configure(name, split_options(layer, name, kwargs))
    in_features, features = sizes if layer.recurrent else (sizes or (None,)) * 2
    if not layer.recurrent:
        check_features(name, layer, o, features)
    shapes = layer.shapes(o, in_features, features) if features is not None else {}
    return o, in_features, features, shapes
