"""flax.linen modules: parameters, randomness the Flax way, annealing without recompiles."""

import math

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rectify_jax as rj
from rectify_jax import linen as rjl

X = jnp.linspace(-4.0, 4.0, 24).reshape(2, 12) + 0.01


def init_and_apply(module, x, *, rng_seed=1, **apply_kwargs):
    variables = module.init({"params": jax.random.key(0), "noise": jax.random.key(rng_seed)}, x)
    return variables, module.apply(variables, x, rngs={"noise": jax.random.key(2)}, **apply_kwargs)


def test_prelu_has_one_slope_per_channel_initialised_to_a_quarter():
    variables, y = init_and_apply(rjl.PReLU(), X)
    np.testing.assert_array_equal(variables["params"]["negative_slope"], jnp.full((12,), 0.25))
    np.testing.assert_allclose(y, rj.prelu(X, 0.25))
    y16 = rjl.PReLU().apply(variables, X.astype(jnp.bfloat16))
    assert y16.dtype == jnp.bfloat16  # f32 parameters, bf16 activations


def test_tlu_fixed_or_learned_alpha():
    variables, y = init_and_apply(rjl.TLU(alpha=0.5), X)
    assert "params" not in variables
    np.testing.assert_allclose(y, rj.tlu(X, alpha=0.5))
    variables, y = init_and_apply(rjl.TLU(alpha=0.5, learn_alpha=True), X)
    np.testing.assert_array_equal(variables["params"]["alpha"], jnp.full((12,), 0.5))
    g = jax.grad(lambda v: jnp.sum(rjl.TLU(learn_alpha=True).apply(v, X)))(variables)
    assert bool(jnp.any(g["params"]["alpha"] != 0))


def test_noisy_p_is_uniform_minus_one_one_and_c_is_in_its_collection():
    n = 4096
    variables = rjl.NoisyHardTanh(deterministic=True).init(jax.random.key(0), jnp.ones((1, n)))
    p = np.asarray(variables["params"]["p"], np.float64)
    assert p.shape == (n,) and p.min() >= -1 and p.max() < 1
    assert abs(p.mean()) < 5 * math.sqrt(1 / 3) / math.sqrt(n)  # U[-1,1]: variance 1/3
    assert abs(p.var() - 1 / 3) < 5 * math.sqrt(4 / 45) / math.sqrt(n)  # (mu4 - var^2) / n
    assert float(variables["noise_scale"]["c"]) == 0.5
    sig = rjl.NoisyHardSigmoid(deterministic=True).init(jax.random.key(0), jnp.ones((1, 3)))
    assert float(sig["noise_scale"]["c"]) == pytest.approx(0.15)


@pytest.mark.parametrize(
    "module, fn",
    [
        (rjl.NoisyHardTanh(), lambda x, k, p: rj.noisy_hard_tanh(x, k, p=p)),
        (
            rjl.NoisyHardSigmoid(noise="normal"),
            lambda x, k, p: rj.noisy_hard_sigmoid(x, k, p=p, noise="normal"),
        ),
    ],
)
def test_module_equals_the_function_with_its_parameter_and_key(module, fn, key):
    variables = module.init(jax.random.key(0), X, deterministic=True)
    y = module.apply(variables, X, deterministic=False, rng=key)
    np.testing.assert_array_equal(y, fn(X, key, variables["params"]["p"]))


