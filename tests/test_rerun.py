"""The committed results reproduce: a seed of ``results/`` rerun with the code that made it
(``benchmarks/rerun_seed.py``) gives the same numbers."""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHEAPEST = "noisy_mixture"
"""The experiment whose seed is rerun: the cheapest (about 10 s a seed)."""


def _rerun_seed():
    path = ROOT / "benchmarks" / "rerun_seed.py"
    spec = importlib.util.spec_from_file_location("rerun_seed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numbers_are_every_result_but_the_times():
    rerun = _rerun_seed()
    result = {
        "metrics": {"a": {"test_accuracy": 0.5, "ms_per_step": 3.0, "diverged": False}},
        "curves": {"a": [[10, 1.5, 0.25], [20, 1.25, 0.5]]},
        "majority": 0.25,
    }
    assert rerun.numbers(result) == {
        "metrics/a/test_accuracy": 0.5,
        "curves/a/0/0": 10.0,
        "curves/a/0/1": 1.5,
        "curves/a/1/0": 20.0,
        "curves/a/1/1": 1.25,
        "majority": 0.25,
    }
    moved = json.loads(json.dumps(result))
    moved["curves"]["a"][1][2] = 9.0  # a time: not a difference
    moved["metrics"]["a"]["ms_per_step"] = 9.0
    assert rerun.differences(result, moved) == {}
    moved["curves"]["a"][1][1] = 1.0
    moved["metrics"]["a"]["test_accuracy"] = math.nan
    diff = rerun.differences(result, moved)
    assert set(diff) == {"curves/a/1/1", "metrics/a/test_accuracy"}
    assert diff["curves/a/1/1"] == (1.25, 1.0)
    assert diff["metrics/a/test_accuracy"][0] == 0.5
    assert math.isnan(diff["metrics/a/test_accuracy"][1])
    nan = {"x": math.nan}
    assert rerun.differences(nan, json.loads(json.dumps(nan))) == {}


def test_the_package_of_another_commit_must_hash_as_recorded(tmp_path):
    rerun = _rerun_seed()
    here = rerun.source_hash(ROOT / "rectify_jax")
    assert rerun.package_at({"commit": None, "source": here}, tmp_path) == ROOT
    # another source hash: the recorded commit is extracted and checked against it
    with pytest.raises(SystemExit, match="not the code that ran the seed"):
        rerun.package_at({"commit": "HEAD", "source": "0" * 64}, tmp_path)
    assert (tmp_path / "rectify_jax" / "__init__.py").exists()
    with pytest.raises(SystemExit, match="records no commit"):
        rerun.package_at({"commit": None, "source": "0" * 64}, tmp_path)


def test_the_finding_replaces_its_own_section_of_the_report(tmp_path):
    rerun = _rerun_seed()
    report = tmp_path / "REPORT.md"
    report.write_text("# Report\n\nbody\n", encoding="utf-8")
    rerun.write_report(report, "first\n")
    rerun.write_report(report, "second\n")
    assert report.read_text(encoding="utf-8") == f"# Report\n\nbody\n\n{rerun.HEADING}\n\nsecond\n"


@pytest.mark.slow
def test_a_committed_seed_reruns_with_the_numbers_it_recorded():
    rerun = _rerun_seed()
    saved = rerun.seed_file(CHEAPEST, 0)
    done = rerun.rerun(saved)
    diff = rerun.differences(saved["result"], done["result"])
    assert rerun.numbers(saved["result"])  # there is something to compare
    if rerun.same_machine(saved["provenance"]["machine"], done["machine"]):
        # the machine and library builds that made the file: bit for bit
        assert diff == {}
    else:
        # another CPU or other library versions: XLA may order floating-point sums
        # differently, so the rerun is another draw of the same training; the difference
        # of two draws has std sqrt(2) times the spread over seeds
        spread = rerun.metric_spread(CHEAPEST)
        too_far = {
            k: (a, b, spread[k])
            for k, (a, b) in diff.items()
            if k in spread and not abs(b - a) <= 3 * math.sqrt(2) * spread[k]
        }
        assert not too_far
        assert all(k in spread or not k.startswith("metrics/") for k in diff), diff
