"""The declared minimum versions: .ci/minimums.py (which CI installs exactly and runs the
fast tier against) says what pyproject.toml says, and every core dependency has one."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def _load_minimums():
    spec = importlib.util.spec_from_file_location("ci_minimums", ROOT / ".ci" / "minimums.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


minimums = _load_minimums()


def _project() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


def _lower_bounds(requirements: list[str]) -> dict[str, str]:
    """name -> the ``>=`` version, read with ``packaging`` (not with the script's parser)."""
    out = {}
    for text in requirements:
        req = Requirement(text)
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{text!r}: want exactly one '>=' lower bound"
        assert not [s for s in req.specifier if s.operator in ("==", "===", "~=")], (
            f"{text!r}: lower bounds only, no pins"
        )
        out[canonicalize_name(req.name)] = lower[0]
    return out


def _run(capsys, *argv: str) -> tuple[int, list[str], str]:
    rc = minimums.main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out.split(), captured.err


def test_every_core_dependency_has_a_lower_bound_and_the_script_prints_it(capsys):
    core = _project()["dependencies"]
    declared = _lower_bounds(core)
    assert {"jax", "jaxlib", "flax", "optax", "chex"} <= set(declared)
    rc, lines, _ = _run(capsys)
    assert rc == 0
    assert lines == [f"{name}=={version}" for name, version in declared.items()]


def test_the_equinox_extra_adds_its_lower_bound(capsys):
    project = _project()
    declared = _lower_bounds(project["dependencies"] + project["optional-dependencies"]["equinox"])
    rc, lines, _ = _run(capsys, "--extra", "equinox")
    assert rc == 0
    assert dict(line.split("==") for line in lines) == declared
    assert "equinox" in declared


def test_the_test_and_docs_extras_ask_for_no_older_equinox_than_the_equinox_extra():
    optional = _project()["optional-dependencies"]
    want = _lower_bounds(optional["equinox"])["equinox"]
    for extra in ("test", "docs"):
        got = {
            canonicalize_name(Requirement(r).name): r
            for r in optional[extra]
            if canonicalize_name(Requirement(r).name) == "equinox"
        }
        if got:
            assert _lower_bounds(list(got.values()))["equinox"] == want, extra


def test_jax_and_jaxlib_minimums_go_together():
    declared = _lower_bounds(_project()["dependencies"])
    assert declared["jax"] == declared["jaxlib"]


@pytest.mark.parametrize(
    "requirement",
    ["jax", "jax<1", "jax>=0.1,>=0.2", "jax==0.8.2", "jax>0.8; python_version>='3.11'"],
)
def test_a_requirement_without_exactly_one_lower_bound_is_refused(requirement):
    with pytest.raises(ValueError, match="lower bound"):
        minimums.lower_bound(requirement)


@pytest.mark.parametrize(
    ("requirement", "want"),
    [
        ("jax>=0.8.2", ("jax", "0.8.2")),
        ("jax >= 0.8.2, <2", ("jax", "0.8.2")),
        ("jax[cpu]>=0.8.2", ("jax", "0.8.2")),
        ("numpy>=1.26; python_version >= '3.12'", ("numpy", "1.26")),
    ],
)
def test_lower_bound_reads_the_forms_pyproject_uses(requirement, want):
    assert minimums.lower_bound(requirement) == want


def test_a_dependency_without_a_lower_bound_fails_the_script(tmp_path, capsys):
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\ndependencies = ["jax>=0.8.2", "flax"]\n')
    rc, lines, err = _run(capsys, "--pyproject", str(bad))
    assert rc == 1 and lines == []
    assert "'flax'" in err


def test_check_compares_the_installed_versions(tmp_path, capsys):
    installed = tmp_path / "installed.toml"
    installed.write_text(f'[project]\ndependencies = ["pytest>={pytest.__version__}"]\n')
    assert _run(capsys, "--pyproject", str(installed), "--check")[0] == 0
    older = tmp_path / "older.toml"
    older.write_text('[project]\ndependencies = ["pytest>=0.0.1"]\n')
    rc, _, err = _run(capsys, "--pyproject", str(older), "--check")
    assert rc == 1 and "pytest: want 0.0.1" in err


def test_ci_installs_the_minimums_and_runs_the_fast_tier():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "minimums.py --extra equinox >" in run
    assert '-m pip install -c "$mintmp/minimums.txt" -e ".[test]"' in run
    assert "minimums.py --extra equinox --check" in run
    assert '"$mintmp/venv/bin/python" -m pytest -m "not slow"' in run
