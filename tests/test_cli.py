"""The rectify-jax command (and ``python -m rectify_jax``) answers every user mistake with one
line and exit code 2, before any training starts; Ctrl-C ends with one line and 130; single
experiments update only their own section of the report."""

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import jax
import pytest

from rectify_jax import __main__ as tour
from rectify_jax import cli
from rectify_jax.experiments import EXPERIMENTS


def run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "rectify_jax.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


MISTAKES = [
    (["reproduce", "noisy_mixture", "--seeds", "0"], ["--seeds", ">= 1", "got 0"]),
    (["reproduce", "noisy_mixture", "--seeds", "two"], ["--seeds", "'two'"]),
    (["reproduce", "noisy_mixture", "--steps", "-3"], ["--steps", "got -3"]),
    (["reproduce", "nonsense"], ["unknown experiment 'nonsense'", "noisy_mixture"]),
    (["reproduce"], ["NAME"]),
    (["frobnicate"], ["frobnicate"]),
    (["bench"], ["BENCHMARK"]),
    (["bench", "activations", "--names", "nope"], ["nope"]),
    (["data-parallel", "--devices", "3", "--batch", "32"], ["--batch 32", "--devices 3"]),
    (
        ["data-parallel", "--process-id", "5", "--num-processes", "2", "--coordinator", "h:1"],
        ["--process-id 5 is not below --num-processes 2", "numbered 0 to 1"],
    ),
    (["data-parallel", "--process-id", "-1"], ["--process-id must be >= 0, got -1"]),
    (["data-parallel", "--coordinator", "notahost"], ["HOST:PORT", "got 'notahost'"]),
    (["data-parallel", "--coordinator", "127.0.0.1:99999"], ["port from 1 to 65535"]),
    (["data-parallel", "--coordinator", "127.0.0.1:http"], ["HOST:PORT"]),
    (["data-parallel", "--coordinator", ":12355"], ["HOST:PORT", "got ':12355'"]),
    (["data-parallel", "--num-processes", "2"], ["--num-processes 2 needs --coordinator"]),
    (["data-parallel", "--process-id", "1"], ["--process-id 1 needs --coordinator"]),
    (
        ["data-parallel", "--coordinator", "no-such-host.invalid:12355", "--num-processes", "2"],
        ["the host 'no-such-host.invalid' is not known"],
    ),
]


