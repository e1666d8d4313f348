"""The claim ledger: every claim of the five source papers, in our words, with where it is
tested here (or why it is not).

:func:`table` renders it with each claim's status read from the verdicts of the report it
goes into: *held* / *did not hold here* / *equivalent* / *inconclusive*, *not attempted*
(with the reason), or *not run* when its experiment is not in that report. Original numbers
are quoted where the project's summary of the paper has them; the ledger does not invent
the others.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import Counter

from rectify_jax.experiments import _common

GULCEHRE = "Gulcehre, Moczulski, Denil & Bengio 2016, Noisy Activation Functions"
MAAS = "Maas, Hannun & Ng 2013, Rectifier Nonlinearities Improve Neural Network Acoustic Models"
GLOROT = "Glorot, Bordes & Bengio 2011, Deep Sparse Rectifier Neural Networks"
JIANG = "Jiang & Wang 2018, tanh linear unit in recurrent neural networks"
LE = "Le, Jaitly & Hinton 2015, A Simple Way to Initialize Recurrent Networks of ReLUs"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One claim of a source paper.

    Attributes:
      paper: the source.
      claim: the claim in our words, with the paper's numbers where we have them.
      experiment: the experiment that tests it here, or None.
      verdicts: the beginnings of the verdict claims (in that experiment's summary) that
        test it, as shell-style patterns (``d*_relu beats``: any depth); empty with an
        experiment: measured and described there, not judged.
      note: for an entry not attempted, why (one line); otherwise how it is tested here
        where that differs from the paper.
    """

    paper: str
    claim: str
    experiment: str | None = None
    verdicts: tuple[str, ...] = ()
    note: str = ""


NOT_SPEECH = "no speech corpus ships with a package; the digits MLPs stand in for the claims above"
BUDGET = "beyond a two-hour budget on a 2-core CPU"

