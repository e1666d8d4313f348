"""Noise annealing as optax schedules (Gulcehre et al. 2016, §6.6)."""

from __future__ import annotations

import jax.numpy as jnp
import optax


def noise_annealing(
    init_value: float = 30.0,
    *,
    transition_steps: int = 200,
    end_value: float = 0.5,
) -> optax.Schedule:
    r"""The continuation schedule of Gulcehre et al. (2016) for the noise scale ``c``.

    Returns the optax schedule

    .. math::
      c(\mathrm{count}) = \max\!\left(\frac{c_0}{\sqrt{t + 1}},\; c_\mathrm{end}\right),
      \qquad t = \lfloor \mathrm{count} / \mathrm{transition\_steps} \rfloor

    i.e. :math:`c_0` decays as one over the square root of the number of
    ``transition_steps``-long periods, floored at ``end_value``. Large noise early
    explores; small noise later fine-tunes. The paper anneals ``c`` from 30 to 0.5,
    incrementing ``t`` every 200 minibatch updates.

    The schedule is made of ``jnp`` ops: it can be called on a traced step count
    inside ``jax.jit`` and composes with ``optax.join_schedules`` and friends.

    Args:
      init_value: :math:`c_0 > 0`, the noise scale at step 0 (default 30).
      transition_steps: how many steps each value of :math:`t` lasts (default 200).
      end_value: the floor :math:`c_\mathrm{end} \ge 0` (default 0.5).

    Returns:
      An ``optax.Schedule``: ``count -> c`` as a float32 array.

    Examples:
      >>> schedule = rj.schedules.noise_annealing(30.0, transition_steps=200, end_value=0.5)
      >>> [round(float(schedule(n)), 3) for n in (0, 199, 200, 600, 10**6)]
      [30.0, 30.0, 21.213, 15.0, 0.5]

      Hold c at 30 for a 1000-step warm-up, then anneal:

      >>> warm = optax.join_schedules([optax.constant_schedule(30.0), schedule], [1000])
      >>> round(float(warm(1200)), 3)
      21.213

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      §6.6, arXiv:1603.00391.
    """
    fn = "noise_annealing"
    if not init_value > 0:
        raise ValueError(f"{fn}: init_value must be > 0, got {init_value}")
    if not end_value >= 0:
        raise ValueError(f"{fn}: end_value must be >= 0, got {end_value}")
    steps = transition_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{fn}: transition_steps must be a positive int, got {transition_steps!r}")

    def schedule(count):
        t = jnp.floor_divide(jnp.asarray(count, jnp.int32), transition_steps).astype(jnp.float32)
        return jnp.maximum(init_value / jnp.sqrt(t + 1.0), end_value)

    return schedule
