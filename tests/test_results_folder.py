"""The results folder of ``rectify-jax reproduce`` cannot be mixed or half-written: one run
at a time holds it (a lock that a killed run does not leave behind), every file is written
whole or not at all, a full disk is one line and exit code 1 with the finished seeds kept,
and a seed file is reused only if it is this experiment's result of that seed with this
configuration.

Most tests run a tiny stand-in experiment (no training, a small figure) through the real
command, in-process, so that they take a fraction of a second each."""

import dataclasses
import errno
import importlib.metadata
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from rectify_jax import cli
from rectify_jax._src import provenance
from rectify_jax.experiments import EXPERIMENTS, _common, compose_report, reproduce


def tiny_run_seed(config, seed, progress):
    return {"metrics": {"a": {"score": 1.0 + seed + config["steps"]}, "b": {"score": 0.5 * seed}}}


def tiny_report(results, config, figure):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([r["metrics"]["a"]["score"] for r in results])
    fig.savefig(figure, dpi=30)
    return _common.Report(
        setup="A stand-in experiment.",
        table=_common.table(results, ["a", "b"], [("score", "score")]),
        claims=[_common.compare(results, "a beats b", "a", "b", "score")],
        arms=["a", "b"],
        figure=figure,
    )


TINY = _common.Experiment(
    name="tiny",
    title="A tiny stand-in",
    claim="a beats b",
    source="this test",
    run_seed=tiny_run_seed,
    report=tiny_report,
    full={"steps": 2},
    quick={"steps": 1},
)


@pytest.fixture
def tiny(monkeypatch):
    """Registers the stand-in as experiment ``tiny``; returns the seeds it trains, in order."""
    trained = []

    def run_seed(config, seed, progress):
        trained.append(seed)
        return tiny_run_seed(config, seed, progress)

    monkeypatch.setitem(EXPERIMENTS, "tiny", dataclasses.replace(TINY, run_seed=run_seed))
    return trained


