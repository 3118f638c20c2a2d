"""Structural similarity (SSIM, MS-SSIM) and PSNR on real 2-D images.

Conventions are stated once here and in ``docs/metrics.md``:

* ``ssim(window="uniform")`` is scikit-image's default
  ``structural_similarity(x, y, data_range=L)``: 7x7 uniform window, sample
  covariance (N/(N-1)), mean over the map with a (win-1)/2 border cropped.
* ``ssim(window="gaussian")`` is Wang et al. 2004 (and scikit-image with
  ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``): 11-tap
  Gaussian, sigma 1.5, population covariance, 5-pixel border cropped.
* Everything is computed in float64. ``data_range`` is always the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from . import _kernels
from ._blocks import flat_chunks
from ._checks import (
    QualityInputError,
    as_real_2d,
    check_choice,
    check_data_range,
    check_finite,
    check_int,
    check_real,
    check_same_shape,
    combine_keep,
    describe,
    peak_component,
    power_of_two_unit,
    unmasked,
)

__all__ = ["ms_ssim", "psnr", "ssim"]

Window = Literal["uniform", "gaussian"]
WINDOWS: tuple[Window, ...] = ("uniform", "gaussian")

#: Gaussian window of Wang et al. 2004: sigma 1.5 truncated at 3.5 sigma gives
#: radius int(3.5 * 1.5 + 0.5) = 5, i.e. the 11-tap window (scikit-image's choice).
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5
GAUSSIAN_WIN_SIZE = 2 * int(GAUSSIAN_TRUNCATE * GAUSSIAN_SIGMA + 0.5) + 1
UNIFORM_WIN_SIZE = 7

#: Exponents per scale, finest first, from Wang, Simoncelli & Bovik 2003
#: (their beta_j = gamma_j, with alpha_M = beta_M at the coarsest scale).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _window_size(window: Window, win_size: int | None) -> int:
    check_choice(window, "window", WINDOWS)
    if window == "gaussian":
        if win_size is not None and win_size != GAUSSIAN_WIN_SIZE:
            msg = (
                f"win_size is fixed to {GAUSSIAN_WIN_SIZE} by window='gaussian' "
                f"(sigma {GAUSSIAN_SIGMA}, truncate {GAUSSIAN_TRUNCATE}); got {win_size!r}"
            )
            raise QualityInputError(msg)
        return GAUSSIAN_WIN_SIZE
    if win_size is None:
        return UNIFORM_WIN_SIZE
    want = "an odd integer >= 3"
    size = check_int(win_size, "win_size", minimum=3, expected=want)
    if size % 2 == 0:
        msg = f"win_size must be {want}, got {size}"
        raise QualityInputError(msg)
    return size


def _check_fits(shape: tuple[int, ...], win: int, names: str) -> None:
    if min(shape) < win:
        msg = (
            f"{names} must be at least {win}x{win} pixels for a {win}x{win} SSIM "
            f"window, got shape {shape}"
        )
        raise QualityInputError(msg)


def _pair(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xa = as_real_2d(x, "x")
    ya = as_real_2d(y, "y")
    check_same_shape(xa, ya, ("x", "y"))
    return xa, ya


#: Largest |value| / data_range the SSIM arithmetic takes: its squares stay far from
#: float64 overflow (1.8e308) and products of two such values too.
MAX_RELATIVE_MAGNITUDE = 1e150


def _normalised(
    xa: np.ndarray, ya: np.ndarray, data_range: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """``x``, ``y`` and ``data_range`` divided by :func:`power_of_two_unit` of the range.

    SSIM and PSNR are invariant under scaling all three together, and scaling
    by a power of two is exact in floating point, so the result equals that of
    ordinary data while values near 1e+-200 no longer overflow or underflow in
    the squares (``C1 = (k1 L)^2`` raised OverflowError at L = 1e200).
    """
    unit = power_of_two_unit(data_range)
    if unit != 1.0:
        xa, ya = xa * (1.0 / unit), ya * (1.0 / unit)
        data_range /= unit
    peak = max(peak_component(xa), peak_component(ya))
    if peak > MAX_RELATIVE_MAGNITUDE * data_range:
        msg = (
            f"data_range must be at least {1 / MAX_RELATIVE_MAGNITUDE:.0e} times the largest "
            f"|x|, |y| (the squares of x / data_range would overflow float64), got "
            f"data_range {data_range * unit:.6g} for max |x|, |y| = {peak * unit:.6g}"
        )
        raise QualityInputError(msg)
    return xa, ya, data_range


def _check_k(value: object, name: str) -> float:
    # Wang et al. use K1 = 0.01, K2 = 0.03; a constant of order 1 or more would swamp
    # the statistics (and (K L)^2 overflowed for K = 1e154).
    return check_real(value, name, lo=0.0, hi=1.0, lo_open=True)


def _plain(x: npt.ArrayLike, name: str) -> npt.ArrayLike:
    """``x`` with a numpy.ma mask refused (no mask argument to honour it)."""
    return unmasked(x, name, accepts_mask=False)[0]


#: Bytes of one block of rows of the four image moments. Blocks this small stay
#: in the CPU cache through the ~20 elementwise steps per pixel, and the peak
#: memory of an SSIM is a few blocks instead of four full-size maps.
BLOCK_BYTES = 2**22


def _gaussian_taps() -> np.ndarray:
    """The 11 taps ``ndimage.gaussian_filter`` uses for sigma 1.5, truncate 3.5."""
    radius = (GAUSSIAN_WIN_SIZE - 1) // 2
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 / GAUSSIAN_SIGMA**2 * x * x)
    return taps / taps.sum()


_GAUSSIAN_TAPS = _gaussian_taps()


def _smooth_rows(block: np.ndarray, window: Window, win: int, out: np.ndarray) -> None:
    """Filter along the last axis (contiguous lines: ndimage is fast there)."""
    if window == "gaussian":
        ndimage.correlate1d(block, _GAUSSIAN_TAPS, axis=-1, output=out)
    else:
        ndimage.uniform_filter1d(block, win, axis=-1, output=out)


def _smooth_columns(
    block: np.ndarray, window: Window, win: int, out: np.ndarray, spare: np.ndarray
) -> None:
    """Valid part of the filter along axis 1: ``out[:, i] = sum_k w_k block[:, i + k]``.

    Sums of shifted row blocks rather than ndimage, which filters axis 1
    line by line with strided copies: 0.8 ms against 3.6 ms (uniform) and
    2.0 ms against 23 ms (Gaussian) for a (4, 74, 1024) block, measured.
    """
    n = out.shape[1]
    if window == "gaussian":
        radius = (win - 1) // 2
        np.multiply(block[:, radius : radius + n], _GAUSSIAN_TAPS[radius], out=out)
        for k in range(radius):  # symmetric taps: add the mirrored rows first
            np.add(block[:, k : k + n], block[:, win - 1 - k : win - 1 - k + n], out=spare)
            spare *= _GAUSSIAN_TAPS[k]
            out += spare
    else:
        np.add(block[:, 0:n], block[:, 1 : n + 1], out=out)
        for k in range(2, win):
            out += block[:, k : k + n]
        out *= 1.0 / win


def _ssim_sums(
    x: np.ndarray,
    y: np.ndarray,
    *,
    c1: float,
    c2: float,
    window: Window,
    win: int,
    inside: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[float, float, int]:
    """Sums of the SSIM map and of its contrast-structure factor over the valid pixels.

    ``x`` and ``y`` are float64 2-D arrays of equal shape, at least ``win``
    per side (not validated). Valid pixels lie at least ``(win - 1) // 2``
    from every edge, so no padding enters them; ``inside`` (valid-shaped
    bool) restricts them further. ``out`` (valid-shaped float64) receives
    the SSIM map. Returns ``(sum of l * cs, sum of cs, number of pixels)``.

    Own code rather than scikit-image's (measured): the filters are linear,
    so filtering x*x + y*y replaces two of scikit-image's five passes; and
    the four moments are filtered and combined in blocks of rows that fit
    the cache, stacked so each filter runs once per block, keeping only the
    rows and columns that are valid. Peak memory: a few blocks, against
    14x the input size for scikit-image.
    """
    if window == "gaussian":
        cov_norm = 1.0  # population covariance, as Wang et al. 2004
    else:
        n = win * win
        cov_norm = n / (n - 1)  # sample covariance, scikit-image's default
    pad = (win - 1) // 2
    n_rows, n_cols = x.shape[0] - 2 * pad, x.shape[1] - 2 * pad
    count = n_rows * n_cols if inside is None else int(np.count_nonzero(inside))
    if _kernels.wanted(x.size):
        total_ssim, total_cs = _compiled_sums(x, y, c1, c2, cov_norm, window, win, inside, out)
        return total_ssim, total_cs, count
    # At most 1/16 of the map per block, so small images keep a small peak too.
    rows = max(min(BLOCK_BYTES // (4 * 8 * x.shape[1]) - 2 * pad, n_rows // 16), 8)
    moments = np.empty((4, rows + 2 * pad, x.shape[1]))
    across = np.empty_like(moments)
    down = np.empty((4, rows, n_cols))
    pairs = np.empty_like(down)
    spare = np.empty((rows, n_cols))
    total_ssim = total_cs = 0.0
    for r0 in range(0, n_rows, rows):
        r1 = min(r0 + rows, n_rows)
        m = r1 - r0 + 2 * pad
        xs, ys = x[r0 : r1 + 2 * pad], y[r0 : r1 + 2 * pad]
        mom = moments[:, :m]
        mom[0], mom[1] = xs, ys
        np.multiply(xs, xs, out=mom[2])
        np.multiply(ys, ys, out=mom[3])
        mom[2] += mom[3]  # E[x^2] + E[y^2] from one filter
        np.multiply(xs, ys, out=mom[3])
        _smooth_rows(mom, window, win, across[:, :m])
        n = r1 - r0
        block = across[:, :m, pad : pad + n_cols]
        _smooth_columns(block, window, win, down[:, :n], pairs[:, :n])
        mu_x, mu_y, sq, xy = down[:, :n]
        mu_xy = spare[: r1 - r0]
        np.multiply(mu_x, mu_y, out=mu_xy)
        mu_x *= mu_x
        mu_y *= mu_y
        mu_y += mu_x  # mu_x^2 + mu_y^2
        # B2 = cov_norm (var_x + var_y) + C2 and A2 = 2 cov_norm cov_xy + C2
        sq -= mu_y
        sq *= cov_norm
        sq += c2
        xy -= mu_xy
        xy *= 2.0 * cov_norm
        xy += c2
        cs = np.divide(xy, sq, out=xy)
        # luminance = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
        mu_xy *= 2.0
        mu_xy += c1
        mu_y += c1
        ssim_map = np.divide(mu_xy, mu_y, out=mu_xy)
        ssim_map *= cs
        if inside is None:
            total_cs += float(cs.sum())
            total_ssim += float(ssim_map.sum())
        else:
            total_cs += float(cs.sum(where=inside[r0:r1]))
            total_ssim += float(ssim_map.sum(where=inside[r0:r1]))
        if out is not None:
            out[r0:r1] = ssim_map
    return total_ssim, total_cs, count


def _compiled_sums(
    x: np.ndarray,
    y: np.ndarray,
    c1: float,
    c2: float,
    cov_norm: float,
    window: Window,
    win: int,
    inside: np.ndarray | None,
    out: np.ndarray | None,
) -> tuple[float, float]:
    """:func:`_ssim_sums`' two sums from the numba kernel (``_kernels.ssim``)."""
    from ._kernels.ssim import ssim_rows

    taps = _GAUSSIAN_TAPS if window == "gaussian" else np.full(win, 1.0 / win)
    xc, yc = np.ascontiguousarray(x), np.ascontiguousarray(y)
    n_rows = x.shape[0] - win + 1
    row_ssim, row_cs = np.empty(n_rows), np.empty(n_rows)
    none = np.empty((0, 0))
    mask = np.ascontiguousarray(inside) if inside is not None else np.empty((0, 0), bool)
    target = out if out is not None else none
    args = (xc, yc, taps, c1, c2, cov_norm, mask, target, row_ssim, row_cs)
    _kernels.split_rows(ssim_rows, n_rows, *args)
    return float(row_ssim.sum()), float(row_cs.sum())


