"""Sharded jit, shard_map and pmap on 8 forced CPU devices (in a subprocess, so the rest of
the suite keeps one device)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # subprocesses / benchmarks: the slow tier

SCRIPT = pathlib.Path(__file__).parent / "multidevice" / "sharding_check.py"


@pytest.fixture(scope="module")
def report():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_eight_devices_were_used(report):
    assert report["devices"] == 8


def test_same_values_and_gradients_whatever_the_mesh_and_sharding(report):
    # 1, 2, 4, 8 devices on a data axis, and 2 x 4 / 4 x 2 data x model meshes
    for name, by_mesh in report["same_as_one_device"].items():
        assert all(by_mesh.values()), (name, by_mesh)


def test_activations_add_no_gathers(report):
    for name, counts in report["collectives"].items():
        assert counts["fwd_collectives"] == 0, (name, counts)  # forward: none at all
        assert counts["all-gather"] == 0 and counts["all-to-all"] == 0, (name, counts)


def test_shard_map_needs_shard_key_for_independent_noise(report):
    assert report["distinct_shard_rows"] == {"False": 1, "True": 8}


def test_pmap_with_a_key_per_device(report):
    assert report["pmap_matches"]


def _run(args):
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=pathlib.Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_data_parallel_lm_on_8_devices_follows_the_1_device_loss_curve():
    one = _run(["-m", "rectify_jax.cli", "data-parallel", "--devices", "1", "--steps", "5"])
    eight = _run(["examples/data_parallel_lm.py", "--devices", "8", "--steps", "5"])
    assert eight["devices"] == 8 and len(eight["losses"]) == 5
    # the same global batch and the same noise: only the order of float reductions differs
    assert all(
        abs(a - b) <= 1e-4 * abs(b) for a, b in zip(eight["losses"], one["losses"], strict=True)
    )
    assert eight["losses"][-1] < eight["losses"][0]


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_multihost_training_on_cpu_matches_one_device():
    """jax.distributed.initialize with a coordinator on 127.0.0.1 and gloo CPU collectives."""
    port = _free_port()
    args = [
        "-m",
        "rectify_jax.cli",
        "data-parallel",
        "--devices",
        "2",
        "--steps",
        "4",
        "--coordinator",
        f"127.0.0.1:{port}",
        "--num-processes",
        "2",
    ]
    root = pathlib.Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # one device per process
    procs = [
        subprocess.Popen(
            [sys.executable, *args, "--process-id", str(i)],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for i, (p, (_, err)) in enumerate(zip(procs, outs, strict=True)):
        pathlib.Path(f"/tmp/rectify_multihost_{i}.err").write_text(err)
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    # standard output holds the results only: gloo's connection line goes to standard error
    for out, _ in outs:
        assert all(line.startswith(("devices 2 step", "{")) for line in out.splitlines()), out
    one = _run(["-m", "rectify_jax.cli", "data-parallel", "--devices", "1", "--steps", "4"])
    for r in results:
        assert r["devices"] == 2
        assert all(
            abs(a - b) <= 1e-4 * abs(b) for a, b in zip(r["losses"], one["losses"], strict=True)
        )