def run(out, *args):
    """``rectify-jax reproduce tiny --out OUT --no-progress ARGS``; returns the exit code."""
    return cli.main(["reproduce", "tiny", "--out", str(out), "--no-progress", *args])


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def leftovers(folder: pathlib.Path) -> list[str]:
    """Temporary files (any spelling) left anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob("*") if ".tmp" in p.name or ".probe" in p.name)


def saved(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


# --------------------------------------------------------------------------------------
# Atomic writes


def test_write_atomic_writes_text_bytes_and_figures_whole(tmp_path):
    from matplotlib.figure import Figure

    _common.write_atomic(tmp_path / "a.md", "± text\n")
    _common.write_atomic(tmp_path / "b.bin", b"\x00\x01")
    _common.write_json(tmp_path / "c.json", {"x": np.float32(1.5)})
    fig = Figure(figsize=(1, 1))
    # a writer function gets a temporary path with the same suffix (matplotlib reads the
    # format from it) and its return value comes back
    assert _common.write_atomic(tmp_path / "d.png", lambda tmp: fig.savefig(tmp) or tmp.suffix) == (
        ".png"
    )
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == "± text\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert saved(tmp_path / "c.json") == {"x": 1.5}
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.bin", "c.json", "d.png"]


def test_write_atomic_flushes_the_file_to_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    _common.write_atomic(tmp_path / "a.md", "x")
    assert events[:2] == ["fsync", "replace"]


@pytest.mark.parametrize(
    "stop", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt]
)
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, stop):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")

    def half_a_png(tmp):
        tmp.write_bytes(b"\x89PNG" + b"\x00" * 4092)  # a first block, then the disk fills
        raise stop

    expected = _common.WriteError if isinstance(stop, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as e:
        _common.write_atomic(target, half_a_png)
    if isinstance(stop, OSError):
        assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_a_killed_writers_temporaries_are_removed_by_the_next_run(tmp_path, tiny):
    folder = tmp_path / "tiny"
    folder.mkdir(parents=True)
    dead = 2**22 + 12345  # above Linux's largest pid: no such process
    stale = [
        folder / f".seed0.json.{dead}-0123abcd.tmp.json",
        tmp_path / f".REPORT.md.{dead}-0123abcd.tmp.md",
        folder / "seed0.json.tmp",  # an earlier version's
    ]
    alive = folder / f".tiny.png.{os.getpid()}-0123abcd.tmp.png"  # a live process's: kept
    for path in [*stale, alive]:
        path.write_text("{")
    assert run(tmp_path, "--seeds", "1") == 0
    assert not any(p.exists() for p in stale) and alive.exists()


# --------------------------------------------------------------------------------------
# A full disk, and other files that cannot be written


def fail_on(monkeypatch, name: str, error: OSError):
    """``os.replace`` onto a file called ``name`` fails with ``error`` (once written whole)."""
    real = os.replace

    def replace(src, dst):
        if pathlib.Path(dst).name == name:
            raise error
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize(
    "name, code, words",
    [
        ("seed1.json", errno.ENOSPC, "the disk is full (No space left on device)"),
        ("summary.json", errno.EDQUOT, "the disk quota is exceeded"),
        ("REPORT.md", errno.ENOSPC, "the disk is full"),
        ("tiny.png", errno.ENOSPC, "the disk is full"),
    ],
)
def test_a_full_disk_is_one_line_exit_1_and_keeps_the_finished_seeds(
    tmp_path, tiny, monkeypatch, capsys, name, code, words
):
    out = tmp_path / "res"
    if name == "tiny.png":  # the figure stops half-written, as matplotlib on a full disk

        def report(results, config, figure):
            pathlib.Path(figure).write_bytes(b"\x89PNG" + b"\x00" * 4092)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setitem(
            EXPERIMENTS, "tiny", dataclasses.replace(EXPERIMENTS["tiny"], report=report)
        )
    else:
        fail_on(monkeypatch, name, OSError(code, os.strerror(code)))
    assert run(out, "--seeds", "3") == 1
    line = one_line(capsys.readouterr().err)
    target = out / name if name == "REPORT.md" else out / "tiny" / name
    assert line.startswith(f"rectify-jax: error: cannot write {target}: {words}"), line
    assert f"finished seeds are kept in {out}" in line and "rerun the same command" in line
    assert not target.exists() and leftovers(tmp_path) == []
    finished = 1 if name == "seed1.json" else 3
    assert [saved(out / "tiny" / f"seed{s}.json")["seed"] for s in range(finished)] == list(
        range(finished)
    )
    assert not (out / ".lock").exists()  # released
    # with space again, the same command resumes: the finished seeds are not trained again
    monkeypatch.undo()
    monkeypatch.setitem(EXPERIMENTS, "tiny", dataclasses.replace(TINY, run_seed=tiny_run_seed))
    assert run(out, "--seeds", "3") == 0
    assert capsys.readouterr().out.count("already done") == finished
    assert saved(out / "tiny" / "summary.json")["seeds"] == 3


def test_another_file_that_cannot_be_written_is_named_in_one_line(
    tmp_path, tiny, monkeypatch, capsys
):
    fail_on(monkeypatch, "summary.json", PermissionError(errno.EACCES, "Permission denied"))
    assert run(tmp_path, "--seeds", "1") == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"rectify-jax: error: cannot write {tmp_path / 'tiny' / 'summary.json'}")
    assert "Permission denied" in line and "disk" not in line
    assert leftovers(tmp_path) == []


@pytest.fixture
def small_disk(tmp_path):
    """A 192 KiB tmpfs mounted for the test, where mounting is allowed (root in a container
    that permits it); the injected-error test above is the one that always runs."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs is Linux's")
