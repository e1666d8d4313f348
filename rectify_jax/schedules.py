"""Noise schedules: optax-compatible ``count -> value`` functions for annealing ``c``.

Any optax schedule works for the noise scale; this module adds the paper's.
"""

from rectify_jax._src.schedules import noise_annealing as noise_annealing

__all__ = ["noise_annealing"]
