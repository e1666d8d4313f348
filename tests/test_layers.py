"""Layer descriptions and their adapters: linen, NNX and Equinox agree by construction.

One test iterates every layer description; another adds a toy description and gets
working modules in all three frameworks from it.
"""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rectify_jax import equinox as rje
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx
from rectify_jax._src import layers
from rectify_jax.linen._modules import module as linen_module
from rectify_jax.nnx._modules import module as nnx_module

B, IN, H = 2, 12, 5
X = jnp.linspace(-4.0, 4.0, B * IN).reshape(B, IN) + 0.01


def _build_three(layer, linen_cls, nnx_cls, eqx_cls):
    """The three modules of ``layer`` holding the same parameters (those linen drew)."""
    init_keys = {"params": jax.random.key(0), "noise": jax.random.key(1)}
    if layer.recurrent:
        lmod = linen_cls(features=H)
        carry = lmod.initialize_carry(jax.random.key(0), (B, IN))
        variables = lmod.init(init_keys, carry, X)
        xmod, emod = nnx_cls(IN, H, rngs=nnx.Rngs(3)), eqx_cls(IN, H, key=jax.random.key(3))
    else:
        lmod = linen_cls()
        variables = lmod.init(init_keys, X, deterministic=True)
        has_params = bool(variables.get("params"))
        features = (IN,) if has_params else ()
        xmod = nnx_cls(*features, rngs=nnx.Rngs(3))
        emod = eqx_cls(*features, key=jax.random.key(3))
    params = dict(variables.get("params", {}))
    assert set(params) == set(xmod._param_names) == set(emod.params)  # same names
    for name, value in params.items():
        assert getattr(xmod, name)[...].shape == value.shape == emod.params[name].shape
        getattr(xmod, name)[...] = value
    emod = eqx.tree_at(lambda m: m.params, emod, params)
    scales = dict(variables.get("noise_scale", {}))  # same initial noise scales
    assert scales.keys() == set(xmod._state_names) == emod.noise_scale.keys()
    for name, value in scales.items():
        assert float(getattr(xmod, name)[...]) == float(emod.noise_scale[name]) == float(value)
    return lmod, variables, xmod, emod


def _assert_same_outputs(layer, lmod, variables, xmod, emod, key):
    modes = (False, True) if layer.stochastic else (True,)
    for det in modes:
        if layer.recurrent:
            carry = lmod.initialize_carry(None, (B, IN))
            ly = lmod.apply(variables, carry, X, deterministic=det, rng=key)
            xy = xmod(carry, X, deterministic=det, rngs=key)
            ey = emod(carry, X, key=key, inference=det)
        else:
            ly = lmod.apply(variables, X, deterministic=det, rng=key)
            xy = xmod(X, deterministic=det, rngs=key)
            ey = emod(X, key=key, inference=det)
        for other in (xy, ey):
            jax.tree.map(np.testing.assert_array_equal, ly, other)
    if layer.stochastic:  # the key matters when noise is on
        other_key = jax.random.fold_in(key, 1)
        if layer.recurrent:
            carry = lmod.initialize_carry(None, (B, IN))
            a = emod(carry, X, key=key)[1]
            b = emod(carry, X, key=other_key)[1]
        else:  # inputs near the threshold, a large noise scale: the noise shows in the output
            big = {"c": 50.0} if "c" in emod.noise_scale else {}
            near = jnp.concatenate([0.375 * X, 0.75 * X])  # around 1 (tanh) and 2 (sigmoid)
            a, b = emod(near, key=key, **big), emod(near, key=other_key, **big)
        assert not np.array_equal(a, b)


@pytest.mark.parametrize("layer", layers.LAYERS, ids=lambda layer: layer.name)
def test_every_layer_gives_identical_outputs_in_linen_nnx_and_equinox(layer, key):
    classes = rjl.MODULES[layer.name], rjx.MODULES[layer.name], rje.MODULES[layer.name]
    assert all(cls.layer is layer for cls in classes)
    built = _build_three(layer, *classes)
    _assert_same_outputs(layer, *built, key)


def test_the_adapters_cover_every_description_and_export_it():
    names = {layer.name for layer in layers.LAYERS}
    for adapter in (rjl, rjx, rje):
        assert set(adapter.MODULES) == names
        for name in names:
            assert getattr(adapter, name) is adapter.MODULES[name]


def _scaled(o, params, state, x, key, deterministic):
    y = x * params["scale"].astype(x.dtype)
    if not deterministic:
        y = y + state["c"] * jax.random.normal(key, x.shape, x.dtype)
    return y, None


TOY = layers.Layer(
    name="NoisyScale",
    doc="A toy: ``scale * x`` plus Gaussian noise of scale ``c``.",
    apply=_scaled,
    options=(layers.Option("scale_init", 2.0, "initial scale."),),
    params=lambda o, i, f: {"scale": ((f,), layers._constant(o.scale_init))},
    state=lambda o: {"c": 0.1},
    stochastic=True,
    example=layers.Example("[[1.0, -1.0]]", "Array([[ 2., -2.]], dtype=float32)", features=2),
)


