"""Pointwise statistics of two real maps in two passes per row (numba).

The kernel of :func:`ptycho_metrics._report._pair_statistics`, which
evaluate() uses for the amplitude and the continuous phase maps: the range
of each map (the data range and the flatness tests), the sums of the mean
absolute and root-mean-square errors, then the centred products of the
Pearson correlation, all inside an optional mask and without a gathered
copy. NumPy's path takes ~11 passes over the pixels for the same numbers
(``_range`` twice, ``_pearson``, ``_abs_errors``); measured at 2048^2 (load
~0.5, two threads): 0.014-0.018 s here against 0.036-0.049 s. The sums run per row, so they differ
from NumPy's pairwise sums only in their order (relative ~1e-16).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def pair_sums_rows(
    r0: int, r1: int, x: np.ndarray, y: np.ndarray, mask: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1``: n, sum x, sum y, min x, max x, min y, max y, sum |x - y|, sum (x - y)^2."""
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        n = 0
        sx = 0.0
        sy = 0.0
        lo_x = np.inf
        hi_x = -np.inf
        lo_y = np.inf
        hi_y = -np.inf
        s_abs = 0.0
        s_sq = 0.0
        for j in range(x.shape[1]):
            if masked and not mask[i, j]:
                continue
            a = x[i, j]
            b = y[i, j]
            n += 1
            sx += a
            sy += b
            lo_x = min(lo_x, a)
            hi_x = max(hi_x, a)
            lo_y = min(lo_y, b)
            hi_y = max(hi_y, b)
            d = abs(a - b)
            s_abs += d
            s_sq += d * d
        out[i, 0] = n
        out[i, 1] = sx
        out[i, 2] = sy
        out[i, 3] = lo_x
        out[i, 4] = hi_x
        out[i, 5] = lo_y
        out[i, 6] = hi_y
        out[i, 7] = s_abs
        out[i, 8] = s_sq


@numba.njit(cache=True, nogil=True)
def centred_rows(
    r0: int,
    r1: int,
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    mx: float,
    my: float,
    out: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1``: sum dx dy, sum dx^2, sum dy^2 with ``dx = x - mx``, ``dy = y - my``."""
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        sxy = 0.0
        sxx = 0.0
        syy = 0.0
        for j in range(x.shape[1]):
            if masked and not mask[i, j]:
                continue
            dx = x[i, j] - mx
            dy = y[i, j] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        out[i, 0] = sxy
        out[i, 1] = sxx
        out[i, 2] = syy
