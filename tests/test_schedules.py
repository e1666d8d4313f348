"""rectify_jax.schedules: the paper's annealing schedule as an optax schedule."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rectify_jax as rj


def test_values_follow_c0_over_sqrt_t_plus_1_floored():
    schedule = rj.schedules.noise_annealing(30.0, transition_steps=200, end_value=0.5)
    for count in [0, 1, 199, 200, 399, 400, 1000, 5000, 719_999, 720_000, 10**7]:
        t = count // 200
        want = max(30.0 / math.sqrt(t + 1), 0.5)
        assert float(schedule(count)) == pytest.approx(want, rel=1e-6), count
    # the floor is reached when 30 / sqrt(t + 1) <= 0.5, i.e. t + 1 >= 3600
    assert float(schedule(3599 * 200)) == 0.5 and float(schedule(3598 * 200)) > 0.5


def test_traced_count_compiles_once_and_matches_eager():
    schedule = rj.schedules.noise_annealing(10.0, transition_steps=3, end_value=1.0)
    jitted = jax.jit(chex.assert_max_traces(schedule, n=1))
    counts = jnp.arange(60)
    np.testing.assert_allclose(
        [jitted(c) for c in counts], [schedule(int(c)) for c in counts], rtol=1e-6
    )


def test_composes_with_optax_join_schedules():
    anneal = rj.schedules.noise_annealing(30.0, transition_steps=10, end_value=0.5)
    warm = optax.join_schedules([optax.constant_schedule(30.0), anneal], boundaries=[100])
    assert float(warm(50)) == 30.0
    assert float(warm(100 + 25)) == pytest.approx(float(anneal(25)))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(init_value=0.0), "init_value must be > 0"),
        (dict(end_value=-1.0), "end_value must be >= 0"),
        (dict(transition_steps=0), "transition_steps must be a positive int"),
        (dict(transition_steps=2.5), "transition_steps must be a positive int"),
    ],
)
def test_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=f"noise_annealing: {msg}"):
        rj.schedules.noise_annealing(**kwargs)
