"""The reproduction pipeline at --quick size: every experiment runs end to end and writes its
outputs (this checks the pipeline, not the science); verdicts; resuming; the CLI."""

import json

import pytest

from rectify_jax import cli
from rectify_jax.experiments import EXPERIMENTS, _common, reproduce

VERDICTS = ("**held**", "**did not hold here**", "**mixed**")


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_quick_run_writes_results_figure_and_section(name, tmp_path):
    section = reproduce(name, out=tmp_path, seeds=1, quick=True, log=lambda *a: None)
    folder = tmp_path / name
    saved = json.loads((folder / "seed0.json").read_text())
    assert saved["config"] == EXPERIMENTS[name].quick and saved["result"]["metrics"]
    png = (folder / f"{name}.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 5000
    assert (folder / "section.md").read_text() == section
    assert EXPERIMENTS[name].claim in section and "| model |" in section
    verdict_lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert verdict_lines and all(any(v in line for v in VERDICTS) for line in verdict_lines)
    summary = json.loads((folder / "summary.json").read_text())
    assert len(summary["verdicts"]) == len(verdict_lines)


def test_finished_seeds_survive_and_are_reused(tmp_path):
    logs = []
    reproduce("noisy_mixture", out=tmp_path, seeds=1, quick=True, log=logs.append)
    seed0 = tmp_path / "noisy_mixture" / "seed0.json"
    first = seed0.read_text()
    section = reproduce("noisy_mixture", out=tmp_path, seeds=2, quick=True, log=logs.append)
    assert seed0.read_text() == first and any("seed 0 already done" in m for m in logs)
    assert (tmp_path / "noisy_mixture" / "seed1.json").exists() and "Seeds 0..1" in section
    # a different configuration is not mistaken for a finished seed
    reproduce("noisy_mixture", out=tmp_path, seeds=1, quick=True, steps=3, log=logs.append)
    assert json.loads(seed0.read_text())["config"]["steps"] == 3


def test_verdicts_follow_the_numbers():
    assert _common.verdict([0.10, 0.12, 0.11]) == "held"
    assert _common.verdict([-0.10, -0.12, -0.11]) == "did not hold here"
    assert _common.verdict([0.10, -0.12, 0.05]) == "mixed"
    assert _common.verdict([0.1, float("nan"), 0.1]) == "mixed"
    assert _common.fmt([1.0, 2.0, 3.0]) == "2.000 ± 1.000"
    assert _common.fmt([float("nan")]) == "diverged"


def test_cli_list_plot_and_errors(tmp_path, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENTS)
    assert cli.main(["plot", "--out", str(tmp_path / "figs")]) == 0
    assert sorted(p.name for p in (tmp_path / "figs").glob("*.png")) == [
        "activations.png",
        "noisy_hard_sigmoid_samples.png",
        "noisy_hard_tanh_samples.png",
    ]
    assert cli.main(["reproduce", "nonsense", "--quick"]) == 2
    assert "unknown experiment 'nonsense'" in capsys.readouterr().err


def test_cli_reproduce_writes_a_report(tmp_path, capsys):
    report = tmp_path / "REPORT.md"
    code = cli.main(
        [
            "reproduce",
            "noisy_mixture",
            "--quick",
            "--seeds",
            "2",
            "--out",
            str(tmp_path / "res"),
            "--report",
            str(report),
            "--no-progress",
        ]
    )
    assert code == 0
    text = report.read_text()
    assert text.startswith("# rectify_jax: reproductions") and "--quick" in text
    assert "](res/noisy_mixture/noisy_mixture.png)" in text  # links relative to the report
    assert "Results, figures and the report are in" in capsys.readouterr().out
