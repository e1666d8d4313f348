"""The README's and the documentation's code runs, and ``python -m rectify_jax`` (the
README's first command) works."""

import pathlib
import re
import subprocess
import sys

import pytest

from rectify_jax.__main__ import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
# every ```python block of the documentation's pages, as (page, block)
DOCS_BLOCKS = [
    (page.name, code)
    for page in sorted((ROOT / "docs").glob("*.md"))
    for code in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
]


@pytest.mark.slow
@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_blocks_run(code, capsys):
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_the_docs_have_python_blocks():
    assert DOCS_BLOCKS, "no ```python block found in docs/*.md"
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        # other spellings of a Python block would not be run by these tests
        other = re.findall(
            r"^```\s*(py|python3|ipython3?|\{code-(?:block|cell)\}.*)$",
            page.read_text(),
            flags=re.M,
        )
        assert not other, f"{page.name}: write ```python, not {other}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "page, code",
    DOCS_BLOCKS,
    ids=[f"{page}-block{i}" for i, (page, _) in enumerate(DOCS_BLOCKS)],
)
def test_docs_python_blocks_run(page, code):
    exec(compile(code, f"docs/{page}", "exec"), {})


def test_readme_names_the_commands_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install -e ".[test]" && python -m pytest' in README
    assert 'python -m pip install -e ".[test]"' in ci and "\npython -m pytest\n" in ci


@pytest.mark.slow
def test_main_prints_every_activation_and_the_noise_statistics(capsys):
    main(["--samples", "256", "--seed", "1"])
    out = capsys.readouterr().out
    for name in [
        "relu",
        "tlu",
        "rrelu",
        "nrelu",
        "noisy_hard_tanh",
        "noisy_hard_sigmoid",
        "saturated_input_noisy_hard_tanh",
        "MC mean",
        "test-time",
    ]:
        assert name in out


@pytest.mark.slow
def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "rectify_jax", "--samples", "64"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "noisy_hard_tanh" in proc.stdout
