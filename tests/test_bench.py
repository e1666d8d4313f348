"""Each benchmark runs once at a tiny size so it keeps working. No timing is asserted."""

import json

import pytest

from rectify_jax import cli
from rectify_jax.bench import activations, train_step

pytestmark = pytest.mark.slow  # subprocesses / benchmarks: the slow tier


def test_activation_benchmark_runs_every_activation_with_its_baselines(tmp_path):
    result = activations.run(
        sizes=[8],
        dtypes=["float32"],
        repeats=1,
        min_seconds=0.0,
        torch_baseline=False,
        log=lambda *a: None,
    )
    rows = {r["name"]: r for r in result["rows"]}
    assert set(rows) == set(activations.ACTIVATIONS)
    assert all(r["fwd"] > 0 and r["fwd_bwd"] > 0 for r in rows.values())
    assert "jax_nn_fwd_bwd" in rows["hard_tanh"] and "naive_fwd_bwd" in rows["noisy_hard_tanh"]
    # what the backward keeps: x and the noise, or only x (and a key) when regenerating
    x_bytes = rows["noisy_hard_tanh"]["n"] * 4
    assert rows["noisy_hard_tanh"]["residual_bytes"] >= 2 * x_bytes
    assert rows["noisy_hard_tanh[key]"]["residual_bytes"] < 2 * x_bytes
    ratios = activations.ratios(result["rows"], 8, "float32")
    assert "noisy_hard_tanh fwd+bwd / RNG floor" in ratios
    md = activations.markdown(result)
    assert md.count("| float32 | 2^8 |") == len(rows) + 1  # one row each, plus the floors


def test_train_step_benchmark_and_cli(tmp_path, capsys):
    result = train_step.run(
        hidden=4,
        length=3,
        batch=2,
        kinds=["soft", "hard", "noisy (NAH)"],
        repeats=1,
        min_seconds=0.0,
        log=lambda *a: None,
        memory_length=5,
    )
    floors = [f"{name} @ 4" for name in train_step.FLOORS]  # the noise drawn alone
    assert set(result["times"]) == {"soft @ 4", "hard @ 4", "noisy (NAH) @ 4", *floors}
    assert set(result["long_memory"]) == {"hard", "noisy (NAH)"}
    assert "| hard @ 4 |" in train_step.markdown(result)
    assert list(train_step.ratios(result)) == [
        "noisy (NAH) / hard, hidden 4",
        "noise alone (jax.random) / hard, hidden 4",
        "noise alone (fast) / hard, hidden 4",
    ]
    code = cli.main(
        [
            "bench",
            "activations",
            "--sizes",
            "6",
            "--dtypes",
            "bfloat16",
            "--names",
            "relu",
            "noisy_hard_tanh",
            "--repeats",
            "1",
            "--min-seconds",
            "0",
            "--no-torch",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    saved = json.loads((tmp_path / "activations.json").read_text())
    assert {r["name"] for r in saved["rows"]} == {"relu", "noisy_hard_tanh"}
    out = capsys.readouterr().out
    assert "Ratios at n = 2^6, bfloat16" in out and "lower is better" in out
    assert "noisy_hard_tanh (jax.random noise) / hard_tanh, fwd+bwd" not in out  # not timed here
    assert "fast_normal / numpy standard_normal" in out
    assert all(r["numpy_rng_floor"] > 0 for r in saved["rows"])
    assert "eager hard_tanh / eager jax.nn twin, (64, 128)" in saved["eager"]
    assert "eager noisy_hard_tanh / the same call jitted, (64, 128)" in saved["eager"]


def test_scaling_benchmark_runs_on_the_devices_there_are():
    from rectify_jax.bench import scaling

    result = scaling.run(devices=[1], steps=2, size=2**10, log=lambda *a: None)
    assert result["rows"][0]["devices"] == 1 and result["rows"][0]["lm_tokens_per_s"] > 0
    assert "| 1 |" in scaling.markdown(result)


def _compare_commits():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "compare_commits.py"
    spec = importlib.util.spec_from_file_location("compare_commits", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_commits_puts_an_older_package_beside_this_one(tmp_path):
    import re
    import subprocess
    import sys

    compare = _compare_commits()
    compare.old_package("HEAD", tmp_path)
    package = tmp_path / "rectify_jax_old"
    sources = {p: p.read_text() for p in package.rglob("*.py")}
    assert package / "bench" / "train_step.py" in sources
    assert not any(re.search(r"\brectify_jax\b", text) for text in sources.values())
    # the renamed package imports on its own, beside the current one
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "import rectify_jax_old.bench.train_step as t, rectify_jax.bench.train_step as n; "
        f"assert t.__file__.startswith({str(tmp_path)!r}) and 'hard' in t.CELLS; "
        "assert not n.__file__.startswith(sys.path[0])"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_compare_commits_tells_same_compiled_code_from_different():
    import jax.numpy as jnp

    import rectify_jax as rj

    compare = _compare_commits()
    hlo = compare.optimised_hlo
    fb = activations._fwd_bwd
    assert hlo(fb(lambda x, k: rj.hard_tanh(x))) == hlo(fb(lambda x, k: rj.hard_tanh(x)))
    assert hlo(fb(lambda x, k: rj.hard_tanh(x))) != hlo(fb(lambda x, k: jnp.tanh(x)))