def test_train_and_eval_and_same_rng_same_output():
    module = rjl.NoisyHardTanh()
    variables = module.init(jax.random.key(0), X, deterministic=True)

    def run(seed, det):
        return module.apply(variables, X, deterministic=det, rngs={"noise": jax.random.key(seed)})

    np.testing.assert_array_equal(run(1, False), run(1, False))
    assert not np.array_equal(run(1, False), run(2, False))
    np.testing.assert_array_equal(run(1, True), run(2, True))
    np.testing.assert_allclose(
        run(1, True), rj.noisy_hard_tanh(X, p=variables["params"]["p"], deterministic=True)
    )
    assert module.apply(variables, X.astype(jnp.bfloat16), deterministic=True).dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "module",
    [
        rjl.NoisyHardTanh(),
        rjl.RReLU(),
        rjl.NReLU(),
        rjl.InputNoisy(),
        rjl.SaturatedInputNoisy(),
        rjl.LearnedInputNoisy(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_missing_noise_stream_is_an_error_not_a_fallback_to_params(module):
    name = type(module).__name__
    with pytest.raises(
        ValueError, match=rf"{name}: deterministic=False but no PRNG stream 'noise'"
    ):
        module.init(jax.random.key(0), X, deterministic=False)
    variables = module.init(jax.random.key(0), X, deterministic=True)
    with pytest.raises(ValueError, match="rngs=\\{'noise': key\\}"):
        module.apply(variables, X, deterministic=False, rngs={"params": jax.random.key(0)})


def test_deterministic_must_be_given_somewhere():
    with pytest.raises(Exception, match="deterministic"):
        rjl.NoisyHardTanh().init(jax.random.key(0), X)


def test_custom_rng_collection_name():
    module = rjl.RReLU(rng_collection="stochastic", deterministic=False)
    y = module.apply({}, X, rngs={"stochastic": jax.random.key(0)})
    assert not np.array_equal(y, module.apply({}, X, rngs={"stochastic": jax.random.key(1)}))
    with pytest.raises(ValueError, match="no PRNG stream 'stochastic'"):
        module.apply({}, X, rngs={"noise": jax.random.key(0)})


@pytest.mark.parametrize(
    "module, method",
    [
        (rjl.InputNoisy(unit=rj.HARD_SIGMOID_UNIT, s=0.3), "input_noise"),
        (rjl.SaturatedInputNoisy(), "saturated_input_noise"),
    ],
    ids=["NANI", "NANIS"],
)
def test_input_noise_modules(module, method, key):
    y = module.apply({}, X, deterministic=False, rng=key)
    kwargs = {"s": module.s}
    np.testing.assert_array_equal(y, getattr(module.unit, method)(X, key, **kwargs))
    np.testing.assert_array_equal(module.apply({}, X, deterministic=True), module.unit.h(X))


def test_learned_input_noise_module(key):
    module = rjl.LearnedInputNoisy()
    variables = module.init(jax.random.key(0), X, deterministic=True)
    y = module.apply(variables, X, deterministic=False, rng=key)
    want = rj.learned_input_noisy_hard_tanh(X, key, p=variables["params"]["p"], c=0.5)
    np.testing.assert_array_equal(y, want)


def test_set_noise_scale_changes_the_noise_and_checks_its_input(key):
    module = rjl.NoisyHardTanh()
    variables = module.init(jax.random.key(0), X, deterministic=True)
    big = rjl.set_noise_scale(variables, 30.0)
    assert float(big["noise_scale"]["c"]) == 30.0 and float(variables["noise_scale"]["c"]) == 0.5
    y_small = module.apply(variables, X, deterministic=False, rng=key)
    y_big = module.apply(big, X, deterministic=False, rng=key)
    np.testing.assert_array_equal(
        y_big, rj.noisy_hard_tanh(X, key, p=variables["params"]["p"], c=30.0)
    )
    assert not np.array_equal(y_small, y_big)
    with pytest.raises(ValueError, match="set_noise_scale: variables has no 'noise_scale'"):
        rjl.set_noise_scale({"params": variables["params"]}, 1.0)
    with pytest.raises(ValueError, match="set_noise_scale: c must be a finite number >= 0"):
        rjl.set_noise_scale(variables, -1.0)


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x, deterministic: bool):
        x = rjl.NoisyHardTanh()(nn.Dense(16)(x), deterministic)
        x = rjl.NoisyHardSigmoid()(nn.Dense(16)(x), deterministic)
        return nn.Dense(1)(x)[:, 0]


@pytest.mark.slow
def test_annealed_train_step_compiles_once_over_50_steps(key):
    model = MLP()
    x = jax.random.normal(jax.random.key(1), (32, 4))
    y = jnp.sin(x[:, 0])
    variables = model.init(jax.random.key(0), x, deterministic=True)
    schedule = rj.schedules.noise_annealing(30.0, transition_steps=5, end_value=0.5)
    tx = optax.adam(1e-2)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, opt_state, scales, step, key):
        scales = rjl.set_noise_scale({"noise_scale": scales}, schedule(step))["noise_scale"]

        def loss(params):
            pred = model.apply(
                {"params": params, "noise_scale": scales}, x, False, rngs={"noise": key}
            )
            return jnp.mean((pred - y) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, scales, value

    params, opt_state, scales = (
        variables["params"],
        tx.init(variables["params"]),
        variables["noise_scale"],
    )
    seen = set()
    for i in range(50):
        params, opt_state, scales, value = step(
            params, opt_state, scales, i, jax.random.fold_in(key, i)
        )
        seen.add(round(float(jax.tree.leaves(scales)[0]), 4))
        assert bool(jnp.isfinite(value))
    assert step._cache_size() == 1
    assert len(seen) == 10  # c changed every 5 steps: 30, 21.2, ..., 9.5
    assert "noise_scale" not in params  # annealed state, not trained
