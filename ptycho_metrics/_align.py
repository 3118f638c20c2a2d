"""Removal of the ambiguities ptychography leaves before a reconstruction is compared.

A reconstruction equals its ground truth at best up to a sub-pixel
translation, a global phase, a linear phase ramp (which trades against the
probe position) and a scale. :func:`align` estimates all four jointly and
returns the aligned reconstruction with the region where it can be compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft

from . import _kernels
from ._blocks import row_blocks
from ._checks import (
    REAL_AS,
    QualityInputError,
    as_object_2d,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_same_shape,
    combine_keep,
    unmasked,
)
from ._phase import (
    _shape_of,
    as_mask,
    gradient_from_sums,
    gradient_sums,
    phasor_gradient,
    power_of_two_scale,
    promoted,
    ramp_phasor,
)
from ._threads import blas_single_threaded, fft_workers

__all__ = ["Alignment", "align"]

ScaleMode = Literal["complex", "amplitude"]

#: Phase (rad) a residual ramp may add across the image before registration is redone.
RAMP_TOLERANCE = 0.1

#: Phase (rad) across the image below which the ramp left after the shift is rounding:
#: no refinement pass (see :func:`align`).
REFINE_RAMP_TOLERANCE = 1e-9

#: Registration passes with the moved window stop when the estimate changes less (px).
REFINE_TOLERANCE = 0.1
MAX_REFINEMENTS = 4

#: Registration uses at most this many central pixels per axis: a 1024x1024
#: crop registers the benchmark pair (tools/bench_evaluate.py) to the same
#: 0.01 px as the full 2048x2048 at a quarter of the FFT cost.
REGISTRATION_SIDE = 1024

#: An image whose mean squared jump across opposite edges exceeds this many
#: times the mean squared step next to its edges is shifted as periodic plus
#: smooth parts rather than by a plain Fourier shift.
PERIODICITY_RATIO = 4.0


@dataclass(frozen=True)
class Alignment:
    r"""Result of :func:`align`.

    The aligned reconstruction is

    ``aligned(r) = scale * exp(-i (phase_offset + g . (r - r_c))) * recon(r - shift)``

    with ``g = phase_ramp``, ``r_c`` the array centre and the translation
    applied as a Fourier shift (of the periodic part only, for a
    non-periodic image; see :func:`align`).

    Attributes
    ----------
    aligned : ndarray of complex128
        The aligned reconstruction, the inputs' shape. Values outside
        ``region`` are not comparable (wrapped by the shift, or masked out);
        in the edge pixels the shift wrapped, the compiled kernels
        (``ptycho_metrics.kernels``) wrap the smooth part too where the
        NumPy path replicates the edge, so only there the two paths differ
        by more than rounding.
    region : ndarray of bool
        Pixels to compare: inside the mask and away from the edges the shift
        wrapped around.
    shift : tuple of float
        ``(dy, dx)`` translation in pixels applied to the reconstruction.
    phase_offset : float
        Global phase removed, radians, wrapped to (-pi, pi], at the array centre.
    phase_ramp : tuple of float
        Phase gradient ``(gy, gx)`` removed, rad/pixel.
    scale : float
        Real factor applied after the phase removal (1.0 when ``scale=None``).
    scale_mode : {"complex", "amplitude"} or None
        How ``scale`` was fitted.
    complex_scale : float
        :math:`1/|\beta|` for the least-squares factor
        :math:`\beta = \sum O\,O_{gt}^* / \sum |O_{gt}|^2` of the
        registered, de-ramped reconstruction regressed on the truth (recon
        :math:`\approx \beta` truth), before any scaling: the factor that
        maps the reconstruction onto the truth (equal to ``scale`` for
        ``scale_mode="complex"``). Unbiased under zero-mean noise in the
        reconstruction; ``amplitude_scale_error = |ln complex_scale|``.
    """

    aligned: np.ndarray = field(repr=False, compare=False)
    region: np.ndarray = field(repr=False, compare=False)
    shift: tuple[float, float]
    phase_offset: float
    phase_ramp: tuple[float, float]
    scale: float
    scale_mode: ScaleMode | None
    complex_scale: float

    def as_dict(self) -> dict[str, Any]:
        """The estimated parameters as JSON-safe Python floats and lists."""
        return {
            "shift": [float(v) for v in self.shift],
            "phase_offset": float(self.phase_offset),
            "phase_ramp": [float(v) for v in self.phase_ramp],
            "scale": float(self.scale),
            "scale_mode": self.scale_mode,
            "complex_scale": float(self.complex_scale),
            "n_region": int(np.count_nonzero(self.region)),
        }


def _deramp(obj: np.ndarray, gy: float, gx: float) -> np.ndarray:
    """A new array ``obj * exp(-i g . (r - r_c))``."""
    fy, fx = ramp_phasor(obj.shape, gy, gx)
    if _kernels.wanted(obj.size):
        from ._kernels.align import ramp_rows

        out = np.empty(obj.shape, dtype=np.complex128)
        _kernels.split_rows(ramp_rows, obj.shape[0], obj, fy, fx, out, _NONE_REAL, _NONE_COMPLEX)
        return out
    out = obj * fy[:, None]
    out *= fx[None, :]
    return out


def _deramped_crop(obj: np.ndarray, g: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """``_deramp(obj, *g)[box]`` (the same values) without the full-size array."""
    fy, fx = ramp_phasor(obj.shape, *g)
    out = obj[box] * fy[box[0], None]
    out *= fx[None, box[1]]
    return out


#: The whole of an (already cropped) image.
_WHOLE = (slice(None), slice(None))

# Compiled kernels (_kernels.align, chosen per call by _kernels.wanted): the NumPy
# code stays the reference. They exist because align's full-size elementwise passes
# (ramps, windows, gradient sums, the smooth spectrum, the linear shift, the fit
# sums) cost more than its FFTs: at 2048^2 inside evaluate() (benchmark pair of
# tools/bench_evaluate.py, 2 cores, load ~0.5, best of 3 interleaved) align took
# 0.38 s against 0.73 s for the NumPy path, of which ~0.17 s are the FFTs; at 4096^2
# 1.30 s against 2.96 s; at 1024^2 0.22 s against 0.37 s (registration-bound).
# The kernel path also transforms one full-size array less (_compiled_shifted).

#: "None" for the kernels' optional array arguments (numba takes no None arrays).
_NONE_REAL = np.empty(0)
_NONE_COMPLEX = np.empty(0, dtype=np.complex128)
_NONE_COMPLEX_2D = np.empty((0, 0), dtype=np.complex128)
_NONE_BOOL_2D = np.empty((0, 0), dtype=bool)


def _ramped_spectrum(
    image: np.ndarray, g: np.ndarray | None, box: tuple[slice, slice], shift: np.ndarray
) -> np.ndarray:
    """``_registration_spectrum(_deramped_crop(image, g, box), _WHOLE, shift)`` (None: no ramp).

    The kernel path (``_kernels.align.ramp_rows`` then ``window_rows``) makes
    the de-ramped crop and its window-weighted row sums in one pass and the
    mean-free windowed crop in a second, in place: two passes over the crop
    instead of six and a matrix product (measured below in :func:`align`).
    """
    crop = image[box]
    if not _kernels.wanted(crop.size):
        return _registration_spectrum(
            crop if g is None else _deramped_crop(image, g, box), _WHOLE, shift
        )
    from ._kernels.align import ramp_rows, window_rows

    if g is None:
        fy, fx = np.ones(image.shape[0], complex), np.ones(image.shape[1], complex)
    else:
        fy, fx = ramp_phasor(image.shape, *g)
    wy, wx = _hann(crop.shape[0], shift[0]), _hann(crop.shape[1], shift[1])
    out = np.empty(crop.shape, dtype=np.complex128)
    row_sums = np.empty(crop.shape[0], dtype=np.complex128)
    args = (crop, fy[box[0]], fx[box[1]], out, wx, row_sums)
    _kernels.split_rows(ramp_rows, crop.shape[0], *args)
    mean = complex((wy @ row_sums) / (wy.sum() * wx.sum()))
    _kernels.split_rows(window_rows, crop.shape[0], out, mean, wy, wx)
    return sfft.fft2(out, overwrite_x=True, workers=fft_workers())


def _compiled_gradient_sums(
    v: np.ndarray, t: np.ndarray | None = None, mask: np.ndarray | None = None
) -> tuple[complex, complex]:
    """:func:`gradient_sums` of ``v`` (or ``v conj(t)``), zero outside ``mask``, by the kernel."""
    from ._kernels.align import gradient_rows

    rows = np.empty((v.shape[0], 2), dtype=np.complex128)
    t_arr = _NONE_COMPLEX_2D if t is None else t
    m_arr = _NONE_BOOL_2D if mask is None else mask
    _kernels.split_rows(gradient_rows, v.shape[0], v, t_arr, m_arr, rows)
    sums = rows.sum(axis=0)
    return complex(sums[0]), complex(sums[1])


def _shift_factors(shape: tuple[int, ...], shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Separable Fourier factors of a translation by ``shift`` pixels."""
    ky = sfft.fftfreq(shape[0])
    kx = sfft.fftfreq(shape[1])
    return np.exp(-2j * np.pi * ky * shift[0]), np.exp(-2j * np.pi * kx * shift[1])