def _ssim_map(
    x: np.ndarray,
    y: np.ndarray,
    *,
    data_range: float,
    window: Window = "uniform",
    win_size: int | None = None,
    k1: float = 0.01,
    k2: float = 0.03,
) -> tuple[np.ndarray, int]:
    """SSIM map over the valid pixels of two validated float64 arrays, and the border cropped.

    The map is ``x.shape`` minus ``2 * pad`` per axis: the pixels whose
    whole window lies inside the image.
    """
    win = _window_size(window, win_size)
    _check_fits(x.shape, win, "x and y")
    pad = (win - 1) // 2
    out = np.empty((x.shape[0] - 2 * pad, x.shape[1] - 2 * pad))
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    _ssim_sums(x, y, c1=c1, c2=c2, window=window, win=win, out=out)
    return out, pad


def _inside(mask: np.ndarray, win: int) -> np.ndarray:
    """Valid-shaped: pixels whose whole ``win`` x ``win`` window lies inside ``mask``."""
    # A minimum filter is the separable erosion; constant 0 outside the image.
    eroded = ndimage.minimum_filter(mask.view(np.uint8), size=win, mode="constant", cval=0)
    pad = (win - 1) // 2
    inside = eroded.view(bool)[pad : mask.shape[0] - pad, pad : mask.shape[1] - pad]
    if not inside.any():
        n_true = int(np.count_nonzero(mask))
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = f"{rows[-1] - rows[0] + 1}x{cols[-1] - cols[0] + 1}" if n_true else "0x0"
        msg = (
            f"mask must contain at least one {win}x{win} square of True pixels (the "
            f"SSIM window must lie entirely inside it), got {n_true} True pixels in a "
            f"{box} bounding box with no full window"
        )
        raise QualityInputError(msg)
    return inside


