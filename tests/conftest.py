"""Shared fixtures: a seeded key that reports its seed, doctest names, hypothesis profile."""

import os

import hypothesis
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rectify_jax as rj

# Fixed-seed property tests: the same examples on every run and machine.
hypothesis.settings.register_profile(
    "rectify",
    derandomize=True,
    deadline=None,
    max_examples=25,
    print_blob=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.load_profile("rectify")

SEED = int(os.environ.get("RECTIFY_TEST_SEED", "0"))


@pytest.fixture
def seed():
    print(f"test PRNG seed: {SEED} (set RECTIFY_TEST_SEED to change)")
    return SEED


@pytest.fixture
def key(seed):
    """A typed PRNG key; the seed is printed, so a failing test shows it."""
    return jax.random.key(seed)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(jax=jax, jnp=jnp, np=np, rj=rj)
