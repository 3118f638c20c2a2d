"""Phase error between a reconstruction and its ground truth, free of 2 pi wraps.

The residual phase ``arg(recon * conj(truth))`` is freed of a global offset and
a linear ramp (the ambiguities ptychography leaves), unwrapped deterministically
and summarised as RMSE, MAE and maximum in radians.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from skimage.restoration import unwrap_phase

from . import _kernels
from ._blocks import row_blocks
from ._checks import (
    REAL_AS,
    QualityInputError,
    as_object_2d,
    as_real_2d,
    check_bool,
    check_choice,
    check_finite,
    check_same_shape,
    combine_keep,
    describe,
    peak_component,
    power_of_two_unit,
    unmasked,
)
from ._threads import blas_single_threaded

__all__ = ["PhaseError", "phase_error", "unwrap"]

#: Seed of scikit-image's Herraez unwrapper, fixed so that results are reproducible.
UNWRAP_SEED = 0


def _herraez_rng() -> int | None:
    """The ``rng`` argument that makes ``unwrap_phase`` reproducible here.

    scikit-image up to 0.26 inverts the test in ``_unwrap_2d.pyx``: it calls
    ``srand(0)`` only when ``rng is None`` and ignores a given seed, so
    ``rng=0`` follows the process-wide C ``rand()`` state (measured with
    0.26.0: repeated calls differ). Fixed upstream by scikit-image PR #8142.
    """
    major, minor = (int(p) for p in version("scikit-image").split(".")[:2])
    return None if (major, minor) <= (0, 26) else UNWRAP_SEED


_TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class PhaseError:
    """Unwrapped residual phase between a reconstruction and its ground truth.

    Attributes
    ----------
    rmse, mae, max : float
        Root-mean-square, mean absolute and maximum absolute residual phase in
        radians over the compared pixels (unweighted).
    offset : float
        Removed global phase in radians, wrapped to [-pi, pi]; it is the phase of
        the fitted plane at the array centre. 0 when ``remove_offset=False``.
    ramp : tuple of float
        Removed phase gradient ``(gy, gx)`` in rad/pixel along rows and columns.
        ``(0.0, 0.0)`` when ``remove_ramp=False``.
    n_pixels : int
        Number of pixels compared (the mask's size).
    residues : int
        Phase residues in the residual (2x2 loops whose 2 pi jumps do not
        cancel). 0 means the unwrapping is unique; otherwise it depends on
        the path (typically noise or vacuum: mask such pixels out).
    residual : ndarray
        Unwrapped residual phase map (float64, the input's shape) after the
        removal; 0 outside the mask.
    """

    rmse: float
    mae: float
    max: float
    offset: float
    ramp: tuple[float, float]
    n_pixels: int
    residues: int
    residual: np.ndarray = field(repr=False, compare=False)


def as_mask(mask: Any, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a boolean array of ``shape`` (all True for None), or raise.

    A numpy.ma.MaskedArray given as the mask counts its masked entries as False.
    """
    if mask is None:
        return np.ones(shape, dtype=bool)
    if isinstance(mask, np.ma.MaskedArray):
        mask = mask.filled(False)
    try:
        arr = np.asarray(mask)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be a boolean array, got {describe(mask)}: {exc}"
        raise QualityInputError(msg) from exc
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            msg = f"{name} must be a boolean array, got {describe(mask)}"
            raise QualityInputError(msg)
        values = np.unique(arr)
        if not np.isin(values, (0, 1)).all():
            shown = ", ".join(str(v) for v in values[:5]) + (", ..." if values.size > 5 else "")
            msg = f"{name} must be boolean (or 0/1), got values {shown}"
            raise QualityInputError(msg)
        arr = arr.astype(bool)
    if arr.shape != shape:
        msg = f"{name} must have shape {shape} like the images, got {arr.shape}"
        raise QualityInputError(msg)
    if not arr.any():
        msg = f"{name} must select at least one pixel, got an all-False mask of shape {shape}"
        raise QualityInputError(msg)
    return arr


def centred_axes(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates in pixels relative to the array centre."""
    ny, nx = shape
    return np.arange(ny) - (ny - 1) / 2.0, np.arange(nx) - (nx - 1) / 2.0


def ramp_phasor(shape: tuple[int, ...], gy: float, gx: float) -> tuple[np.ndarray, np.ndarray]:
    """Separable factors of ``exp(-i (gy y + gx x))``, centred coordinates.

    Multiplying by ``fy[:, None]`` and ``fx[None, :]`` in turn removes the ramp
    without materialising a full-size coordinate grid.
    """
    ys, xs = centred_axes(shape)
    return np.exp(-1j * gy * ys), np.exp(-1j * gx * xs)


def gradient_sums(
    rows_of: Callable[[slice], np.ndarray], shape: tuple[int, ...]
) -> tuple[complex, complex]:
    """``sum conj(v(r)) v(r + e)`` along y and x, with ``v[rows]`` given by ``rows_of``.

    The map is taken one block of rows at a time (pairs across blocks
    included), so callers can build ``v`` blockwise (a product, a masked
    copy, a promotion) and never hold it at full size.
    """
    sy = sx = 0j
    last = None  # the previous block's last row: the pairs across the block boundary
    for rows in row_blocks(shape):
        z = rows_of(rows)
        if last is not None:
            sy += np.vdot(last, z[0])
        sy += np.vdot(z[:-1].ravel(), z[1:].ravel())
        # Pairs along the flat block are the row pairs plus one pair across each
        # row end; subtracting those avoids copying the strided z[:, 1:] (measured
        # 0.01 s instead of 0.27 s at 2048x2048).
        flat = z.ravel()
        sx += np.vdot(flat[:-1], flat[1:]) - np.vdot(z[:-1, -1], z[1:, 0])
        last = z[-1]
    return complex(sy), complex(sx)


def gradient_from_sums(
    sums: tuple[complex, complex], shape: tuple[int, ...]
) -> tuple[float, float]:
    """``(gy, gx)`` from :func:`gradient_sums`; 0 along an axis of length 1."""
    gy = float(np.angle(sums[0])) if shape[0] > 1 else 0.0
    gx = float(np.angle(sums[1])) if shape[1] > 1 else 0.0
    return gy, gx


def phasor_gradient(v: np.ndarray) -> tuple[float, float]:
    """Mean phase gradient ``(gy, gx)`` of a complex map from neighbour products.

    ``arg sum v(r + e) conj(v(r))`` is insensitive to 2 pi wraps and weights
    each pair by its magnitude; pixels set to 0 drop out. Gradients beyond
    pi rad/pixel alias, which no sampled ramp can avoid. A complex64 map is
    promoted block by block (the sums run in complex128).
    """
    v = np.ascontiguousarray(v)
    return gradient_from_sums(gradient_sums(lambda rows: promoted(v[rows]), v.shape), v.shape)


def promoted(block: np.ndarray) -> np.ndarray:
    """``block`` as complex128: itself when it already is, else an exact copy."""
    return block if block.dtype == np.complex128 else block.astype(np.complex128)


def rescaled(a: np.ndarray, factor: float) -> np.ndarray:
    """A new complex128 array ``a * factor`` (a complex64 ``a`` promoted exactly first).

    For the power-of-two rescalings: in float32 the smallest values of a
    complex64 map scaled down could underflow; in complex128 they cannot.
    """
    out = a.astype(np.complex128)
    out *= factor
    return out


def modulus_of(v: np.ndarray) -> np.ndarray:
    """``|v|`` in float64; a complex64 map is promoted one block of rows at a time.

    ``np.abs`` of a complex64 map computes in float32 (~1e-8 relative); this
    gives the float64 modulus of the same values without a full-size
    complex128 copy.
    """
    if v.dtype == np.complex128:
        return np.abs(v)
    return _of_promoted_rows(np.abs, v)


def _of_promoted_rows(func: Callable[[np.ndarray], np.ndarray], v: np.ndarray) -> np.ndarray:
    """float64 ``func(v)`` computed on promoted blocks of rows of a 2-D complex64 ``v``."""
    out = np.empty(v.shape, dtype=np.float64)
    for rows in row_blocks(v.shape):
        out[rows] = func(promoted(v[rows]))
    return out


def _jumps(phase: np.ndarray, axis: int) -> np.ndarray:
    """Multiples of 2 pi to add across each neighbour pair along ``axis``.

    Built one block of rows at a time: the float differences never exist
    at full size (they were a full-size map at the peak of phase_error).
    """
    shape = list(phase.shape)
    shape[axis] -= 1
    out = np.empty(shape, dtype=np.int32)
    for rows in row_blocks(out.shape):
        if axis == 0:
            d = phase[rows.start + 1 : rows.stop + 1] - phase[rows]
        else:
            d = np.diff(phase[rows], axis=1)
        d *= -1.0 / _TWO_PI
        np.rint(d, out=d)
        out[rows] = d
    return out


def _count_residues(jy: np.ndarray, jx: np.ndarray) -> int:
    """2x2 loops whose jumps do not cancel, counted one block of rows at a time."""
    count = 0
    for rows in row_blocks(jy.shape):
        loops = jx[rows] - jx[rows.start + 1 : rows.stop + 1]
        loops += jy[rows, 1:]
        loops -= jy[rows, :-1]
        count += int(np.count_nonzero(loops))
    return count


def _compiled_jumps(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """:func:`_jumps` along both axes, the number of non-zero jumps and the residues (numba)."""
    from ._kernels.phase import jumps_rows

    ny, nx = phase.shape
    jy = np.empty((ny - 1, nx), dtype=np.int32)
    jx = np.empty((ny, nx - 1), dtype=np.int32)
    residues = np.empty(ny, dtype=np.int64)
    jumps = np.empty(ny, dtype=np.int64)
    _kernels.split_rows(jumps_rows, ny, phase, jy, jx, residues, jumps)
    return jy, jx, int(jumps.sum()), int(residues.sum())


def phase_of(z: np.ndarray) -> np.ndarray:
    """``np.angle(z)`` in float64, on the kernel threads for a large map.

    A complex64 map gives the float64 phase of its values (``np.angle`` would
    compute in float32), promoted one block of rows at a time.
    """
    complex_2d = z.ndim == 2 and z.dtype in (np.complex128, np.complex64)
    if not complex_2d:
        return np.angle(z)
    if not _kernels.wanted(z.size):
        return np.angle(z) if z.dtype == np.complex128 else _of_promoted_rows(np.angle, z)
    from ._kernels.phase import angle_rows

    out = np.empty(z.shape)
    _kernels.split_rows(angle_rows, z.shape[0], z, out)
    return out


def _integrate(jy: np.ndarray, jx: np.ndarray) -> np.ndarray:
    """Cumulative 2 pi multiples: down the first column, then along each row."""
    k = np.empty((jx.shape[0], jy.shape[1]), dtype=np.int32)
    k[0, 0] = 0
    np.cumsum(jy[:, 0], out=k[1:, 0])
    k[:, 1:] = jx
    np.cumsum(k, axis=1, out=k)
    return k


def unwrap(phase: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Unwrap a wrapped 2-D phase map deterministically (result up to 2 pi k).

    Returns the unwrapped map and the number of residues (2x2 loops whose
    jumps do not cancel); with residues the result depends on the path the
    unwrapper chose, so callers should say so.

    Three routes, all giving the same answer where they apply: the input
    itself when no neighbour difference exceeds pi; integration of the 2 pi
    jumps (Itoh) when the map has no residues, i.e. when the jumps around
    every 2x2 loop cancel, which makes the integral path independent and
    hence equal to any quality-guided unwrapper's result up to 2 pi k;
    otherwise scikit-image's Herraez unwrapper made reproducible (see
    :func:`_herraez_rng`), restricted to ``mask``. The integration is own
    code because it is exact (integer arithmetic) and ~30x faster than
    ``unwrap_phase`` at 2048x2048 (0.15 s against 5.4 s, measured on the
    shared 2-core machine). Values outside
    ``mask`` must be set by the caller so they create no jumps (0 for a
    centred residual); the result is unreliable there. The returned array
    may be ``phase`` itself: do not write into it.
    """
    if _kernels.wanted(phase.size) and phase.dtype == np.float64:
        jy, jx, n_jumps, residues = _compiled_jumps(phase)
        if not n_jumps:
            return phase, 0
    else:
        jy = _jumps(phase, 0)
        jx = _jumps(phase, 1)
        if not jy.any() and not jx.any():
            return phase, 0
        residues = _count_residues(jy, jx)
    if not residues and _kernels.wanted(phase.size) and phase.dtype == np.float64:
        from ._kernels.phase import integrate_rows

        first = np.zeros(phase.shape[0], dtype=np.int32)
        np.cumsum(jy[:, 0], out=first[1:])
        del jy
        out = np.empty(phase.shape)
        _kernels.split_rows(integrate_rows, phase.shape[0], phase, first, jx, out)
        return out, 0
    if not residues:
        k = _integrate(jy, jx)
        del jy, jx  # before the float map: one full-size array less at the peak
        out = np.multiply(k, _TWO_PI)
        del k
        out += phase
        return out, 0
    del jy, jx
    image = phase if mask is None or mask.all() else np.ma.array(phase, mask=~mask)
    out = np.ma.getdata(unwrap_phase(image, rng=_herraez_rng())).astype(np.float64, copy=False)
    return out, residues


def power_of_two_scale(a: np.ndarray, where: np.ndarray | None = None) -> float:
    """:func:`power_of_two_unit` of ``max |a|`` inside ``where``.

    So that products such as ``recon * conj(truth)`` neither overflow nor
    underflow for 1e+-200 inputs; ordinary data are left as they are.
    """
    inside = None if where is None or where.all() else where
    if inside is not None and not inside.any():
        return power_of_two_unit(0.0)
    return power_of_two_unit(peak_component(a, inside))


def _normalised(a: np.ndarray, where: np.ndarray | None) -> np.ndarray:
    scale = power_of_two_scale(a, where)
    return a if scale == 1.0 else rescaled(a, 1.0 / scale)


def _any_inside(arr: np.ndarray, keep: np.ndarray | None) -> bool:
    """Whether ``arr`` has a non-zero value inside ``keep``, without a gathered copy."""
    if keep is None:
        return bool(arr.any())
    return any(bool(arr[rows][keep[rows]].any()) for rows in row_blocks(arr.shape))


def _residual_phasor(
    recon: Any, truth: Any, keep: np.ndarray | None, real_as: str | None
) -> tuple[
    Callable[[slice], np.ndarray],
    tuple[int, ...],
    np.ndarray | None,
    tuple[np.ndarray, np.ndarray] | None,
]:
    """Rows of ``recon conj(truth)`` (``exp(i (recon - truth))`` of phase maps), default weights.

    The residual phasor is made one block of rows at a time by the returned
    function (a new complex128 array per call): at full size it was the
    largest temporary of :func:`phase_error`. The last item is the
    normalised ``(recon, truth)`` of complex inputs (complex128, or complex64
    as given; None for phase maps), for the compiled wrapped residual.
    """
    if real_as is not None or np.iscomplexobj(recon) or np.iscomplexobj(truth):
        # complex64 maps are kept as given (no full-size complex128 copies) and
        # promoted exactly wherever they are computed with, blockwise or per pixel.
        r = as_object_2d(recon, "recon", real_as=real_as, where=keep, keep_complex64=True)
        t = as_object_2d(truth, "truth", real_as=real_as, where=keep, keep_complex64=True)
        check_same_shape(r, t, ("recon", "truth"))
        for name, arr in (("recon", r), ("truth", t)):
            if not _any_inside(arr, keep):
                n_inside = arr.size if keep is None else int(np.count_nonzero(keep))
                msg = (
                    f"{name} must not be zero everywhere inside mask: its phase is undefined "
                    f"there, got all zeros in {n_inside} pixels"
                )
                raise QualityInputError(msg)
        r, t = _normalised(r, keep), _normalised(t, keep)

        def complex_rows(rows: slice) -> np.ndarray:
            u = np.conj(promoted(t[rows]))
            u *= r[rows]
            return u

        return complex_rows, t.shape, modulus_of(t), (r, t)
    rp = as_real_2d(recon, "recon", where=keep)
    tp = as_real_2d(truth, "truth", where=keep)
    check_same_shape(rp, tp, ("recon", "truth"))

    def phase_rows(rows: slice) -> np.ndarray:
        return np.exp(1j * (rp[rows] - tp[rows]))

    return phase_rows, rp.shape, None, None


def _shape_of(x: Any, name: str) -> tuple[int, ...]:
    """Shape of an array argument before its full check (which names it on failure)."""
    try:
        return tuple(np.shape(x))
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be convertible to a numeric array, got {describe(x)}: {exc}"
        raise QualityInputError(msg) from exc


def _as_weights(weights: Any, shape: tuple[int, ...], keep: np.ndarray) -> np.ndarray:
    w = as_real_2d(unmasked(weights, "weights", accepts_mask=False)[0], "weights", finite=False)
    if w.shape != shape:
        msg = f"weights must have the images' shape {shape}, got {w.shape}"
        raise QualityInputError(msg)
    w = check_finite(w, "weights", keep)
    if w[keep].min() < 0:
        msg = f"weights must be >= 0, got min {w[keep].min():.6g}"
        raise QualityInputError(msg)
    return _normalised(w, keep)


def _wls_plane(
    phase: np.ndarray, w: np.ndarray, *, offset: bool, ramp: bool
) -> tuple[float, float, float]:
    """Weighted least-squares plane ``c + gy y + gx x`` (centred coordinates).

    The normal equations are built from row and column sums rather than a
    design matrix, so memory stays at one extra map. A direction without
    support (a single row, say) gets 0 (minimum-norm solution).
    """
    keep = [i for i, on in enumerate((offset, ramp, ramp)) if on]
    if not keep:
        return 0.0, 0.0, 0.0
    ys, xs = centred_axes(phase.shape)
    if _kernels.wanted(phase.size):
        # The row sums of one numba pass (0.007 s against 0.026 s for the NumPy
        # reductions and the w * phase map at 2048^2); column sums become sums
        # of the rows' x-weighted sums (the same terms in another order).
        from ._kernels.phase import plane_rows

        rows = np.empty((phase.shape[0], 5))
        _kernels.split_rows(plane_rows, phase.shape[0], phase, w, xs, rows)
        w_rows, wx_rows = rows[:, 0], rows[:, 1]
        s1, sy, sx, sxy = w_rows.sum(), ys @ w_rows, wx_rows.sum(), ys @ wx_rows
        sxx = rows[:, 2].sum()
        rhs = np.array([rows[:, 3].sum(), ys @ rows[:, 3], rows[:, 4].sum()])
    else:
        w_rows, w_cols = w.sum(axis=1), w.sum(axis=0)
        s1, sy, sx, sxy = w_rows.sum(), ys @ w_rows, xs @ w_cols, ys @ (w @ xs)
        sxx = (xs * xs) @ w_cols
        wp = w * phase
        rhs = np.array([wp.sum(), ys @ wp.sum(axis=1), xs @ wp.sum(axis=0)])
    gram = np.array(
        [
            [s1, sy, sx],
            [sy, (ys * ys) @ w_rows, sxy],
            [sx, sxy, sxx],
        ]
    )
    coef = np.zeros(3)
    coef[keep] = np.linalg.lstsq(gram[np.ix_(keep, keep)], rhs[keep], rcond=None)[0]
    return float(coef[0]), float(coef[1]), float(coef[2])


@blas_single_threaded
def phase_error(
    recon: npt.ArrayLike,
    truth: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    remove_offset: bool = True,
    remove_ramp: bool = True,
    mask: npt.ArrayLike | None = None,
    real_as: Literal["amplitude", "phase"] | None = None,
) -> PhaseError:
    r"""Unwrapped phase error of a reconstruction after offset and ramp removal.

    Parameters
    ----------
    recon, truth : array_like
        Complex 2-D objects (the residual is ``angle(recon * conj(truth))``),
        or, when both are real, phase maps in radians (any range; the
        residual is ``recon - truth`` wrapped). A real and a complex input
        together are refused unless ``real_as`` says what the real one is.
        The masked pixels of a :class:`numpy.ma.MaskedArray` are excluded
        as if by ``mask``.
    weights : array_like, optional
        Non-negative weights of the offset/ramp fit, shape of the images.
        Default: ``abs(truth)`` for complex inputs (the truth, not the
        reconstruction, decides where phase matters, so a reconstruction
        cannot hide errors behind low amplitude); uniform for phase maps.
    remove_offset, remove_ramp : bool
        Remove the global phase and the linear phase ramp (weighted least
        squares). With ``remove_offset=False`` the unwrapped residual is
        placed so that its weighted mean lies in [-pi, pi).
    mask : array_like of bool, optional
        Pixels to fit and compare (default: all). NaN/Inf outside it are
        allowed and never used.
    real_as : {"amplitude", "phase"}, optional
        What a real input is when it is compared with a complex object (or
        to force the interpretation of two real ones): ``"amplitude"`` (a
        modulus >= 0, phase 0) or ``"phase"`` (radians, unit modulus).

    Returns
    -------
    PhaseError
        ``rmse``, ``mae``, ``max`` (radians, unweighted over ``mask``), the
        removed ``offset`` and ``ramp``, the number of phase ``residues`` and
        the ``residual`` map.

    Raises
    ------
    QualityInputError
        Non-2-D, non-finite (inside the mask), mismatched inputs, a real
        input with a complex one and no ``real_as``, a complex input that is
        zero everywhere inside the mask (no phase), non-bool flags, bad
        weights or mask, or zero total weight inside the mask.

    Notes
    -----
    With :math:`z = O\,O_{gt}^*` (or :math:`e^{i(\phi - \phi_{gt})}` for
    phase maps), zero outside the mask, wrap-safe first estimates are the
    phases of the neighbour products, :math:`g_x^0 = \arg\sum z_{r+e_x}
    z_r^*` (likewise :math:`g_y^0`), and :math:`c^0 = \arg\sum z\,e^{-i
    g^0\cdot r}`. The remainder :math:`\rho = \arg(z\,e^{-i(c^0 + g^0\cdot
    r)})` is unwrapped (deterministically, see :func:`unwrap`) and refined
    by weighted least squares :math:`\min_{c,g}\sum_{mask} w (\rho_u - c -
    g\cdot r)^2`, with :math:`r` measured from the array centre. Then

    .. math:: \mathrm{RMSE} = \sqrt{\tfrac1N\sum_{mask}\epsilon^2},\quad
              \mathrm{MAE} = \tfrac1N\sum_{mask}|\epsilon|,\quad
              \max = \max_{mask}|\epsilon| .

    Unwrapping the residual rather than each phase avoids comparing two
    independently unwrapped maps, so a reconstruction that differs from the
    truth only by an offset, a ramp or 2 pi wraps has error ~0 however many
    radians the object spans.

    References
    ----------
    .. [1] M. A. Herraez et al., "Fast two-dimensional phase-unwrapping
       algorithm based on sorting by reliability following a noncontinuous
       path", Appl. Opt. 41, 7437 (2002). :doi:`10.1364/AO.41.007437`
    .. [2] K. Itoh, "Analysis of the phase unwrapping algorithm",
       Appl. Opt. 21, 2470 (1982). :doi:`10.1364/AO.21.002470`

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:64, :64]
    >>> truth = np.exp(1j * 0.2 * x)  # a phase object spanning 12.6 rad
    >>> recon = truth * np.exp(1j * (1.0 + 0.05 * y))  # offset and ramp only
    >>> round(phase_error(recon, truth).rmse, 12)
    0.0
    """
    remove_offset = check_bool(remove_offset, "remove_offset")
    remove_ramp = check_bool(remove_ramp, "remove_ramp")
    check_choice(real_as, "real_as", (*REAL_AS, None))
    recon, r_keep = unmasked(recon, "recon", accepts_mask=True)
    truth, t_keep = unmasked(truth, "truth", accepts_mask=True)
    shape = _shape_of(truth, "truth")
    r_shape = _shape_of(recon, "recon")
    if len(shape) == len(r_shape) == 2 and shape != r_shape:
        msg = f"recon and truth must have the same shape, got {r_shape} and {shape}"
        raise QualityInputError(msg)
    given = None if mask is None else as_mask(mask, shape) if len(shape) == 2 else None
    keep = combine_keep(given, r_keep, t_keep)
    if keep is not None and not keep.any():
        msg = "mask and the numpy.ma masks of recon and truth must leave a pixel, got none"
        raise QualityInputError(msg)
    u_rows, shape, default_w, factors = _residual_phasor(recon, truth, keep, real_as)
    m = as_mask(keep if keep is not None else mask, shape)
    full = bool(m.all())
    if weights is not None:
        w = _as_weights(weights, shape, m)
        if not full:
            w = np.where(m, w, 0.0)  # the caller's array is never written
    else:
        w = default_w if default_w is not None else np.ones(shape)
        del default_w
        if not full:
            w[~m] = 0.0  # our own array: no second full-size copy
    if not w.sum() > 0:
        msg = "weights must have a positive sum inside mask, got all zeros there"
        raise QualityInputError(msg)

    def residual_rows(rows: slice) -> np.ndarray:
        u = u_rows(rows)
        if not full:
            u[~m[rows]] = 0.0  # zeros drop out of every sum below
        return u

    # Each pass rebuilds the residual phasor block by block (one multiplication)
    # rather than keeping it: it was a full-size complex map at the peak.
    # Complex inputs of kernel size: the wrapped residual is made on the fly by a
    # numba kernel (ptycho_metrics._kernels.phase.wrapped_rows). The gradient and
    # offset sums stay NumPy's (BLAS dot products): numba kernels for them were
    # measured slower at 2048^2 (0.21 s and 0.08 s against ~0.03 s together).
    compiled = factors is not None and _kernels.wanted(int(np.prod(shape)))
    inside = np.empty((0, 0), dtype=bool) if full else m
    gy0, gx0 = 0.0, 0.0
    if remove_ramp:
        gy0, gx0 = gradient_from_sums(gradient_sums(residual_rows, shape), shape)
    fy, fx = ramp_phasor(shape, gy0, gx0)
    if remove_offset:
        total = 0j
        for rows in row_blocks(shape):
            total += fy[rows] @ (residual_rows(rows) @ fx)
        c0 = float(np.angle(total))
    else:
        c0 = 0.0
    fy *= np.exp(-1j * c0)
    wrapped = np.empty(shape)
    if compiled and factors is not None:
        from ._kernels.phase import wrapped_rows

        _kernels.split_rows(wrapped_rows, shape[0], *factors, inside, fy, fx, wrapped)
    else:
        for rows in row_blocks(shape):
            u = residual_rows(rows)
            u *= fy[rows, None]
            u *= fx[None, :]
            wrapped[rows] = np.angle(u)
    del factors
    res, residues = unwrap(wrapped, m)  # a new array (or its input): ours to modify
    del wrapped
    if not remove_offset:
        res -= _TWO_PI * np.round(np.vdot(w, res) / w.sum() / _TWO_PI)
    c, gy, gx = _wls_plane(res, w, offset=remove_offset, ramp=remove_ramp)
    ys, xs = centred_axes(res.shape)
    n_pixels = int(np.count_nonzero(m))
    sq_sum = abs_sum = largest = 0.0
    if _kernels.wanted(res.size):
        # One pass instead of three in-place passes and the blockwise sums below
        # (ptycho_metrics._kernels.phase.finish_rows); the sums run per row.
        from ._kernels.phase import finish_rows

        stats = np.empty((shape[0], 3))
        by_row, by_col = c + gy * ys, gx * xs
        _kernels.split_rows(finish_rows, shape[0], res, inside, by_row, by_col, stats)
        sq_sum, abs_sum = float(stats[:, 0].sum()), float(stats[:, 1].sum())
        largest = float(stats[:, 2].max())
        row_range: Iterable[slice] = ()
    else:
        res -= (c + gy * ys)[:, None]
        res -= gx * xs[None, :]
        if not full:
            res[~m] = 0.0
        row_range = row_blocks(shape)
    # Sums over the mask one block of rows at a time: the gathered values and
    # their moduli were two more full-size maps at phase_error's peak.
    for rows in row_range:
        vals = res[rows].ravel() if full else res[rows][m[rows]]
        if not vals.size:
            continue
        abs_vals = np.abs(vals)
        sq_sum += float(np.vdot(vals, vals))
        abs_sum += float(abs_vals.sum())
        largest = max(largest, float(abs_vals.max()))
    return PhaseError(
        rmse=math.sqrt(sq_sum / n_pixels),
        mae=abs_sum / n_pixels,
        max=largest,
        offset=math.remainder(c0 + c, _TWO_PI) if remove_offset else 0.0,
        ramp=(gy0 + gy, gx0 + gx),
        n_pixels=n_pixels,
        residues=residues,
        residual=res,
    )
