"""Alignment passes (numba): ramps, phasor-gradient sums, registration crops, Fourier shift.

The kernels of :func:`ptycho_metrics._align.align` (same definitions as its
NumPy path, which stays the reference). Each fuses several full-size NumPy
passes (and their temporaries) into one pass per row:

* :func:`ramp_rows`: ``obj * fy[i] * fx[j]`` into a new complex128 array (a
  complex64 ``obj`` promoted exactly), optionally with the per-row sums
  ``sum_j out[i, j] wx[j]`` of a registration window.
* :func:`window_rows`: ``((v - mean) wy[i]) wx[j]`` in place.
* :func:`gradient_rows`: the neighbour sums ``sum conj(z(r)) z(r + e)`` of
  ``z = v`` or ``z = v conj(t)``, zero outside a mask, per row.
* :func:`periodic_shift_rows`: the smooth component's spectrum (Moisan)
  subtracted from the image spectrum, the rest times the Fourier shift
  factors, and the smooth part added back times the transfer function of the
  linear interpolation: one inverse FFT gives the shifted image.
* :func:`cross_power_rows`: ``conj(F) F_ref`` in place.
* :func:`ramp_and_fit_rows`: the residual ramp removed in place and the
  sums of the global phase and scale fit, per row.
* :func:`scale_rows`: multiplication by a complex constant in place.

Complex products are written out as ``ar br - ai bi`` and ``ar bi + ai br``
(NumPy's SIMD loops use fused multiply-adds, so elementwise values differ
from NumPy's in the last bit; the results agree to ~1e-15, tested).
Measured times: the comment above ``_NONE_REAL`` in :mod:`ptycho_metrics._align`.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def ramp_rows(
    r0: int,
    r1: int,
    obj: np.ndarray,
    fy: np.ndarray,
    fx: np.ndarray,
    out: np.ndarray,
    wx: np.ndarray,
    row_sums: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``out[i, j] = (obj[i, j] fy[i]) fx[j]``; with ``wx`` non-empty also ``row_sums[i]``."""
    weigh = wx.shape[0] > 0
    for i in range(r0, r1):
        ay = fy[i]
        total = 0j
        for j in range(obj.shape[1]):
            v = obj[i, j]
            vr = float(v.real)
            vi = float(v.imag)
            pr = vr * ay.real - vi * ay.imag
            pi = vr * ay.imag + vi * ay.real
            bx = fx[j]
            value = complex(pr * bx.real - pi * bx.imag, pr * bx.imag + pi * bx.real)
            out[i, j] = value
            if weigh:
                total += complex(value.real * wx[j], value.imag * wx[j])
        if weigh:
            row_sums[i] = total


