"""Fourier ring correlation (FRC) of two real or complex 2-D images.

Conventions (also in ``docs/metrics.md``):

* Rings are integer radius bins of the normalised frequency radius
  sqrt(fx^2 + fy^2) (cycles/pixel, each axis from ``scipy.fft.fftfreq``), bin
  width 1/min(shape): ring k holds the pixels with radius in
  [(k - 1/2), (k + 1/2)) / min(shape). Non-square images keep all their data;
  the long axis simply samples each ring more finely. Rings go up to the
  Nyquist radius 0.5; the corner frequencies beyond it are not reported.
* Both images are made zero-mean (the window-weighted mean is removed) before
  apodization, so a constant offset times the window cannot leak into the
  low rings. The DC term is then exactly zero and ring 0 of a square image
  has no power (its correlation is NaN); ring 0 is never used for resolution.
* Resolution is reported as frequency (cycles/pixel), half period
  (1 / (2 f), PtychoShelves' convention) and full period (1 / f, miplib /
  ptychodus), in pixels and, with ``pixel_size``, in physical units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.fft
from scipy.signal import windows

from . import _kernels
from ._checks import (
    QualityInputError,
    as_complex_2d,
    check_choice,
    check_positive,
    check_real,
    check_same_shape,
    degeneracy,
    describe,
    part_bounds,
    peak_component,
    power_of_two_unit,
    unmasked,
)
from ._phase import rescaled
from ._threads import blas_single_threaded, fft_workers

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["FRCResolution", "FRCResult", "frc"]

Apodization = Literal["hann", "tukey"]
APODIZATIONS: tuple[Apodization | None, ...] = ("hann", "tukey", None)

Criterion = float | Literal["1/7", "half-bit", "one-bit"]
#: Named criteria; a plain float in (0, 1) is also accepted.
CRITERIA = ("1/7", "half-bit", "one-bit")

#: Signal-to-noise ratios of the information criteria (van Heel & Schatz 2005).
SNR_HALF_BIT = (math.sqrt(2.0) - 1.0) / 2.0
SNR_ONE_BIT = 0.5

#: Smallest side with a ring beyond DC on both sides of a crossing.
MIN_SIDE = 4

#: Fourier pixels per block of rows in the ring sums, at most 1/16 of the rows (bounds
#: their temporaries).
RING_BLOCK = 2**18

#: Default taper fraction of the Tukey window (frc's ``tukey_alpha``).
TUKEY_ALPHA = 0.25


@dataclass(frozen=True)
class FRCResolution:
    """Where an FRC curve first falls below a threshold.

    Attributes
    ----------
    frequency : float
        Crossing frequency in cycles/pixel (linear interpolation between the
        last ring at or above the threshold and the first one below it); NaN
        when ``crossed`` is False.
    half_period, full_period : float
        ``1 / (2 frequency)`` and ``1 / frequency`` in pixels; NaN when not
        crossed.
    half_period_physical, full_period_physical : float or None
        The same times the pixel size, in ``pixel_unit``; None without a
        pixel size.
    pixel_unit : str or None
        Unit of the physical periods.
    crossed : bool
        False when the curve never goes below the threshold up to Nyquist, or
        is already below it at the first ring beyond DC. Never replaced by a
        silent Nyquist value.
    criterion : float or str
        The criterion asked for.
    reason : str
        One sentence saying what happened, for reports.
    """

    frequency: float
    half_period: float
    full_period: float
    half_period_physical: float | None
    full_period_physical: float | None
    pixel_unit: str | None
    crossed: bool
    criterion: Criterion
    reason: str


def _check_criterion(criterion: Any) -> None:
    if isinstance(criterion, str):
        check_choice(criterion, "criterion", CRITERIA)
        return
    valid = isinstance(criterion, (float, int, np.floating, np.integer)) and not isinstance(
        criterion, (bool, np.bool_)
    )
    if not valid or not 0.0 < float(criterion) < 1.0:
        listed = ", ".join(repr(c) for c in CRITERIA)
        msg = f"criterion must be one of {listed} or a number in (0, 1); got {criterion!r}"
        raise QualityInputError(msg)


def _bit_threshold(snr: float, n: np.ndarray) -> np.ndarray:
    root_n = np.sqrt(n.astype(np.float64))
    extra = 2.0 * math.sqrt(snr) / root_n
    return (snr + extra + 1.0 / root_n) / (snr + extra + 1.0)


# eq=False: a field-wise == on numpy arrays has no truth value.
@dataclass(frozen=True, eq=False)
class FRCResult:
    r"""An FRC curve: one value per ring from DC to Nyquist.

    Attributes
    ----------
    frequency : numpy.ndarray
        Ring centres ``k / min(shape)`` in cycles/pixel, k = 0 .. min(shape)//2.
    correlation : numpy.ndarray
        Per ring, :math:`\mathrm{Re}\sum F_1 F_2^* / \sqrt{\sum|F_1|^2 \sum|F_2|^2}`;
        NaN for a ring where either image has no power (ring 0, the DC term,
        after mean removal), and in every ring when either image is constant.
    n_pixels : numpy.ndarray
        Number of Fourier pixels in each ring.
    pixel_size : float or None
        Physical size of one pixel, if given.
    pixel_unit : str
        Unit of ``pixel_size``.
    apodization : {"hann", "tukey"} or None
        Window applied before the transform.

    The arrays of a result made by :func:`frc` are read-only.
    """

    frequency: np.ndarray
    correlation: np.ndarray
    n_pixels: np.ndarray
    pixel_size: float | None
    pixel_unit: str
    apodization: Apodization | None

    def threshold(self, criterion: Criterion) -> np.ndarray:
        r"""Threshold per ring for ``criterion``.

        Parameters
        ----------
        criterion : float or {"1/7", "half-bit", "one-bit"}
            A number in (0, 1) is a constant threshold (0.5 is the criterion
            against a noise-free ground truth); ``"1/7"`` is the constant 1/7
            meant for two independent half-datasets; the bit criteria use the
            number of pixels per ring.

        Returns
        -------
        numpy.ndarray
            One threshold per ring.

        Notes
        -----
        van Heel & Schatz 2005, with :math:`n` pixels in the ring:

        .. math::

            T(\mathrm{SNR}_t, n) = \frac{\mathrm{SNR}_t + 2\sqrt{\mathrm{SNR}_t}/\sqrt{n}
                + 1/\sqrt{n}}{\mathrm{SNR}_t + 2\sqrt{\mathrm{SNR}_t}/\sqrt{n} + 1}

        half-bit: :math:`\mathrm{SNR}_t = (\sqrt{2} - 1)/2` (tends to 0.1716
        for large n); one-bit: :math:`\mathrm{SNR}_t = 1/2` (tends to 1/3).

        References
        ----------
        .. [1] M. van Heel, M. Schatz, "Fourier shell correlation threshold
           criteria", J. Struct. Biol. 151, 250-262 (2005).
           :doi:`10.1016/j.jsb.2005.05.009`
        """
        _check_criterion(criterion)
        if criterion == "half-bit":
            return _bit_threshold(SNR_HALF_BIT, self.n_pixels)
        if criterion == "one-bit":
            return _bit_threshold(SNR_ONE_BIT, self.n_pixels)
        value = 1.0 / 7.0 if criterion == "1/7" else float(criterion)
        return np.full(self.correlation.shape, value)

    def resolution(self, criterion: Criterion) -> FRCResolution:
        """First crossing of the curve below ``criterion``'s threshold.

        Rings with NaN correlation are skipped, ring 0 (DC) is never used.
        The curve must start at or above the threshold at the first ring
        beyond DC; the crossing is then linearly interpolated in
        (correlation - threshold) between the last ring at or above and the
        first ring below.

        Parameters
        ----------
        criterion : float or {"1/7", "half-bit", "one-bit"}
            See :meth:`threshold`.

        Returns
        -------
        FRCResolution
            With ``crossed=False`` and NaN values when the curve never falls
            below the threshold up to Nyquist or starts below it.
        """
        excess = self.correlation - self.threshold(criterion)
        rings = np.flatnonzero(np.isfinite(excess))
        rings = rings[rings > 0]
        if rings.size == 0:
            return self._not_crossed(criterion, "no ring beyond DC has power in both images")
        first = rings[0]
        if excess[first] < 0:
            reason = (
                f"correlation is below the threshold already at the first ring "
                f"(f = {self.frequency[first]:.4g} cycles/pixel): no resolved frequency"
            )
            return self._not_crossed(criterion, reason)
        below = rings[excess[rings] < 0]
        if below.size == 0:
            reason = "correlation stays at or above the threshold up to Nyquist (0.5 cycles/pixel)"
            return self._not_crossed(criterion, reason)
        hi = int(below[0])
        lo = int(rings[rings < hi][-1])
        e_lo, e_hi = excess[lo], excess[hi]
        f_lo, f_hi = self.frequency[lo], self.frequency[hi]
        freq = float(f_lo + (f_hi - f_lo) * e_lo / (e_lo - e_hi))
        reason = f"crossed between rings {lo} and {hi}"
        return self._resolution(criterion, freq, crossed=True, reason=reason)

    def _not_crossed(self, criterion: Criterion, reason: str) -> FRCResolution:
        return self._resolution(criterion, math.nan, crossed=False, reason=reason)

    def _resolution(
        self, criterion: Criterion, freq: float, *, crossed: bool, reason: str
    ) -> FRCResolution:
        half, full = 0.5 / freq, 1.0 / freq
        size = self.pixel_size
        return FRCResolution(
            frequency=freq,
            half_period=half,
            full_period=full,
            half_period_physical=None if size is None else half * size,
            full_period_physical=None if size is None else full * size,
            pixel_unit=None if size is None else self.pixel_unit,
            crossed=crossed,
            criterion=criterion,
            reason=reason,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form for JSON: NaN correlations become None."""
        return {
            "frequency": [float(f) for f in self.frequency],
            "correlation": [None if math.isnan(c) else float(c) for c in self.correlation],
            "n_pixels": [int(n) for n in self.n_pixels],
            "pixel_size": self.pixel_size,
            "pixel_unit": self.pixel_unit,
            "apodization": self.apodization,
        }

    def plot(
        self,
        ax: Axes | None = None,
        *,
        criteria: tuple[Criterion, ...] = (0.5, "half-bit"),
    ) -> Axes:
        """Draw the curve and the thresholds of ``criteria``.

        matplotlib is imported here only (it is not a dependency of the
        metrics). Without ``ax`` a new :class:`matplotlib.figure.Figure` is
        made (no pyplot state); save it with ``ax.figure.savefig``.

        Raises
        ------
        ImportError
            When matplotlib is not installed.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:
            msg = (
                "FRCResult.plot needs matplotlib, which is not a dependency of "
                "ptycho_metrics; install it (pip install matplotlib)"
            )
            raise ImportError(msg) from exc
        if not isinstance(criteria, (tuple, list)):
            msg = (
                f"criteria must be a tuple of criteria such as (0.5, 'half-bit'), "
                f"got {describe(criteria)}"
            )
            raise QualityInputError(msg)
        for criterion in criteria:
            _check_criterion(criterion)
        if ax is None:
            ax = Figure().add_subplot()
        ax.plot(self.frequency, self.correlation, label="FRC")
        for criterion in criteria:
            ax.plot(self.frequency, self.threshold(criterion), "--", label=f"{criterion}")
        ax.set_xlabel("spatial frequency (cycles/pixel)")
        ax.set_ylabel("Fourier ring correlation")
        ax.set_xlim(0.0, 0.5)
        ax.legend()
        return ax


def _window_1d(n: int, apodization: Apodization | None, alpha: float) -> np.ndarray:
    if apodization is None:
        return np.ones(n)
    if apodization == "hann":
        return windows.hann(n)
    if alpha * n < 1e-6:
        # A taper far below one sample is the rectangular window; scipy's formula
        # overflows (divides by alpha) for denormal alpha.
        return np.ones(n)
    return windows.tukey(n, alpha)


def _prepared_spectrum(
    a: np.ndarray, w0: np.ndarray, w1: np.ndarray, *, overwrite: bool = False
) -> np.ndarray:
    """Transform of w * (a - m), m the window-weighted mean.

    The window is separable, w = outer(w0, w1), so the weighted sum is
    w0 @ a @ w1 and no full-size window is ever stored. With ``overwrite``
    a C-contiguous complex128 ``a`` becomes the spectrum (no full-size copy).
    """
    # w * (a - m) has exactly zero sum, so no offset times the window's
    # transform leaks into the first rings.
    mean = (w0 @ a @ w1) / (w0.sum() * w1.sum())
    in_place = overwrite and a.dtype == np.complex128 and a.flags.c_contiguous and a.flags.writeable
    if in_place:
        out = a
        out -= mean
    else:
        out = a - mean
    out *= w0[:, None]
    out *= w1[None, :]
    spectrum = scipy.fft.fft2(out, overwrite_x=True, workers=fft_workers())
    # Mathematically zero after the mean removal; rounding leaves ~1e-16.
    spectrum[0, 0] = 0.0
    return spectrum


def _ring_sums(f1: np.ndarray, f2: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per ring: sum Re F1 F2*, sum |F1|^2, sum |F2|^2 and the pixel count.

    Rings are taken one block of rows at a time (the ring index of a block
    from its row and column frequencies), so neither a full-size index nor
    full-size products are stored: peak memory stays at the two spectra.
    """
    shape = f1.shape
    side = min(shape)
    n_rings = side // 2 + 1
    length = n_rings + 1  # beyond-Nyquist corners go to an overflow bin that is dropped
    fy2 = scipy.fft.fftfreq(shape[0]) ** 2
    fx2 = scipy.fft.fftfreq(shape[1]) ** 2
    sums = np.zeros((4, length))
    step = max(min(RING_BLOCK // shape[1], shape[0] // 16), 1)
    for r0 in range(0, shape[0], step):
        rows = slice(r0, min(r0 + step, shape[0]))
        radius = np.sqrt(fy2[rows, None] + fx2[None, :])
        radius *= side
        index = np.rint(radius).astype(np.intp).ravel()
        np.minimum(index, n_rings, out=index)
        a, b = f1[rows].ravel(), f2[rows].ravel()
        cross = a.real * b.real
        cross += a.imag * b.imag
        sums[0] += np.bincount(index, weights=cross, minlength=length)
        sums[1] += np.bincount(index, weights=a.real**2 + a.imag**2, minlength=length)
        sums[2] += np.bincount(index, weights=b.real**2 + b.imag**2, minlength=length)
        sums[3] += np.bincount(index, minlength=length)
    return tuple(sums[:, :n_rings])


def check_pixel_size(pixel_size: Any, pixel_unit: Any) -> float | None:
    """``pixel_size`` as a positive float or None; ``pixel_unit`` must be a non-empty str."""
    if not isinstance(pixel_unit, str) or not pixel_unit:
        msg = f"pixel_unit must be a non-empty string, got {describe(pixel_unit)}"
        raise QualityInputError(msg)
    if pixel_size is None:
        return None
    return check_positive(pixel_size, "pixel_size", expected="a positive finite number or None")


def _check_alpha(tukey_alpha: Any) -> float:
    return check_real(tukey_alpha, "tukey_alpha", lo=0.0, hi=1.0)


def _power_of_two_normalised(a: np.ndarray) -> np.ndarray:
    """``a`` divided by :func:`power_of_two_unit` of its largest modulus (exact).

    The FRC of each image is scale-free; 1e+-200 would overflow (or underflow)
    in the squared spectra.
    """
    unit = power_of_two_unit(peak_component(a))
    return a if unit == 1.0 else rescaled(a, 1.0 / unit)


def _is_constant(a: np.ndarray) -> bool:
    """Whether ``a`` is constant (or zero) up to rounding, 1e-12 of its largest component."""
    return bool(degeneracy(a, 1e-12))


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@blas_single_threaded
def frc(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    apodization: Apodization | None = "hann",
    tukey_alpha: float = TUKEY_ALPHA,
    pixel_size: float | None = None,
    pixel_unit: str = "m",
) -> FRCResult:
    r"""Fourier ring correlation of two 2-D images (real or complex).

    Parameters
    ----------
    a, b : array_like
        2-D images of the same shape, at least 4 pixels per side. Complex
        images keep their imaginary part (real ones are promoted).
    apodization : {"hann", "tukey"} or None
        Separable window applied to both images after removing their
        window-weighted mean (symmetric ``scipy.signal.windows.hann`` /
        ``tukey``), against the edge discontinuity of the periodic transform.
    tukey_alpha : float
        Taper fraction of the Tukey window, in [0, 1].
    pixel_size : float, optional
        Physical pixel size, for the physical periods of :meth:`FRCResult.resolution`.
    pixel_unit : str
        Unit of ``pixel_size``.

    Returns
    -------
    FRCResult
        The curve, ring sizes, thresholds and resolution.

    Raises
    ------
    QualityInputError
        Non-2-D, empty, non-finite or mismatched inputs, a side below 4, a
        bad ``apodization``, ``tukey_alpha`` or ``pixel_size``.

    Notes
    -----
    With :math:`F_1, F_2` the discrete Fourier transforms of the prepared
    images and ring :math:`r` the pixels whose frequency radius rounds to
    :math:`r / \min(\mathrm{shape})`:

    .. math::

        \mathrm{FRC}(r) = \frac{\mathrm{Re} \sum_{r} F_1 F_2^*}
            {\sqrt{\sum_{r} |F_1|^2 \sum_{r} |F_2|^2}}

    The real part is used, not the modulus: the modulus floors uncorrelated
    noise at about :math:`1/\sqrt{n}`.

    References
    ----------
    .. [1] W. O. Saxton, W. Baumeister, "The correlation averaging of a
       regularly arranged bacterial cell envelope protein", J. Microsc. 127,
       127-138 (1982). :doi:`10.1111/j.1365-2818.1982.tb00405.x`
    .. [2] M. van Heel, M. Schatz, "Fourier shell correlation threshold
       criteria", J. Struct. Biol. 151, 250-262 (2005).
       :doi:`10.1016/j.jsb.2005.05.009`

    Examples
    --------
    >>> import numpy as np
    >>> from ptycho_metrics import frc
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=(64, 64))
    >>> result = frc(s, s + 0.1 * rng.normal(size=s.shape))
    >>> result.resolution(0.5).crossed
    False
    """
    a_data = unmasked(a, "a", accepts_mask=False)[0]
    b_data = unmasked(b, "b", accepts_mask=False)[0]
    if np.iscomplexobj(a_data) != np.iscomplexobj(b_data):
        kinds = tuple("complex" if np.iscomplexobj(v) else "real" for v in (a_data, b_data))
        msg = (
            f"a and b must be both real or both complex, got {kinds[0]} a and {kinds[1]} b; "
            f"compare np.abs() of both, or pass both as complex objects"
        )
        raise QualityInputError(msg)
    a_arr = as_complex_2d(a_data, "a")
    b_arr = as_complex_2d(b_data, "b")
    check_same_shape(a_arr, b_arr, ("a", "b"))
    if min(a_arr.shape) < MIN_SIDE:
        msg = (
            f"a and b must be at least {MIN_SIDE} pixels along each axis for an FRC "
            f"(DC and two rings), got shape {a_arr.shape}"
        )
        raise QualityInputError(msg)
    check_choice(apodization, "apodization", APODIZATIONS)
    alpha = _check_alpha(tukey_alpha)
    size = check_pixel_size(pixel_size, pixel_unit)
    return frc_of_checked(a_arr, b_arr, apodization, alpha, size, pixel_unit)


def frc_of_checked(
    a_arr: np.ndarray,
    b_arr: np.ndarray,
    apodization: Apodization | None,
    alpha: float,
    size: float | None,
    pixel_unit: str,
    *,
    overwrite_a: bool = False,
) -> FRCResult:
    """:func:`frc` of two checked images of the same shape (no checks): complex128, or
    complex64 (promoted exactly wherever computed with).

    For :func:`ptycho_metrics.evaluate`, whose inputs are checked once; with
    ``overwrite_a`` the first image's buffer becomes its spectrum, one
    full-size array less at the peak.
    """
    shape = a_arr.shape
    w0 = _window_1d(shape[0], apodization, alpha)
    w1 = _window_1d(shape[1], apodization, alpha)
    if _kernels.wanted(a_arr.size):
        a_scale, a_flat = _compiled_scale_and_flat(a_arr)
        b_scale, b_flat = _compiled_scale_and_flat(b_arr)
        flat = a_flat or b_flat
        f1 = _compiled_spectrum(a_arr, a_scale, w0, w1, overwrite=overwrite_a)
        del a_arr  # overwritten (or no longer needed): only f1 refers to it
        f2 = _compiled_spectrum(b_arr, b_scale, w0, w1)
        cross, p1, p2, counts = _compiled_ring_sums(f1, f2)
    else:
        a_own = _power_of_two_normalised(a_arr)
        overwrite_a = overwrite_a or a_own is not a_arr  # a scaled copy is ours
        b_own = _power_of_two_normalised(b_arr)
        overwrite_b = b_own is not b_arr  # a scaled copy is ours
        a_arr, b_arr = a_own, b_own
        # A constant image has no power beyond DC; after the mean removal only rounding
        # (~1e-17) is left, whose "correlation" would be a silent meaningless number.
        flat = _is_constant(a_arr) or _is_constant(b_arr)
        f1 = _prepared_spectrum(a_arr, w0, w1, overwrite=overwrite_a)
        del a_arr, a_own  # overwritten (or no longer needed): only f1 refers to it
        f2 = _prepared_spectrum(b_arr, w0, w1, overwrite=overwrite_b)
        del b_arr, b_own
        cross, p1, p2, counts = _ring_sums(f1, f2)
    del f1, f2
    n_rings = cross.size
    denom = np.sqrt(p1 * p2)
    corr = np.full(n_rings, np.nan)
    np.divide(cross, denom, out=corr, where=denom > 0)
    if flat:
        corr[:] = np.nan
    freq = np.arange(n_rings) / min(shape)
    counts = counts.astype(np.intp)
    return FRCResult(
        frequency=_readonly(freq),
        correlation=_readonly(corr),
        n_pixels=_readonly(counts),
        pixel_size=size,
        pixel_unit=pixel_unit,
        apodization=apodization,
    )


#: Row blocks of the compiled ring sums: a fixed partition (the same for any
#: thread count, so the sums have the same bits), with per-block partial sums
#: of (4, rings) floats: 16 MB at 16384^2.
RING_BLOCKS = 64


def _compiled_scale_and_flat(a: np.ndarray) -> tuple[float, bool]:
    """``1 / power_of_two_unit`` of ``a``'s peak component and :func:`_is_constant`, one pass.

    From the minima and maxima of :func:`ptycho_metrics._checks.part_bounds`
    (one kernel pass), combined as :func:`ptycho_metrics._checks.peak_component`
    and :func:`ptycho_metrics._checks.degeneracy` do on the scaled image: the
    same values exactly (scaling by a power of two commutes with min and max).
    """
    found = part_bounds(a)
    parts = (
        found[0]
        if found is not None
        else [(float(p.min()), float(p.max())) for p in (a.real, a.imag)]
    )
    peak = max(max(abs(lo), abs(hi)) for lo, hi in parts)
    scale = 1.0 / power_of_two_unit(peak)
    bounds = [(lo * scale, hi * scale) for lo, hi in parts]
    scaled_peak = max(max(abs(lo), abs(hi)) for lo, hi in bounds)
    if scaled_peak == 0.0:
        return scale, True
    spread = max(hi - lo for lo, hi in bounds)
    return scale, spread <= 1e-12 * scaled_peak


def _compiled_spectrum(
    a: np.ndarray, scale: float, w0: np.ndarray, w1: np.ndarray, *, overwrite: bool = False
) -> np.ndarray:
    """:func:`_prepared_spectrum` of ``a * scale`` with the kernels: one pass to sum, one to write.

    With ``overwrite`` (or when scaling makes a copy in the NumPy path anyway)
    the output is ``a``'s own buffer where it is a C-contiguous complex128.
    """
    from ._kernels.frc import weighted_rows, window_rows

    rows = np.empty(a.shape[0], dtype=np.complex128)
    _kernels.split_rows(weighted_rows, a.shape[0], a, scale, w1, rows)
    mean = complex((w0 @ rows) / (w0.sum() * w1.sum()))
    in_place = overwrite and a.dtype == np.complex128 and a.flags.c_contiguous and a.flags.writeable
    out = a if in_place else np.empty(a.shape, dtype=np.complex128)
    _kernels.split_rows(window_rows, a.shape[0], a, scale, mean, w0, w1, out)
    spectrum = scipy.fft.fft2(out, overwrite_x=True, workers=fft_workers())
    spectrum[0, 0] = 0.0
    return spectrum


def _compiled_ring_sums(f1: np.ndarray, f2: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`_ring_sums` with the kernel ``_kernels.frc.ring_rows`` (one pass, no temporaries)."""
    from ._kernels.frc import ring_rows

    shape = f1.shape
    side = min(shape)
    n_rings = side // 2 + 1
    fy2 = scipy.fft.fftfreq(shape[0]) ** 2
    fx2 = scipy.fft.fftfreq(shape[1]) ** 2
    n_blocks = min(RING_BLOCKS, shape[0])
    edges = np.array([shape[0] * b // n_blocks for b in range(n_blocks + 1)], dtype=np.intp)
    partial = np.empty((n_blocks, 4, n_rings + 1))
    args = (f1, f2, fy2, fx2, float(side), n_rings, edges, partial)
    _kernels.split_rows(ring_rows, n_blocks, *args)
    sums = partial.sum(axis=0)
    return tuple(sums[:, :n_rings])
