"""Bad values, everywhere: one error that names the callable, the argument and the value.

Every public function of ``rectify_jax`` and ``rectify_jax.noise`` (with the library's
noisy units, which are callable, and their methods) and every public module class of
``rectify_jax.linen``, ``rectify_jax.nnx`` and ``rectify_jax.equinox`` is enumerated from
its ``__all__``. For every argument of its signature, each bad value of the table below
must raise a TypeError or a ValueError whose message starts with the callable's name
(``"noisy_hard_tanh: "``, ``"NoisyLSTMCell: "``) and names the argument. An argument the
table does not know fails the test: give it bad values, or a reason in ``NOT_CHECKED``.

Every bad value is rejected before anything is compiled, so the whole table runs in
seconds; each callable also runs once with good values (tiny shapes), so that an error
is the bad value's doing.
"""

from __future__ import annotations

import inspect
import re
import types
from typing import Any

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import rectify_jax as rj
from rectify_jax import equinox as rje
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx
from rectify_jax import noise as rn

KEY = jax.random.key(0)
X = jnp.array([[-3.0, 0.5]])  # both regimes of every unit; two features
XS = jnp.ones((1, 3, 2))  # (batch, time, features) for the RNNs
NAN, INF = float("nan"), float("inf")

# --------------------------------------------------------------------------------------
# The table: bad values by argument name. Host arrays (NumPy) are checked like numbers;
# JAX arrays are not read back (rectify_jax._src.validation), so none appear here.

BAD_X = {
    "None": None,
    "a string": "abc",
    "a dict": {"a": 1},
    "a ragged list": [[1.0], [1.0, 2.0]],
    "an int array": jnp.ones((1, 2), jnp.int32),
    "a bool array": jnp.ones((1, 2), bool),
    "a float8 array": jnp.ones((1, 2), jnp.float8_e4m3fn),
}
SCALE = {  # noise scales: finite and >= 0
    "negative": -1.0,
    "NaN": NAN,
    "inf": INF,
    "a string": "1.0",
    "a bool": True,
    "a host array with a negative entry": np.array([0.5, -1.0]),
    "a host array with a NaN": np.array([0.5, NAN]),
}
REAL = {  # mixing factors, slopes, p: finite
    "NaN": NAN,
    "inf": INF,
    "-inf": -INF,
    "a string": "1.0",
    "a bool": True,
    "a host array with an inf": np.array([1.0, INF]),
}
SIZE = {"0": 0, "-1": -1, "1.5": 1.5, "a string": "2", "a bool": True}
SWITCH = {"a string": "yes", "an int": 1}
INITIALIZER = {"a string": "abc", "a number": 0.5}
DTYPE = {"int32": jnp.int32, "float8": jnp.float8_e4m3fn, "a string": "abc"}
KEYS = {"a string": "abc", "a float array": jnp.zeros(2), "a batch of keys": jax.random.split(KEY)}

