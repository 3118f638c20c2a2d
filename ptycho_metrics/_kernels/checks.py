"""Bounds and finiteness of an input map in one pass per row (numba).

The kernel of :func:`ptycho_metrics._checks.part_bounds`, which serves
``peak_component``, ``degeneracy`` and ``power_of_two_scale`` (about 15
calls per evaluate()): the minima and maxima of the real and imaginary
parts inside an optional mask, and the NaN/Inf counts, read once instead of
four ``min``/``max`` reductions over strided ``.real``/``.imag`` views (and,
with a mask, a gathered copy ``a[mask]``). Minima and maxima are exact, so
the results are the NumPy path's bits. Measured at 2048^2 complex128 on two
threads (load ~1.2): ``peak_component`` 0.014 s against 0.033 s, masked
``degeneracy`` 0.014 s against 0.052 s (this kernel alone: 0.006 s).

:func:`nonfinite_rows` is the finite test of ``_check_finite`` (about 14
calls per evaluate()): a count per row, with no full-size boolean map;
0.004 s against 0.007-0.010 s for ``np.isfinite(a).all()`` (2048^2
complex128, load ~0.8). The bounds kernel was no faster than NumPy for it
(0.013 s against 0.011 s).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def nonfinite_rows(
    r0: int, r1: int, a: np.ndarray, counts: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``counts[i]``: the NaN/Inf values of row ``i`` (real or complex ``a``), rows ``r0:r1``."""
    for i in range(r0, r1):
        row = a[i]
        bad = 0
        for j in range(row.shape[0]):
            v = row[j]
            bad += not (math.isfinite(v.real) and math.isfinite(v.imag))
        counts[i] = bad


@numba.njit(cache=True, nogil=True)
def bounds_rows(
    r0: int, r1: int, a: np.ndarray, where: np.ndarray, bounds: np.ndarray, counts: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1``: ``bounds[i]`` = min, max of re, min, max of im; ``counts[i]`` = n, NaN, Inf.

    ``a`` is real or complex (a real map's imaginary part is 0, its bounds
    (0, 0)); ``where`` may be 0x0 (no mask). NaN values do not enter the bounds.
    """
    masked = where.shape[0] > 0
    for i in range(r0, r1):
        lo_re = np.inf
        hi_re = -np.inf
        lo_im = np.inf
        hi_im = -np.inf
        n = 0
        n_nan = 0
        n_inf = 0
        for j in range(a.shape[1]):
            if masked and not where[i, j]:
                continue
            v = a[i, j]
            re = v.real
            im = v.imag
            n += 1
            if re != re or im != im:
                n_nan += 1
                continue
            if abs(re) == np.inf or abs(im) == np.inf:
                n_inf += 1
            lo_re = min(lo_re, re)
            hi_re = max(hi_re, re)
            lo_im = min(lo_im, im)
            hi_im = max(hi_im, im)
        bounds[i, 0] = lo_re
        bounds[i, 1] = hi_re
        bounds[i, 2] = lo_im
        bounds[i, 3] = hi_im
        counts[i, 0] = n
        counts[i, 1] = n_nan
        counts[i, 2] = n_inf
