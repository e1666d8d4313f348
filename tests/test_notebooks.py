"""The example notebooks run top to bottom (nbclient, a real kernel) at CI sizes.

The Colab install cell (tag ``skip-execution``) is dropped, so the checked-out package
is used; the ``parameters`` cell is replaced by the small sizes below.
"""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
CI_PARAMETERS = {
    "01_quickstart": "samples = 3",
    "02_noisy_lstm_lm": "steps = 30\nhidden = 16\nlength = 16\nbatch = 8",
    "03_diagnostics": "steps = 40\nwidth = 16",
    "04_many_devices": "devices = 2\nsize = 64",
}


def test_every_notebook_has_ci_parameters():
    assert sorted(p.stem for p in EXAMPLES.glob("*.ipynb")) == sorted(CI_PARAMETERS)


@pytest.mark.parametrize("name", sorted(CI_PARAMETERS))
def test_notebook_runs(name, tmp_path):
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    tags = [set(cell.metadata.get("tags", [])) for cell in nb.cells]
    assert "skip-execution" in tags[1] and "parameters" in tags[2]  # install, then parameters
    assert "%pip install" in nb.cells[1].source
    nb.cells = [cell for cell, t in zip(nb.cells, tags, strict=True) if "skip-execution" not in t]
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = CI_PARAMETERS[name]
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