def test_a_really_full_disk(small_disk, tiny, monkeypatch, capsys):
    def big_report(results, config, figure):  # a 400 KiB incompressible PNG: does not fit
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4, 4))
        fig.figimage(np.random.default_rng(0).random((400, 400, 3)))
        fig.savefig(figure, dpi=100)
        raise AssertionError("the figure fitted on the small disk")

    monkeypatch.setitem(
        EXPERIMENTS, "tiny", dataclasses.replace(EXPERIMENTS["tiny"], report=big_report)
    )
    out = small_disk / "res"
    assert run(out, "--seeds", "2") == 1
    line = one_line(capsys.readouterr().err)
    assert f"cannot write {out / 'tiny' / 'tiny.png'}: the disk is full" in line
    assert sorted(p.name for p in (out / "tiny").iterdir()) == ["seed0.json", "seed1.json"]
    assert [saved(out / "tiny" / f"seed{s}.json")["seed"] for s in (0, 1)] == [0, 1]
    assert leftovers(small_disk) == [] and not (out / ".lock").exists()


# --------------------------------------------------------------------------------------
# Seed files: reused only when they are this experiment's result of that seed


OTHER_CODE = {
    "code": {
        "version": "0",
        "source": "fedcba987654" * 4,
        "commit": "0123456789ab" * 3,
        "dirty": True,
    },
    "machine": {"cpu": "another CPU"},
}