BAD = {
    "x": BAD_X,
    "inputs": BAD_X,
    "key": {**KEYS, "None (with the noise on)": None},
    "c": SCALE,
    "s": SCALE,
    "gate_c": SCALE,
    "tanh_c": SCALE,
    "input_s": SCALE,
    "saturated_s": SCALE,
    "p": REAL,
    "alpha": REAL,
    "gate_alpha": REAL,
    "tanh_alpha": REAL,
    "negative_slope": REAL,
    "scale": REAL,
    "negative_slope_init": {**REAL, "a string": "abc"},
    "lower": {
        "negative": -0.1,
        "NaN": NAN,
        "inf": INF,
        "a string": "0.1",
        "above upper": 0.5,
        "above upper, elementwise (host arrays)": np.array([0.2, 0.5]),
    },
    "upper": {"negative": -0.1, "NaN": NAN, "inf": INF, "a string": "0.3", "below lower": 0.05},
    "noise": {"unknown": "gaussian", "not a string": 1},
    "kind": {"unknown": "gaussian", "not a string": None},
    "residual": {"unknown": "everything", "not a string": None},
    "generator": {"unknown": "numpy", "not a string": None},
    "gates": {"unknown": "open", "not a string": 1},
    "deterministic": SWITCH,
    "inference": SWITCH,
    "autodiff": SWITCH,
    "learn_alpha": SWITCH,
    "time_major": SWITCH,
    "return_carry": SWITCH,
    "reverse": SWITCH,
    "keep_order": SWITCH,
    "features": SIZE,
    "in_features": SIZE,
    "hidden_features": SIZE,
    "input_size": SIZE,
    "hidden_size": SIZE,
    "unroll": SIZE,
    "shape": {"a negative size": (2, -1), "a float": 1.5, "a string": "abc", "None": None},
    "dtype": DTYPE,
    "param_dtype": DTYPE,
    "unit": {"a string": "tanh", "a function": rj.hard_tanh},
    "p_init": INITIALIZER,
    "kernel_init": INITIALIZER,
    "recurrent_kernel_init": INITIALIZER,
    "bias_init": INITIALIZER,
    "carry_init": INITIALIZER,
    "rng_collection": {"an int": 1},
    "rng": KEYS,
    "rngs": {"a string": "abc"},
    "cell": {"a string": "abc", "a layer": rjl.PReLU()},
    "h": {"a string": "abc"},
    "u": {"a string": "abc"},
    "delta": {"a string": "abc"},
    "threshold": {"a string": "abc", "negative": -1.0, "NaN": NAN, "a reversed pair": (2.0, 1.0)},
    "name": {"an int": 1},
}

NOT_CHECKED = {
    "self": "the instance",
    "args": "flax.nnx's metaclass signature (the __init__ signature is used)",
    "kwargs": "passed on to flax's SimpleCell",
    "state_axes": "an option of flax's nnx.RNN for other cells, passed on",
    "broadcast_rngs": "an option of flax's nnx.RNN for other cells, passed on",
    "axis_name": "shard_key's, skipped",
}
CALL_NOT_CHECKED = {
    "carry": "the cell's state, from initialize_carry",
    "noise": "the step's noise drawn ahead, passed by the RNNs",
    "initial_carry": "the RNN's starting state, as flax's",
    "init_key": "flax's RNN option: the key of initialize_carry",
    "seq_lengths": "flax's RNN option",
    "return_carry": "the RNN's call-time override of its checked field",
    "time_major": "the RNN's call-time override of its checked field",
    "reverse": "the RNN's call-time override of its checked field",
    "keep_order": "the RNN's call-time override of its checked field",
}

SKIPPED_FUNCTIONS = {
    "shard_key": "a key utility for shard_map/pmap (no input, no hyperparameter); its axis "
    "name is checked by jax.lax.axis_index",
}

# --------------------------------------------------------------------------------------
# The callables, enumerated.


def _public_functions() -> dict[str, tuple[str, object]]:
    """``{id: (name in messages, callable)}``: the functions of ``rj`` and ``rj.noise``, and
    the library's noisy units with their methods."""
    found = {}
    for module in (rj, rn):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.FunctionType) and name not in SKIPPED_FUNCTIONS:
                found[f"{module.__name__}.{name}"] = (obj.__name__, obj)
            elif isinstance(obj, rj.NoisyUnit):
                found[f"rj.{name}"] = (obj.name, obj)
                for method in ("input_noise", "learned_input_noise", "saturated_input_noise"):
                    found[f"rj.{name}.{method}"] = (f"{obj.name}.{method}", getattr(obj, method))
    return found


FUNCTIONS = _public_functions()
FRAMEWORKS = {"linen": (rjl, nn.Module), "nnx": (rjx, nnx.Module), "equinox": (rje, eqx.Module)}
CLASSES = {
    f"{framework}.{name}": (framework, getattr(module, name))
    for framework, (module, base) in FRAMEWORKS.items()
    for name in module.__all__
    if inspect.isclass(getattr(module, name)) and issubclass(getattr(module, name), base)
}
CLASSES["rj.NoisyUnit"] = ("core", rj.NoisyUnit)


