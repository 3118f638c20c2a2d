r"""The scan mask: which object pixels a ptychographic scan illuminated.

One rule, used by the reference pipeline's stitching and by every evaluation
against a fixture: a pixel is *scanned* when its summed normalised
illumination

.. math:: W(r) = \sum_k w(r - r_k), \qquad w = |P|^2 / \max |P|^2 ,

is at least ``fraction`` (default 0.1) of its maximum over the object. Without
a probe ``w = 1`` (pixels covered by at least ``fraction`` of the maximum
number of overlapping patches). It depends on the scan geometry only, never
on a reconstruction, so a pipeline cannot change the region it is graded on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ._checks import QualityInputError, check_real, check_shape, describe

if TYPE_CHECKING:
    from .data import PtychoData

__all__ = ["DEFAULT_MASK_FRACTION", "footprint_indices", "patch_weights", "scan_mask"]

#: Fraction of the maximum summed illumination above which a pixel counts as scanned.
DEFAULT_MASK_FRACTION = 0.1


def _object_shape(object_shape: Sequence[int]) -> tuple[int, int]:
    want = "two positive integers (rows, cols)"
    try:
        rows, cols = check_shape(object_shape, "object_shape", ndim=2)
    except QualityInputError:
        msg = f"object_shape must be {want}, got {describe(object_shape)}"
        raise QualityInputError(msg) from None
    if rows <= 0 or cols <= 0:
        msg = f"object_shape must be two positive integers (rows, cols), got {object_shape!r}"
        raise QualityInputError(msg)
    return rows, cols


def _real_vector(value: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be a 1-D array of patch centres, got {describe(value)}: {exc}"
        raise QualityInputError(msg) from exc
    if arr.dtype.kind not in "iuf":
        msg = f"{name} must be a real numeric array of patch centres, got dtype {arr.dtype}"
        raise QualityInputError(msg)
    return arr.astype(np.float64)


def _coords(
    xcoords: npt.ArrayLike, ycoords: npt.ArrayLike, n: int | None
) -> tuple[np.ndarray, ...]:
    xs, ys = _real_vector(xcoords, "xcoords"), _real_vector(ycoords, "ycoords")
    n = xs.size if n is None else n
    for name, c in (("xcoords", xs), ("ycoords", ys)):
        if c.shape != (n,):
            msg = f"{name} must have shape ({n},) (one centre per patch), got {c.shape}"
            raise QualityInputError(msg)
        if not np.all(np.isfinite(c)) or np.any(c != np.round(c)):
            msg = f"{name} must hold finite integer-valued patch centres, got e.g. {c[:3]}"
            raise QualityInputError(msg)
    return xs.astype(np.int64), ys.astype(np.int64)


def patch_weights(probe: npt.ArrayLike | None, size: int) -> np.ndarray:
    """Flattened per-pixel patch weight ``|probe|^2 / max |probe|^2`` (ones without a probe)."""
    if probe is None:
        return np.ones(size * size)
    p = np.asarray(probe)
    if p.shape != (size, size):
        msg = f"probe must have the patch shape ({size}, {size}), got {p.shape}"
        raise QualityInputError(msg)
    intensity = np.abs(p.astype(np.complex128)) ** 2
    peak = intensity.max()
    if not np.isfinite(peak) or peak <= 0:
        msg = f"probe must be finite and not all zero, got max |probe|^2 = {peak}"
        raise QualityInputError(msg)
    return (intensity / peak).reshape(-1)


def footprint_indices(
    xcoords: npt.ArrayLike,
    ycoords: npt.ArrayLike,
    size: int,
    object_shape: Sequence[int],
    *,
    n: int | None = None,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Flat object index of every pixel of every ``size x size`` patch, shape ``(n * size**2,)``.

    Patch ``k`` covers ``obj[y_k - size//2 : y_k + size//2, x_k - size//2 : x_k + size//2]``.
    Raises :class:`QualityInputError` for non-integer centres or a patch outside the object.
    """
    rows, cols = _object_shape(object_shape)
    xs, ys = _coords(xcoords, ycoords, n)
    half = size // 2
    outside = (xs - half < 0) | (xs + half > cols) | (ys - half < 0) | (ys + half > rows)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        msg = (
            f"patch {k} at centre (x={xs[k]}, y={ys[k]}) reaches outside the {rows}x{cols} "
            f"object ({int(outside.sum())} of {xs.size} patches outside)"
        )
        raise QualityInputError(msg)
    offsets = np.arange(size) - half
    flat = ((ys[:, None, None] + offsets[None, :, None]) * cols + xs[:, None, None]) + offsets
    return flat.reshape(-1), (rows, cols)