def corrupt(path: pathlib.Path, how: str) -> str:
    """Spoils ``path`` (seed 1's file) as ``how`` says; returns words the warning must hold."""
    good = path.read_text()
    data = json.loads(good)
    seed0 = path.with_name("seed0.json")
    spoil = {
        "truncated": (lambda: path.write_text(good[: len(good) // 2]), "not valid JSON"),
        "empty": (lambda: path.write_text(""), "it is empty"),
        "malformed": (lambda: path.write_text("{'seed': 1}"), "not valid JSON"),
        "a list": (lambda: path.write_text("[1, 2]"), "holds no JSON object"),
        "seed 0 copied over": (lambda: path.write_text(seed0.read_text()), "its seed field is 0"),
        "another experiment": (
            lambda: path.write_text(json.dumps({**data, "experiment": "unique_count"})),
            "the experiment 'unique_count'",
        ),
        "another configuration": (
            lambda: path.write_text(json.dumps({**data, "config": {"steps": 7}})),
            "configuration differs: steps 7 there, 2 here",
        ),
        "an earlier format": (
            lambda: path.write_text(
                json.dumps({k: v for k, v in data.items() if k not in ("format", "experiment")})
            ),
            "lacks the fields format, experiment",
        ),
        "no metrics": (
            lambda: path.write_text(json.dumps({**data, "result": {}})),
            "its result holds no metrics",
        ),
        "other code": (
            lambda: path.write_text(json.dumps({**data, "provenance": OTHER_CODE})),
            "it was computed by other code (commit 0123456789ab with local changes, "
            "sources fedcba987654)",
        ),
        "no provenance (format 2)": (
            lambda: path.write_text(
                json.dumps({**{k: v for k, v in data.items() if k != "provenance"}, "format": 2})
            ),
            "lacks the field provenance",
        ),
        "a folder": (lambda: (path.unlink(), path.mkdir()), "cannot be read"),
    }
    action, words = spoil[how]
    action()
    return words


HOW = [
    "truncated",
    "empty",
    "malformed",
    "a list",
    "seed 0 copied over",
    "another experiment",
    "another configuration",
    "an earlier format",
    "no metrics",
    "other code",
    "no provenance (format 2)",
]


@pytest.mark.parametrize("how", HOW)
def test_a_bad_seed_file_is_named_and_its_seed_rerun(tmp_path, tiny, capsys, how):
    assert run(tmp_path, "--seeds", "2") == 0
    seed1 = tmp_path / "tiny" / "seed1.json"
    words = corrupt(seed1, how)
    capsys.readouterr()
    tiny.clear()
    assert run(tmp_path, "--seeds", "2") == 0
    line = one_line(capsys.readouterr().err)
    assert line.startswith(
        f"reproduce: {seed1} is not a result of seed 1 with this configuration ("
    ), line
    assert words in line and line.endswith("; rerunning seed 1"), line
    assert tiny == [1]  # seed 0 reused, seed 1 trained again
    fixed = saved(seed1)
    assert (fixed["seed"], fixed["experiment"], fixed["format"]) == (1, "tiny", 3)
    assert fixed["config"] == {"steps": 2}
    assert saved(tmp_path / "tiny" / "summary.json")["seeds"] == 2


def test_a_folder_in_place_of_a_seed_file_is_named_and_then_cannot_be_written(
    tmp_path, tiny, capsys
):
    assert run(tmp_path, "--seeds", "2") == 0
    seed1 = tmp_path / "tiny" / "seed1.json"
    corrupt(seed1, "a folder")
    capsys.readouterr()
    assert run(tmp_path, "--seeds", "2") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and not any("Traceback" in line for line in lines)
    assert "seed1.json is not a result of seed 1" in lines[0] and "cannot be read" in lines[0]
    assert lines[1].startswith(f"rectify-jax: error: cannot write {seed1}: ")


def test_seed_files_name_their_experiment_seed_configuration_format_and_provenance(tmp_path, tiny):
    reproduce("tiny", out=tmp_path, seeds=2, log=lambda *a: None)
    fields = {"format", "experiment", "seed", "config", "provenance", "seconds", "result"}
    head = subprocess.run(
        ["git", "-C", str(pathlib.Path(__file__).parent), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
    )
    for seed in (0, 1):
        data = saved(tmp_path / "tiny" / f"seed{seed}.json")
        assert set(data) == fields
        assert (data["format"], data["experiment"], data["seed"]) == (3, "tiny", seed)
        assert data["config"] == TINY.full
        code, machine = data["provenance"]["code"], data["provenance"]["machine"]
        assert code["source"] == provenance.source_hash() and len(code["source"]) == 64
        if head.returncode == 0:  # a git checkout (CI's clean clone is one)
            assert code["commit"] == head.stdout.strip() and isinstance(code["dirty"], bool)
        assert machine["cores"] == os.cpu_count() and machine["cpu"]
        for library in ("jax", "jaxlib", "flax", "optax", "chex", "numpy"):
            assert machine[library] == importlib.metadata.version(library)
    summary = saved(tmp_path / "tiny" / "summary.json")
    assert summary["code"] == code and machine["cpu"] in summary["machine"]


def test_a_source_hash_changes_with_any_source_file(tmp_path, monkeypatch):
    package = tmp_path / "rectify_jax"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    monkeypatch.setattr(provenance, "PACKAGE", package)
    hashes = []
    for step in ("as written", "a.py edited", "b.py moved"):
        provenance.source_hash.cache_clear()
        if step == "a.py edited":
            (package / "a.py").write_text("x = 2\n")
        elif step == "b.py moved":
            (package / "sub" / "b.py").rename(package / "b.py")  # same text, another path
        hashes.append(provenance.source_hash())
    provenance.source_hash.cache_clear()
    assert len(set(hashes)) == 3


def test_an_experiment_finished_by_other_code_is_left_out_of_the_report(tmp_path, tiny, capsys):
    assert run(tmp_path, "--seeds", "1") == 0
    other = tmp_path / "noisy_mixture"
    other.mkdir()
    summary = {**saved(tmp_path / "tiny" / "summary.json"), "code": OTHER_CODE["code"]}
    (other / "summary.json").write_text(json.dumps(summary))
    (other / "section.md").write_text("## made by other code\n")
    capsys.readouterr()
    assert run(tmp_path, "--seeds", "1") == 0
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"reproduce: {other / 'summary.json'} and its seed files were computed")
    assert "(commit 0123456789ab with local changes, sources fedcba987654)" in line
    assert "so noisy_mixture is left out" in line
    report = (tmp_path / "REPORT.md").read_text()
    assert TINY.title in report and "## made by other code" not in report
    assert f"sources {provenance.source_hash()[:12]}" in report


def test_an_unreadable_summary_of_another_experiment_is_left_out_of_the_report(
    tmp_path, tiny, capsys
):
    other = tmp_path / "noisy_mixture"
    other.mkdir()
    (other / "summary.json").write_text('{"seeds": 5, "qu')  # truncated by an old version
    (other / "section.md").write_text("## old\n")
    assert run(tmp_path, "--seeds", "1") == 0
    line = one_line(capsys.readouterr().err)
    assert f"the results of noisy_mixture in {other} cannot be read" in line
    report = (tmp_path / "REPORT.md").read_text()
    assert TINY.title in report and "## old" not in report
    with pytest.raises(FileNotFoundError):
        compose_report(tmp_path / "nothing here")


# --------------------------------------------------------------------------------------
# --quick is one seed


def test_quick_runs_one_seed_unless_seeds_is_given(tmp_path, tiny, capsys):
    assert run(tmp_path / "q", "--quick") == 0
    assert sorted(p.name for p in (tmp_path / "q" / "tiny").glob("seed*")) == ["seed0.json"]
    assert saved(tmp_path / "q" / "tiny" / "summary.json")["seeds"] == 1
    assert run(tmp_path / "q3", "--quick", "--seeds", "3") == 0
    assert saved(tmp_path / "q3" / "tiny" / "summary.json")["seeds"] == 3
    assert run(tmp_path / "full") == 0
    assert saved(tmp_path / "full" / "tiny" / "summary.json")["seeds"] == 5
    # the library's default is the same
    reproduce("tiny", out=tmp_path / "lib", quick=True, log=lambda *a: None)
    assert saved(tmp_path / "lib" / "tiny" / "summary.json")["seeds"] == 1
    # an experiment with its own number of seeds runs that many by default
    EXPERIMENTS["tiny"] = dataclasses.replace(EXPERIMENTS["tiny"], seeds=7)
    assert run(tmp_path / "own") == 0
    assert saved(tmp_path / "own" / "tiny" / "summary.json")["seeds"] == 7
    assert run(tmp_path / "own_quick", "--quick") == 0
    assert saved(tmp_path / "own_quick" / "tiny" / "summary.json")["seeds"] == 1
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--seeds N run seeds 0..N-1 (default: the experiment's own, 5 or 10" in help_text
    assert "--wait" in help_text
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert (
        "rectifiers_vs_tanh" in listed
        and f"{EXPERIMENTS['rectifiers_vs_tanh'].seeds} seeds" in listed
    )


# --------------------------------------------------------------------------------------
# One run at a time


class Holder:
    """Holds the lock of ``out`` in a thread of this process (a second open of the lock
    file, so it contends like another process) until ``release()``."""

    def __init__(self, out):
        self.locked, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.hold, args=(out,), daemon=True)
        self.thread.start()
        assert self.locked.wait(10)

    def hold(self, out):
        with _common.lock_folder(out, command="rectify-jax reproduce tiny --out elsewhere"):
            self.locked.set()
            self.stop.wait(30)

    def release(self):
        self.stop.set()
        self.thread.join(10)


def when_waiting(monkeypatch, action):
    """Runs ``action`` in 0.2 s once a run starts waiting for the lock (a blocking flock)."""
    fcntl = pytest.importorskip("fcntl")
    real = fcntl.flock

    def flock(fd, operation):
        if not operation & fcntl.LOCK_NB:
            threading.Timer(0.2, action).start()
        return real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)


def test_a_second_run_into_the_same_out_is_refused_in_one_line(tmp_path, tiny, capsys):
    holder = Holder(tmp_path)
    try:
        assert run(tmp_path, "--seeds", "1") == 2
    finally:
        holder.release()
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"rectify-jax: error: --out {str(tmp_path)!r} is in use by pid ")
    assert f"pid {os.getpid()} on {socket.gethostname()}, started 20" in line
    assert "command: rectify-jax reproduce tiny --out elsewhere" in line
    assert "--wait" in line and "another --out" in line
    assert tiny == [] and not (tmp_path / "tiny").exists()
    assert run(tmp_path, "--seeds", "1") == 0  # free again


def test_wait_waits_for_the_other_run_with_one_line(tmp_path, tiny, monkeypatch, capsys):
    holder = Holder(tmp_path)
    when_waiting(monkeypatch, holder.release)
    assert run(tmp_path, "--seeds", "1", "--wait") == 0
    assert not holder.thread.is_alive() and tiny == [0]
    line = one_line(capsys.readouterr().err)
    assert f"--out {str(tmp_path)!r} is in use by pid {os.getpid()}" in line
    assert line.endswith("waiting for it to finish")


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to itself needs POSIX")
def test_ctrl_c_while_waiting_is_one_line_and_130(tmp_path, tiny, monkeypatch, capsys):
    holder = Holder(tmp_path)
    when_waiting(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGINT))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
    try:
        assert run(tmp_path, "--seeds", "1", "--wait") == 130
    finally:
        signal.signal(signal.SIGINT, previous)
        holder.release()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].endswith("waiting for it to finish")
    assert lines[1] == (
        f"interrupted: finished seeds are kept in {tmp_path}; rerun the same command to resume"
    )
    assert tiny == []