def _upsampled_cc(
    product: np.ndarray, centre: np.ndarray, factor: int, half: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlation sampled at ``centre + j / factor``, j = -half..half, per axis.

    A matrix DFT of the cross-power spectrum (Guizar-Sicairos et al. 2008):
    ``cc(s) = sum_k P(k) exp(2 pi i k . s)`` with signed frequencies.
    """
    offsets = np.arange(-half, half + 1) / factor
    sy, sx = centre[0] + offsets, centre[1] + offsets
    ky = sfft.fftfreq(product.shape[0])
    kx = sfft.fftfreq(product.shape[1])
    # Columns first: product @ (n x K) streams the C-ordered product (4x faster
    # than (K x n) @ product here).
    dft = np.exp(2j * np.pi * np.outer(kx, sx))
    if _kernels.wanted(product.size):
        # BLAS runs on one thread inside align; this product is the largest matrix
        # product of the registration (44 ms of align's 0.50 s at 2048^2, four calls),
        # so its rows go to the kernel threads in a fixed partition (same bits for any
        # thread count).
        cols = np.empty((product.shape[0], dft.shape[1]), dtype=np.complex128)
        edges = [product.shape[0] * b // _DFT_BLOCKS for b in range(_DFT_BLOCKS + 1)]
        _kernels.split_rows(_dft_blocks, _DFT_BLOCKS, product, dft, cols, edges)
    else:
        cols = product @ dft
    return np.exp(2j * np.pi * np.outer(sy, ky)) @ cols, offsets


#: Fixed row blocks of the registration's matrix DFT on the kernel threads.
_DFT_BLOCKS = 8


def _dft_blocks(
    b0: int, b1: int, product: np.ndarray, dft: np.ndarray, cols: np.ndarray, edges: list[int]
) -> None:
    """``cols[rows] = product[rows] @ dft`` for the row blocks ``b0:b1`` (GIL released)."""
    for b in range(b0, b1):
        rows = slice(edges[b], edges[b + 1])
        np.matmul(product[rows], dft, out=cols[rows])


def _register(
    ref_spectrum: np.ndarray,
    spectrum: np.ndarray,
    upsample_factor: int,
    *,
    near: np.ndarray | None = None,
) -> np.ndarray:
    """Shift (dy, dx) moving ``spectrum``'s image onto ``ref_spectrum``'s; consumes ``spectrum``.

    Plain (``normalization=None``) cross-correlation: phase normalisation
    fails on smooth objects (Field guide, trap 4). The integer peak comes
    from an inverse FFT, or the search starts within 1.5 px of ``near``;
    it is refined by matrix DFTs on grids ten times finer each stage,
    17 x 17 samples per stage (33 x 33 for the first one from ``near``). Own code rather than
    ``skimage.registration.phase_cross_correlation``, whose single 150 x 150
    upsampled DFT took 0.7-0.9 s per call at 2048x2048 against 0.2-0.4 s
    here (measured on the loaded 2-core machine; the tests check both give
    the same shift).
    """
    if _kernels.wanted(spectrum.size):
        from ._kernels.align import cross_power_rows

        _kernels.split_rows(cross_power_rows, spectrum.shape[0], spectrum, ref_spectrum)
        product = spectrum
    else:
        product = np.conj(spectrum, out=spectrum)  # consumed: one full-size array less
        product *= ref_spectrum
    if near is None:
        cc = sfft.ifft2(product, workers=fft_workers())
        magnitude = np.abs(cc, out=cc).real
        peak = np.array(np.unravel_index(np.argmax(magnitude), magnitude.shape), dtype=float)
        del cc, magnitude
        shape = np.array(product.shape)
        peak[peak > shape // 2] -= shape[peak > shape // 2]
    else:
        peak = near.astype(np.float64)
    step = 1.0 if near is None else 2.0
    for factor in _stages(upsample_factor):
        centre = np.round(peak * factor) / factor
        half = math.ceil(0.75 * step * factor)
        cc, offsets = _upsampled_cc(product, centre, factor, half)
        iy, ix = np.unravel_index(np.argmax(np.abs(cc)), cc.shape)
        peak = centre + np.array([offsets[iy], offsets[ix]])
        step = 1.0 / factor
    return peak


def _stages(upsample_factor: int) -> list[int]:
    """Upsampling factors of the refinement stages: 10, 100, ... then the final one."""
    stages: list[int] = []
    factor = 10
    while factor < upsample_factor:
        stages.append(factor)
        factor *= 10
    if upsample_factor > 1:
        stages.append(upsample_factor)
    return stages


def bounding_box(region: np.ndarray) -> tuple[slice, slice]:
    """Smallest rectangle holding every True pixel of ``region``."""
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _registration_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The mask's bounding box, cut to its central REGISTRATION_SIDE pixels per axis."""
    box = bounding_box(mask)
    centred = []
    for sl in box:
        excess = max(sl.stop - sl.start - REGISTRATION_SIDE, 0)
        centred.append(slice(sl.start + excess // 2, sl.stop - (excess - excess // 2)))
    return centred[0], centred[1]


def _hann(n: int, shift: float) -> np.ndarray:
    """Hann window over ``n`` samples, evaluated at ``x + shift`` (0 outside).

    Fewer than 3 samples cannot taper (the window would be all zero): ones.
    """
    if n < 3:
        return np.ones(n)
    x = np.arange(n) + shift
    w = 0.5 - 0.5 * np.cos(2 * np.pi * x / max(n - 1, 1))
    w[(x < 0) | (x > n - 1)] = 0.0
    return w


def _registration_spectrum(
    image: np.ndarray,
    box: tuple[slice, slice],
    shift: np.ndarray,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Spectrum of the mean-free, Hann-windowed crop ``image[box]`` used to register.

    The window, evaluated where the image will land after ``shift``, removes
    the edge discontinuity of the periodic transform. A window fixed in the
    frame is common to both images and pulls the estimate towards zero
    (0.04-0.5 px for 2-20 px shifts of 160 px crops, measured); moving it
    with the estimate removes that bias.
    """
    crop = image[box]
    wy, wx = _hann(crop.shape[0], shift[0]), _hann(crop.shape[1], shift[1])
    if mask is None:
        # Separable: no full-size window is stored.
        windowed = crop - (wy @ crop @ wx) / (wy.sum() * wx.sum())
        windowed *= wy[:, None]
        windowed *= wx[None, :]
    else:
        weights = np.outer(wy, wx)
        weights *= mask[box]
        if not weights.any():  # the mask lies where the window vanishes
            weights = mask[box].astype(np.float64)
        windowed = crop - (weights * crop).sum() / weights.sum()
        windowed *= weights
    return sfft.fft2(windowed, overwrite_x=True, workers=fft_workers())


def _circular_gradient(v: np.ndarray) -> tuple[float, float]:
    """:func:`phasor_gradient` with the pairs across opposite edges included (periodic image).

    For a circularly shifted periodic image these sums are exactly those of
    the unshifted one, so the ramp estimate is exactly shift invariant; the
    open sums miss the pairs at the boundary, which differ between the two
    (a bias of O(1/N): 2e-5 rad/px for a 128-px copy shifted by 3 px).
    """
    if _kernels.wanted(v.size):
        sy, sx = _compiled_gradient_sums(v)
    else:
        sy, sx = gradient_sums(lambda rows: promoted(v[rows]), v.shape)
    sy += np.vdot(promoted(v[-1]), promoted(v[0]))
    sx += np.vdot(promoted(v[:, -1]), promoted(v[:, 0]))
    return float(np.angle(sy)), float(np.angle(sx))


def _shift_invariant_ramp(
    recon: np.ndarray, truth: np.ndarray, mask: np.ndarray, *, periodic: bool = False
) -> np.ndarray:
    """Ramp of ``recon`` relative to ``truth`` from each one's mean phase gradient.

    ``periodic`` (both images without an edge jump beyond an ordinary step,
    see :func:`_is_periodic`, and no mask): the circular sums, exactly shift
    invariant for shifted periodic copies. Otherwise the open sums, whose
    pairs at the boundary bias the estimate by O(1/N); the ramp left after
    the shift is then removed as before.
    """
    if mask.all():
        if periodic:
            return np.subtract(_circular_gradient(recon), _circular_gradient(truth))
        if _kernels.wanted(recon.size):
            return np.subtract(
                gradient_from_sums(_compiled_gradient_sums(recon), recon.shape),
                gradient_from_sums(_compiled_gradient_sums(truth), truth.shape),
            )
        return np.subtract(phasor_gradient(recon), phasor_gradient(truth))
    if _kernels.wanted(recon.size):
        return np.subtract(
            gradient_from_sums(_compiled_gradient_sums(recon, mask=mask), recon.shape),
            gradient_from_sums(_compiled_gradient_sums(truth, mask=mask), truth.shape),
        )
    g_recon = phasor_gradient(np.where(mask, recon, 0))
    return np.subtract(g_recon, phasor_gradient(np.where(mask, truth, 0)))


def _register_iteratively(
    ref: np.ndarray,
    recon: np.ndarray,
    g: np.ndarray,
    box: tuple[slice, slice],
    upsample_factor: int,
    *,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Register ``recon`` de-ramped by ``g`` with the window moved to the estimate until it settles.

    Each pass shrinks the window bias about tenfold (measured); passes stop
    once the estimate moves by less than REFINE_TOLERANCE px (at most
    MAX_REFINEMENTS passes). The de-ramped crop is rebuilt for every pass
    (one multiplication) rather than kept: one full-size array less at
    the peak for images up to REGISTRATION_SIDE.
    """

    def spectrum(at: np.ndarray) -> np.ndarray:
        return _ramped_spectrum(recon, g, box, at)

    shift = start
    if shift is None:
        shift = _register(ref, spectrum(np.zeros(2)), upsample_factor)
    for _ in range(MAX_REFINEMENTS):
        new = _register(ref, spectrum(shift), upsample_factor, near=shift)
        change = np.abs(new - shift).max()
        shift = new
        if change < REFINE_TOLERANCE:
            break
    return shift


def _edge_region(shape: tuple[int, ...], shift: np.ndarray) -> np.ndarray:
    """Pixels not reached by the wrap-around of a Fourier shift.

    The side the content wrapped in from loses ``ceil(|d|) + 1`` pixels, the
    other side 1 pixel against the ringing of the periodic edge.
    """
    region = np.ones(shape, dtype=bool)
    for axis, d in enumerate(shift):
        if d == 0:
            continue
        wrapped, other = math.ceil(abs(d)) + 1, 1
        lead, trail = (wrapped, other) if d > 0 else (other, wrapped)
        index: list[slice] = [slice(None), slice(None)]
        index[axis] = slice(0, lead)
        region[tuple(index)] = False
        index[axis] = slice(shape[axis] - trail, shape[axis])
        region[tuple(index)] = False
    return region


def _ramp_between(obj: np.ndarray, truth: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """Ramp of ``obj`` relative to ``truth`` over ``region`` (wrap safe).

    :func:`phasor_gradient` of ``z = obj conj(truth)`` (0 outside ``region``),
    with z built one block of rows at a time: a full-size z was one of the
    two temporaries at align's memory peak.
    """
    full = bool(region.all())
    if _kernels.wanted(obj.size):
        sums = _compiled_gradient_sums(obj, truth, None if full else region)
        return gradient_from_sums(sums, obj.shape)

    def z_rows(rows: slice) -> np.ndarray:
        z = np.conj(promoted(truth[rows]))
        z *= obj[rows]
        if not full:
            z[~region[rows]] = 0.0
        return z

    return gradient_from_sums(gradient_sums(z_rows, obj.shape), obj.shape)


def _check_shift(shift: np.ndarray, max_shift: float | None, shape: tuple[int, ...]) -> None:
    limit = max_shift if max_shift is not None else min(shape) / 2 - 2
    if np.abs(shift).max() > limit:
        msg = (
            f"recon is shifted by {tuple(round(float(s), 3) for s in shift)} px relative to "
            f"truth, more than the {limit:g} px allowed (max_shift); check that recon and "
            f"truth show the same field of view"
        )
        raise QualityInputError(msg)


def _is_periodic(image: np.ndarray) -> bool:
    """Whether the jumps across the image border look like ordinary neighbour steps.

    Compares the mean squared jump between opposite edges with the mean
    squared step between the edge pixels and their inner neighbours.
    """
    top, second, last, before_last = (promoted(image[i]) for i in (0, 1, -1, -2))
    left, next_left, right, next_right = (promoted(image[:, j]) for j in (0, 1, -1, -2))
    jumps = (top - last, left - right)
    steps = (top - second, last - before_last, left - next_left, right - next_right)
    energy_jump = sum(np.vdot(d, d).real for d in jumps) / 2
    energy_step = sum(np.vdot(d, d).real for d in steps) / 4
    return bool(energy_jump <= PERIODICITY_RATIO * energy_step)


def _smooth_spectrum(image: np.ndarray) -> np.ndarray:
    """Spectrum of the smooth part s of Moisan's periodic-plus-smooth decomposition.

    s solves the discrete Poisson equation whose source is the image's jumps
    across opposite edges, so ``image - s`` is periodic without a border
    discontinuity. Built from 1-D FFTs of the edge differences.
    """
    ny, nx = image.shape
    qy = 2 * np.pi * np.arange(ny) / ny
    qx = 2 * np.pi * np.arange(nx) / nx
    out = np.multiply.outer(1 - np.exp(1j * qy), sfft.fft(image[-1] - image[0]))
    col_jump = sfft.fft(image[:, -1] - image[:, 0])
    row_factor, col_cos, row_cos = 1 - np.exp(1j * qx), 2 * np.cos(qx), 2 * np.cos(qy) - 4
    # Row blocks: the second term and the denominator never exist at full size.
    step = max(min(2**18 // nx, ny // 16), 1)
    for r0 in range(0, ny, step):
        rows = slice(r0, min(r0 + step, ny))
        out[rows] += np.multiply.outer(col_jump[rows], row_factor)
        denom = np.add.outer(row_cos[rows], col_cos)
        if r0 == 0:
            denom[0, 0] = 1.0
        out[rows] /= denom
    out[0, 0] = 0.0
    return out


def _shifted(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``image(r - shift)`` by a Fourier shift; ``image`` is consumed.

    A non-periodic image (see :func:`_is_periodic`) rings after a sub-pixel
    Fourier shift (Gibbs, decaying as 1/distance from its edges). Its
    periodic part (Moisan 2011) is shifted in Fourier space and its smooth
    part by linear interpolation: on a 200-px crop shifted by (0.37, -1.6) px
    this cut the error of a perfect copy from 0.0074 to 0.0006 rms (measured;
    cubic interpolation gave the same). A periodic image keeps the exact
    plain Fourier shift.
    """
    if _kernels.wanted(image.size):
        return _compiled_shifted(image, shift)
    smooth_hat = None if _is_periodic(image) else _smooth_spectrum(image)
    spectrum = sfft.fft2(image, overwrite_x=True, workers=fft_workers())
    if smooth_hat is not None:
        spectrum -= smooth_hat
    fy, fx = _shift_factors(spectrum.shape, shift)
    spectrum *= fy[:, None]
    spectrum *= fx[None, :]
    moved = sfft.ifft2(spectrum, overwrite_x=True, workers=fft_workers())
    if smooth_hat is not None:
        smooth = sfft.ifft2(smooth_hat, overwrite_x=True, workers=fft_workers())
        _add_linear_shift(moved, smooth, shift)
    return moved


def _compiled_shifted(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """:func:`_shifted` with one pass after the FFT and one inverse FFT (``image`` is consumed).

    The NumPy path transforms the smooth part back (a third full-size FFT and
    a full-size array) and interpolates it with edges replicated. Here the
    linear interpolation is applied in Fourier space as its transfer function
    per axis (:func:`_interpolation_transfer`), so one inverse FFT gives the
    periodic and smooth parts together (``_kernels.align.periodic_shift_rows``).
    The periodic interpolation equals the edge-replicating one, to rounding,
    everywhere but the ``ceil(|d|)`` pixels the shift brings in across the
    edge, which :func:`_edge_region` leaves out of the region (tested); there
    the smooth part wraps around instead. Measured at 2048^2: see :func:`align`.
    """
    from ._kernels.align import periodic_shift_rows

    ny, nx = image.shape
    if _is_periodic(image):
        row_a = col_b = row_c = col_d = hy = hx = _NONE_COMPLEX
        row_cos = col_cos = _NONE_REAL
    else:
        # The 1-D factors of _smooth_spectrum (from the edges, before the FFT consumes them).
        qy = 2 * np.pi * np.arange(ny) / ny
        qx = 2 * np.pi * np.arange(nx) / nx
        row_a, col_b = 1 - np.exp(1j * qy), sfft.fft(image[-1] - image[0])
        row_c, col_d = sfft.fft(image[:, -1] - image[:, 0]), 1 - np.exp(1j * qx)
        row_cos, col_cos = 2 * np.cos(qy) - 4, 2 * np.cos(qx)
        hy = _interpolation_transfer(ny, float(shift[0]))
        hx = _interpolation_transfer(nx, float(shift[1]))
    spectrum = sfft.fft2(image, overwrite_x=True, workers=fft_workers())
    del image
    fy, fx = _shift_factors(spectrum.shape, shift)
    args = (spectrum, fy, fx, row_a, col_b, row_c, col_d, row_cos, col_cos, hy, hx)
    _kernels.split_rows(periodic_shift_rows, ny, *args)
    return sfft.ifft2(spectrum, overwrite_x=True, workers=fft_workers())


def _interpolation_transfer(n: int, d: float) -> np.ndarray:
    """DFT factors of ``v -> (1 - w) v[x + b] + w v[x + b + 1]`` (periodic), b and w as in
    :func:`_linear_taps`."""
    base = math.floor(-d)
    weight = -d - base
    phase = 2j * np.pi * np.arange(n) / n
    return (1.0 - weight) * np.exp(phase * base) + weight * np.exp(phase * (base + 1))


def _add_linear_shift(out: np.ndarray, image: np.ndarray, shift: np.ndarray) -> None:
    """``out += image(r - shift)`` by separable linear interpolation, edges replicated.

    The same bilinear values as ``ndimage.shift(image, shift, order=1,
    mode="nearest")`` (to rounding, tests/test_align.py), written as
    weighted sums of row and column gathers, one block of rows at a time,
    because a constant shift needs no per-pixel coordinates: 0.6 s instead
    of 1.3 s for a complex 2048x2048 image on the loaded 2-core machine
    (ndimage interpolates the real and imaginary parts separately, per
    pixel), and no full-size temporary.
    """
    n_rows, n_cols = image.shape
    (rows_lo, rows_hi, wy), (cols_lo, cols_hi, wx) = (
        _linear_taps(n, float(d)) for n, d in zip(image.shape, shift, strict=True)
    )
    step = max(min(2**16 // n_cols, n_rows // 16), 1)
    for r0 in range(0, n_rows, step):
        block = slice(r0, min(r0 + step, n_rows))
        rows = image[rows_lo[block]]
        if wy:
            rows *= 1.0 - wy
            upper = image[rows_hi[block]]
            upper *= wy
            rows += upper
        moved = np.take(rows, cols_lo, axis=1)
        if wx:
            moved *= 1.0 - wx
            right = np.take(rows, cols_hi, axis=1)
            right *= wx
            moved += right
        out[block] += moved


def _linear_taps(n: int, d: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Source indices (clipped to the edge) and weight of the upper one for ``x - d``."""
    base = math.floor(-d)
    index = np.arange(n) + base
    return np.clip(index, 0, n - 1), np.clip(index + 1, 0, n - 1), -d - base


def _apply_shift(
    image: np.ndarray,
    shift: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    remove_ramp: bool,
    max_shift: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shifted image (``image`` is consumed), its region and the ramp left vs ``truth``."""
    _check_shift(shift, max_shift, truth.shape)
    region = mask & _edge_region(truth.shape, shift)
    if not region.any():
        msg = (
            f"mask leaves no pixel to compare once the edges wrapped by the shift "
            f"{tuple(round(float(d), 3) for d in shift)} px are excluded; enlarge the mask"
        )
        raise QualityInputError(msg)
    moved = _shifted(image, shift)
    g_rel = np.asarray(_ramp_between(moved, truth, region) if remove_ramp else (0.0, 0.0))
    return moved, region, g_rel


def _phase_and_scale(
    aligned: np.ndarray, truth: np.ndarray, region: np.ndarray, mode: ScaleMode | None
) -> tuple[float, float, float]:
    """Global phase ``arg sum O O_gt*``, the scale factor and ``1 / |beta|``, over ``region``.

    The scale regresses the reconstruction on the truth,
    ``beta = sum O O_gt* / sum |O_gt|^2``: zero-mean noise in O averages out
    of the numerator and never enters the denominator, so beta is unbiased.
    (The former truth-on-recon factor ``sum O* O_gt / sum |O|^2`` had the
    noise power in its denominator: a noisy reconstruction of exactly the
    right scale came out 12.5 % too small at SNR 7.)
    """
    # Sums over the region one block of rows at a time: no full-size temporary.
    full = bool(region.all())
    cross, power, amplitude_cross, nonzero = 0j, 0.0, 0.0, False
    for rows in row_blocks(aligned.shape):
        within, t_within = aligned[rows], promoted(truth[rows])
        if not full:
            within = np.where(region[rows], within, 0)
            t_within = np.where(region[rows], t_within, 0)
        cross += np.vdot(t_within, within)
        power += np.vdot(t_within, t_within).real
        nonzero = nonzero or bool(np.any(within))
        if mode == "amplitude":
            amplitude_cross += float(np.abs(within).ravel() @ np.abs(t_within).ravel())
    return _phase_and_scale_from_sums(cross, power, amplitude_cross, nonzero, mode)


def _fit_sums(
    aligned: np.ndarray,
    g: np.ndarray,
    truth: np.ndarray,
    region: np.ndarray,
    mode: ScaleMode | None,
) -> tuple[complex, float, float, bool]:
    """:func:`_phase_and_scale`'s sums by the kernel, removing the ramp ``g`` first (in place)."""
    from ._kernels.align import ramp_and_fit_rows

    fy, fx = ramp_phasor(aligned.shape, *g)
    rows = np.empty((aligned.shape[0], 5))
    inside = _NONE_BOOL_2D if region.all() else region
    args = (aligned, fy, fx, truth, inside, mode == "amplitude", rows)
    _kernels.split_rows(ramp_and_fit_rows, aligned.shape[0], *args)
    cr, ci, power, amplitude_cross, nonzero = rows.sum(axis=0)
    return complex(cr, ci), float(power), float(amplitude_cross), bool(nonzero > 0)


def _phase_and_scale_from_sums(
    cross: complex, power: float, amplitude_cross: float, nonzero: bool, mode: ScaleMode | None
) -> tuple[float, float, float]:
    """:func:`_phase_and_scale`'s result from its sums (checks included)."""
    if not nonzero:
        msg = "recon must not be zero everywhere inside the compared region, got all zeros"
        raise QualityInputError(msg)
    if power == 0:
        msg = "truth must not be zero everywhere inside the compared region, got all zeros"
        raise QualityInputError(msg)
    if cross == 0:
        msg = (
            "recon must correlate with truth inside the compared region to fit a scale, "
            "got sum(recon * conj(truth)) = 0"
        )
        raise QualityInputError(msg)
    complex_scale = power / abs(cross)
    if mode is None:
        factor = 1.0
    elif mode == "complex":
        factor = complex_scale
    else:
        factor = power / amplitude_cross
    return float(np.angle(cross)), float(factor), float(complex_scale)


def _ramp_matters(g: np.ndarray, shape: tuple[int, ...], tolerance: float = RAMP_TOLERANCE) -> bool:
    """Whether a residual ramp changes the phase across the image by > ``tolerance`` rad."""
    return bool(abs(g[0]) * shape[0] + abs(g[1]) * shape[1] > tolerance)


def checked_pair(
    recon: Any, truth: Any, mask: Any, real_as: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """recon and truth (each complex128, or complex64 as given), checked, and the mask.

    numpy.ma masks of recon and truth are and-ed into ``mask``; NaN/Inf are
    allowed outside it (set to 0 in a copy, never compared). Shared by
    :func:`align` and :func:`ptycho_metrics.evaluate`.
    """
    recon, r_keep = unmasked(recon, "recon", accepts_mask=True)
    truth, t_keep = unmasked(truth, "truth", accepts_mask=True)
    shape, r_shape = _shape_of(truth, "truth"), _shape_of(recon, "recon")
    if len(shape) == len(r_shape) == 2 and shape != r_shape:
        msg = f"recon and truth must have the same shape, got {r_shape} and {shape}"
        raise QualityInputError(msg)
    given = None if mask is None or len(shape) != 2 else as_mask(mask, shape)
    keep = combine_keep(given, r_keep, t_keep)
    if keep is not None and not keep.any():
        msg = "mask and the numpy.ma masks of recon and truth must leave a pixel, got none"
        raise QualityInputError(msg)
    # A complex64 recon or truth is kept as given (a full-size complex128 copy of
    # each would be 2 units of one input at every stage: 7.3x one input at the
    # peak of a 2048^2 complex64 pair with both copied, 5.3x without); every
    # computation with it promotes exactly (complex128 factors, `promoted`
    # blocks, or per pixel in the kernels), so the numbers are those of a
    # complex128 copy (tests/test_report_complex64.py).
    r = _finite_as_given(recon, (np.complex128, np.complex64))
    if r is None:
        r = as_object_2d(recon, "recon", real_as=real_as, where=keep, keep_complex64=True)
    t = _finite_as_given(truth, (np.complex128, np.complex64))
    if t is None:
        t = as_object_2d(truth, "truth", real_as=real_as, where=keep, keep_complex64=True)
    check_same_shape(r, t, ("recon", "truth"))
    return r, t, as_mask(keep if keep is not None else mask, t.shape)


def _finite_as_given(x: Any, dtypes: tuple[type, ...]) -> np.ndarray | None:
    """``x`` itself where :func:`as_object_2d` would return it unchanged, checked by a kernel.

    That is a plain 2-D ndarray of one of ``dtypes`` with only finite values
    (NaN/Inf outside a mask would be replaced in a copy); None otherwise, and
    always on the NumPy path, so that :func:`as_object_2d` decides and words
    any error. One kernel pass (``_kernels.align.finite_rows``) instead of
    ``np.isfinite``'s full-size boolean map: 3 ms against 12 ms per array at
    2048^2, and evaluate() checks each pair twice (its own checks and align's).
    """
    if not (
        type(x) is np.ndarray and x.ndim == 2 and x.size and x.dtype in dtypes
    ) or not _kernels.wanted(x.size):
        return None
    from ._kernels.align import finite_rows

    rows = np.empty(x.shape[0], dtype=bool)
    _kernels.split_rows(finite_rows, x.shape[0], x, rows)
    return x if bool(rows.all()) else None


def _aligned_inputs(
    r: np.ndarray, t: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The checked pair (see :func:`checked_pair`) power-of-two normalised, and both units.

    Each image is divided by the power of two nearest its largest modulus,
    exactly, so 1e+-200 neither overflows nor underflows in the
    correlations; the units are returned to undo it.
    """
    if min(t.shape) < 4:
        msg = f"recon and truth must be at least 4x4 to align, got {t.shape}"
        raise QualityInputError(msg)
    # With the kernels, peak_component's one bounds pass (remembered inside evaluate()).
    r_unit, t_unit = power_of_two_scale(r, m), power_of_two_scale(t, m)
    if r_unit != 1.0:
        r = promoted(r) * (1.0 / r_unit)
    if t_unit != 1.0:
        t = t * (1.0 / t_unit)
    return r, t, m, r_unit, t_unit


@blas_single_threaded
def align(
    recon: npt.ArrayLike,
    truth: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    upsample_factor: int = 100,
    scale: ScaleMode | None = "complex",
    remove_ramp: bool = True,
    max_shift: float | None = None,
    real_as: Literal["amplitude", "phase"] | None = None,
) -> Alignment:
    r"""Align a reconstruction to its ground truth, removing ptychographic ambiguities.

    Parameters
    ----------
    recon, truth : array_like
        Complex 2-D objects of the same shape (a real array needs
        ``real_as``). A :class:`numpy.ma.MaskedArray`'s masked pixels are
        left out as if excluded by ``mask``.
    mask : array_like of bool, optional
        Pixels of the truth's frame to compare (e.g. the scanned area).
        It weights the registration reference and restricts every fit.
        NaN/Inf outside it are allowed (they are set to 0 and never compared).
    upsample_factor : int
        Sub-pixel precision of the registration is ``1 / upsample_factor`` px.
    scale : {"complex", "amplitude"} or None
        ``"complex"``: divide by the modulus of the least-squares factor of the
        reconstruction regressed on the truth,
        :math:`\beta = \sum O\,O_{gt}^* / \sum |O_{gt}|^2` (its argument is
        the global phase); unbiased under zero-mean noise in the
        reconstruction. ``"amplitude"``: the same on the moduli,
        :math:`\sum |O||O_{gt}| / \sum |O_{gt}|^2`, for a reconstruction
        whose phase is not to be trusted; noise raises the mean modulus
        (Rician bias, second order in noise / amplitude), so it is biased
        upwards for noisy input. None: 1.
    remove_ramp : bool
        Estimate and remove a linear phase ramp.
    max_shift : float, optional
        Largest translation in pixels accepted (a positive finite number);
        default just under half the smaller side, where registration becomes
        ambiguous.
    real_as : {"amplitude", "phase"}, optional
        What a *real* ``recon`` or ``truth`` is: ``"amplitude"`` (a modulus
        >= 0, phase 0) or ``"phase"`` (radians, unit modulus). Without it a
        real array is refused, never guessed.

    Returns
    -------
    Alignment
        ``aligned``, ``region`` and the parameters.

    Raises
    ------
    QualityInputError
        Bad inputs or mask, a shift beyond ``max_shift``, or a
        reconstruction or truth that is zero inside the mask. Every argument
        is checked for type and range first.

    Notes
    -----
    After PtychoShelves' ``aligned_FSC`` (ramp, register, ramp), with a
    shift-invariant first ramp estimate. (1) The ramp
    :math:`g_x = \arg\big(\sum O_{r+e_x}O_r^*\big) - \arg\big(\sum O_{gt,r+e_x}O_{gt,r}^*\big)`
    (likewise :math:`g_y`) does not depend on the unknown shift, so it can
    be removed before registering; a ramp left in would shift the spectrum
    and bias the registration. (2) Register by upsampled cross-correlation
    of the complex images (Guizar-Sicairos et al. 2008, no phase
    normalisation), mean-free and Hann-windowed, repeated with the
    reconstruction's window moved to the estimate until it settles (a
    window fixed in the frame biases the shift towards 0), on at most the
    central :data:`REGISTRATION_SIDE` pixels per axis of the mask's
    bounding box; translate in Fourier space, a non-periodic image as
    Moisan's periodic part (Fourier shift) plus smooth part (linear
    interpolation), which avoids the ringing of its edge jump.
    (3) Estimate the ramp
    left relative to the truth, :math:`g_x = \arg\sum z_{r+e_x} z_r^*` with
    :math:`z = O\,O_{gt}^*` over the region. If it changes the phase by
    more than :data:`RAMP_TOLERANCE` (0.1 rad) across the image, it is
    added to the first estimate and (2) is repeated (PtychoShelves' second
    round); otherwise it is removed from the shifted image directly. (4)
    Remove the global phase :math:`\gamma = \arg\sum O\,O_{gt}^*` and
    apply the scale. When the ramp left after (3) is below the tolerance but
    not zero, one more registration pass with the refined ramp corrects the
    first estimate's boundary bias (exact on shifted periodic copies). All
    sums after registration run over the region. The edges the shift wraps
    around are excluded from the region (see :class:`Alignment`).

    References
    ----------
    .. [1] M. Guizar-Sicairos, S. T. Thurman, J. R. Fienup, "Efficient
       subpixel image registration algorithms", Opt. Lett. 33, 156 (2008).
       :doi:`10.1364/OL.33.000156`
    .. [2] K. Wakonig et al., "PtychoShelves, a versatile high-level framework
       for high-performance analysis of ptychographic data",
       J. Appl. Cryst. 53, 574 (2020). :doi:`10.1107/S1600576720001776`
    .. [3] L. Moisan, "Periodic plus smooth image decomposition", J. Math.
       Imaging Vis. 39, 161-179 (2011). :doi:`10.1007/s10851-010-0227-1`

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.exp(1j * np.random.default_rng(0).normal(size=(64, 64)))
    >>> al = align(np.roll(truth, 3, axis=1) * 2j, truth)
    >>> al.shift, round(al.scale, 6), round(al.phase_offset, 6)
    ((0.0, -3.0), 0.5, 1.570796)
    """
    check_choice(scale, "scale", ("complex", "amplitude", None))
    upsample_factor = check_int(upsample_factor, "upsample_factor", minimum=1)
    remove_ramp = check_bool(remove_ramp, "remove_ramp")
    if max_shift is not None:
        max_shift = check_real(
            max_shift, "max_shift", lo=0.0, expected="a positive finite number of pixels or None"
        )
    check_choice(real_as, "real_as", (*REAL_AS, None))
    r, t, m = checked_pair(recon, truth, mask, real_as)
    return align_checked(
        r,
        t,
        m,
        upsample_factor=upsample_factor,
        scale=scale,
        remove_ramp=remove_ramp,
        max_shift=max_shift,
    )


def align_checked(
    r: np.ndarray,
    t: np.ndarray,
    m: np.ndarray,
    *,
    upsample_factor: int,
    scale: ScaleMode | None,
    remove_ramp: bool,
    max_shift: float | None,
) -> Alignment:
    """:func:`align` of a pair :func:`checked_pair` returned, with checked options.

    For evaluate(), which has checked the pair itself: the second check took
    28 ms of a 1.3 s evaluate() at 2048^2 (measured). Same result as align().
    """
    r, t, m, r_unit, t_unit = _aligned_inputs(r, t, m)

    box = _registration_box(m)
    full_mask = bool(m.all())
    for name, image in (("recon", r), ("truth", t)):
        # Without a mask, no gathered copy of the crop (5 ms each at 2048^2).
        if not (image[box].any() if full_mask else image[box][m[box]].any()):
            msg = (
                f"{name} must not be zero everywhere inside the mask (or image), got all "
                f"zeros in {int(np.count_nonzero(m))} pixels: there is nothing to align"
            )
            raise QualityInputError(msg)
    periodic = full_mask and _is_periodic(r) and _is_periodic(t)
    g = _shift_invariant_ramp(r, t, m, periodic=periodic) if remove_ramp else np.zeros(2)
    if full_mask:
        ref = _ramped_spectrum(t, None, box, np.zeros(2))
    else:
        ref = _registration_spectrum(t, box, np.zeros(2), m)
    shift = _register_iteratively(ref, r, g, box, upsample_factor)
    aligned, region, g_rel = _apply_shift(_deramp(r, *g), shift, t, m, remove_ramp, max_shift)
    if _ramp_matters(g_rel, t.shape):
        # PtychoShelves' second round: a ramp this large may have biased the registration.
        del aligned
        g += g_rel
        shift = _register_iteratively(ref, r, g, box, upsample_factor, start=shift)
        aligned, region, g_rel = _apply_shift(_deramp(r, *g), shift, t, m, remove_ramp, max_shift)
    elif periodic and _ramp_matters(g_rel, t.shape, REFINE_RAMP_TOLERANCE):
        # Periodic images (whose first ramp is exact): a ramp left means the
        # window-moved registration stopped one upsampled step short (its tolerance is
        # 0.1 px) and the ramp estimate absorbed that shift error. One more pass: if the
        # peak moves, keep the first ramp and measure again at the new shift; if it
        # stays, remove the refined ramp before shifting (a ramp left in adds an edge
        # jump that rings after a sub-pixel Fourier shift). Only for periodic images:
        # on non-periodic ones it cost +60 % of align's time (900x900 crop) for a
        # change within their documented 0.01 px.
        del aligned
        g_try = g + g_rel
        # The de-ramped crop only, as in _register_iteratively (no full-size copy).
        moved = _ramped_spectrum(r, g_try, box, shift)
        new = _register(ref, moved, upsample_factor, near=shift)  # consumes moved
        del moved
        if np.array_equal(new, shift):
            g = g_try
        else:
            shift = new
        aligned, region, g_rel = _apply_shift(_deramp(r, *g), shift, t, m, remove_ramp, max_shift)
    del ref
    # A ramp g removed before a shift by s leaves a constant g . s on the shifted map.
    shift_term = float(g @ shift)
    compiled = _kernels.wanted(t.size)
    if compiled:
        # The residual ramp removed in the pass that makes the fit's sums.
        sums = _fit_sums(aligned, g_rel, t, region, scale)
        offset, factor, complex_scale = _phase_and_scale_from_sums(*sums, scale)
        g += g_rel
    else:
        fy, fx = ramp_phasor(t.shape, *g_rel)
        aligned *= fy[:, None]
        aligned *= fx[None, :]
        g += g_rel
        offset, factor, complex_scale = _phase_and_scale(aligned, t, region, scale)
    # Back from the power-of-two units (exact): a scaled result is in truth's units,
    # an unscaled one in recon's.
    unit = t_unit / r_unit
    complex_scale *= unit
    if scale is not None:
        factor *= unit
    if compiled:
        from ._kernels.align import scale_rows

        constant = complex(factor * r_unit * np.exp(-1j * offset))
        _kernels.split_rows(scale_rows, aligned.shape[0], aligned, constant)
    else:
        aligned *= factor * r_unit * np.exp(-1j * offset)
    total_offset = float(np.angle(np.exp(1j * (offset - shift_term))))
    return Alignment(
        aligned=aligned,
        region=region,
        shift=(float(shift[0]), float(shift[1])),
        phase_offset=total_offset,
        phase_ramp=(float(g[0]), float(g[1])),
        scale=factor,
        scale_mode=scale,
        complex_scale=complex_scale,
    )
