"""Root conftest: names available to every doctest in the package."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rectify_jax as rj


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(jax=jax, jnp=jnp, np=np, optax=optax, rj=rj)