def test_every_public_name_is_covered_or_skipped_with_a_reason():
    covered = {f.split(".")[-1] for f in FUNCTIONS} | {"NoisyUnit"}
    for module in (rj, rn):
        for name in module.__all__:
            obj = getattr(module, name)
            if name in covered or name in SKIPPED_FUNCTIONS or isinstance(obj, types.ModuleType):
                continue
            assert not callable(obj), f"{module.__name__}.{name} is neither tested nor skipped"
    assert len(FUNCTIONS) >= 28 and len(CLASSES) >= 43


# --------------------------------------------------------------------------------------
# Running a case.


def _verdict(call, owner: str, arg: str) -> str | None:
    """None when ``call()`` raises the error wanted, else what happened instead."""
    try:
        call()
    except (TypeError, ValueError) as e:
        message = str(e)
        if not message.startswith(f"{owner}: "):
            return f"{type(e).__name__} not naming {owner!r} first: {message[:200]!r}"
        if not re.search(rf"(?<![\w.]){re.escape(arg)}(?!\w)", message):
            return f"{type(e).__name__} not naming {arg!r}: {message[:200]!r}"
        return None
    except Exception as e:  # noqa: BLE001 - the point: any other error is a finding
        return f"{type(e).__name__} instead of TypeError/ValueError: {str(e)[:200]!r}"
    return "no error"


def _check_all(cases) -> None:
    """Runs ``(arg, label, call, owner)`` cases and fails listing every miss."""
    misses = []
    for arg, label, call, owner in cases:
        verdict = _verdict(call, owner, arg)
        if verdict is not None:
            misses.append(f"{owner}({arg}={label}): {verdict}")
    assert not misses, f"{len(misses)} of {len(cases)} cases:\n" + "\n".join(misses)


def _bad_values(arg: str, owner: str, where: str = "argument") -> dict:
    if arg not in BAD:
        raise AssertionError(
            f"{owner}: {where} {arg!r} has no bad values in the table; add them to BAD (or "
            "a reason to NOT_CHECKED)"
        )
    return BAD[arg]


# --------------------------------------------------------------------------------------
# Functions.

GOOD_ARGUMENTS = {
    "x": X,
    "key": KEY,
    "shape": (2,),
    "kind": "normal",
    "dtype": jnp.float32,
    "alpha": 0.25,  # prelu's, which has no default
}


@pytest.mark.parametrize("fid", FUNCTIONS)
def test_functions_reject_bad_values_naming_themselves_and_the_argument(fid):
    owner, fn = FUNCTIONS[fid]
    params = inspect.signature(fn).parameters  # pyright: ignore[reportArgumentType]
    good = {
        name: GOOD_ARGUMENTS[name]
        for name, param in params.items()
        if param.default is inspect.Parameter.empty or name in ("x", "key")
    }
    assert fn(**good) is not None  # pyright: ignore[reportCallIssue]
    cases = []
    for arg in params:
        if arg in NOT_CHECKED:
            continue
        for label, bad in _bad_values(arg, owner).items():
            cases.append((arg, label, lambda arg=arg, bad=bad: fn(**{**good, arg: bad}), owner))  # pyright: ignore[reportCallIssue]
    _check_all(cases)


# --------------------------------------------------------------------------------------
# Module classes: constructed, initialised and called the way of their framework.


def _is_cell(cls) -> bool:
    return "initialize_carry" in dir(cls)


def _call_params(cls) -> list[str]:
    return [n for n in inspect.signature(cls.__call__).parameters if n != "self"]


def _input_name(cls) -> str:
    """The argument of ``__call__`` holding the input: ``x`` or ``inputs``."""
    return next(n for n in _call_params(cls) if n in ("x", "inputs"))


def _constructor_params(framework: str, cls) -> list[str]:
    if framework == "linen" and cls is rjl.IRNNCell:
        return ["features", "scale"]  # the rest are flax.linen.SimpleCell's own fields
    init = cls if framework in ("linen", "core") else cls.__init__
    flax_own = ("parent", "name") if framework == "linen" else ()  # every linen module's
    return [n for n in inspect.signature(init).parameters if n not in (*NOT_CHECKED, *flax_own)]


