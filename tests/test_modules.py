"""The modules of all three frameworks: the same outputs, explicit classes, real defaults,
types that pyright checks, options checked at construction, and a clean import graph."""

import ast
import inspect
import pathlib
import re
import shutil
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import rectify_jax as rj
from rectify_jax import equinox as rje
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx
from rectify_jax._src import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
B, IN = 2, 12
X = jnp.linspace(-4.0, 4.0, B * IN).reshape(B, IN) + 0.01

ACTIVATIONS = (
    "PReLU",
    "TLU",
    "RReLU",
    "NReLU",
    "NoisyActivation",
    "NoisyHardTanh",
    "NoisyHardSigmoid",
    "InputNoisy",
    "SaturatedInputNoisy",
    "LearnedInputNoisy",
)
STOCHASTIC = set(ACTIVATIONS) - {"PReLU", "TLU"}


def _three(name):
    """The module ``name`` in linen, NNX and Equinox holding the same parameters (linen's)."""
    lmod = getattr(rjl, name)()
    det = {"deterministic": True} if name in STOCHASTIC else {}
    variables = lmod.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, X, **det)
    params = dict(variables.get("params", {}))
    features = (IN,) if params else ()
    xmod = getattr(rjx, name)(*features, rngs=nnx.Rngs(3))
    emod = getattr(rje, name)(*features, key=jax.random.key(3))
    for pname, value in params.items():
        assert getattr(xmod, pname)[...].shape == value.shape == getattr(emod, pname).shape
        getattr(xmod, pname)[...] = value
        emod = eqx.tree_at(lambda m, pname=pname: getattr(m, pname), emod, value)
    for sname, value in variables.get("noise_scale", {}).items():  # same initial noise scale
        assert float(getattr(xmod, sname)[...]) == float(getattr(emod, sname)) == float(value)
    return lmod, variables, xmod, emod


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_module_gives_identical_outputs_in_linen_nnx_and_equinox(name, key):
    lmod, variables, xmod, emod = _three(name)
    for det in (False, True) if name in STOCHASTIC else (True,):
        kw = {"deterministic": det, "rng": key} if name in STOCHASTIC else {}
        ly = lmod.apply(variables, X, **kw)
        xkw = {"deterministic": det, "rngs": key} if name in STOCHASTIC else {}
        ekw = {"inference": det, "key": key} if name in STOCHASTIC else {}
        np.testing.assert_array_equal(xmod(X, **xkw), ly)
        np.testing.assert_array_equal(emod(X, **ekw), ly)
    if name in STOCHASTIC:  # the key matters when noise is on (inputs near the thresholds)
        near = jnp.concatenate([0.375 * X, 0.75 * X])
        big = {"c": 50.0} if hasattr(emod, "c") else {}
        a = emod(near, key=key, **big)
        b = emod(near, key=jax.random.fold_in(key, 1), **big)
        assert not np.array_equal(a, b)


def test_the_registry_names_modules_that_exist_in_every_framework():
    named = {e.module for e in registry.ACTIVATIONS if e.module is not None}
    assert named <= set(ACTIVATIONS)
    for adapter in (rjl, rjx, rje):
        assert set(ACTIVATIONS) <= set(adapter.__all__)


PUBLIC = [
    (adapter.__name__, name)
    for adapter in (rjl, rjx, rje)
    for name in adapter.__all__
    if isinstance(getattr(adapter, name), type)
]


@pytest.mark.parametrize("module, name", PUBLIC)
def test_every_public_class_is_written_in_a_file_a_user_can_open(module, name):
    cls = getattr(sys.modules[module], name)
    source = inspect.getsource(cls)
    assert f"class {name}(" in source
    assert cls.__module__.startswith("rectify_jax.") or cls.__module__.startswith("flax.")
    assert cls.__doc__ and ">>>" in cls.__doc__ or issubclass(cls, nnx.Variable)


def test_no_class_is_made_at_run_time():
    made = re.compile(r"globals\(\)\.update|types\.new_class|\btype\([^()]*,[^()]*,")
    for path in (ROOT / "rectify_jax").rglob("*.py"):
        assert not made.search(path.read_text()), path


