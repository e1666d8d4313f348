"""Sharded jit, shard_map and pmap on 8 forced CPU devices (in a subprocess, so the rest of
the suite keeps one device)."""

import json
import pathlib
import subprocess
import sys

import pytest

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