def _check_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(mask, np.ma.MaskedArray):
        mask = mask.filled(False)
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        msg = f"mask must be a boolean array, got {describe(mask)}"
        raise QualityInputError(msg)
    if arr.shape != shape:
        msg = f"mask must have the shape of x and y {shape}, got {arr.shape}"
        raise QualityInputError(msg)
    return arr


def ssim(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    data_range: float,
    window: Window = "uniform",
    win_size: int | None = None,
    k1: float = 0.01,
    k2: float = 0.03,
    mask: npt.ArrayLike | None = None,
) -> float:
    r"""Mean structural similarity of two real 2-D images.

    Parameters
    ----------
    x, y : array_like
        Real 2-D images of the same shape (complex input is refused; pass
        ``np.abs`` or a phase map explicitly). Computed in float64.
    data_range : float
        Dynamic range L of the images (e.g. the ground truth's max - min).
        Required: never estimated from the data.
    window : {"uniform", "gaussian"}
        ``"uniform"``: scikit-image's default (``win_size`` x ``win_size``
        box, sample covariance). ``"gaussian"``: Wang et al. 2004 (11-tap
        Gaussian, sigma 1.5, population covariance).
    win_size : int, optional
        Odd side of the uniform window, default 7. Must be None (or 11) for
        the Gaussian window.
    k1, k2 : float
        Stabilising constants, :math:`C_1 = (k_1 L)^2`, :math:`C_2 = (k_2 L)^2`.
    mask : array_like of bool, optional
        Average only over pixels whose whole window lies inside ``mask``, so
        pixels outside it never influence the result (NaN/Inf there are
        allowed). Without a mask, pixels within (win - 1) // 2 of the edge
        are excluded (scikit-image's crop); an all-True mask gives the same
        value. The masked pixels of :class:`numpy.ma.MaskedArray` inputs are
        excluded the same way.

    Returns
    -------
    float
        Mean SSIM, in [-1, 1]; 1 for identical images.

    Raises
    ------
    QualityInputError
        Non-2-D, complex, non-finite or mismatched inputs, a missing or
        non-positive ``data_range``, an image smaller than the window, a bad
        ``window``/``win_size``, or a mask containing no full window.

    Notes
    -----
    With local (window-weighted) means :math:`\mu`, variances :math:`\sigma^2`
    and covariance :math:`\sigma_{xy}`,

    .. math::

        \mathrm{SSIM} = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                             {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}

    averaged over the map. The uniform window reproduces
    ``skimage.metrics.structural_similarity(x, y, data_range=L)`` and the
    Gaussian one ``structural_similarity(x, y, data_range=L,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``, both to
    ~1e-15 in float64. SSIM is not sign-safe: remove phase offsets first.

    References
    ----------
    .. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
       assessment: from error visibility to structural similarity", IEEE
       Trans. Image Process. 13, 600-612 (2004). :doi:`10.1109/TIP.2003.819861`

    Examples
    --------
    >>> import numpy as np
    >>> from ptycho_metrics import ssim
    >>> x = np.linspace(0.0, 1.0, 64 * 64).reshape(64, 64)
    >>> ssim(x, x, data_range=1.0)
    1.0
    """
    xd, x_keep = unmasked(x, "x", accepts_mask=True)
    yd, y_keep = unmasked(y, "y", accepts_mask=True)
    xa = as_real_2d(xd, "x", finite=False)
    ya = as_real_2d(yd, "y", finite=False)
    check_same_shape(xa, ya, ("x", "y"))
    mask_arr = None if mask is None else _check_mask(mask, xa.shape)
    # numpy.ma masks of x and y are honoured like mask; NaN/Inf outside them are excluded.
    keep = combine_keep(mask_arr, x_keep, y_keep)
    xa, ya = check_finite(xa, "x", keep), check_finite(ya, "y", keep)
    rng = check_data_range(data_range)
    k1 = _check_k(k1, "k1")
    k2 = _check_k(k2, "k2")
    win = _window_size(window, win_size)
    xa, ya, rng = _normalised(xa, ya, rng)
    _check_fits(xa.shape, win, "x and y")
    inside = None if keep is None else _inside(keep, win)
    total, _, count = _ssim_sums(
        xa, ya, c1=(k1 * rng) ** 2, c2=(k2 * rng) ** 2, window=window, win=win, inside=inside
    )
    return total / count


