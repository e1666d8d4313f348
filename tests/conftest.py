"""Shared fixtures: a seeded key that reports its seed; the hypothesis profile."""

import os

import hypothesis
import jax
import pytest

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

# Scripts that test_distributed.py runs in subprocesses (with forced devices): importing them
# here would run their whole check inside the collector, once per worker. The typing scripts
# are checked by pyright and run by test_modules.py, not collected.
collect_ignore = ["multidevice", "typing"]


@pytest.fixture
def seed():
    print(f"test PRNG seed: {SEED} (set RECTIFY_TEST_SEED to change)")
    return SEED


@pytest.fixture
def key(seed):
    """A typed PRNG key; the seed is printed, so a failing test shows it."""
    return jax.random.key(seed)
