"""Figures: each writes a non-empty PNG with the expected panels and lines."""

import struct

import jax
import jax.numpy as jnp
import pytest

import rectify_jax as rj
from rectify_jax import plotting

pytestmark = pytest.mark.slow  # matplotlib rendering: the slow tier


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return struct.unpack(">II", data[16:24])  # width, height from the IHDR chunk


def test_activations_grid(tmp_path):
    names = ["relu", "tanh", "hard_sigmoid", "noisy_hard_tanh", "tlu"]
    fig = plotting.activations(names, path=tmp_path / "a.png")
    assert [ax.get_title() for ax in fig.axes] == names
    assert all(len(ax.lines) == 2 for ax in fig.axes)  # f and f'
    w, h = _png_size(tmp_path / "a.png")
    assert w > h  # 2 rows of 4 panels
    assert len(plotting.activations().axes) == len(plotting.CURVES)
    with pytest.raises(ValueError, match="unknown names"):
        plotting.activations(["swish"])


def test_noisy_samples_panels(tmp_path):
    fig = plotting.noisy_samples(alphas=(1.0, 1.15, 1.5), samples=4, path=tmp_path / "b.png")
    assert len(fig.axes) == 6  # 2 noise kinds x 3 alphas
    assert all(len(ax.lines) == 2 and len(ax.collections) == 1 for ax in fig.axes)
    assert "alpha=1.5" in fig.axes[2].get_title() and "normal" in fig.axes[3].get_title()
    _png_size(tmp_path / "b.png")


def test_activation_probability_curves_are_sorted(tmp_path):
    x = jax.random.normal(jax.random.key(0), (500, 32)) + jnp.linspace(-2, 2, 32)
    summaries = {name: rj.diagnostics.code_statistics(x, name) for name in ("relu", "tanh", "elu")}
    fig = plotting.activation_probability(summaries, path=tmp_path / "c.png")
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["relu", "tanh", "elu"]
    for line in lines:
        y = line.get_ydata()
        assert len(y) == 32 and all(y[:-1] >= y[1:])
    _png_size(tmp_path / "c.png")


def test_grad_norm_lines(tmp_path):
    fig = plotting.grad_norms(
        {"tanh": [1.0, 0.1, 0.01], "irnn": {"t0": 1.0, "t1": 1.0, "t2": 1.0}},
        xlabel="time step",
        path=tmp_path / "d.png",
    )
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_yscale() == "log" and ax.get_xlabel() == "time step"
    _png_size(tmp_path / "d.png")
