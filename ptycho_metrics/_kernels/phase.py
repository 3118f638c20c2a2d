"""The phase error's full-size passes, fused per row (numba).

Kernels of :mod:`ptycho_metrics._phase` (same operations as its NumPy
path: the same bits for the maps, the jumps and the integration; the sums
only in another order, relative ~1e-15):

* :func:`wrapped_rows`: the de-ramped wrapped residual
  ``angle(recon conj(truth) fy fx)`` (0 outside the mask, as the NumPy
  path's zeroed phasor gives) in one pass, instead of a complex block, two
  in-place products and ``np.angle`` per block of rows;
* :func:`jumps_rows`: the 2 pi jump maps along both axes and the residue
  count of each row, in one pass over the wrapped map (three full-size
  passes and two float temporaries per block in :func:`_phase._jumps` and
  :func:`_phase._count_residues`);
* :func:`angle_rows`: ``np.angle`` of a complex map on the kernel threads
  (the truth's phase of evaluate's phase maps);
* :func:`integrate_rows`, :func:`plane_rows`, :func:`finish_rows`: the
  Itoh integration, the sums of the weighted plane fit, and the plane
  removal with the summary sums, one row pass each.

Measured at 2048^2 (``tools/bench_evaluate.py``'s pair, two threads, load
0.6-1.0, cProfile cumulative, best of 3, NumPy path -> kernels):
``phase_error`` 0.33 s -> 0.16 s, ``_report._continuous_truth_phase`` 0.14 s
-> 0.095 s. What remains is mostly ``atan2`` (two full-size angles, ~0.035 s
each on two threads) and the gradient and offset sums, left to NumPy: numba
kernels for them measured 0.21 s and 0.08 s (helper calls), and an inlined
one 0.02 s against NumPy's 0.021-0.031 s, not worth a different sum order.
A numba ``np.abs`` (``hypot``) measured 0.037 s against NumPy's 0.014 s and
other bits, so the moduli stay NumPy's.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_TWO_PI = 2.0 * np.pi


@numba.njit(cache=True, nogil=True)
def wrapped_rows(
    r0: int,
    r1: int,
    r: np.ndarray,
    t: np.ndarray,
    mask: np.ndarray,
    fy: np.ndarray,
    fx: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1`` of ``angle((conj(t) r) fy[i] fx[j])``, the phasor 0 outside ``mask``.

    ``mask`` may be 0x0 (none). The zero phasor is multiplied like the
    others, as in the NumPy path, so signed zeros give the same angles.
    """
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        f = fy[i]
        for j in range(r.shape[1]):
            if masked and not mask[i, j]:
                u = 0j
            else:  # complex128 products also for complex64 maps (promoted exactly first)
                u = np.conj(np.complex128(t[i, j])) * np.complex128(r[i, j])
            u = u * f
            u = u * fx[j]
            out[i, j] = math.atan2(u.imag, u.real)


@numba.njit(cache=True, nogil=True)
def plane_rows(
    r0: int, r1: int, phase: np.ndarray, w: np.ndarray, xs: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1`` of the weighted plane fit's sums: w, w x, w x^2, w p, w p x over ``j``."""
    for i in range(r0, r1):
        s_w = 0.0
        s_wx = 0.0
        s_wxx = 0.0
        s_wp = 0.0
        s_wpx = 0.0
        for j in range(phase.shape[1]):
            wij = w[i, j]
            x = xs[j]
            wp = wij * phase[i, j]
            s_w += wij
            s_wx += wij * x
            s_wxx += wij * (x * x)
            s_wp += wp
            s_wpx += wp * x
        out[i, 0] = s_w
        out[i, 1] = s_wx
        out[i, 2] = s_wxx
        out[i, 3] = s_wp
        out[i, 4] = s_wpx


@numba.njit(cache=True, nogil=True)
def finish_rows(
    r0: int,
    r1: int,
    res: np.ndarray,
    mask: np.ndarray,
    by_row: np.ndarray,
    by_col: np.ndarray,
    stats: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1``: ``res -= by_row[i]``, ``res -= by_col[j]``, 0 outside ``mask``; sums.

    ``stats[i]`` = (sum of squares, sum of moduli, largest modulus) of row
    ``i`` inside ``mask`` (0x0: none), the summary of :func:`_phase.phase_error`.
    """
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        sq = 0.0
        ab = 0.0
        top = 0.0
        for j in range(res.shape[1]):
            if masked and not mask[i, j]:
                res[i, j] = 0.0
                continue
            v = (res[i, j] - by_row[i]) - by_col[j]
            res[i, j] = v
            sq += v * v
            a = abs(v)
            ab += a
            top = max(top, a)
        stats[i, 0] = sq
        stats[i, 1] = ab
        stats[i, 2] = top


@numba.njit(cache=True, nogil=True)
def integrate_rows(
    r0: int,
    r1: int,
    phase: np.ndarray,
    first: np.ndarray,
    jx: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1`` of ``phase + 2 pi k``, ``k`` integrated along each row from ``first[i]``.

    ``first`` is the integral down the first column (int32, exact), as in
    :func:`_phase._integrate`; ``k`` is exact integer arithmetic, then one
    multiplication and one addition per pixel in float64, like NumPy's.
    """
    for i in range(r0, r1):
        k = first[i]
        out[i, 0] = np.float64(k) * _TWO_PI + phase[i, 0]
        for j in range(1, phase.shape[1]):
            k += jx[i, j - 1]
            out[i, j] = np.float64(k) * _TWO_PI + phase[i, j]


@numba.njit(cache=True, nogil=True)
def jumps_rows(
    r0: int,
    r1: int,
    phase: np.ndarray,
    jy: np.ndarray,
    jx: np.ndarray,
    residues: np.ndarray,
    jumps: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1`` of the jump maps ``jy`` (rows - 1 of them) and ``jx``, residues per row.

    ``jumps[i]`` counts the non-zero jumps of row ``i`` (both maps);
    ``residues[i]`` the 2x2 loops starting in row ``i`` whose jumps do not
    cancel. The next row's ``jx`` is recomputed locally, never read from
    another thread's rows.
    """
    n_rows, n_cols = phase.shape
    scale = -1.0 / _TWO_PI
    below = np.empty(max(n_cols - 1, 0), dtype=np.int32)
    for i in range(r0, r1):
        count = 0
        for j in range(n_cols - 1):
            k = np.int32(np.rint((phase[i, j + 1] - phase[i, j]) * scale))
            jx[i, j] = k
            if k != 0:
                count += 1
        if i + 1 < n_rows:
            for j in range(n_cols):
                k = np.int32(np.rint((phase[i + 1, j] - phase[i, j]) * scale))
                jy[i, j] = k
                if k != 0:
                    count += 1
            for j in range(n_cols - 1):
                below[j] = np.int32(np.rint((phase[i + 1, j + 1] - phase[i + 1, j]) * scale))
            loops = 0
            for j in range(n_cols - 1):
                if jx[i, j] - below[j] + jy[i, j + 1] - jy[i, j] != 0:
                    loops += 1
            residues[i] = loops
        else:
            residues[i] = 0
        jumps[i] = count


@numba.njit(cache=True, nogil=True)
def angle_rows(
    r0: int, r1: int, z: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Rows ``r0:r1`` of ``np.angle(z)``, in float64 also for a complex64 ``z``."""
    for i in range(r0, r1):
        for j in range(z.shape[1]):
            v = z[i, j]
            out[i, j] = math.atan2(np.float64(v.imag), np.float64(v.real))
