"""Benchmarks (``rectify-jax bench activations|train-step``); public API only."""
