"""FRC passes (numba): windowed mean-free image and ring sums, one pass each.

The kernels of :func:`ptycho_metrics._frc.frc_of_checked` (same definitions
as its NumPy path, which stays the reference; the power-of-two unit and the
constant-image test come from the bounds kernel of ``_kernels.checks``):

* :func:`weighted_rows` and :func:`window_rows`: the window-weighted mean, then
  ``((a * scale - mean) * w0) * w1`` written once (NumPy: a scaled copy, a
  subtraction and two multiplications, four full-size passes and a matrix
  product).
* :func:`ring_rows`: the ring index of each Fourier pixel from its row and
  column frequencies and the four ring sums, accumulated per fixed block of
  rows (NumPy: a radius, an index and three products per block, then four
  bincounts).

Measured inside evaluate() at 2048^2 (benchmark pair of
tools/bench_evaluate.py, 2 cores, load ~0.5, best of 3 interleaved):
frc_of_checked 0.39 s against 0.79 s for the NumPy path; the two FFTs of the
region's 2045 x 2044 box (awkward lengths, 5 x 409 and 4 x 7 x 73: 3x the
cost of a 2048^2 transform) are ~0.3 s of it. At 4096^2: 1.26 s against 2.74 s.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def weighted_rows(
    r0: int, r1: int, a: np.ndarray, scale: float, w1: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``out[i] = sum_j (a[i, j] * scale) * w1[j]`` for rows ``r0:r1``."""
    for i in range(r0, r1):
        re = 0.0
        im = 0.0
        for j in range(a.shape[1]):
            v = a[i, j]
            re += (v.real * scale) * w1[j]
            im += (v.imag * scale) * w1[j]
        out[i] = complex(re, im)


@numba.njit(cache=True, nogil=True)
def window_rows(
    r0: int,
    r1: int,
    a: np.ndarray,
    scale: float,
    mean: complex,
    w0: np.ndarray,
    w1: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``out[i, j] = ((a[i, j] * scale - mean) * w0[i]) * w1[j]`` for rows ``r0:r1``.

    ``out`` may be ``a`` itself. The products by the real window are those of
    NumPy's complex-by-real multiplication, part by part.
    """
    m_re = mean.real
    m_im = mean.imag
    for i in range(r0, r1):
        wy = w0[i]
        for j in range(a.shape[1]):
            v = a[i, j]
            wx = w1[j]
            re = ((v.real * scale - m_re) * wy) * wx
            im = ((v.imag * scale - m_im) * wy) * wx
            out[i, j] = complex(re, im)


@numba.njit(cache=True, nogil=True)
def ring_rows(
    b0: int,
    b1: int,
    f1: np.ndarray,
    f2: np.ndarray,
    fy2: np.ndarray,
    fx2: np.ndarray,
    side: float,
    n_rings: int,
    edges: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Ring sums of the row blocks ``b0:b1`` (rows ``edges[b]:edges[b + 1]``) into ``out[b]``.

    ``out[b]`` is (4, n_rings + 1): sum Re F1 F2*, sum |F1|^2, sum |F2|^2 and
    the count per ring; the last bin collects the corners beyond Nyquist.
    """
    for b in range(b0, b1):
        sums = out[b]
        sums[:] = 0.0
        for i in range(edges[b], edges[b + 1]):
            ry = fy2[i]
            for j in range(f1.shape[1]):
                k = int(np.rint(np.sqrt(ry + fx2[j]) * side))
                if k > n_rings:
                    k = n_rings
                a = f1[i, j]
                c = f2[i, j]
                cross = a.real * c.real
                cross += a.imag * c.imag
                sums[0, k] += cross
                sums[1, k] += a.real * a.real + a.imag * a.imag
                sums[2, k] += c.real * c.real + c.imag * c.imag
                sums[3, k] += 1.0