def _good_constructor(framework: str, cls) -> dict:
    params = inspect.signature(cls if framework in ("linen", "core") else cls.__init__).parameters
    sizes = {n: 2 for n in ("features", "in_features", "hidden_features")}
    sizes |= {n: 2 for n in ("input_size", "hidden_size")}
    good: dict[str, Any] = {n: value for n, value in sizes.items() if n in params}
    if framework == "linen" and "features" in params:
        good["features"] = 2
    if framework == "nnx":
        good["rngs"] = nnx.Rngs(0)
    if framework == "equinox" and "key" in params:
        good["key"] = KEY
    if framework == "core":
        good.update(h=rj.hard_tanh, u=lambda x: x, threshold=1.0)
    if "cell" in params:
        good["cell"] = {
            "linen": lambda: rjl.NoisyLSTMCell(2),
            "nnx": lambda: rjx.NoisyLSTMCell(2, 2, rngs=nnx.Rngs(0)),
            "equinox": lambda: rje.NoisyLSTMCell(2, 2, key=KEY),
        }[framework]()
    return good


_GOOD_INPUT = object()


def _run(framework: str, cls, ctor: dict, call: dict | None = None, x=_GOOD_INPUT):
    """Builds the module from ``ctor`` and calls it once with noise on (tiny shapes)."""
    module = cls(**ctor)
    if framework == "core":
        return module
    name = _input_name(cls)
    inputs = (XS if cls.__name__ == "RNN" else X) if x is _GOOD_INPUT else x
    call = {name: inputs, **(call or {})}
    params = _call_params(cls)
    if framework == "linen":
        if "deterministic" in params:
            call.setdefault("deterministic", False)
        if _is_cell(cls):
            call["carry"] = module.initialize_carry(KEY, X.shape)
        keys = {"params": KEY, "noise": KEY}
        variables = module.init(keys, **call)
        return module.apply(variables, rngs={"noise": KEY}, **call)
    if _is_cell(cls):
        rngs = {"rngs": nnx.Rngs(0)} if framework == "nnx" else {}  # flax's SimpleCell needs it
        call["carry"] = module.initialize_carry(X.shape, **rngs)
    if framework == "equinox":
        call.setdefault("key", KEY)
    return module(**call)


@pytest.mark.parametrize("cid", CLASSES)
def test_classes_reject_bad_values_naming_themselves_and_the_argument(cid):
    framework, cls = CLASSES[cid]
    owner = cls.__name__
    good = _good_constructor(framework, cls)
    _run(framework, cls, good)
    cases = []
    for arg in _constructor_params(framework, cls):
        for label, bad in _bad_values(arg, owner, "constructor argument").items():
            if arg == "key" and bad is None:
                continue  # a constructor's key: None is allowed where nothing is drawn
            ctor = {**good, arg: bad}
            cases.append((arg, label, lambda ctor=ctor: _run(framework, cls, ctor), owner))
    if framework != "core":
        for arg in _call_params(cls):
            if arg in CALL_NOT_CHECKED:
                continue
            for label, bad in _bad_values(arg, owner, "call argument").items():
                if arg in ("key", "rng", "rngs") and bad is None:
                    continue  # at call time None means: the module's stream
                if arg == _input_name(cls):
                    run = lambda bad=bad: _run(framework, cls, good, x=bad)  # noqa: E731
                else:
                    run = lambda arg=arg, bad=bad: _run(framework, cls, good, {arg: bad})  # noqa: E731
                cases.append((arg, label, run, owner))
    _check_all(cases)


# --------------------------------------------------------------------------------------
# What the checks must leave alone.


def test_nan_and_inf_inputs_still_propagate():
    x = jnp.array([NAN, INF, -INF, 0.5])
    for owner, fn in FUNCTIONS.values():
        params = inspect.signature(fn).parameters  # pyright: ignore[reportArgumentType]
        if "x" not in params:
            continue
        good: dict[str, Any] = {"x": x, "key": KEY} if "key" in params else {"x": x}
        if owner == "prelu":
            good["alpha"] = 0.25
        y = fn(**good)  # pyright: ignore[reportCallIssue]
        assert bool(jnp.isnan(y[0])), owner  # NaN in, NaN out
        assert bool(jnp.all(jnp.isfinite(y[3]))), owner