def check_weights(weights: Any, name: str = "weights") -> np.ndarray:
    """MS-SSIM exponents as a float64 vector, or raise naming ``name``."""
    items = list(weights) if isinstance(weights, (Sequence, np.ndarray)) else None
    if (
        items is None
        or isinstance(weights, (str, bytes))
        or not all(
            isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, (bool, np.bool_))
            for v in items
        )
    ):
        msg = f"{name} must be a sequence of real numbers, got {describe(weights)}"
        raise QualityInputError(msg)
    w = np.asarray(items, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() == 0:
        msg = (
            f"{name} must be a non-empty 1-D sequence of finite numbers >= 0 with a "
            f"positive sum, got {weights!r}"
        )
        raise QualityInputError(msg)
    return w


def _min_side(n_scales: int, win: int) -> int:
    """Smallest side that still holds a ``win`` window after the halvings."""
    # Each halving maps a side s to ceil(s / 2), so s >= win at the coarsest
    # scale needs s > (win - 1) * 2**(n_scales - 1) at the finest.
    return (win - 1) * 2 ** (n_scales - 1) + 1


def _downsample(a: np.ndarray) -> np.ndarray:
    """2x2 box low-pass then keep every other pixel.

    As Wang's ``msssim.m`` (imfilter with ones(2)/4, 'symmetric', then
    img(1:2:end, 1:2:end)): an odd last row/column is averaged with its mirror,
    i.e. with itself.
    """
    if _kernels.wanted(a.size):
        from ._kernels.ssim import downsample_rows

        out = np.empty(((a.shape[0] + 1) // 2, (a.shape[1] + 1) // 2))
        _kernels.split_rows(downsample_rows, out.shape[0], a, out)
        return out
    if a.shape[0] % 2 or a.shape[1] % 2:
        a = np.pad(a, ((0, a.shape[0] % 2), (0, a.shape[1] % 2)), mode="symmetric")
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


def ms_ssim(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    data_range: float,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    r"""Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003).

    Parameters
    ----------
    x, y : array_like
        Real 2-D images of the same shape, computed in float64.
    data_range : float
        Dynamic range L of the images; required, never estimated.
    weights : sequence of float
        Exponent per scale, finest first; ``len(weights)`` is the number of
        scales M. Default: the published five weights.
    k1, k2 : float
        Stabilising constants as in :func:`ssim`.

    Returns
    -------
    float
        MS-SSIM in [0, 1]; 1 for identical images.

    Raises
    ------
    QualityInputError
        As :func:`ssim`, bad ``weights``, or an image whose short side is too
        small for M scales (the message gives the minimum:
        ``10 * 2**(M - 1) + 1`` pixels, 161 for five scales).

    Notes
    -----
    At each scale j = 1..M the Gaussian-window SSIM components (11 taps,
    sigma 1.5, population covariance, valid region only) are averaged; between
    scales both images are low-passed by a 2x2 box and downsampled by 2:

    .. math::

        \mathrm{MS\text{-}SSIM} = \overline{l\,cs}_M^{\,w_M}
            \prod_{j=1}^{M-1} \overline{cs}_j^{\,w_j}

    As in Wang's reference ``msssim.m``, pytorch-msssim and TensorFlow, the
    coarsest factor is the mean of the full SSIM map (luminance times
    contrast-structure). A negative mean at any scale (anticorrelated
    structure) would make the fractional power NaN; it is clipped to 0, so
    such a pair scores 0 (pytorch-msssim's ``nonnegative_ssim`` choice).
    ``data_range`` is the same at every scale since box averaging cannot
    widen the range.

    References
    ----------
    .. [1] Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural
       similarity for image quality assessment", Proc. 37th Asilomar Conf.
       Signals, Systems and Computers, 1398-1402 (2003).
       :doi:`10.1109/ACSSC.2003.1292216`

    Examples
    --------
    >>> import numpy as np
    >>> from ptycho_metrics import ms_ssim
    >>> x = np.random.default_rng(0).random((192, 192))
    >>> ms_ssim(x, x, data_range=1.0)
    1.0
    """
    xa, ya = _pair(_plain(x, "x"), _plain(y, "y"))
    rng = check_data_range(data_range)
    w = check_weights(weights)
    k1 = _check_k(k1, "k1")
    k2 = _check_k(k2, "k2")
    xa, ya, rng = _normalised(xa, ya, rng)
    c1 = (k1 * rng) ** 2
    c2 = (k2 * rng) ** 2
    need = _min_side(w.size, GAUSSIAN_WIN_SIZE)
    if min(xa.shape) < need:
        msg = (
            f"x and y must be at least {need} pixels on the short side for "
            f"{w.size} MS-SSIM scales with an {GAUSSIAN_WIN_SIZE}-tap window, "
            f"got shape {xa.shape}; pass fewer weights for smaller images"
        )
        raise QualityInputError(msg)
    factors = np.empty(w.size)
    for j in range(w.size):
        total, total_cs, count = _ssim_sums(
            xa, ya, c1=c1, c2=c2, window="gaussian", win=GAUSSIAN_WIN_SIZE
        )
        factors[j] = (total if j == w.size - 1 else total_cs) / count
        if j < w.size - 1:
            xa, ya = _downsample(xa), _downsample(ya)
    np.maximum(factors, 0.0, out=factors)
    return float(np.prod(factors**w))


def psnr(x: npt.ArrayLike, y: npt.ArrayLike, *, data_range: float) -> float:
    r"""Peak signal-to-noise ratio in dB with the caller's peak ``data_range``.

    Parameters
    ----------
    x, y : array_like
        Real 2-D images of the same shape (order does not matter).
    data_range : float
        Peak value L (e.g. the ground truth's max - min). Required: a default
        such as 255 is wrong for amplitudes of order 1.

    Returns
    -------
    float
        PSNR in dB; ``+inf`` when the images are identical (MSE = 0). Callers
        that cannot store infinity (a golden file) must handle that case.

    Raises
    ------
    QualityInputError
        Non-2-D, complex, non-finite or mismatched inputs, or a missing or
        non-positive ``data_range``.

    Notes
    -----
    .. math::

        \mathrm{PSNR} = 10 \log_{10} \frac{L^2}{\mathrm{MSE}}, \qquad
        \mathrm{MSE} = \frac{1}{N} \sum (x - y)^2

    Identical to ``skimage.metrics.peak_signal_noise_ratio(x, y,
    data_range=L)`` in float64.

    References
    ----------
    .. [1] Q. Huynh-Thu, M. Ghanbari, "Scope of validity of PSNR in
       image/video quality assessment", Electron. Lett. 44, 800-801 (2008).
       :doi:`10.1049/el:20080522`

    Examples
    --------
    >>> import numpy as np
    >>> from ptycho_metrics import psnr
    >>> round(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1), data_range=1.0), 6)
    20.0
    """
    xa, ya = _pair(_plain(x, "x"), _plain(y, "y"))
    rng = check_data_range(data_range)
    xa, ya, rng = _normalised(xa, ya, rng)
    # The squared differences are summed one chunk at a time: at full size they
    # were two maps at the peak of evaluate()'s amplitude metrics.
    xf, yf = xa.ravel(), ya.ravel()
    sq_sum = 0.0
    for part in flat_chunks(xf.size):
        diff = xf[part] - yf[part]
        sq_sum += float(diff @ diff)
    mse = sq_sum / xa.size
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(rng * rng / mse))