ENTRIES: tuple[Entry, ...] = (
    # ---------------------------------------------------------------------------------
    Entry(
        GULCEHRE,
        "A 3-layer MLP of 8 units on a mixture of 3 Gaussians: tanh and noisy tanh both "
        "solve it (the paper plots the learned units).",
        "noisy_mixture",
        ("tanh solves the task", "noisy_hard_tanh solves the task"),
    ),
    Entry(
        GULCEHRE,
        "Replacing every sigmoid and tanh of an LSTM language model by noisy hard sigmoid / "
        "noisy hard tanh lowers perplexity below the soft LSTM and the hard (noiseless) LSTM "
        "(Penn Treebank, word level).",
        "noisy_lstm_lm",
        ("nan < soft", "nan < hard", "nah < soft", "nah < hard"),
        "character level on the Python standard library's source, at equal steps",
    ),
    Entry(
        GULCEHRE,
        "The gain comes from the sampled noise, not from the units' deterministic part (this "
        "project's control: the noisy units against their own expectation; not a claim the "
        "paper tests).",
        "noisy_lstm_lm",
        ("nah < expectation", "nan < expectation_alpha"),
    ),
    Entry(
        GULCEHRE,
        "The paper's Penn Treebank perplexities (its table of test perplexities).",
        note=f"word-level PTB is not offline data here; {BUDGET}",
    ),
    Entry(
        GULCEHRE,
        "Unique count (sequences of 26 integers in 0..10, an LSTM, mean-pooled states, an MLP "
        "head): annealing the noise (c from 30 to 0.5) beats no annealing.",
        "unique_count",
        (
            "annealed beats fixed_noise",
            "annealed_paper beats fixed_noise",
            "annealed_long beats fixed_noise",
            "annealed beats no_noise",
            "annealed beats plain_lstm",
        ),
        "three schedules: the paper's compressed to reach its floor half-way, its own "
        "(t += 1 every 200 updates) and one with a quarter of training at c >= 5",
    ),
    Entry(
        GULCEHRE,
        "Unique count: annealing alone beats the curriculum (short sequences first) alone.",
        "unique_count",
        ("annealed beats curriculum",),
    ),
    Entry(
        GULCEHRE,
        "Unique count: annealing combined with the curriculum is best.",
        "unique_count",
        ("curriculum_annealed beats",),
    ),
    Entry(
        GULCEHRE,
        "Associative recall with a memory controller (an NTM): a noisy controller converges "
        "faster.",
        note=f"training an NTM on that task is {BUDGET}",
    ),
    Entry(
        GULCEHRE,
        "Learning to execute (short programs read character by character): noisy units "
        "improve the LSTM.",
        note=f"{BUDGET}",
    ),
    Entry(
        GULCEHRE,
        "Neural machine translation: noisy units improve an attention-based translation model.",
        note=f"no parallel corpus ships offline; {BUDGET}",
    ),
    Entry(
        GULCEHRE,
        "Image caption generation: noisy units improve the captioning model.",
        note=f"no image-caption data ships offline; {BUDGET}",
    ),
    # ---------------------------------------------------------------------------------
    Entry(
        MAAS,
        "Deep networks with rectifiers (ReLU, leaky ReLU) reach a lower word error rate than "
        "tanh networks on Switchboard (300 h of speech).",
        "rectifiers_vs_tanh",
        ("d*_relu beats d*_tanh", "d*_leaky_relu beats d*_tanh"),
        "MLPs of 2-4 hidden layers on scikit-learn's digits (test accuracy)",
    ),
    Entry(
        MAAS,
        "Deeper tanh networks do worse (the 4-layer tanh net is worse than the 2-layer one).",
        "rectifiers_vs_tanh",
        ("the *-layer tanh net is worse",),
    ),
    Entry(
        MAAS,
        "Rectifier codes are sparser: lower activation probability of the last hidden "
        "layer's units than tanh's.",
        "rectifiers_vs_tanh",
        ("ReLU codes are sparser",),
    ),
    Entry(
        MAAS,
        "Rectifier codes are more dispersed: the std of the units' activation probabilities "
        "is about 0.04 for ReLU and leaky ReLU against 0.14 for tanh (printed as 0.4; the "
        "text says ReLU's is far lower).",
        "rectifiers_vs_tanh",
        ("ReLU codes are more dispersed",),
        "our dispersion numbers are in the section's table, next to theirs",
    ),
    Entry(
        MAAS,
        "The word error rates of their table (GMM baseline, tanh, ReLU and leaky ReLU DNNs).",
        note=NOT_SPEECH,
    ),
    # ---------------------------------------------------------------------------------
    Entry(
        GLOROT,
        "Rectifier networks train as well as or better than tanh networks without "
        "unsupervised pre-training (MNIST, CIFAR-10, NISTP, NORB).",
        "rectifiers_vs_tanh",
        ("d*_relu beats d*_tanh",),
        "digits instead of their image sets",
    ),
    Entry(
        GLOROT,
        "Rectifier networks are easier to optimise than tanh networks (the argument of Glorot "
        "et al. and of Maas et al.): here, fewer steps to a low training loss.",
        "rectifiers_vs_tanh",
        ("d*_relu reaches training loss", "d*_leaky_relu reaches training loss"),
        "steps until the training loss falls below a fixed level, each arm at its tuned rate",
    ),
    Entry(
        GLOROT,
        "Accuracy is best at 70-85 % exact zeros (more sparsity, from a stronger L1 penalty, "
        "hurts); trained rectifier nets land in that range.",
        "rectifiers_vs_tanh",
        (),
        "the exact-zero fractions of relu and relu_l1 are reported; the accuracy-versus-"
        "sparsity curve needs a sweep of the L1 penalty, not run here",
    ),
    Entry(
        GLOROT,
        "Softplus, though smooth, does not beat the rectifier.",
        "rectifiers_vs_tanh",
        ("d*_relu beats d*_softplus",),
        "digits MLPs of 2-4 hidden layers, test accuracy; the claim stands where ReLU beats "
        "softplus or the two are equivalent",
    ),
    Entry(
        GLOROT,
        "Their error rates on MNIST, CIFAR-10, NISTP and NORB, and the sentiment-analysis "
        "results with pre-training.",
        note=f"those data sets are not offline here; {BUDGET}",
    ),
    # ---------------------------------------------------------------------------------
    Entry(
        JIANG,
        "In a GRU character language model, training loss orders TLU < ELU < leaky ReLU < "
        "tanh (at equal steps).",
        "tlu_gru",
        ("tlu < elu", "elu < leaky_relu", "leaky_relu < tanh"),
    ),
    Entry(
        JIANG,
        "The same order at equal training time.",
        note="needs each arm's step time from the benchmark harness (interleaved, repeated); "
        "times taken inside a training run on a shared CPU vary 2x from seed to seed",
    ),
    Entry(
        JIANG,
        "The same order at equal error: TLU reaches a given loss first.",
        note="not measured yet (steps to a fixed training loss)",
    ),
    # ---------------------------------------------------------------------------------
    Entry(
        LE,
        "An IRNN (ReLU RNN, identity recurrent matrix, zero bias) solves the adding problem "
        "on long sequences.",
        "adding_problem",
        ("irnn solves it", "irnn_clip solves it"),
    ),
    Entry(
        LE,
        "A tanh RNN fails there (vanishing gradients); the IRNN beats it.",
        "adding_problem",
        ("irnn beats tanh_rnn", "irnn_clip beats tanh_rnn_clip"),
    ),
    Entry(
        LE,
        "A ReLU RNN with a small random initialisation explodes or fails; the IRNN beats it.",
        "adding_problem",
        ("irnn beats relu_rnn", "irnn_clip beats relu_rnn_clip"),
    ),
    Entry(
        LE,
        "Gradient clipping helps the IRNN.",
        "adding_problem",
        ("irnn_clip beats irnn",),
    ),
    Entry(
        LE,
        "On MNIST read one pixel at a time, the IRNN reaches about 97 % test accuracy against "
        "65 % for their LSTM: competitive with or better than an LSTM.",
        "sequential_digits",
        (
            "irnn beats lstm",
            "irnn beats tanh_rnn",
            "irnn_sgd beats lstm",
            "irnn_sgd beats tanh_rnn",
        ),
        "8x8 digits, 64 steps; the IRNN with Adam and with plain SGD (the paper's optimiser)",
    ),
)


