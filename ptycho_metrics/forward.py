"""The NumPy reference forward model: patches cut from the object, far-field intensities.

Every simulated fixture and the reference pipeline's physics test rest on these
two functions; they compute in complex128 with ``numpy.fft`` only (no BLAS), so
the result does not depend on the thread count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._checks import QualityInputError, check_int, describe
from ._errors import DataError

__all__ = ["check_scan", "extract_patches", "simulate_intensity"]


def _numeric(where: str, name: str, value: Any) -> np.ndarray:
    """``value`` as a numeric array, or a DataError naming ``where`` and ``name``."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        msg = f"{where}: {name} must be a numeric array, got {describe(value)}: {exc}"
        raise DataError(msg) from exc
    if arr.dtype.kind not in "biufc":
        msg = f"{where}: {name} must be a numeric array, got dtype {arr.dtype}"
        raise DataError(msg)
    return arr


def _coordinates(where: str, name: str, value: Any) -> np.ndarray:
    arr = _numeric(where, name, value)
    if arr.dtype.kind == "c":
        msg = f"{where}: {name} must be real, got dtype {arr.dtype}"
        raise DataError(msg)
    return arr.astype(np.float64)


def _data_int(where: str, name: str, value: Any, want: str) -> int:
    try:
        return check_int(value, name, expected=want)
    except QualityInputError as exc:
        msg = f"{where}: {exc}"
        raise DataError(msg) from None


def check_scan(
    where: str, obj_shape: tuple[int, ...], n: int, xcoords: np.ndarray, ycoords: np.ndarray
) -> None:
    """Raise unless every ``n x n`` patch centred on the scan lies inside the object."""
    if xcoords.shape != ycoords.shape or xcoords.ndim != 1:
        msg = (
            f"{where}: xcoords and ycoords must be 1-D of equal length, "
            f"got shapes {xcoords.shape} and {ycoords.shape}"
        )
        raise DataError(msg)
    for key, coords in (("xcoords", xcoords), ("ycoords", ycoords)):
        if not np.all(np.isfinite(coords)) or np.any(coords != np.round(coords)):
            msg = (
                f"{where}: {key} must hold finite integer-valued patch centres "
                f"(whole-pixel patches), got e.g. {coords[~(coords == np.round(coords))][:3]}"
            )
            raise DataError(msg)
    half = n // 2
    rows, cols = obj_shape
    outside = (xcoords - half < 0) | (xcoords + half > cols) | (ycoords - half < 0)
    outside |= ycoords + half > rows
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        msg = (
            f"{where}: patch {k} at centre (x={xcoords[k]:g}, y={ycoords[k]:g}) reaches outside "
            f"the {rows}x{cols} object; centres must lie in [{half}, {cols - half}] (x) and "
            f"[{half}, {rows - half}] (y) for {n}x{n} patches "
            f"({int(outside.sum())} of {outside.size} positions outside)"
        )
        raise DataError(msg)


def extract_patches(
    obj: npt.ArrayLike, xcoords: npt.ArrayLike, ycoords: npt.ArrayLike, n: int
) -> np.ndarray:
    """Cut the ``n x n`` object patch illuminated at every scan position.

    Parameters
    ----------
    obj : array_like, shape (M, M)
        Object (any dtype; the result keeps it).
    xcoords, ycoords : array_like, shape (k,)
        Integer-valued patch centres in object pixels.
    n : int
        Even patch side (the probe size ``N``).

    Returns
    -------
    ndarray, shape (k, n, n)
        ``out[j] = obj[y - n//2 : y + n//2, x - n//2 : x + n//2]`` with
        ``x = xcoords[j]``, ``y = ycoords[j]`` (a copy).

    Raises
    ------
    DataError
        If ``obj`` is not 2-D, ``n`` is not a positive even integer, the
        coordinates are not integer-valued or a patch leaves the object.
    """
    arr = _numeric("extract_patches", "obj", obj)
    if arr.ndim != 2:
        msg = f"extract_patches: obj must be 2-D, got shape {arr.shape}"
        raise DataError(msg)
    want = "a positive even integer"
    n = _data_int("extract_patches", "n", n, want)
    if n <= 0 or n % 2:
        msg = f"extract_patches: n must be {want}, got {n!r}"
        raise DataError(msg)
    xs = _coordinates("extract_patches", "xcoords", xcoords)
    ys = _coordinates("extract_patches", "ycoords", ycoords)
    check_scan("extract_patches", arr.shape, int(n), xs, ys)
    half = int(n) // 2
    out = np.empty((xs.size, int(n), int(n)), dtype=arr.dtype)
    for j, (x, y) in enumerate(zip(xs.astype(np.int64), ys.astype(np.int64), strict=True)):
        out[j] = arr[y - half : y + half, x - half : x + half]
    return out


def simulate_intensity(
    probe: npt.ArrayLike, obj: npt.ArrayLike, xcoords: npt.ArrayLike, ycoords: npt.ArrayLike
) -> np.ndarray:
    r"""Noise-free expected diffraction counts at every scan position (NumPy reference).

    Parameters
    ----------
    probe : array_like, shape (N, N)
        Complex probe, scaled in sqrt(photons): ``sum |probe|^2`` is the dose
        (expected counts per pattern) for a unit-amplitude object.
    obj : array_like, shape (M, M)
        Complex object.
    xcoords, ycoords : array_like, shape (n,)
        Integer-valued patch centres (see :func:`extract_patches`).

    Returns
    -------
    ndarray, shape (n, N, N), float64
        Expected counts, DC at index ``(N//2, N//2)``.

    Raises
    ------
    DataError
        If the probe is not square 2-D or a patch leaves the object.

    Notes
    -----
    Computed in complex128 with NumPy's unitary ("ortho") FFT:

    .. math:: I_k = \left| \mathrm{fftshift}\left(\mathcal{F}_{\mathrm{ortho}}
              [P \cdot O_k]\right) \right|^2 ,

    so by Parseval :math:`\sum I_k = \sum |P \cdot O_k|^2`, which equals the
    dose :math:`\sum |P|^2` when :math:`|O_k| = 1`. The fixtures draw
    ``counts ~ Poisson(I_k)`` and store ``sqrt(counts)``.

    Examples
    --------
    >>> probe = np.ones((4, 4), complex)
    >>> obj = np.ones((8, 8), complex)
    >>> float(simulate_intensity(probe, obj, [4.0], [4.0]).sum())
    16.0
    """
    p = _numeric("simulate_intensity", "probe", probe).astype(np.complex128)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        msg = f"simulate_intensity: probe must be a square 2-D array, got shape {p.shape}"
        raise DataError(msg)
    o = _numeric("simulate_intensity", "obj", obj).astype(np.complex128)
    for name, arr in (("probe", p), ("obj", o)):
        if not np.all(np.isfinite(arr)):
            msg = f"simulate_intensity: {name} must be finite, got NaN or Inf values"
            raise DataError(msg)
    patches = extract_patches(o, xcoords, ycoords, p.shape[0])
    far_field = np.fft.fftshift(np.fft.fft2(p * patches, norm="ortho"), axes=(-2, -1))
    return far_field.real**2 + far_field.imag**2