def test_alpha_one_is_h_itself_also_at_infinity():
    """alpha == 1 (a host number) turns the output noise off: h(x) exactly, no key needed."""
    x = jnp.array([-INF, -3.0, 0.5, 3.0, INF, NAN])
    for fn, h in ((rj.noisy_hard_tanh, rj.hard_tanh), (rj.noisy_hard_sigmoid, rj.hard_sigmoid)):
        calls: tuple[dict[str, Any], ...] = ({"key": KEY}, {"deterministic": True}, {"key": None})
        for kwargs in calls:
            y = fn(x, alpha=1.0, **kwargs)
            np.testing.assert_array_equal(y, h(x))
        g = jax.grad(lambda x, fn=fn: jnp.sum(fn(x, KEY, alpha=1.0)))(x[1:5])
        np.testing.assert_array_equal(g, jax.grad(lambda x, h=h: jnp.sum(h(x)))(x[1:5]))
    layer = rje.NoisyHardTanh(2, alpha=1.0, key=KEY)
    np.testing.assert_array_equal(layer(jnp.array([INF, -INF]), key=KEY), jnp.array([1.0, -1.0]))


def test_alpha_one_as_an_array_is_h_too_also_at_infinity():
    """An array alpha of 1 (traced, learned, or a cell's gate_alpha) gives h(x) at x = +-inf,
    not (1 - 1) * inf = NaN, with finite gradients for x and alpha, in both VJPs."""
    x = jnp.array([-INF, -3.0, 0.5, 3.0, INF])
    for fn, h in ((rj.noisy_hard_tanh, rj.hard_tanh), (rj.noisy_hard_sigmoid, rj.hard_sigmoid)):
        for alpha in (jnp.float32(1.0), jnp.ones(5), jnp.array([1.0, 1.15, 1.0, 1.0, 1.0])):
            for autodiff in (False, True):
                y = fn(x, KEY, alpha=alpha, autodiff=autodiff)
                ends = jnp.array([0, 4])
                np.testing.assert_array_equal(y[ends], h(x)[ends])
                assert bool(jnp.isnan(fn(x.at[2].set(NAN), KEY, alpha=alpha)[2]))

                def loss(x, a, fn=fn, ad=autodiff):
                    return jnp.sum(fn(x, KEY, alpha=a, autodiff=ad))

                gx, ga = jax.grad(loss, argnums=(0, 1))(x, alpha)
                assert bool(jnp.all(jnp.isfinite(gx))) and bool(jnp.all(jnp.isfinite(ga)))
    # a cell's gates: every weight 10 and an input of 1e38 send each pre-activation to +inf
    cell = rjl.NoisyLSTMCell(4, gate_alpha=1.0, tanh_alpha=1.0)
    x1 = jnp.array([[1e38]])
    carry = cell.initialize_carry(KEY, x1.shape)
    params = cell.init({"params": KEY, "noise": KEY}, carry, x1)
    params = jax.tree.map(lambda w: jnp.full_like(w, 10.0), params)
    (c, h), _ = cell.apply(params, carry, x1, rngs={"noise": KEY})
    np.testing.assert_array_equal(c, jnp.ones_like(c))  # i = f = o = g = 1 at +inf
    np.testing.assert_array_equal(h, jnp.ones_like(h))  # o * hard_tanh(c)


def test_device_arrays_are_not_read_back_but_their_dtype_is_checked():
    """The documented policy: a JAX array's values are not checked (no device-to-host copy
    per eager call); its dtype is."""
    y = rj.noisy_hard_tanh(X, KEY, c=jnp.asarray(-1.0))  # not read: computed as given
    assert y.shape == X.shape
    with pytest.raises(TypeError, match=r"noisy_hard_tanh: c must be a float .*int32"):
        rj.noisy_hard_tanh(X, KEY, c=jnp.asarray(1))
    traced = jax.jit(lambda c: rj.noisy_hard_tanh(X, KEY, c=c))(0.5)  # traced: not read
    assert traced.shape == X.shape