@numba.njit(cache=True, nogil=True)
def window_rows(
    r0: int, r1: int, v: np.ndarray, mean: complex, wy: np.ndarray, wx: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``v[i, j] = ((v[i, j] - mean) wy[i]) wx[j]`` in place."""
    for i in range(r0, r1):
        w = wy[i]
        for j in range(v.shape[1]):
            x = v[i, j]
            v[i, j] = complex(
                ((x.real - mean.real) * w) * wx[j], ((x.imag - mean.imag) * w) * wx[j]
            )


@numba.njit(cache=True, nogil=True)
def gradient_rows(
    r0: int, r1: int, v: np.ndarray, t: np.ndarray, mask: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """Per row ``i``: ``out[i] = (sum_j z*[i, j] z[i + 1, j], sum_j z*[i, j] z[i, j + 1])``.

    ``z = v conj(t)`` (``t`` non-empty) or ``v``, set to 0 where ``mask`` (when
    non-empty) is False; the last row has no pair along y (0).
    """
    n_rows, n_cols = v.shape
    with_t = t.shape[0] > 0
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        sy = 0j
        sx = 0j
        last = i == n_rows - 1
        prev = 0j
        for j in range(n_cols):
            a = v[i, j]
            zr = float(a.real)
            zi = float(a.imag)
            if with_t:
                b = t[i, j]
                zr, zi = zr * b.real + zi * b.imag, zi * b.real - zr * b.imag
            if masked and not mask[i, j]:
                zr = 0.0
                zi = 0.0
            if j > 0:
                # conj(prev) * z
                sx += complex(prev.real * zr + prev.imag * zi, prev.real * zi - prev.imag * zr)
            prev = complex(zr, zi)
            if not last:
                c = v[i + 1, j]
                wr = float(c.real)
                wi = float(c.imag)
                if with_t:
                    b = t[i + 1, j]
                    wr, wi = wr * b.real + wi * b.imag, wi * b.real - wr * b.imag
                if masked and not mask[i + 1, j]:
                    wr = 0.0
                    wi = 0.0
                sy += complex(zr * wr + zi * wi, zr * wi - zi * wr)
        out[i, 0] = sy
        out[i, 1] = sx


@numba.njit(cache=True, nogil=True)
def periodic_shift_rows(
    r0: int,
    r1: int,
    spectrum: np.ndarray,
    fy: np.ndarray,
    fx: np.ndarray,
    row_a: np.ndarray,
    col_b: np.ndarray,
    row_c: np.ndarray,
    col_d: np.ndarray,
    row_cos: np.ndarray,
    col_cos: np.ndarray,
    hy: np.ndarray,
    hx: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``spectrum = (spectrum - S) fy[i] fx[j] + S hy[i] hx[j]`` (``row_a`` empty: S = 0).

    ``S[i, j] = (a_i b_j + c_i d_j) / (row_cos[i] + col_cos[j])``, ``S[0, 0] = 0``:
    the spectrum of Moisan's smooth component. The periodic part is shifted by
    the Fourier factors ``fy fx``, the smooth part by the transfer function
    ``hy hx`` of the (periodic) linear interpolation.
    """
    with_smooth = row_a.shape[0] > 0
    for i in range(r0, r1):
        ay = fy[i]
        a = c = gy = 0j
        rc = 0.0
        if with_smooth:
            a = row_a[i]
            c = row_c[i]
            rc = row_cos[i]
            gy = hy[i]
        for j in range(spectrum.shape[1]):
            s = spectrum[i, j]
            sr = s.real
            si = s.imag
            hr = 0.0
            hi = 0.0
            if with_smooth and (i > 0 or j > 0):
                b = col_b[j]
                d = col_d[j]
                nr = (a.real * b.real - a.imag * b.imag) + (c.real * d.real - c.imag * d.imag)
                ni = (a.real * b.imag + a.imag * b.real) + (c.real * d.imag + c.imag * d.real)
                scale = 1.0 / (rc + col_cos[j])
                hr = nr * scale
                hi = ni * scale
                sr -= hr
                si -= hi
            pr = sr * ay.real - si * ay.imag
            pi = sr * ay.imag + si * ay.real
            bx = fx[j]
            out_r = pr * bx.real - pi * bx.imag
            out_i = pr * bx.imag + pi * bx.real
            if with_smooth:
                qr = hr * gy.real - hi * gy.imag
                qi = hr * gy.imag + hi * gy.real
                gx = hx[j]
                out_r += qr * gx.real - qi * gx.imag
                out_i += qr * gx.imag + qi * gx.real
            spectrum[i, j] = complex(out_r, out_i)


@numba.njit(cache=True, nogil=True)
def ramp_and_fit_rows(
    r0: int,
    r1: int,
    aligned: np.ndarray,
    fy: np.ndarray,
    fx: np.ndarray,
    truth: np.ndarray,
    region: np.ndarray,
    amplitude: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``aligned = (aligned fy[i]) fx[j]`` in place and per-row fit sums over ``region``.

    ``out[i]`` = (Re, Im of sum O conj(T), sum |T|^2, sum |O||T| (with
    ``amplitude``; two hypot calls per pixel, 80 ms at 2048^2), count of
    O != 0), O and T zero outside ``region`` (when non-empty).
    """
    masked = region.shape[0] > 0
    for i in range(r0, r1):
        ay = fy[i]
        cr = 0.0
        ci = 0.0
        power = 0.0
        amp = 0.0
        nonzero = 0.0
        for j in range(aligned.shape[1]):
            v = aligned[i, j]
            pr = v.real * ay.real - v.imag * ay.imag
            pi = v.real * ay.imag + v.imag * ay.real
            bx = fx[j]
            orr = pr * bx.real - pi * bx.imag
            oi = pr * bx.imag + pi * bx.real
            aligned[i, j] = complex(orr, oi)
            if masked and not region[i, j]:
                continue
            t = truth[i, j]
            tr = np.float64(t.real)  # float64 also for a complex64 truth (float() keeps float32)
            ti = np.float64(t.imag)
            cr += tr * orr + ti * oi
            ci += tr * oi - ti * orr
            power += tr * tr + ti * ti
            if amplitude:
                amp += np.hypot(orr, oi) * np.hypot(tr, ti)
            if orr != 0.0 or oi != 0.0:
                nonzero += 1.0
        out[i, 0] = cr
        out[i, 1] = ci
        out[i, 2] = power
        out[i, 3] = amp
        out[i, 4] = nonzero


@numba.njit(cache=True, nogil=True)
def scale_rows(
    r0: int, r1: int, a: np.ndarray, factor: complex
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``a *= factor`` in place, rows ``r0:r1``."""
    fr = factor.real
    fi = factor.imag
    for i in range(r0, r1):
        for j in range(a.shape[1]):
            v = a[i, j]
            a[i, j] = complex(v.real * fr - v.imag * fi, v.real * fi + v.imag * fr)


@numba.njit(cache=True, nogil=True)
def cross_power_rows(
    r0: int, r1: int, spectrum: np.ndarray, ref: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``spectrum = conj(spectrum) ref`` in place, rows ``r0:r1``."""
    for i in range(r0, r1):
        for j in range(spectrum.shape[1]):
            a = spectrum[i, j]
            b = ref[i, j]
            spectrum[i, j] = complex(
                a.real * b.real + a.imag * b.imag, a.real * b.imag - a.imag * b.real
            )


@numba.njit(cache=True, nogil=True)
def finite_rows(
    r0: int, r1: int, a: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover -- compiled; tested against the NumPy path
    """``out[i]`` = whether every value of row ``i`` is finite (real and imaginary parts)."""
    for i in range(r0, r1):
        ok = True
        for j in range(a.shape[1]):
            v = a[i, j]
            # x - x is 0 for finite x and NaN for NaN or Inf: one test per part.
            if (v.real - v.real) != 0.0 or (v.imag - v.imag) != 0.0:
                ok = False
                break
        out[i] = ok