def _signature_defaults(obj):
    target = obj.__init__ if isinstance(obj, type) else obj
    return {
        n: p.default
        for n, p in inspect.signature(target).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def test_signatures_show_the_papers_values():
    tanh, sig = rj.HARD_TANH_UNIT, rj.HARD_SIGMOID_UNIT
    for fn, unit in ((rj.noisy_hard_tanh, tanh), (rj.noisy_hard_sigmoid, sig)):
        d = _signature_defaults(fn)
        assert (d["alpha"], d["c"], d["p"]) == (unit.alpha, unit.c, 1.0)
    assert _signature_defaults(rj.input_noisy_hard_tanh)["s"] == tanh.input_s
    assert _signature_defaults(rj.saturated_input_noisy_hard_sigmoid)["s"] == sig.saturated_s
    assert _signature_defaults(rj.learned_input_noisy_hard_sigmoid)["c"] == sig.c
    for adapter in (rjl, rjx, rje):
        for cls, unit in ((adapter.NoisyHardTanh, tanh), (adapter.NoisyHardSigmoid, sig)):
            d = _signature_defaults(cls) if adapter is not rjl else cls.__dataclass_fields__
            alpha = d["alpha"] if adapter is not rjl else d["alpha"].default
            c = d["c"] if adapter is not rjl else d["c"].default
            assert (alpha, c) == (unit.alpha, unit.c), (adapter.__name__, cls.__name__)
        cell = adapter.NoisyLSTMCell
        d = (
            {n: f.default for n, f in cell.__dataclass_fields__.items()}
            if adapter is rjl
            else _signature_defaults(cell)
        )
        assert (d["gate_alpha"], d["gate_c"]) == (sig.alpha, sig.c)
        assert (d["tanh_alpha"], d["tanh_c"]) == (tanh.alpha, tanh.c)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rjl.NoisyHardTanh(noise="gauss").init(jax.random.key(0), X, deterministic=True),
        lambda: rjx.NoisyHardTanh(IN, noise="gauss", rngs=nnx.Rngs(0)),
        lambda: rje.NoisyHardTanh(IN, noise="gauss", key=jax.random.key(0)),
    ],
    ids=["linen", "nnx", "equinox"],
)
def test_options_are_checked_at_construction(make):
    with pytest.raises(ValueError, match="NoisyHardTanh: noise='gauss' is not one of"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: rjl.NoisyHardTanh(c=-1.0).init(jax.random.key(0), X, deterministic=True),
        lambda: rjl.NoisyLSTMCell(4, tanh_c=-2.0),
        lambda: rjx.NoisyHardTanh(IN, c=-1.0, rngs=nnx.Rngs(0)),
        lambda: rjx.NoisyGRUCell(3, 4, gate_c=-2.0, rngs=nnx.Rngs(0)),
        lambda: rje.NoisyHardTanh(IN, c=-1.0, key=jax.random.key(0)),
        lambda: rje.NoisyLSTMCell(3, 4, tanh_c=-2.0, key=jax.random.key(0)),
    ],
)
def test_negative_noise_scales_are_rejected_by_modules_and_cells(make):
    with pytest.raises(ValueError, match="_c|c must be"):
        make()


# --------------------------------------------------------------------------------------
# Types: pyright sees every class, its fields and its keywords.

TYPING = ROOT / "tests" / "typing"


def _pyright(path: pathlib.Path) -> subprocess.CompletedProcess:
    exe = shutil.which("pyright")
    assert exe, "pyright is in the test extra: pip install -e '.[test]'"
    return subprocess.run(
        [exe, str(path)], capture_output=True, text=True, timeout=600, cwd=ROOT, check=False
    )


@pytest.mark.slow
def test_pyright_finds_no_error_in_a_script_that_uses_every_public_class():
    proc = _pyright(TYPING / "uses_every_class.py")
    assert proc.returncode == 0, proc.stdout
    assert "0 errors" in proc.stdout


@pytest.mark.slow
def test_pyright_reports_a_misspelt_keyword():
    proc = _pyright(TYPING / "misspelt_keyword.py")
    assert proc.returncode != 0
    assert 'No parameter named "determinstic"' in proc.stdout
    assert 'No parameter named "hiden_features"' in proc.stdout


def test_the_typing_script_runs_and_covers_every_public_class():
    source = (TYPING / "uses_every_class.py").read_text()
    for module, name in PUBLIC:
        alias = {"rectify_jax.linen": "rjl", "rectify_jax.nnx": "rjx"}.get(module, "rje")
        assert f"{alias}.{name}" in source, f"{module}.{name} is not used by the typing script"
    exec(compile(source, str(TYPING / "uses_every_class.py"), "exec"), {})


# --------------------------------------------------------------------------------------
# The import graph.


def _imports(path: pathlib.Path) -> set[str]:
    """Every ``rectify_jax`` module ``path`` imports, at any depth of its body (functions too),
    except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for node in ast.walk(tree):  # drop the bodies of `if TYPE_CHECKING:` first
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rectify_jax")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                base = ".".join(package.split(".")[: -node.level] + [node.module])
            if base.startswith("rectify_jax"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_no_import_circle_inside_the_package():
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "rectify_jax").rglob("*.py")
    }
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}

    def parents(name):  # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = name.split(".")
        return {".".join(parts[:k]) for k in range(1, len(parts))} & set(modules)

    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if n in parents(m) or m in parents(n):
                continue  # a package and its own submodules
            if state.get(n) == 1:
                cycle = stack[stack.index(n) :] + [n]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_importing_the_package_imports_no_experiment_benchmark_or_plotting():
    code = (
        "import sys, rectify_jax, rectify_jax.linen, rectify_jax.nnx\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'sklearn', "
        "'scipy', 'equinox') or m.startswith(('rectify_jax.experiments', "
        "'rectify_jax.bench', 'rectify_jax.plotting', 'rectify_jax.cli'))]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_every_public_function_and_class_has_an_example_that_pytest_runs():
    """pytest collects the package's docstrings (--doctest-modules): an example in each is
    an example that runs."""
    from rectify_jax import diagnostics, initializers, noise, schedules

    missing = []
    for module in (rj, rjl, rjx, rje, diagnostics, initializers, noise, schedules):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj) or isinstance(obj, rj.NoisyUnit):
                continue
            if ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, missing
