"""Private implementation; import from ``rectify_jax`` instead."""