@pytest.mark.parametrize("args, needles", MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_mistakes_get_one_line_and_exit_2(args, needles, capsys):
    try:
        code = cli.main(args)
    except SystemExit as e:  # argparse's own errors exit from inside parse_args
        code = e.code
    err = capsys.readouterr().err
    one_line_error(subprocess.CompletedProcess(args, code, "", err), *needles)


TOUR_MISTAKES = [
    (["--samples", "0"], ["--samples must be >= 1, got 0"]),
    (["--samples", "-1"], ["--samples must be >= 1, got -1"]),
    (["--samples", "many"], ["--samples must be a whole number >= 1, got 'many'"]),
    (["--seed", "-1"], ["--seed must be from 0 to 4294967295, got -1"]),
    (["--seed", str(2**70)], ["--seed must be from 0 to 4294967295"]),
    (["--seed", "1.5"], ["--seed must be a whole number"]),
    (["--frobnicate"], ["unrecognized arguments: --frobnicate"]),
]


@pytest.mark.parametrize(
    "args, needles", TOUR_MISTAKES, ids=[" ".join(a) for a, _ in TOUR_MISTAKES]
)
def test_python_m_rectify_jax_mistakes_get_one_line_and_exit_2(args, needles, capsys):
    with pytest.raises(SystemExit) as e:
        tour.main(args)
    err = capsys.readouterr().err
    one_line_error(subprocess.CompletedProcess(args, e.value.code, "", err), *needles)
    assert err.startswith("python -m rectify_jax: error: ")


def test_running_out_of_memory_is_one_line(monkeypatch, capsys):
    def out_of_memory(args):
        raise jax.errors.JaxRuntimeError(
            "INTERNAL: Error dispatching computation: Out of memory allocating 800000000 bytes."
        )

    monkeypatch.setattr(tour, "_tour", out_of_memory)
    assert tour.main(["--samples", "200000000"]) == 2
    line = capsys.readouterr().err.strip()
    assert line == (
        "python -m rectify_jax: error: out of memory (Out of memory allocating 800000000 "
        "bytes.); give fewer --samples"
    )


def test_ctrl_c_while_the_parser_is_built_is_one_line(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["list"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_coordinator_port_in_use_is_one_line(capsys):
    with socket.create_server(("", 0)) as busy:
        port = busy.getsockname()[1]
        code = cli.main(
            ["data-parallel", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
        )
    assert code == 2
    line = one_line_error(
        subprocess.CompletedProcess([], code, "", capsys.readouterr().err), "cannot be opened here"
    )
    assert f"port {port}" in line and "give a free port" in line


def test_a_coordinator_that_never_answers_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COORDINATOR_TIMEOUT_S", 0.5)
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    args = ["data-parallel", "--coordinator", address, "--num-processes", "2", "--process-id", "1"]
    assert cli.main(args) == 2
    one_line_error(
        subprocess.CompletedProcess(args, 2, "", capsys.readouterr().err),
        f"--coordinator '{address}': no coordinator answered there in 0.5 s",
        "start process 0",
    )


def test_more_devices_than_jax_sees_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("XLA_FLAGS", "")  # restored afterwards: the command sets it
    n = 4 * jax.device_count()  # this process's JAX has started: forcing has no effect now
    args = ["data-parallel", "--devices", str(n), "--batch", str(n)]
    assert cli.main(args) == 2
    one_line_error(
        subprocess.CompletedProcess(args, 2, "", capsys.readouterr().err),
        f"--devices {n}, but JAX sees {jax.device_count()} ",
        f"give --devices {jax.device_count()} or fewer",
    )


@pytest.mark.slow
def test_a_mistake_in_a_real_process_has_no_traceback():
    one_line_error(run_cli("reproduce", "noisy_mixture", "--seeds", "0"), "--seeds")


@pytest.mark.slow
def test_output_paths_are_checked_before_training(tmp_path):
    afile = tmp_path / "a_file"
    afile.write_text("")
    one_line_error(run_cli("reproduce", "noisy_mixture", "--out", str(afile)), "--out", "is a file")
    one_line_error(run_cli("plot", "--out", str(afile)), "--out", "is a file")
    # not writable (as any user, root included: /proc takes no new folders)
    one_line_error(
        run_cli("reproduce", "noisy_mixture", "--out", "/proc/rectify-jax-test"),
        "--out",
        "cannot be written",
    )
    one_line_error(
        run_cli("reproduce", "noisy_mixture", "--quick", "--report", str(tmp_path)),
        "--report",
        "is a folder",
    )
    assert not any(p.name.startswith(".rectify-jax-probe") for p in tmp_path.iterdir())


def test_a_missing_extra_names_the_pip_command(monkeypatch, capsys):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    assert cli.main(["reproduce", "noisy_mixture", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "missing: matplotlib" in err and "pip install 'rectify-jax[experiments]'" in err
    assert cli.main(["plot"]) == 2
    assert "pip install 'rectify-jax[plot]'" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    from rectify_jax import __version__

    assert capsys.readouterr().out.strip() == f"rectify-jax {__version__}"


HELP_COMMANDS = [
    [],
    ["list"],
    ["plot"],
    ["reproduce"],
    ["data-parallel"],
    ["bench"],
    *(["bench", name] for name in cli.BENCHMARKS),
]
RST = re.compile(r"``|:(func|class|mod|meth|data|attr|doc|ref):`")


def help_text(parser, argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as e:
        parser.parse_args([*argv, "--help"])
    assert e.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=lambda a: " ".join(a) or "rectify-jax")
def test_help_texts_are_written_for_a_terminal(argv):
    text = help_text(cli.build_parser(), argv)
    assert not RST.search(text), text
    assert "rest" not in text.split() and "brief" not in text and "SPEC" not in text
    # an example command is a line of its own, never run into the prose around it
    for line in text.splitlines():
        for command in ("rectify-jax bench", "python -m rectify_jax."):
            if command in line and not line.startswith("usage"):
                assert line.startswith(f"  {command}"), line
    if argv == ["reproduce"]:
        assert "an experiment from `rectify-jax list`, or all" in text


def test_python_m_rectify_jax_help_is_written_for_a_terminal():
    text = help_text(tour.build_parser(), [])
    assert not RST.search(text)
    assert text.splitlines()[2] == "python -m rectify_jax: a first run of the library."


def test_interrupt_prints_one_line_and_exits_130(monkeypatch, tmp_path, capsys):
    import rectify_jax.experiments as ex

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ex, "reproduce", interrupted)
    out = tmp_path / "res"
    assert cli.main(["reproduce", "noisy_mixture", "--out", str(out), "--no-progress"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        f"interrupted: finished seeds are kept in {out}; rerun the same command to resume"
    )


def _ctrl_c_until_it_ends(proc: subprocess.Popen) -> str:
    """Ctrl-C, pressed again every second until the process ends, as a user would (once,
    under a fully loaded machine, a single SIGINT was lost and the run finished with exit 0);
    returns its standard error."""
    for _ in range(60):
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            continue
    return proc.communicate(timeout=120)[1]


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process needs POSIX")
def test_ctrl_c_during_training_has_no_traceback(tmp_path):
    """A real SIGINT while a seed trains: one line, exit 130, finished seeds kept."""
    out = tmp_path / "res"
    # As from a terminal: Ctrl-C raises KeyboardInterrupt even when the tests run in a
    # background job (which starts with SIGINT ignored, and a child inherits that).
    as_from_a_terminal = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'rectify-jax'; runpy.run_module('rectify_jax.cli', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            as_from_a_terminal,
            "reproduce",
            "noisy_mixture",
            "--quick",  # tiny sizes, but long seeds (about 10 s each) to interrupt
            "--steps",
            "20000",
            "--out",
            str(out),
            "--seeds",
            "5",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seed0 = out / "noisy_mixture" / "seed0.json"
    deadline = time.time() + 240
    while not seed0.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert seed0.exists(), "the first seed did not finish in time"
    time.sleep(1.0)  # inside the next seed's training
    err = _ctrl_c_until_it_ends(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: finished seeds are kept in")
    assert json.loads(seed0.read_text())["seed"] == 0


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = (  # the console script's own code, as from a terminal (see AS_FROM_A_TERMINAL)
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'rectify-jax'; import _rectify_jax_cli; {before}_rectify_jax_cli.main()"
)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to itself needs POSIX")
def test_ctrl_c_while_the_package_is_imported_is_one_line_and_130():
    """The console script notes Ctrl-C while ``rectify_jax`` (and JAX) load, before the
    command line's own handler exists, and stops once the import is done: here SIGINT
    arrives as the import of the package begins."""
    sigint_as_the_import_begins = (
        "import builtins, os; real = builtins.__import__; "
        "builtins.__import__ = lambda name, *a, **k: (os.kill(os.getpid(), signal.SIGINT) "
        "if name == 'rectify_jax' else None, real(name, *a, **k))[1]; "
    )
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER.format(before=sigint_as_the_import_begins), "list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 130 and proc.stderr.strip() == "interrupted", proc.stderr
    assert proc.stdout == ""  # the command did not run


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process needs POSIX")
def test_ctrl_c_as_the_console_script_starts_is_one_line_and_130(tmp_path):
    """A real SIGINT the moment the launcher runs (while JAX loads, or later). Only the
    interpreter's own start and the import of the few-line launcher come before its
    handler: a Ctrl-C in those milliseconds is Python's, as for any script."""
    started = "print('started', flush=True); "
    argv = ["reproduce", "noisy_mixture", "--out", str(tmp_path), "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", LAUNCHER.format(before=started), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    time.sleep(0.1)  # into main() (a few bytecodes after the print), long before JAX loads
    err = _ctrl_c_until_it_ends(proc)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("interrupted"), err


AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'python -m rectify_jax'; runpy.run_module('rectify_jax', run_name='__main__')"
)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process needs POSIX")
def test_ctrl_c_during_python_m_rectify_jax_is_one_line_and_130():
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", AS_FROM_A_TERMINAL, "--samples", "10000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("rectify_jax ")  # imports done, computing
    err = _ctrl_c_until_it_ends(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() == "interrupted", err


@pytest.mark.slow
def test_a_closed_stdout_ends_quietly():
    """As `python -m rectify_jax | head -1` once head has gone: no traceback, exit 141."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "rectify_jax", "--samples", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the first line is printed
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err == "", err


@pytest.mark.slow
def test_single_experiments_update_only_their_own_section(tmp_path, monkeypatch):
    """One real experiment beside a stand-in that trains nothing (fast)."""
    from test_results_folder import TINY

    monkeypatch.setitem(EXPERIMENTS, "tiny", TINY)
    out = tmp_path / "res"
    for name in ("noisy_mixture", "tiny"):
        assert (
            cli.main(
                ["reproduce", name, "--quick", "--seeds", "1", "--out", str(out), "--no-progress"]
            )
            == 0
        )
    report = (out / "REPORT.md").read_text()
    assert "`noisy_mixture` (quick, 1 seed)" in report
    assert "`tiny` (quick, 1 seed)" in report
    for name in ("noisy_mixture", "tiny"):
        assert EXPERIMENTS[name].title in report
    assert "pipeline check, not evidence" in report
    # rerunning one of them keeps the other's section
    argv = ["reproduce", "tiny", "--quick", "--seeds", "2", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    report = (out / "REPORT.md").read_text()
    assert "`tiny` (quick, 2 seeds)" in report
    assert EXPERIMENTS["noisy_mixture"].title in report


IMPORTS_OF_A_COMMAND = """
import contextlib, io, json, sys
from rectify_jax import cli

out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        cli.build_parser().parse_args(sys.argv[1:])
except SystemExit:  # --help
    pass
loaded = [m for m in sys.modules if m.startswith(("rectify_jax.bench", "rectify_jax.experiments"))]
print(json.dumps({"loaded": sorted(loaded), "stdout": out.getvalue()}))
"""


def imports_of(*argv):
    """The benchmark and experiment modules that parsing ``argv`` imports, and its output."""
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_COMMAND, *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(result["loaded"]), result["stdout"]


@pytest.mark.slow
def test_each_command_imports_only_what_it_uses():
    for argv in (["list"], ["plot"], ["reproduce", "noisy_mixture"], ["data-parallel"]):
        assert imports_of(*argv) == (set(), ""), argv
    loaded, out = imports_of("--help")
    assert not loaded
    for command in ("list", "plot", "reproduce", "data-parallel", "bench"):
        assert command in out
    loaded, out = imports_of("bench", "--help")
    assert not loaded
    for name, (_, summary) in cli.BENCHMARKS.items():
        assert name in out and summary.split()[0] in out
    loaded, out = imports_of("bench", "train-step", "--help")
    assert loaded == {
        "rectify_jax.bench",
        "rectify_jax.bench.common",
        "rectify_jax.bench.train_step",
    }
    assert "--memory-length" in out
    loaded, _ = imports_of("bench", "activations", "--sizes", "10")
    assert "rectify_jax.bench.activations" in loaded
    assert not loaded & {"rectify_jax.bench.train_step", "rectify_jax.bench.scaling"}


def test_benchmark_help_is_the_first_line_of_its_module_docstring():
    import importlib

    for module_name, summary in cli.BENCHMARKS.values():
        doc = importlib.import_module(module_name).__doc__
        assert " ".join(doc.strip().splitlines()[0].split()) == summary


def test_progress_off_a_terminal_prints_one_whole_line_per_finished_run():
    from rectify_jax.experiments._common import Progress

    out = io.StringIO()  # not a terminal, like a log file
    label = "sequential digits irnn_sgd x6 lr seed 0, a label longer than a terminal"
    with Progress(True, stream=out) as progress:
        first, second = progress.task(label, 100), progress.task("b", 10)
        first(50, 1.0)
        assert out.getvalue() == ""  # nothing until a run finishes
        first(100, 0.5)
        second(10, float("nan"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{label}: 100 steps, loss 0.5000, ") and lines[0].endswith(" s")
    assert len(lines[0]) > 80  # never cut to a terminal's width
    assert lines[1].startswith("b: 10 steps, loss nan")
    quiet = io.StringIO()
    with Progress(False, stream=quiet) as progress:
        progress.task("c", 1)(1, 0.0)
    assert quiet.getvalue() == ""