def test_a_new_description_gives_working_modules_in_all_three_frameworks(key):
    classes = linen_module(TOY), nnx_module(TOY), rje.module(TOY)
    assert [cls.__name__ for cls in classes] == ["NoisyScale"] * 3
    lmod, variables, xmod, emod = _build_three(TOY, *classes)
    np.testing.assert_array_equal(variables["params"]["scale"], jnp.full((IN,), 2.0))
    _assert_same_outputs(TOY, lmod, variables, xmod, emod, key)
    np.testing.assert_array_equal(emod(X, inference=True), 2 * X)
    # annealing reaches the toy's noise scale in every framework
    big = rjl.set_noise_scale(variables, 0.0)
    np.testing.assert_array_equal(lmod.apply(big, X, deterministic=False, rng=key), 2 * X)
    rjx.set_noise_scale(xmod, 0.0)
    np.testing.assert_array_equal(xmod(X, rngs=key), 2 * X)
    np.testing.assert_array_equal(rje.set_noise_scale(emod, 0.0)(X, key=key), 2 * X)
    assert "Examples:" in classes[2].__doc__ and "NoisyScale(2, key=" in classes[2].__doc__


def test_options_are_checked_at_construction_in_every_framework():
    for make in (
        lambda: rjl.NoisyHardTanh(noise="gauss"),
        lambda: rjx.NoisyHardTanh(3, noise="gauss", rngs=nnx.Rngs(0)),
        lambda: rje.NoisyHardTanh(3, noise="gauss", key=jax.random.key(0)),
    ):
        with pytest.raises(ValueError, match=r"NoisyHardTanh: noise='gauss' is not one of"):
            make()
    with pytest.raises(TypeError, match=r"NoisyHardTanh: unknown option\(s\) \['sigma'\]"):
        rje.NoisyHardTanh(3, sigma=1.0, key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"PReLU: .* needs features="):
        rjx.PReLU(rngs=nnx.Rngs(0))


def test_prelu_old_names_still_work_with_a_deprecation_warning():
    with pytest.warns(
        DeprecationWarning, match="'alpha_init' is deprecated, use 'negative_slope_init'"
    ):
        layer = rjl.PReLU(alpha_init=0.5)
    variables = layer.init(jax.random.key(0), X)
    np.testing.assert_array_equal(variables["params"]["negative_slope"], jnp.full((IN,), 0.5))
    with pytest.warns(DeprecationWarning):
        xmod = rjx.PReLU(IN, alpha_init=0.5, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(xmod.negative_slope[...], jnp.full((IN,), 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rjl.PReLU(negative_slope_init=0.5).init(jax.random.key(0), X)  # no warning


def test_nnx_rngs_may_be_a_key_or_a_stream_for_every_layer_with_parameters(key):
    for rngs in (key, nnx.RngStream(key, tag="noise"), nnx.Rngs(0)):
        layer = rjx.NoisyHardTanh(IN, rngs=rngs)
        assert layer.p[...].shape == (IN,)
        assert layer(X).shape == X.shape
        cell = rjx.NoisyGRUCell(IN, H, rngs=rngs)
        assert cell(cell.initialize_carry((B, IN)), X)[1].shape == (B, H)
        irnn = rjx.IRNNCell(IN, H, rngs=rngs)
        assert irnn(irnn.initialize_carry((B, IN), nnx.Rngs(0)), X)[1].shape == (B, H)


def test_linen_cells_take_deterministic_as_attribute_or_call_argument(key):
    cell = rjl.NoisyLSTMCell(features=H)
    carry = cell.initialize_carry(None, (B, IN))
    variables = cell.init({"params": jax.random.key(0), "noise": key}, carry, X)
    test_time = rjl.NoisyLSTMCell(features=H, deterministic=True).apply(variables, carry, 4 * X)
    by_call = cell.apply(variables, carry, 4 * X, deterministic=True)
    jax.tree.map(np.testing.assert_array_equal, test_time, by_call)
    noisy = cell.apply(variables, carry, 4 * X, rng=key)
    assert not np.array_equal(noisy[1], by_call[1])


def test_equinox_inference_mode_and_a_missing_key(key):
    layer = rje.NoisyHardSigmoid(IN, key=key)
    with pytest.raises(ValueError, match=r"NoisyHardSigmoid: noise is on but no key was given"):
        layer(X)
    test_time = eqx.nn.inference_mode(layer)
    np.testing.assert_array_equal(test_time(4 * X), layer(4 * X, inference=True))


def test_equinox_annealing_does_not_recompile(key):
    layer = rje.NoisyHardTanh(IN, key=key)
    traces = []

    @eqx.filter_jit
    def step(model, c, k):
        traces.append(1)
        return rje.set_noise_scale(model, c)(4 * X, key=k)

    outs = [step(layer, jnp.float32(c), key) for c in (0.5, 5.0, 50.0)]
    assert len(traces) == 1
    assert not np.array_equal(outs[0], outs[2])
