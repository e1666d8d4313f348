"""The example notebooks: they run top to bottom (nbclient, a real kernel) at CI sizes and
show their figures; the committed copies carry their outputs; the install cell does the
right thing in a clone, with a source the user sets, and says what to do when it fails.

The install cell (tag ``skip-execution``) is skipped when running, so the checked-out
package is used; the ``parameters`` cell is replaced by the small sizes below.
"""

import pathlib
import subprocess
import types

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
CI_PARAMETERS = {
    "01_quickstart": "samples = 3",
    "02_noisy_lstm_lm": "steps = 30\nhidden = 16\nlength = 16\nbatch = 8",
    "03_diagnostics": "steps = 40\nwidth = 16",
    "04_many_devices": "devices = 2\nsize = 64",
    "05_linen": "steps = 20\nhidden = 8\nbatch = 16",
    "06_nnx": "steps = 20\nhidden = 8\nbatch = 16",
    "07_equinox": "steps = 20\nhidden = 8\nbatch = 16",
}
# notebooks whose figures are part of the example
WITH_FIGURES = {
    "01_quickstart",
    "02_noisy_lstm_lm",
    "03_diagnostics",
    "05_linen",
    "06_nnx",
    "07_equinox",
}


def read(name):
    return nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)


def outputs(nb, output_type=None):
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if output_type is None or o.get("output_type") == output_type
    ]


def pngs(nb):
    return [o for o in outputs(nb) if "image/png" in o.get("data", {})]


def test_every_notebook_has_ci_parameters():
    assert sorted(p.stem for p in EXAMPLES.glob("*.ipynb")) == sorted(CI_PARAMETERS)


@pytest.mark.parametrize("name", sorted(CI_PARAMETERS))
def test_committed_notebooks_carry_their_outputs(name):
    nb = read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    install, rest = code[0], code[1:]
    assert "skip-execution" in install.metadata.get("tags", [])
    assert all(c.get("outputs") for c in rest if "print(" in c.source), "unexecuted cells"
    assert not outputs(nb, "error")
    if name in WITH_FIGURES:
        assert pngs(nb), "no figure in the committed notebook"
    assert not code[0].get("outputs")  # the install cell is never run when saving


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CI_PARAMETERS))
def test_notebook_runs_and_shows_its_figures(name, tmp_path):
    nb = read(name)
    tags = [set(cell.metadata.get("tags", [])) for cell in nb.cells]
    assert "skip-execution" in tags[1] and "parameters" in tags[2]  # install, then parameters
    for cell, t in zip(nb.cells, tags, strict=True):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if "parameters" in t:
            cell.source = CI_PARAMETERS[name]
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        skip_cells_with_tag="skip-execution",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    assert not outputs(nb, "error")
    if name in WITH_FIGURES:
        assert pngs(nb), "figures did not render as image/png"
    assert not nb.cells[1].get("outputs")  # the install cell was skipped


def install_cell():
    source = read("01_quickstart").cells[1].source
    assert "skip-execution" in read("01_quickstart").cells[1].metadata["tags"]
    return source


def run_install_cell(cwd, source_value="", pip_ok=True, monkeypatch=None):
    """Executes the install cell as if rectify_jax were not installed; returns pip's target."""
    calls = []

    def fake_run(command, *a, **k):
        calls.append(command[-1])
        return types.SimpleNamespace(returncode=0 if pip_ok else 1)

    code = install_cell().replace(
        'RECTIFY_JAX_SOURCE = ""', f"RECTIFY_JAX_SOURCE = {source_value!r}"
    )
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.chdir(cwd)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "rectify_jax" else real(n, *a)
    )
    exec(compile(code, "install-cell", "exec"), {})
    return calls


def test_install_cell_installs_the_clone_inside_it(monkeypatch):
    root = EXAMPLES.parent
    assert run_install_cell(EXAMPLES, monkeypatch=monkeypatch) == [f"{root}[experiments]"]


def test_install_cell_elsewhere_uses_the_index_or_the_given_source(monkeypatch, tmp_path):
    assert run_install_cell(tmp_path, monkeypatch=monkeypatch) == ["rectify-jax[experiments]"]
    assert run_install_cell(tmp_path, "git+https://example.org/r.git", monkeypatch=monkeypatch) == [
        "rectify-jax[experiments] @ git+https://example.org/r.git"
    ]
    wheel = "/content/rectify_jax-0.1.0-py3-none-any.whl"
    assert run_install_cell(tmp_path, wheel, monkeypatch=monkeypatch) == [f"{wheel}[experiments]"]


def test_install_cell_failure_says_what_to_do(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match="set RECTIFY_JAX_SOURCE"):
        run_install_cell(tmp_path, pip_ok=False, monkeypatch=monkeypatch)


def _build_notebooks():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_notebooks", EXAMPLES / "build_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(CI_PARAMETERS))
def test_committed_notebooks_are_what_build_notebooks_writes(name):
    build = _build_notebooks()
    want = build.notebook(build.NOTEBOOKS[name])
    got = read(name)
    assert [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in got.cells] == [
        (c.cell_type, c.source, c.metadata.get("tags", [])) for c in want.cells
    ]


@pytest.mark.parametrize("name", sorted(CI_PARAMETERS))
def test_notebooks_open_on_their_content(name):
    nb = read(name)
    title, install = nb.cells[0], nb.cells[1]
    # the first cell says what the notebook shows and what it needs, in one paragraph
    heading, _, paragraph = title.source.partition("\n\n")
    assert heading.startswith("# ") and "needs" in paragraph and "\n\n" not in paragraph
    # the rendered documentation leaves the install cell out; Colab still runs it
    assert {"remove-cell", "skip-execution"} <= set(install.metadata["tags"])
