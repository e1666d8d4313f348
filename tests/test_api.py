"""The public API: what is exported, and that every public function documents itself."""

import importlib
import inspect

import pytest

import rectify_jax as rj
from rectify_jax._src import registry

PUBLIC = [getattr(rj, name) for name in rj.__all__]
FUNCTIONS = [f for f in PUBLIC if inspect.isfunction(f)]
ACTIVATIONS = [f for f in FUNCTIONS if f is not rj.shard_key]


def test_all_is_exactly_the_public_names():
    # Submodules imported on demand (``from rectify_jax import linen``), not by ``import *``.
    on_demand = {"linen", "nnx", "equinox", "plotting", "experiments", "cli", "bench"}
    public = {n for n in dir(rj) if not n.startswith("_")} - on_demand
    assert set(rj.__all__) == public


def test_every_public_activation_is_in_the_registry_once():
    names = [entry.name for entry in registry.ACTIVATIONS]
    assert len(names) == len(set(names))
    assert {f.__name__ for f in ACTIVATIONS} == set(names)
    for entry in registry.ACTIVATIONS:
        assert getattr(rj, entry.name) is entry.fn


@pytest.mark.parametrize("f", FUNCTIONS + [rj.NoisyUnit], ids=lambda f: f.__name__)
def test_docstring_has_formula_source_args_returns_and_example(f):
    doc = inspect.getdoc(f)
    assert ".. math::" in doc
    assert "References:" in doc or "Gulcehre" in doc or f is rj.shard_key  # a helper, no paper
    assert ">>> " in doc  # run by the doctest collection of the test suite
    if f is not rj.NoisyUnit:
        assert "Args:" in doc and "Returns:" in doc
        for name in inspect.signature(f).parameters:
            assert f"{name}:" in doc, f"{f.__name__}: argument {name} undocumented"


@pytest.mark.parametrize("f", ACTIVATIONS, ids=lambda f: f.__name__)
def test_hyperparameters_are_keyword_only(f):
    params = list(inspect.signature(f).parameters.values())
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional[0] == "x"
    assert set(positional[1:]) <= {"key", "negative_slope", "alpha"}, positional


@pytest.mark.parametrize("module", ["linen", "nnx", "equinox"])
def test_every_flax_module_and_helper_has_a_docstring_example(module):
    mod = importlib.import_module(f"rectify_jax.{module}")
    for name in mod.__all__:
        obj = getattr(mod, name)
        if name in {"NOISE_SCALE", "NoiseScale", "MODULES"}:  # constants, a Variable type
            continue
        assert ">>> " in (inspect.getdoc(obj) or ""), f"rectify_jax.{module}.{name}"