def status(entry: Entry, summaries: dict[str, dict]) -> str:
    """The entry's status in a report made of ``summaries`` (experiment -> summary)."""
    if entry.experiment is None:
        return f"not attempted: {entry.note}"
    if entry.experiment not in summaries:
        return f"not run in this report (`{entry.experiment}`)"
    if not entry.verdicts:
        return f"described, not judged (`{entry.experiment}`): {entry.note}"
    matched = matching(entry, summaries[entry.experiment])
    if any(v["verdict"] is None for v in matched):
        return f"not judged ({matched[0]['not_judged'].removeprefix('not judged (')}"
    counts = Counter(_common.verdict_text(v) for v in matched)
    if len(counts) == 1:
        ((text, n),) = counts.items()
        return f"**{text}** ({n} of {n} tests)" if n > 1 else f"**{text}**"
    return ", ".join(f"{text} {n}" for text, n in counts.most_common())


def matching(entry: Entry, summary: dict) -> list[dict]:
    """The verdicts of ``summary`` that test ``entry`` (their claim starts with one of the
    entry's patterns); raises ``LookupError`` if a pattern matches none, which means the
    ledger and the experiment's claims disagree."""
    out = []
    for start in entry.verdicts:
        found = [v for v in summary["verdicts"] if fnmatch.fnmatchcase(v["claim"], start + "*")]
        if not found:
            raise LookupError(
                f"ledger: no verdict of {entry.experiment} begins with {start!r} "
                f"(its claims: {[v['claim'] for v in summary['verdicts']]})"
            )
        out += [v for v in found if v not in out]
    return out


def table(summaries: dict[str, dict]) -> str:
    """The ledger as a markdown section, statuses read from ``summaries``."""
    lines = [
        "## Claim ledger",
        "",
        "Every claim of the five source papers, in our words (with the papers' numbers where "
        "this project's summary of them has them), and its status in this report. "
        "*Not attempted* says why; where the test here differs from the paper's, the last "
        "column says how.",
        "",
        "| paper | claim | tested here | status | how it differs / why not |",
        "|---|---|---|---|---|",
    ]
    for e in ENTRIES:
        where = f"`{e.experiment}`" if e.experiment else "—"
        note = e.note if e.experiment else ""
        author = e.paper.split(",")[0].split()[0]
        lines.append(f"| {author} | {e.claim} | {where} | {status(e, summaries)} | {note} |")
    return "\n".join(lines) + "\n"