def test_a_folder_named_like_the_lock_file_is_one_line(tmp_path, tiny, capsys):
    (tmp_path / ".lock").mkdir()
    assert run(tmp_path, "--seeds", "1") == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"rectify-jax: error: cannot write {tmp_path / '.lock'}: ")


HOLD_LIKE_A_KILLED_RUN = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
info = {"pid": os.getpid(), "host": "h", "started": "then", "command": "rectify-jax reproduce x"}
os.write(fd, json.dumps(info).encode())
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(os.name != "posix", reason="flock and SIGKILL are POSIX")
def test_a_killed_run_leaves_no_stale_lock(tmp_path, tiny, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LIKE_A_KILLED_RUN, str(tmp_path / ".lock")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert run(tmp_path, "--seeds", "1") == 2
        assert f"is in use by pid {holder.pid} on h, started then" in one_line(
            capsys.readouterr().err
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)
    assert (tmp_path / ".lock").exists()  # its details are still there, its lock is not
    assert run(tmp_path, "--seeds", "1") == 0
    assert capsys.readouterr().err == "" and not (tmp_path / ".lock").exists()


A_SLOW_RUN = """
import dataclasses, pathlib, sys, time
sys.path.insert(0, {tests!r})
from test_results_folder import TINY, tiny_run_seed
from rectify_jax import cli
from rectify_jax.experiments import EXPERIMENTS

def run_seed(config, seed, progress):
    go = pathlib.Path({go!r})
    while not go.exists():
        time.sleep(0.05)
    return tiny_run_seed(config, seed, progress)

EXPERIMENTS["tiny"] = dataclasses.replace(TINY, run_seed=run_seed, full={{"steps": {steps}}})
sys.argv[0] = "rectify-jax"
cli.run()
"""


@pytest.mark.slow
def test_two_concurrent_commands_into_one_out(tmp_path):
    """Two real processes: the second one stops at once, the first one's results are its own."""
    out, go = tmp_path / "res", tmp_path / "go"
    tests = str(pathlib.Path(__file__).parent)

    def start(steps):
        script = textwrap.dedent(A_SLOW_RUN).format(tests=tests, go=str(go), steps=steps)
        argv = ["reproduce", "tiny", "--out", str(out), "--seeds", "2", "--no-progress"]
        return subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first = start(steps=2)
    second = None
    try:
        deadline = time.monotonic() + 120
        while not (out / ".lock").exists() or not (out / ".lock").read_text():
            if first.poll() is not None:
                pytest.fail(f"the first run ended early: {first.communicate()[1]}")
            if time.monotonic() > deadline:
                pytest.fail("the first run held no lock on --out after 120 s")
            time.sleep(0.1)
        second = start(steps=3)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        line = one_line(err)
        assert f"is in use by pid {first.pid}" in line and "reproduce tiny --out" in line
        go.touch()
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:  # a failed check: end it here
                proc.kill()
                proc.communicate()
    for seed in (0, 1):
        assert saved(out / "tiny" / f"seed{seed}.json")["config"] == {"steps": 2}
    assert saved(out / "tiny" / "summary.json")["config"] == {"steps": 2}