def mask_from_weight(wsum: np.ndarray, fraction: float) -> np.ndarray:
    """``wsum > 0 and wsum >= fraction * max(wsum)``: the one thresholding rule."""
    return (wsum > 0) & (wsum >= fraction * wsum.max())


def _check_fraction(fraction: float) -> float:
    return check_real(fraction, "fraction", lo=0.0, hi=1.0)


def scan_mask(
    data: PtychoData | None = None,
    *,
    xcoords: npt.ArrayLike | None = None,
    ycoords: npt.ArrayLike | None = None,
    probe: npt.ArrayLike | None = None,
    object_shape: Sequence[int] | None = None,
    fraction: float = DEFAULT_MASK_FRACTION,
) -> np.ndarray:
    """Boolean mask of the object pixels the scan illuminated (see the module docstring).

    Parameters
    ----------
    data : PtychoData, optional
        A loaded fixture or scan file: its positions, probe and object shape.
    xcoords, ycoords, probe, object_shape : optional
        The same given explicitly (instead of ``data``); ``probe`` may be None
        for uniform patch weights, and then the patch side is taken from
        ``probe``'s shape, so a probe is required here.
    fraction : float
        Threshold on the summed illumination relative to its maximum, in ``[0, 1]``.

    Returns
    -------
    ndarray of bool, shape object_shape

    Examples
    --------
    >>> from ptycho_metrics.data import load_fixture
    >>> mask = scan_mask(load_fixture("default"))
    >>> mask.shape, int(mask.sum()) > 0
    ((128, 128), True)
    """
    frac = _check_fraction(fraction)
    if data is not None and not all(
        hasattr(data, key) for key in ("xcoords", "ycoords", "probe", "obj")
    ):
        msg = (
            f"data must be a PtychoData (from load_fixture or load_ptycho_npz) or None, "
            f"got {describe(data)}"
        )
        raise QualityInputError(msg)
    if data is not None:
        if any(v is not None for v in (xcoords, ycoords, probe, object_shape)):
            msg = "scan_mask: pass either data or xcoords/ycoords/probe/object_shape, not both"
            raise QualityInputError(msg)
        xcoords, ycoords, probe, object_shape = (
            data.xcoords,
            data.ycoords,
            data.probe,
            data.obj.shape,
        )
    if xcoords is None or ycoords is None or probe is None or object_shape is None:
        msg = "scan_mask needs data, or all of xcoords, ycoords, probe and object_shape"
        raise QualityInputError(msg)
    p = np.asarray(probe)
    if p.dtype.kind not in "biufc":
        msg = f"probe must be a numeric array, got {describe(probe)}"
        raise QualityInputError(msg)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        msg = f"probe must be a square 2-D array, got shape {p.shape}"
        raise QualityInputError(msg)
    size = p.shape[0]
    flat, (rows, cols) = footprint_indices(xcoords, ycoords, size, object_shape)
    weights = patch_weights(p, size)
    w_all = np.tile(weights, flat.size // weights.size)
    wsum = np.bincount(flat, weights=w_all, minlength=rows * cols)
    return mask_from_weight(wsum, frac).reshape(rows, cols)
