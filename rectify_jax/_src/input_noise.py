"""Input noise, NANI / NANIL / NANIS (Gulcehre et al. 2016, §5, arXiv:1603.00391).

The noise goes inside ``h``: ``h(x + scale(x) * xi)``, xi ~ N(0, 1) per element, with

- ``"fixed"`` (NANI): ``scale = s`` everywhere;
- ``"learned"`` (NANIL): ``scale = sigma(x) = c (sigmoid(p Delta(x)) - 1/2)**2``, as in
  output noise, so no noise where ``h`` is linear and ``p`` learns through the noise;
- ``"saturated"`` (NANIS): ``scale = s`` where ``h`` saturates, 0 elsewhere.

Gradients are ordinary autodiff (both modes). The defaults of ``s`` and ``c`` are the
unit's (:attr:`NoisyUnit.input_s`, :attr:`NoisyUnit.saturated_s`, :attr:`NoisyUnit.c`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.output_noise import sigma

if TYPE_CHECKING:  # the units are data of a higher layer; only their type is named here
    from rectify_jax._src.units import NoisyUnit

MODES = ("fixed", "learned", "saturated")


@dataclasses.dataclass(frozen=True)
class Options:
    """The static options of an input-noise call (hashable: a ``jax.jit`` static argument).

    Attributes:
      mode: ``"fixed"`` (NANI), ``"learned"`` (NANIL) or ``"saturated"`` (NANIS).
      generator: ``"jax"`` or ``"fast"``.
      deterministic: the test-time function ``h(x)``.
    """

    mode: str
    generator: str = "jax"
    deterministic: bool = False

    def checked(self, fn: str) -> Options:
        """Raises a clear error for a bad option; valid ones are remembered (checked once)."""
        try:
            return _checked(self, fn, type(self.deterministic))  # 1 == True: the type counts
        except TypeError:  # an unhashable option: checked uncached, which raises the error
            return self._check(fn)

    def _check(self, fn: str) -> Options:
        v.one_of(fn, "mode", self.mode, MODES)
        v.one_of(fn, "generator", self.generator, noise_lib.GENERATORS)
        det = v.static_bool(fn, "deterministic", self.deterministic)
        return dataclasses.replace(self, deterministic=det)


@functools.lru_cache(maxsize=256)
def _checked(options: Options, fn: str, *types) -> Options:
    return options._check(fn)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _input_noise(unit, options, x, key, s, p, c):
    cdt = v.compute_dtype(x.dtype)
    xc = x.astype(cdt)
    if not options.deterministic:
        if options.mode == "fixed":
            scale = s.astype(cdt)
        elif options.mode == "saturated":
            scale = jnp.where(unit.saturated(xc), s.astype(cdt), 0.0)
        else:
            scale = sigma(unit.h_minus_u(xc), p.astype(cdt), c.astype(cdt))
        xc = xc + scale * noise_lib.sample(key, x.shape, "normal", cdt, options.generator)
    return unit.h(xc).astype(x.dtype)


def apply(
    fn: str,
    unit: NoisyUnit,
    x,
    key,
    options: Options,
    *,
    s: ArrayLike | None = None,
    p: ArrayLike = 1.0,
    c: ArrayLike | None = None,
):
    """Checks the arguments of an input-noise call (naming ``fn``) and runs it.

    ``s`` of None is the unit's ``input_s`` (NANI) or ``saturated_s`` (NANIS); ``c`` of
    None is the unit's ``c``. ``deterministic=True`` skips the noise draw.
    """
    x = v.float_input(fn, x)
    options = options.checked(fn)
    if s is None:
        s = unit.saturated_s if options.mode == "saturated" else unit.input_s
    c = unit.c if c is None else c
    scale = "it scales the noise"
    s = v.param(fn, "s", s, x, minimum=0.0, why=scale)
    p = v.param(fn, "p", p, x)
    c = v.param(fn, "c", c, x, minimum=0.0, why=scale)
    key = None if options.deterministic else noise_lib.as_key(fn, key)
    return _input_noise(unit, options, x, key, s, p, c)
