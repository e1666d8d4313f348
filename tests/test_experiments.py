"""The reproduction pipeline: every experiment at --quick size end to end (this checks the
pipeline, not the science), controls (shared initial parameters), the statistics behind
verdicts, failure handling, quick mode, the summary.json schema, resuming, the CLI."""

import json
import math
import re

import jax
import numpy as np
import pytest
from scipy import stats
from test_ablations import QUICK_RUN_CHECKS  # tests/ is on the path (no package)
from test_results_folder import TINY

from rectify_jax import cli
from rectify_jax.experiments import EXPERIMENTS, _common, charlm, ledger, reproduce, sequences

SUMMARY_KEYS = {"config", "seeds", "quick", "arms", "levels", "verdicts", "seconds", "code"}
TEST_KEYS = {"name", "n", "mean_difference", "ci95", "t", "p", "p_holm"}


def check_summary(summary: dict, *, quick: bool) -> None:
    assert SUMMARY_KEYS <= set(summary)
    assert summary["quick"] is quick and isinstance(summary["seeds"], int)
    assert summary["arms"] and all(isinstance(a, str) for a in summary["arms"])
    assert isinstance(summary["levels"], dict) and summary["seconds"] > 0
    for v in summary["verdicts"]:
        assert {"claim", "verdict", "evidence", "test"} <= set(v)
        assert TEST_KEYS <= set(v["test"]) and len(v["test"]["ci95"]) == 2
        assert v["test"]["n"] == summary["seeds"]
        if quick:
            assert v["verdict"] is None and v["not_judged"] == "not judged (quick run)"
        else:
            assert v["verdict"] in _common.LABELS


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_quick_run_writes_results_figure_section_and_summary(name, tmp_path):
    # one seed (the pipeline; a second costs its compilation again), two where the
    # ablation checks need an interval
    seeds = 2 if name == "noisy_lstm_lm" else 1
    section = reproduce(name, out=tmp_path, seeds=seeds, quick=True, log=lambda *a: None)
    folder = tmp_path / name
    saved = json.loads((folder / f"seed{seeds - 1}.json").read_text())
    assert saved["result"]["metrics"]
    assert (saved["experiment"], saved["seed"], saved["format"]) == (name, seeds - 1, 3)
    assert not [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name or p.name == ".lock"]
    png = (folder / f"{name}.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 5000
    assert (folder / "section.md").read_text() == section
    assert EXPERIMENTS[name].claim in section and "| arm |" in section
    summary = json.loads((folder / "summary.json").read_text())
    check_summary(summary, quick=True)
    assert set(summary["arms"]) <= set(saved["result"]["metrics"])
    # a quick run labels nothing
    assert "not judged (quick run)" in section
    assert not any(f"**{label}**" in section for label in _common.LABELS)
    # learning rates tuned first, then every seed at its arm's rate
    tuning = json.loads((folder / "tuning.json").read_text())["tuning"]
    chosen = tuning["chosen"]
    assert set(summary["arms"]) <= set(chosen) and summary["tuning"]["chosen"] == chosen
    assert saved["config"]["lrs"] == {arm: [lr] for arm, lr in chosen.items()}
    assert {k: v for k, v in saved["config"].items() if k != "lrs"} == {
        k: v for k, v in EXPERIMENTS[name].quick.items() if k != "lrs"
    }
    for arm in summary["arms"]:
        m = saved["result"]["metrics"][arm]
        assert m["lr"] == pytest.approx(chosen[arm]) and len(m["valid_by_lr"]) == 1
    assert "**Learning rates**: tuned per arm before the runs, on seed 0 at " in section
    assert not re.search(r"\b0 kB\b", section)  # small sizes in bytes, not "the first 0 kB"
    if name in QUICK_RUN_CHECKS:  # the ablations' own checks, on this same run
        QUICK_RUN_CHECKS[name](tmp_path, section, summary)
    # every ledger entry of this experiment finds the verdicts that test it
    entries = [e for e in ledger.ENTRIES if e.experiment == name]
    assert entries
    for entry in entries:
        assert len(ledger.matching(entry, summary)) >= len(entry.verdicts)
        assert ledger.status(entry, {name: summary}).startswith(
            "not judged (quick run)" if entry.verdicts else "described, not judged"
        )


RELU_PAIRS = (("irnn", "relu_rnn"), ("irnn_clip", "relu_rnn_clip"))


def test_the_ledger_lists_the_five_papers_and_reads_statuses_from_the_verdicts():
    papers = {e.paper for e in ledger.ENTRIES}
    assert papers == {ledger.GULCEHRE, ledger.MAAS, ledger.GLOROT, ledger.JIANG, ledger.LE}
    assert all(e.note for e in ledger.ENTRIES if e.experiment is None)  # each says why not
    assert set(EXPERIMENTS) == {e.experiment for e in ledger.ENTRIES if e.experiment}

    def verdict(claim, label, margin=None):
        return {"claim": claim, "verdict": label, "not_judged": None, "test": {"margin": margin}}

    summary = {
        "verdicts": [
            verdict("irnn solves it (test MSE < 0.01)", "held"),
            verdict("irnn_clip solves it (test MSE < 0.01)", "held"),
            verdict("irnn beats tanh_rnn (test MSE)", "held"),
            verdict("irnn_clip beats tanh_rnn_clip (test MSE)", "inconclusive"),
            verdict("irnn_clip beats irnn (test MSE)", "equivalent", 0.01),
        ]
    }
    by_claim = {
        e.claim.split(" ")[1]: e for e in ledger.ENTRIES if e.experiment == "adding_problem"
    }
    status = {
        k: ledger.status(by_claim[k], {"adding_problem": summary})
        for k in ("IRNN", "tanh", "clipping")
    }
    assert status["IRNN"] == "**held** (2 of 2 tests)"
    assert status["tanh"] == "held 1, inconclusive 1"
    assert status["clipping"] == "**equivalent within ±0.01**"
    with pytest.raises(
        LookupError, match="no verdict of adding_problem begins with 'irnn beats relu_rnn'"
    ):
        ledger.status(by_claim["ReLU"], {"adding_problem": summary})
    assert ledger.status(by_claim["IRNN"], {}) == "not run in this report (`adding_problem`)"
    ntm = next(e for e in ledger.ENTRIES if "NTM" in e.claim)
    assert ledger.status(ntm, {}).startswith("not attempted: training an NTM")
    relu = [verdict(f"{a} beats {b} (test MSE)", "held") for a, b in RELU_PAIRS]
    text = ledger.table({"adding_problem": {"verdicts": summary["verdicts"] + relu}})
    assert text.startswith("## Claim ledger") and text.count("\n| ") == len(ledger.ENTRIES) + 1


@pytest.mark.slow
def test_rerunning_a_seed_reproduces_its_numbers(tmp_path):
    for out in ("a", "b"):
        reproduce("noisy_mixture", out=tmp_path / out, seeds=1, quick=True, log=lambda *a: None)
    a, b = (
        json.loads((tmp_path / o / "noisy_mixture" / "seed0.json").read_text())["result"]
        for o in ("a", "b")
    )
    assert a["metrics"] == b["metrics"]


@pytest.mark.slow
def test_finished_seeds_survive_and_are_reused(tmp_path):
    logs = []
    reproduce("noisy_mixture", out=tmp_path, seeds=1, quick=True, log=logs.append)
    seed0 = tmp_path / "noisy_mixture" / "seed0.json"
    first = seed0.read_text()
    section = reproduce("noisy_mixture", out=tmp_path, seeds=2, quick=True, log=logs.append)
    assert seed0.read_text() == first and any("seed 0 already done" in m for m in logs)
    assert any("learning rates already tuned" in m for m in logs)
    assert (tmp_path / "noisy_mixture" / "seed1.json").exists() and "Seeds 0..1" in section
    # a different configuration is not mistaken for a finished seed: named, and rerun
    warnings = []
    reproduce(
        "noisy_mixture",
        out=tmp_path,
        seeds=1,
        quick=True,
        steps=3,
        log=logs.append,
        warn=warnings.append,
    )
    assert json.loads(seed0.read_text())["config"]["steps"] == 3
    quick_steps = EXPERIMENTS["noisy_mixture"].quick["steps"]
    assert warnings == [
        f"reproduce: {seed0} is not a result of seed 0 with this configuration (its "
        f"configuration differs: steps {quick_steps} there, 3 here); rerunning seed 0"
    ]


# --------------------------------------------------------------------------------------
# Controls
@pytest.mark.slow
def test_lstm_arms_share_their_initial_parameters():
    config = charlm.LSTM_EXPERIMENT.quick
    for seed in (0, 3):
        noisy = charlm.init_variables("nah", config, seed)["params"]
        for arm in charlm.LSTM_ARMS:
            other = charlm.init_variables(arm, config, seed)["params"]
            # every arm holds the noisy arm's parameters, the same numbers; soft and hard
            # gates have no noise slopes p (flax's LSTMCell tree), the noisy arms have them
            assert ("p" in other["NoisyLSTMCell_0"]) == (arm not in ("soft", "hard"))
            flat = dict(jax.tree_util.tree_flatten_with_path(other)[0])
            for path, value in jax.tree_util.tree_flatten_with_path(noisy)[0]:
                if path in flat:
                    np.testing.assert_array_equal(flat[path], value)
                else:
                    assert jax.tree_util.keystr(path).endswith("['p']"), path
            assert len(flat) >= len(jax.tree.leaves(noisy)) - 1
    # and the seed matters
    a = charlm.init_variables("hard", config, 0)["params"]
    b = charlm.init_variables("hard", config, 1)["params"]
    assert any(
        not np.allclose(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_a_language_model_whose_loss_blew_up_has_diverged():
    # the full-size tlu_gru run at 09b35c1: ELU and leaky ReLU reached training losses of
    # 2.5e5 and 9e16 nats/byte in some seeds, finite, and were not counted as diverged
    assert not charlm.diverged(1.44, 1.54)
    assert not charlm.diverged(charlm.UNIFORM_NATS)
    for blown in (2.5e5, 9e16, math.inf, math.nan, math.nextafter(charlm.UNIFORM_NATS, 9)):
        assert charlm.diverged(1.44, blown) and charlm.diverged(blown)


@pytest.mark.slow
def test_gru_arms_share_their_initial_parameters():
    config = charlm.GRU_EXPERIMENT.quick
    first = charlm.init_variables("tanh", config, 0)
    for arm in charlm.GRU_ARMS:
        other = charlm.init_variables(arm, config, 0)
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(other), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_lstm_arms_differ_only_in_their_gate_functions():
    """At full size the arms compute different things from the same parameters."""
    import jax.numpy as jnp

    config = dict(charlm.LSTM_EXPERIMENT.quick, hidden=16)
    variables = charlm.init_variables("hard", config, 0)
    x = jax.random.randint(jax.random.key(0), (2, 12), 0, 256)
    scaled = jax.tree.map(lambda w: 8.0 * w, variables["params"])  # reach saturation
    out = {}
    for arm in charlm.LSTM_ARMS:
        model = charlm.CharLM(arm, config["hidden"])
        out[arm] = model.apply(
            {**variables, "params": scaled}, x, rngs={"noise": jax.random.key(1)}
        )
    for i, a in enumerate(charlm.LSTM_ARMS):
        for b in charlm.LSTM_ARMS[i + 1 :]:
            assert not np.allclose(out[a], out[b]), (a, b)
    # test time: nah's test-time model is the expectation arm
    test = charlm.CharLM("nah", config["hidden"], test=True).apply(
        {**variables, "params": scaled}, x
    )
    np.testing.assert_allclose(test, out["expectation"], rtol=1e-6, atol=1e-6)
    assert jnp.all(jnp.isfinite(test))


def test_unique_count_arms_start_together_and_anneal_to_the_fixed_scale():
    config = sequences.UNIQUE_EXPERIMENT.full
    m = sequences.noise_multiplier(config)
    assert float(m(0)) == pytest.approx(config["c0"] / config["final_c"])
    # the paper's floor: tanh units reach c = 0.5, i.e. the multiplier reaches 1 ...
    assert float(m(config["anneal_steps"])) == pytest.approx(1.0)
    assert float(m(config["anneal_steps"] - 50)) > 1.0
    # ... well before the end of training
    assert config["anneal_steps"] < config["steps"]
    # fixed noise stays at 1; the paper's own schedule (t += 1 every 200 updates) is still
    # at c = 30 / sqrt(15) after 2999 steps; the long schedule keeps c >= 5 for a quarter
    steps, quarter = config["steps"], config["steps"] // 4
    assert float(m(1000, 0)) == 1.0
    assert 0.5 * float(m(steps - 1, 2)) == pytest.approx(30 / math.sqrt(15), rel=1e-6)
    assert 0.5 * float(m(quarter, 3)) == pytest.approx(5.0, rel=1e-4)
    assert 0.5 * float(m(quarter + 10, 3)) < 5.0 and float(m(steps - 1, 3)) == 1.0


# --------------------------------------------------------------------------------------
# Statistics and verdicts


def test_t_test_matches_scipy():
    diffs = [0.3, 0.1, 0.25, -0.05, 0.2]
    got = _common.t_test(diffs)
    want = stats.ttest_1samp(diffs, 0.0)
    assert got["t"] == pytest.approx(want.statistic) and got["p"] == pytest.approx(want.pvalue)
    lo, hi = want.confidence_interval(0.95)
    assert got["ci95"] == pytest.approx([lo, hi]) and got["n"] == 5
    # paired: a - b seed by seed is scipy's ttest_rel
    a, b = np.array([1.0, 2.0, 3.5, 4.0, 5.2]), np.array([0.8, 2.1, 3.0, 3.1, 5.0])
    assert _common.t_test(a - b)["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)


def test_holm_correction():
    got = _common.holm([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1, made monotone
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert _common.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # monotone: never below 1.0
    assert math.isnan(_common.holm([math.nan, 0.01])[0])
    assert _common.holm([math.nan, 0.01])[1] == pytest.approx(0.01)


def test_verdicts_on_synthetic_cases():
    noise = (0.08, -0.12, 0.03, 0.1, -0.05, -0.02, 0.11, -0.09)  # mean 0.005, sd 0.09
    n = len(noise)
    real = _common.Claim("real", tuple(0.5 + e for e in noise), "e")
    null = _common.Claim("null", noise, "e")
    reversed_ = _common.Claim("reversed", tuple(-0.5 + e for e in noise), "e")
    verdicts = _common.judge([real, null, reversed_], quick=False, seeds=n)
    assert [v["verdict"] for v in verdicts] == ["held", "inconclusive", "did not hold here"]
    assert verdicts[1]["test"]["p_holm"] > 0.05
    # Holm: a borderline p that passes alone fails among many tests
    borderline = _common.Claim("b", (0.12, 0.05, 0.2, 0.02, 0.1), "e")
    assert _common.t_test(borderline.support)["p"] < 0.05
    alone = _common.judge([borderline], quick=False, seeds=5)[0]
    crowd = _common.judge([borderline] + [null] * 4, quick=False, seeds=5)[0]
    assert alone["verdict"] == "held" and crowd["verdict"] == "inconclusive"


def test_tost_matches_two_one_sided_scipy_tests():
    support, margin = [0.004, -0.006, 0.002, 0.001, -0.003, 0.005], 0.01
    below = stats.ttest_1samp(support, -margin, alternative="greater").pvalue
    above = stats.ttest_1samp(support, margin, alternative="less").pvalue
    assert _common.tost(support, margin) == pytest.approx(max(below, above))
    assert _common.tost(support, margin) < 0.05
    # the same spread around an effect of 0.012 cannot be within +-0.01
    shifted = [s + 0.012 for s in support]
    assert _common.tost(shifted, margin) > 0.5
    assert math.isnan(_common.tost([0.1], margin)) and math.isnan(_common.tost(support, 0.0))


def test_equivalent_needs_a_margin_stated_before_and_a_passing_tost():
    small = (0.002, -0.003, 0.001, 0.0, -0.001, 0.002, -0.002, 0.001, 0.0, 0.001)
    wide = tuple(10 * s for s in small)  # the same mean effect, ten times the spread
    claims = [
        _common.Claim("tight, with a margin", small, "e", margin=0.01),
        _common.Claim("tight, no margin", small, "e"),
        _common.Claim("wide, with a margin", wide, "e", margin=0.01),
        _common.Claim("real", tuple(0.5 + s for s in small), "e", margin=0.01),
    ]
    verdicts = _common.judge(claims, quick=False, seeds=10)
    assert [v["verdict"] for v in verdicts] == [
        "equivalent",
        "inconclusive",
        "inconclusive",
        "held",  # a real difference is reported as one, whatever the margin
    ]
    assert _common.verdict_text(verdicts[0]) == "equivalent within ±0.01"
    assert verdicts[0]["test"]["tost_p_holm"] < 0.05 < verdicts[2]["test"]["tost_p_holm"]
    assert verdicts[1]["test"]["margin"] is None and math.isnan(verdicts[1]["test"]["tost_p"])
    table = _common.verdict_table(verdicts)
    assert "**equivalent within ±0.01**" in table and "| — |" in table


def test_no_labels_for_quick_runs_or_too_few_seeds():
    claim = _common.Claim("c", (1.0, 1.1, 0.9), "e")
    assert _common.judge([claim], quick=True, seeds=3)[0]["verdict"] is None
    v = _common.judge([claim], quick=False, seeds=3)[0]
    assert v["verdict"] is None and "needs 5" in v["not_judged"]


def results_with(arms: dict[str, list[float]], name="mse", diverged=None):
    n = len(next(iter(arms.values())))
    return [
        {
            "metrics": {
                a: {name: vals[i], "diverged": bool(diverged and diverged.get(a, [False] * n)[i])}
                for a, vals in arms.items()
            }
        }
        for i in range(n)
    ]


def test_a_diverged_seed_is_a_failure_of_its_arm():
    nan, big = float("nan"), 1e12
    results = results_with(
        {"a": [0.01, 0.02, nan, 0.01, big], "b": [0.15, 0.16, 0.17, 0.16, 0.15]},
        diverged={"a": [False, False, True, False, True]},
    )
    assert _common.robust(results, "a", "mse", 1 / 6, higher_is_better=False) == pytest.approx(
        [0.01, 0.02, 1 / 6, 0.01, 1 / 6]
    )
    claim = _common.compare(
        results, "a beats b", "a", "b", "mse", higher_is_better=False, failure=1 / 6
    )
    assert all(math.isfinite(s) for s in claim.support)
    assert _common.fmt(_common.values(results, "a", "mse"), 3, _common.failed(results, "a")) == (
        "0.013 ± 0.006; diverged (2/5)"
    )
    assert _common.fmt([nan, nan]) == "diverged (2/2)"
    table = _common.table(results, ["a", "b"], [("mse", "MSE")])
    assert "diverged (2/5)" in table and "e+" not in table
    # an arm that fails every seed cannot win
    results = results_with({"a": [nan] * 5, "b": [0.10, 0.11, 0.09, 0.1, 0.12]})
    claim = _common.compare(
        results, "a beats b", "a", "b", "mse", higher_is_better=False, failure=1 / 6
    )
    assert _common.judge([claim], quick=False, seeds=5)[0]["verdict"] == "did not hold here"


def test_full_size_summary_has_labels(tmp_path, monkeypatch):
    """A non-quick run with 5 seeds labels its claims (a stand-in experiment that trains
    nothing, so that the test is fast; the real experiments' quick runs are tested above)."""
    monkeypatch.setitem(EXPERIMENTS, "tiny", TINY)
    reproduce("tiny", out=tmp_path, seeds=5, log=lambda *a: None)
    summary = json.loads((tmp_path / "tiny" / "summary.json").read_text())
    check_summary(summary, quick=False)
    assert summary["arms"] == ["a", "b"] and summary["verdicts"][0]["verdict"] == "held"


# --------------------------------------------------------------------------------------
# CLI
@pytest.mark.slow
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


@pytest.mark.slow
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
    assert text.startswith("# rectify_jax: reproductions") and "(quick, 2 seeds)" in text
    assert "pipeline check, not evidence" in text
    assert "](res/noisy_mixture/noisy_mixture.png)" in text  # links relative to the report
    assert not (tmp_path / "res" / "REPORT.md").exists()  # one report, where it was asked
    assert "Results, figures and the report are in" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(5))
def test_digits_pixels_constant_in_training_cannot_blow_up_elsewhere(seed):
    """The loader scales by the training std floored at one grey level: a pixel that is
    constant (std 0) in the 500 training images is only centred, so in validation and test
    images it stays within the 16 grey levels (``std + 1e-3`` made it up to 16 * 1000)."""
    from sklearn.datasets import load_digits

    from rectify_jax.experiments import data

    raw = load_digits().data.astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(raw))
    train = raw[order[797:1297]]  # test 497, validation 300, then 500 training images
    constant = train.std(0) == 0
    assert constant.sum() >= 3  # the case under test occurs in every one of these splits
    xtr, _, xva, _, xte, _ = data.digits(
        test_size=497, valid_size=300, train_size=500, split_seed=seed
    )
    np.testing.assert_allclose(xtr.mean(0), 0, atol=1e-5)
    for x, rows in ((xva, order[497:797]), (xte, order[:497])):
        assert np.abs(x).max() <= 16
        np.testing.assert_allclose(x[:, constant], raw[rows][:, constant] - train[0, constant])


# --------------------------------------------------------------------------------------
# Learning rates tuned before the runs


def bowl(best: dict[str, float], calls: list):
    """A stand-in ``run(lrs, seed)``: each arm's validation score is a bowl in log(lr)
    around its ``best`` rate, plus a little seed noise; records the rates it trains."""

    def run(lrs, seed):
        calls.append((tuple(lrs), seed))
        return {
            arm: {"valid_by_lr": [math.log(lr / b) ** 2 + 0.001 * seed for lr in lrs]}
            for arm, b in best.items()
        }

    return run


def test_tuning_widens_the_grid_until_every_best_rate_is_interior():
    calls: list = []
    best = {"inside": 1e-3, "above": 2.5e-2, "below": 1.5e-5, "far": 1.0}
    tuning = _common.tune_lrs(bowl(best, calls), [1e-4, 1e-3, 1e-2, 1e-1], [0, 1], log=str)
    assert tuning["chosen"]["inside"] == pytest.approx(1e-3)
    assert tuning["chosen"]["above"] == pytest.approx(1e-2)  # nearest on the grid
    assert tuning["chosen"]["below"] == pytest.approx(1e-5)  # found after one widening
    assert tuning["grid"] == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
    assert tuning["chosen"]["far"] == pytest.approx(1.0)
    assert tuning["edge"] == {"inside": False, "above": False, "below": False, "far": False}
    # only the added rates were trained again, on both seeds
    assert [len(lrs) for lrs, _ in calls] == [4, 4, 2, 2, 2, 2]
    assert [seed for _, seed in calls] == [0, 1] * 3
    # a best rate beyond the last widening (WIDEN of them) stays at the edge, and says so
    edge = _common.tune_lrs(bowl({"far": 1e9}, []), [1e-4, 1e-3, 1e-2, 1e-1], [0], log=str)
    assert edge["chosen"]["far"] == pytest.approx(0.1 * 10.0**_common.WIDEN)
    assert edge["edge"] == {"far": True}
    with pytest.raises(ValueError, match="at least 4 rates"):
        _common.tune_lrs(bowl(best, []), [1e-3, 1e-2, 1e-1], [0])


def test_a_diverged_rate_is_never_chosen_in_tuning():
    def run(lrs, seed):
        return {"a": {"valid_by_lr": [1.0, 0.5, float("nan"), 0.9, 0.8][: len(lrs)]}}

    tuning = _common.tune_lrs(run, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], [0, 1], log=str)
    assert tuning["chosen"]["a"] == pytest.approx(1e-3) and not tuning["edge"]["a"]


def test_language_models_report_unigram_and_bigram_levels_counted_on_training_text():
    levels = charlm.reference_levels(64, 20_000)
    assert levels["uniform"] == pytest.approx(math.log(256))
    # Python source: a byte's frequency tells much, its predecessor more
    assert levels["bigram"] < levels["unigram"] < levels["uniform"]


def test_both_language_models_clip_gradients_at_the_same_norm():
    # the GRU diverged without clipping at its tuned rates; it clips as the LSTM model does
    for size in ("full", "quick"):
        gru = getattr(charlm.GRU_EXPERIMENT, size)
        lstm = getattr(charlm.LSTM_EXPERIMENT, size)
        assert gru["clip"] == lstm["clip"] == 5.0
