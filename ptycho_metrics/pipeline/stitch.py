r"""Stitch predicted object patches into one object (NumPy; no torch needed).

This is the NumPy twin of :func:`ptycho_metrics.pipeline.physics.stitch`, used
at inference and by the quality gate's degradation tests. Every object pixel
is the weighted mean of the patches that cover it,

.. math:: O(r) = \frac{\sum_k w(r - r_k)\, O_k(r - r_k)}{W(r)}, \qquad
          W(r) = \sum_k w(r - r_k),

with :math:`w = |P|^2 / \max |P|^2` when the probe is given (pixels are
decided by the patches that illuminated them) and :math:`w = 1` otherwise
(plain overlap average).

The mask marks the pixels the scan covered (the rule of
:func:`ptycho_metrics.scan_mask`, one implementation): :math:`W(r) \ge f \max W` with
``f = mask_fraction`` (default 0.1). With a probe this is "summed
illumination at least 10 % of its maximum"; without one, "covered by at
least 10 % of the maximum number of overlapping patches". ``mask_fraction=0``
gives the union of the patch footprints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .._checks import QualityInputError
from .._mask import DEFAULT_MASK_FRACTION, footprint_indices, mask_from_weight, patch_weights

__all__ = ["DEFAULT_MASK_FRACTION", "stitch_patches"]


def stitch_patches(
    patches: npt.ArrayLike,
    xcoords: npt.ArrayLike,
    ycoords: npt.ArrayLike,
    object_shape: Sequence[int],
    *,
    probe: npt.ArrayLike | None = None,
    mask_fraction: float = DEFAULT_MASK_FRACTION,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted overlap average of patches, and the mask of scanned pixels.

    Parameters
    ----------
    patches : array_like, shape (n, N, N)
        Complex (or real) patches; ``patches[k]`` covers
        ``obj[y_k - N//2 : y_k + N//2, x_k - N//2 : x_k + N//2]``.
    xcoords, ycoords : array_like, shape (n,)
        Integer-valued patch centres in object pixels.
    object_shape : (int, int)
        Shape of the stitched object.
    probe : array_like, shape (N, N), optional
        Weights are ``|probe|^2 / max |probe|^2``; uniform when omitted.
    mask_fraction : float
        A pixel is in the mask when its summed weight is at least this
        fraction of the maximum summed weight (in ``[0, 1]``).

    Returns
    -------
    obj : ndarray, shape object_shape, complex128
        Stitched object; 0 where no patch pixel has weight.
    mask : ndarray, shape object_shape, bool
        Pixels the scan covered (see the module docstring).

    Raises
    ------
    QualityInputError
        For patches that are not (n, N, N) with even N, coordinates of the
        wrong length or not integer-valued, a patch outside the object, a
        probe of another size, or ``mask_fraction`` outside [0, 1].

    Notes
    -----
    Patches that agree on their overlaps are reproduced exactly (up to
    float64 rounding) wherever the summed weight is positive, because every
    pixel is a weighted mean of identical values.

    Examples
    --------
    >>> obj = np.arange(64.0).reshape(8, 8) + 0j
    >>> patches = np.stack([obj[0:4, 0:4], obj[4:8, 4:8]])
    >>> out, mask = stitch_patches(patches, [2, 6], [2, 6], (8, 8))
    >>> bool(np.array_equal(out[mask], obj[mask])), int(mask.sum())
    (True, 32)
    """
    p = np.asarray(patches)
    if p.ndim != 3 or p.shape[1] != p.shape[2] or p.shape[1] % 2 or p.shape[0] == 0:
        msg = f"patches must have shape (n, N, N) with n >= 1 and N even, got {p.shape}"
        raise QualityInputError(msg)
    if not 0.0 <= float(mask_fraction) <= 1.0:
        msg = f"mask_fraction must lie in [0, 1], got {mask_fraction!r}"
        raise QualityInputError(msg)
    n, size = p.shape[0], p.shape[1]
    # The mask rule is ptycho_metrics.scan_mask's (one implementation).
    flat, (rows, cols) = footprint_indices(xcoords, ycoords, size, object_shape, n=n)
    weights = patch_weights(probe, size)
    values = p.astype(np.complex128).reshape(n, -1) * weights
    w_all = np.tile(weights, n)
    # bincount sums in index order: deterministic and much faster than np.add.at.
    wsum = np.bincount(flat, weights=w_all, minlength=rows * cols)
    real = np.bincount(flat, weights=values.real.reshape(-1), minlength=rows * cols)
    imag = np.bincount(flat, weights=values.imag.reshape(-1), minlength=rows * cols)
    covered = wsum > 0
    denom = np.where(covered, wsum, 1.0)
    obj = np.where(covered, (real + 1j * imag) / denom, 0.0).reshape(rows, cols)
    mask = mask_from_weight(wsum, float(mask_fraction)).reshape(rows, cols)
    return obj, mask
