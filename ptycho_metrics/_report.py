"""One call that checks, aligns and measures a reconstruction: :func:`evaluate`.

Every metric comes from the public functions of this package; this module
only decides what is compared with what (the region, the data ranges, the
continuous phase maps) and collects the numbers into a :class:`QualityReport`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from . import _align, _kernels
from ._align import bounding_box
from ._blocks import flat_chunks, row_blocks
from ._checks import (
    REAL_AS,
    QualityInputError,
    check_bool,
    check_choice,
    check_int,
    check_path,
    check_real,
    degeneracy,
    remembered_bounds,
)
from ._frc import TUKEY_ALPHA, Criterion, FRCResult, check_pixel_size, frc_of_checked
from ._metadata import EVALUATE_METRICS, METRICS
from ._phase import (
    modulus_of,
    phase_error,
    phase_of,
    power_of_two_scale,
    promoted,
    rescaled,
    unwrap,
)
from ._ssim import (
    GAUSSIAN_WIN_SIZE,
    MS_SSIM_WEIGHTS,
    UNIFORM_WIN_SIZE,
    check_weights,
    ms_ssim,
    psnr,
    ssim,
)
from ._threads import blas_single_threaded

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["QualityReport", "evaluate"]

#: Version of the layout written by :meth:`QualityReport.to_dict`.
REPORT_SCHEMA = 1

_TWO_PI = 2.0 * np.pi

#: Cycles/pixel at which :meth:`QualityReport.gate_metrics` puts an FRC crossing
#: that never happens (the curve stays above its threshold).
NYQUIST = 0.5

#: dB, :meth:`QualityReport.gate_metrics`' ceiling for PSNR: 20 log10(1 / eps) of
#: float64, the PSNR of an error at rounding level; identical amplitudes (inf) gate as it.
PSNR_CEILING_DB = 20.0 * math.log10(1.0 / float(np.finfo(np.float64).eps))


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class QualityReport:
    """Metrics of one reconstruction against its ground truth.

    Attributes
    ----------
    metrics : dict of str to float
        One value per metric of :data:`ptycho_metrics.METRICS` that
        :func:`evaluate` computes (``source == "evaluate"``). NaN when a metric
        is undefined for this pair; :attr:`notes` says why.
    directions : dict of str to {"higher", "lower"}
        Which way is better, per metric (from :data:`ptycho_metrics.METRICS`).
    frc : FRCResult
        The FRC curve of the aligned complex object against the truth.
    alignment : dict or None
        :meth:`Alignment.as_dict` of the removed ambiguities; None when
        ``evaluate(align=False)``.
    region_shape : tuple of int
        Shape of the bounding box of the compared region.
    n_compared : int
        Number of pixels compared.
    notes : tuple of str
        Why a metric is NaN or how a convention was applied.
    """

    metrics: dict[str, float]
    directions: dict[str, str]
    frc: FRCResult = field(repr=False)
    alignment: dict[str, Any] | None
    region_shape: tuple[int, int]
    n_compared: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: plain Python types, non-finite floats as None."""
        return {
            "schema": REPORT_SCHEMA,
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "directions": dict(self.directions),
            "alignment": None if self.alignment is None else dict(self.alignment),
            "region_shape": list(self.region_shape),
            "n_compared": self.n_compared,
            "notes": list(self.notes),
            "frc": self.frc.to_dict(),
        }

    def finite_metrics(self, *, exclude: Iterable[str] = ()) -> dict[str, float]:
        """The finite metrics: what a golden-reference gate can store and compare.

        An FRC that never crosses its threshold (NaN) or the PSNR of identical
        amplitudes (inf) is left out. The quality gate checks key sets both
        ways, so a metric that is finite in the golden and not in a later run
        (or the reverse) still fails the gate, naming it: a change of state is
        never silent.

        ``exclude`` names metrics to leave out as well (opting out of a gate,
        e.g. ``exclude=("alignment_shift_px", "alignment_ramp")`` for a
        pipeline whose frame legitimately differs from the truth's); a name
        that is not a metric raises :class:`QualityInputError`.
        """
        skip = set(exclude) if not isinstance(exclude, str) else {exclude}
        unknown = sorted(skip - set(self.metrics))
        if unknown:
            msg = f"exclude must name metrics of {', '.join(self.metrics)}; got unknown {unknown}"
            raise QualityInputError(msg)
        return {k: v for k, v in self.metrics.items() if math.isfinite(v) and k not in skip}

    def gate_metrics(self) -> dict[str, float]:
        """The metrics to gate: a key set that does not change with the reconstruction's quality.

        Like :meth:`finite_metrics`, except that the FRC crossings are always
        present whenever the curve has rings: a curve that stays above its
        threshold up to Nyquist gates as ``0.5`` cycles/pixel (the best value:
        every crossing lies below it), and one that is below the threshold at
        the first ring gates as ``0.0`` (nothing resolved). A crossing that
        appears or vanishes is then a change of value in the metric's own
        direction: a better reconstruction (the crossing moves out to Nyquist)
        passes the gate, a worse one (a crossing appears below Nyquist) fails
        it. An infinite PSNR (identical amplitudes) gates as
        :data:`PSNR_CEILING_DB`, the PSNR of a float64 rounding-level error.
        A metric NaN for any other reason (a flat truth, a zero
        reconstruction) is left out, so the gate names it as missing.
        """
        out = self.finite_metrics()
        criteria: tuple[tuple[str, Criterion], ...] = (
            ("frc_0p5", 0.5),
            ("frc_half_bit", "half-bit"),
        )
        for key, criterion in criteria:
            if key in out or key not in self.metrics:
                continue
            excess = self.frc.correlation - self.frc.threshold(criterion)
            rings = np.flatnonzero(np.isfinite(excess) & (self.frc.frequency > 0))
            if rings.size:  # never crossed: entirely above (Nyquist) or below from the start
                out[key] = NYQUIST if excess[rings[0]] >= 0 else 0.0
        psnr_value = self.metrics.get("amplitude_psnr", math.nan)
        if psnr_value > PSNR_CEILING_DB:  # includes +inf
            out["amplitude_psnr"] = PSNR_CEILING_DB
        return {key: out[key] for key in self.metrics if key in out}

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON (NaN and infinity written as null)."""
        if indent is not None:
            indent = check_int(indent, "indent", minimum=0, expected="an integer >= 0 or None")
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def format_table(self) -> str:
        """The metrics as an aligned text table with units and directions."""
        width = max(len(k) for k in self.metrics)
        lines = [f"{'metric':<{width}}  {'value':>12}  {'unit':<12}  better"]
        for key, value in self.metrics.items():
            info = METRICS[key]
            lines.append(f"{key:<{width}}  {value:>12.6g}  {info.unit:<12}  {info.direction}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def plot(self, path_or_fig: str | Path | Figure) -> Figure:
        """Draw the FRC curve and the metrics table; save it when given a path.

        matplotlib is imported here only; it is not a dependency of the metrics.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:
            msg = "QualityReport.plot needs matplotlib (pip install matplotlib)"
            raise ImportError(msg) from exc
        target = None if isinstance(path_or_fig, Figure) else check_path(path_or_fig, "path_or_fig")
        fig = path_or_fig if isinstance(path_or_fig, Figure) else Figure(figsize=(10, 4))
        ax_frc, ax_text = fig.subplots(1, 2)
        self.frc.plot(ax_frc)
        ax_text.axis("off")
        ax_text.text(0.0, 1.0, self.format_table(), family="monospace", va="top", fontsize=7)
        if target is not None:
            fig.savefig(target)
        return fig


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN when either input is constant.

    The centred copies are made one chunk at a time (two full-size maps
    were the peak of the amplitude metrics).
    """
    mx, my = x.mean(), y.mean()
    sxy = sxx = syy = 0.0
    for part in flat_chunks(x.size):
        dx = x[part] - mx
        dy = y[part] - my
        sxy += float(dx @ dy)
        sxx += float(dx @ dx)
        syy += float(dy @ dy)
    denom = math.sqrt(sxx * syy)
    return sxy / denom if denom > 0 else math.nan


def _abs_errors(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean and root mean square of ``|x - y|``, one chunk at a time."""
    abs_sum = sq_sum = 0.0
    for part in flat_chunks(x.size):
        diff = np.abs(x[part] - y[part])
        abs_sum += float(diff.sum())
        sq_sum += float(diff @ diff)
    return abs_sum / x.size, math.sqrt(sq_sum / x.size)


def _continuous_truth_phase(truth: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, int]:
    """Unwrapped truth phase, shifted by 2 pi k to a region mean in [-pi, pi), and its residues.

    SSIM's luminance term depends on the absolute level, so the 2 pi k left
    free by unwrapping is fixed here once, reproducibly.
    """
    phase, residues = unwrap(phase_of(truth))  # a new array either way: ours to modify
    k = np.floor((phase[region].mean() + np.pi) / _TWO_PI)
    if k:  # in place (same bits as phase - 2 pi k): one full-size map less, measured 0.01 s
        phase -= _TWO_PI * k
    return phase, residues


class _Collector:
    """Metrics and the notes that explain their NaNs."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.notes: list[str] = []

    def set(self, key: str, value: float, why_nan: str = "") -> None:
        self.metrics[key] = float(value)
        if math.isnan(value) and why_nan:
            self.notes.append(f"{key} is NaN: {why_nan}")


#: An alignment shift above this fraction of the compared region's side gets a note:
#: a placement error (another grid, a real-valued "object") registers as a large shift.
SUSPICIOUS_SHIFT_FRACTION = 0.1


def _shift_note(shift: Sequence[float], box: tuple[int, int]) -> str | None:
    """A note when ``shift`` (dy, dx) exceeds :data:`SUSPICIOUS_SHIFT_FRACTION` of ``box``."""
    fraction = max(abs(s) / n for s, n in zip(shift, box, strict=True))
    if fraction <= SUSPICIOUS_SHIFT_FRACTION:
        return None
    return (
        f"suspicious alignment: shift (dy, dx) = ({shift[0]:.3g}, {shift[1]:.3g}) px is "
        f"{fraction:.0%} of the compared region's {box[0]}x{box[1]} px (> "
        f"{SUSPICIOUS_SHIFT_FRACTION:.0%}): is the reconstruction on the truth's grid?"
    )


#: A truth range below this fraction of its magnitude is rounding, not contrast
#: (|exp(i phi)| varies by ~1e-16): the map counts as constant.
FLAT_RELATIVE_RANGE = 1e-10


def _range(values: np.ndarray) -> float:
    """max - min, or 0.0 when that is below rounding level."""
    return _span(float(values.min()), float(values.max()))


def _span(lo: float, hi: float) -> float:
    span = hi - lo
    return span if span > FLAT_RELATIVE_RANGE * max(abs(lo), abs(hi)) else 0.0


@dataclass(frozen=True)
class _PairStatistics:
    """What :func:`_real_pair_metrics` needs besides SSIM and PSNR (NaN where undefined)."""

    data_range: float
    recon_range: float
    pearson: float
    mae: float
    rmse: float


def _pair_statistics(
    truth: np.ndarray, recon: np.ndarray, region: np.ndarray, full_box: bool
) -> _PairStatistics:
    """Ranges, Pearson, MAE and RMSE over the region, from the numba kernels of ``_kernels.pair``.

    The same definitions as :func:`_range`, :func:`_pearson` and
    :func:`_abs_errors` on the region's values (sums in another order).
    """
    from ._kernels.pair import centred_rows, pair_sums_rows

    inside = np.empty((0, 0), dtype=bool) if full_box else region
    n_rows = truth.shape[0]
    sums = np.empty((n_rows, 9))
    _kernels.split_rows(pair_sums_rows, n_rows, truth, recon, inside, sums)
    n = float(sums[:, 0].sum())
    t_range = _span(float(sums[:, 3].min()), float(sums[:, 4].max()))
    r_range = _span(float(sums[:, 5].min()), float(sums[:, 6].max()))
    pearson = math.nan
    if t_range > 0 and r_range > 0:
        mx, my = float(sums[:, 1].sum()) / n, float(sums[:, 2].sum()) / n
        centred = np.empty((n_rows, 3))
        _kernels.split_rows(centred_rows, n_rows, truth, recon, inside, mx, my, centred)
        sxy, sxx, syy = (float(v) for v in centred.sum(axis=0))
        denom = math.sqrt(sxx * syy)
        pearson = sxy / denom if denom > 0 else math.nan
    mae = float(sums[:, 7].sum()) / n
    rmse = math.sqrt(float(sums[:, 8].sum()) / n)
    return _PairStatistics(t_range, r_range, pearson, mae, rmse)


def _numpy_pair_statistics(tv: np.ndarray, rv: np.ndarray, errors: bool) -> _PairStatistics:
    """:func:`_pair_statistics` on the region's values, the NumPy path (MAE, RMSE if ``errors``)."""
    data_range, recon_range = _range(tv), _range(rv)
    pearson = _pearson(tv, rv) if data_range > 0 and recon_range > 0 else math.nan
    mae, rmse = _abs_errors(tv, rv) if errors else (math.nan, math.nan)
    return _PairStatistics(data_range, recon_range, pearson, mae, rmse)


def _real_pair_metrics(
    out: _Collector,
    kind: str,
    truth: np.ndarray,
    recon: np.ndarray,
    region: np.ndarray,
    full_box: bool,
    ms_ssim_weights: Sequence[float] | None = None,
) -> None:
    """SSIM and Pearson (for amplitude also MS-SSIM, PSNR, MAE, RMSE) of two maps.

    ``data_range`` is the truth's max - min in the region; a flat truth makes
    every range-based metric and the correlation NaN, with the reason.
    """
    amplitude = kind == "amplitude"

    def region_values() -> tuple[np.ndarray, np.ndarray]:
        # A gathered copy unless full_box: made only where read (NumPy statistics, PSNR).
        if full_box:
            return truth.ravel(), recon.ravel()
        return truth[region], recon[region]

    values = None
    if truth.ndim == 2 and _kernels.wanted(truth.size):
        stats = _pair_statistics(truth, recon, region, full_box)
    else:
        values = region_values()
        stats = _numpy_pair_statistics(*values, errors=amplitude)
    data_range = stats.data_range
    flat = f"the truth's {kind} is constant in the region (data_range 0 up to rounding)"
    why = flat if data_range == 0 else f"recon's {kind} is constant in the region"
    out.set(f"{kind}_pearson", stats.pearson, why)
    if amplitude:
        out.set("amplitude_mae", stats.mae)
        out.set("amplitude_rmse", stats.rmse)
        tv, rv = values if values is not None else region_values()
        # PSNR over exactly the region's pixels: a 1 x n image is the same sum.
        value = psnr(tv[None], rv[None], data_range=data_range) if data_range > 0 else math.nan
        out.set("amplitude_psnr", value, flat)
        del tv, rv
    del values
    if data_range == 0:
        out.set(f"{kind}_ssim", math.nan, flat)
        if kind == "amplitude":
            out.set("amplitude_ms_ssim", math.nan, flat)
        return
    out.set(
        f"{kind}_ssim", ssim(truth, recon, data_range=data_range, mask=None if full_box else region)
    )
    if kind == "amplitude":
        out.set(
            "amplitude_ms_ssim", _ms_ssim_or_nan(out, truth, recon, data_range, ms_ssim_weights)
        )


def _ms_ssim_or_nan(
    out: _Collector,
    truth: np.ndarray,
    recon: np.ndarray,
    rng: float,
    weights: Sequence[float] | None,
) -> float:
    if weights is not None:  # the caller's scales: a box too small for them is an error
        return ms_ssim(truth, recon, data_range=rng, weights=weights)
    fitting = _fitting_ms_ssim_weights(min(truth.shape))
    if len(fitting) < len(MS_SSIM_WEIGHTS):
        out.notes.append(
            f"amplitude_ms_ssim uses {len(fitting)} scales, not {len(MS_SSIM_WEIGHTS)}: the "
            f"compared box's short side is {min(truth.shape)} px; weights = the first "
            f"{len(fitting)} published ones renormalised to sum 1: "
            f"{tuple(round(w, 4) for w in fitting)}"
        )
    try:
        return ms_ssim(truth, recon, data_range=rng, weights=fitting)
    except QualityInputError as exc:
        # Only a box under 11 px (one 11-tap scale) gets here: NaN with the reason.
        out.notes.append(f"amplitude_ms_ssim is NaN: {exc}")
        return math.nan


def _fitting_ms_ssim_weights(short_side: int) -> tuple[float, ...]:
    """The published weights truncated to the scales ``short_side`` allows, summing to 1.

    ``ms_ssim`` needs ``10 * 2**(M - 1) + 1`` pixels for M scales (161 for 5);
    the 128-px fixtures allow 4. Renormalising keeps a perfect match at 1 and
    the relative weight of the scales kept, as in the published 5-scale set.
    """
    n_scales = len(MS_SSIM_WEIGHTS)
    if short_side >= 10 * 2 ** (n_scales - 1) + 1:
        return MS_SSIM_WEIGHTS  # as published (they sum to 1.0001)
    while n_scales > 1 and short_side < 10 * 2 ** (n_scales - 1) + 1:
        n_scales -= 1
    kept = MS_SSIM_WEIGHTS[:n_scales]
    return tuple(w / sum(kept) for w in kept)


def _frc_metrics(out: _Collector, result: FRCResult, no_power: str = "") -> None:
    """FRC crossings and mean; ``no_power`` names the constant image when there is one."""
    criteria: tuple[tuple[str, Criterion], ...] = (("frc_0p5", 0.5), ("frc_half_bit", "half-bit"))
    for key, criterion in criteria:
        res = result.resolution(criterion)
        out.set(key, res.frequency, no_power or res.reason)
    # The crossings are NaN for a reconstruction good up to Nyquist (common against a
    # noise-free truth); the mean over the rings beyond DC is always defined.
    rings = (result.frequency > 0) & np.isfinite(result.correlation)  # none if constant
    mean = float(result.correlation[rings].mean()) if rings.any() else math.nan
    out.set("frc_mean", mean, no_power or "no ring beyond DC has power in both images")


@blas_single_threaded
def evaluate(
    recon: npt.ArrayLike,
    truth: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    align: bool = True,
    pixel_size: float | None = None,
    pixel_unit: str = "m",
    upsample_factor: int = 100,
    scale: _align.ScaleMode | None = "complex",
    max_shift: float | None = None,
    ms_ssim_weights: Sequence[float] | None = None,
    real_as: Literal["amplitude", "phase"] | None = None,
) -> QualityReport:
    r"""Check, align and measure a reconstruction against its ground truth.

    Parameters
    ----------
    recon, truth : array_like
        Complex 2-D objects of the same shape (a real array needs
        ``real_as``). The masked pixels of a :class:`numpy.ma.MaskedArray`
        are excluded as if by ``mask``.
    mask : array_like of bool, optional
        Pixels of the truth's frame to compare (e.g. the scanned area).
        NaN/Inf outside it are allowed and never compared.
    align : bool
        Remove shift, ramp, global phase and scale with :func:`align` first.
        With False the reconstruction is compared as given, except that
        :func:`phase_error` still removes the phase offset and ramp.
    pixel_size, pixel_unit :
        Passed to :func:`frc` for physical resolution units.
    upsample_factor, scale, max_shift :
        Passed to :func:`align`.
    ms_ssim_weights : sequence of float, optional
        Passed to :func:`ms_ssim`. Default: the five published weights when
        the compared box's short side is >= 161 px, otherwise the first M
        of them that fit (``10 * 2**(M - 1) + 1`` px), renormalised to sum 1,
        with a note saying so (the 128-px fixtures get M = 4 at most).
    real_as : {"amplitude", "phase"}, optional
        What a real ``recon`` or ``truth`` is: a modulus (phase 0) or a phase
        map in radians (unit modulus). Without it a real array is refused.

    Returns
    -------
    QualityReport
        With exactly the metrics of :data:`ptycho_metrics.METRICS` whose
        ``source`` is ``"evaluate"`` (the learning-curve ones come from
        :func:`convergence_metrics`).

    Raises
    ------
    QualityInputError
        From the checks, the mask, the alignment, or a compared region
        smaller than the 7x7 SSIM window.

    Notes
    -----
    *Region.* Pixels inside ``mask`` and not wrapped by the alignment's
    Fourier shift. SSIM uses ``ssim(mask=region)`` (only windows entirely
    inside it); pointwise metrics (MAE, RMSE, PSNR, Pearson, phase errors)
    use exactly the region's pixels. MS-SSIM and FRC need a rectangle: they
    run on the region's bounding box, where pixels outside the region are
    set to the truth in both images (a note states the fraction; for a
    rectangular region it is 0).

    *Data ranges.* SSIM, MS-SSIM and PSNR use :math:`L = \max - \min` of
    the truth inside the region, for amplitude and for the continuous
    phase separately.

    *Continuous phases.* The truth's phase is unwrapped (and moved by
    :math:`2\pi k` so its region mean lies in :math:`[-\pi, \pi)`); the
    reconstruction's is the truth's plus the unwrapped residual of
    :func:`phase_error` after offset and ramp removal. 2 pi wraps are thus
    no error, and a weak phase object is compared on its own range rather
    than on :math:`2\pi`.

    *FRC.* On the aligned complex object; ``frc_0p5`` and ``frc_half_bit``
    are the first crossings in cycles/pixel, NaN when the curve never
    crosses (the reason is in ``notes``) -- never a silent Nyquist.

    *Suspicious alignment.* A registration shift above
    ``SUSPICIOUS_SHIFT_FRACTION`` (10 %) of the compared region's side, on
    either axis, adds a note: a reconstruction on another grid, or a real
    array saved as the object, registers that way.

    *Scale.* ``amplitude_scale_error`` is :math:`|\ln s|` with
    :math:`s = |\sum O\,O_{gt}^*| / \sum |O_{gt}|^2`, the (registered,
    de-ramped, unscaled) reconstruction regressed on the truth: symmetric
    (a factor k and 1/k score the same) and unbiased under zero-mean noise
    in the reconstruction; inf for a zero reconstruction.

    *Degenerate inputs.* A zero or constant reconstruction or truth is
    compared without alignment (a note says which); metrics undefined for
    it (phases of a zero array, FRC and correlations of a constant one) are
    NaN with a note naming that array.

    References
    ----------
    .. [1] Z. Wang et al., IEEE Trans. Image Process. 13, 600 (2004).
       :doi:`10.1109/TIP.2003.819861`
    .. [2] M. van Heel, M. Schatz, J. Struct. Biol. 151, 250 (2005).
       :doi:`10.1016/j.jsb.2005.05.009`

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:192, :192]
    >>> truth = (1 + 0.2 * np.cos(x / 9)) * np.exp(1j * 0.1 * y)
    >>> report = evaluate(truth * np.exp(0.5j), truth)  # a global phase only
    >>> round(report.metrics["amplitude_ssim"], 9), round(report.metrics["phase_rmse"], 9)
    (1.0, 0.0)
    """
    align = check_bool(align, "align")
    size = check_pixel_size(pixel_size, pixel_unit)
    upsample_factor = check_int(upsample_factor, "upsample_factor", minimum=1)
    check_choice(scale, "scale", ("complex", "amplitude", None))
    if max_shift is not None:
        max_shift = check_real(
            max_shift, "max_shift", lo=0.0, expected="a positive finite number or None"
        )
    if ms_ssim_weights is not None:
        check_weights(ms_ssim_weights, "ms_ssim_weights")
    check_choice(real_as, "real_as", (*REAL_AS, None))
    r, t, m = _align.checked_pair(recon, truth, mask, real_as)
    # Scale-free metrics are computed in units of a power of two of the truth (exact),
    # so 1e+-200 objects neither overflow nor underflow; MAE/RMSE are scaled back.
    unit = power_of_two_scale(t, m)
    if unit != 1.0:
        r, t = rescaled(r, 1.0 / unit), rescaled(t, 1.0 / unit)
    out = _Collector()
    # The checked pair's bounds (finite test, unit, degeneracy), computed once for
    # the checks here and again in align()'s input checks (r, t are not written).
    with remembered_bounds(r, t):
        states = {"recon": _degenerate(r, m), "truth": _degenerate(t, m)}
        stuck = [f"{name} is {state}" for name, state in states.items() if state]
        if align and stuck:
            out.notes.append(
                f"alignment skipped: {' and '.join(stuck)} inside the compared pixels, so there "
                f"is no structure to register; compared as given"
            )
        if align and not stuck:
            # The pair is checked: align_checked() is align() without checking it again.
            al = _align.align_checked(
                r,
                t,
                m,
                upsample_factor=upsample_factor,
                scale=scale,
                remove_ramp=True,
                max_shift=max_shift,
            )
            aligned, region, params = al.aligned, al.region, al.as_dict()
            aligned_is_ours = True  # a new array that only this function holds
            modulus = al.complex_scale
            del al  # so that `del aligned` below frees it
        else:
            aligned, region, params = promoted(r), m, None
            aligned_is_ours = not np.may_share_memory(aligned, np.ma.getdata(recon))
            modulus = _complex_scale(r, t, m)
    del r
    _scale_error(out, modulus)
    _alignment_metrics(out, params)

    box = bounding_box(region)
    a, tb, reg = aligned[box], t[box], region[box]
    if aligned_is_ours and a.shape != aligned.shape:
        # A contiguous crop of our own, so that the FRC can overwrite it in place
        # (briefly two copies, while little else is held).
        a = np.ascontiguousarray(a)
    if params is not None:
        note = _shift_note(params["shift"], (int(reg.shape[0]), int(reg.shape[1])))
        out.notes.extend([note] if note else [])
    del aligned
    masked_input = isinstance(recon, np.ma.MaskedArray) or isinstance(truth, np.ma.MaskedArray)
    _check_region_fits(reg, given_mask=mask is not None or masked_input)
    full_box = bool(reg.all())
    if not full_box:
        out.notes.append(
            f"region is not rectangular: MS-SSIM and FRC use its bounding box with "
            f"{1.0 - reg.mean():.1%} of the pixels set to the truth in both images"
        )
    # Stages run in the order that keeps the peak memory lowest (amplitude, phase
    # error, FRC, phase maps: the FRC turns the aligned crop into its own
    # spectrum, one full-size array less); each collects its own notes, which
    # are merged in the report's order (FRC, phase error, amplitude, phase).
    # As above for the aligned crop: _no_power's and phase_error's checks of a, tb.
    amp_out, perr_out, frc_out, phase_out = _Collector(), _Collector(), _Collector(), _Collector()
    with remembered_bounds(a, tb):
        no_power = _no_power(a, tb, reg)

        t_amp = modulus_of(tb)
        r_amp = np.abs(a) if full_box else np.where(reg, np.abs(a), t_amp)
        # ssim, ms_ssim and their checks read the same two maps' bounds: once.
        with remembered_bounds(t_amp, r_amp):
            _real_pair_metrics(amp_out, "amplitude", t_amp, r_amp, reg, full_box, ms_ssim_weights)
        del t_amp, r_amp
        if unit != 1.0:
            amp_out.metrics["amplitude_mae"] *= unit
            amp_out.metrics["amplitude_rmse"] *= unit

        undefined = [n for n, state in states.items() if state == "zero"]
        if undefined:
            perr = None
            name = undefined[0]
            why = f"the phase of {name} is undefined: {name} is zero everywhere in the region"
            for key in ("phase_mae", "phase_rmse", "phase_max"):
                perr_out.set(key, math.nan, why)
        else:
            perr = phase_error(a, tb, mask=reg)
            perr_out.set("phase_mae", perr.mae)
            perr_out.set("phase_rmse", perr.rmse)
            perr_out.set("phase_max", perr.max)

    # Where `a` is an aligned crop only this function holds, the FRC may overwrite it.
    fourier = frc_of_checked(
        a if full_box else np.where(reg, a, tb),
        tb,
        "hann",
        TUKEY_ALPHA,  # frc()'s default; unused by the Hann window
        size,
        pixel_unit,
        overwrite_a=aligned_is_ours or not full_box,
    )
    del a
    _frc_metrics(frc_out, fourier, no_power)

    if perr is None:
        for key in ("phase_ssim", "phase_pearson"):
            phase_out.set(key, math.nan, why)
    else:
        t_phase, residues = _continuous_truth_phase(tb, reg)
        given_mask = mask is not None or masked_input
        _residue_notes(phase_out, residues, perr.residues, given_mask=given_mask)
        r_phase = t_phase + perr.residual
        with remembered_bounds(t_phase, r_phase):
            _real_pair_metrics(phase_out, "phase", t_phase, r_phase, reg, full_box)
        del t_phase, r_phase
    for stage in (frc_out, perr_out, amp_out, phase_out):
        out.metrics.update(stage.metrics)
        out.notes.extend(stage.notes)

    return QualityReport(
        metrics={key: out.metrics[key] for key in EVALUATE_METRICS},
        directions={key: METRICS[key].direction for key in EVALUATE_METRICS},
        frc=fourier,
        alignment=params,
        region_shape=(int(reg.shape[0]), int(reg.shape[1])),
        n_compared=int(np.count_nonzero(reg)),
        notes=tuple(out.notes),
    )


def _degenerate(obj: np.ndarray, mask: np.ndarray) -> str:
    """``"zero"`` or ``"constant"`` if ``obj`` is so inside ``mask`` (to rounding), else ``""``."""
    return degeneracy(obj, FLAT_RELATIVE_RANGE, where=None if mask.all() else mask)


def _no_power(a: np.ndarray, tb: np.ndarray, reg: np.ndarray) -> str:
    """Which image has no power beyond DC in the compared box (constant there), if any."""
    for name, image in (("recon", a), ("truth", tb)):
        if _degenerate(image, reg):
            return f"{name} is constant in the compared box, so it has no power beyond DC"
    return ""


def _scale_error(out: _Collector, modulus: float) -> None:
    """``amplitude_scale_error = |ln s|``: symmetric (k and 1/k score the same)."""
    if math.isnan(modulus):
        out.set("amplitude_scale_error", math.nan, "truth is zero in the region: no scale")
        return
    if modulus == 0.0 or math.isinf(modulus):
        out.metrics["amplitude_scale_error"] = math.inf
        out.notes.append(
            "amplitude_scale_error is inf: recon is zero (or uncorrelated with truth) in "
            "the region, so no finite scale maps it onto the truth"
        )
        return
    out.set("amplitude_scale_error", abs(math.log(modulus)))


def _check_region_fits(reg: np.ndarray, *, given_mask: bool) -> None:
    """Raise, in the caller's terms, when the compared region is too small for a metric."""
    win = UNIFORM_WIN_SIZE
    fits = min(reg.shape) >= win
    if fits and not reg.all():
        inside = ndimage.minimum_filter(reg.view(np.uint8), size=win, mode="constant", cval=0)
        fits = bool(inside.any())
    if fits:
        return
    where = "mask" if given_mask else "recon and truth"
    msg = (
        f"{where} must leave a compared region holding a {win}x{win} square (after the "
        f"edges wrapped by the alignment shift are excluded): amplitude_ssim and phase_ssim "
        f"need one {win}x{win} window entirely inside it (frc a {4}x{4} box, "
        f"amplitude_ms_ssim {GAUSSIAN_WIN_SIZE}x{GAUSSIAN_WIN_SIZE} for one scale), got "
        f"{int(np.count_nonzero(reg))} pixels in a {reg.shape[0]}x{reg.shape[1]} box"
    )
    raise QualityInputError(msg)


def _residue_notes(
    out: _Collector, truth_residues: int, residual: int, *, given_mask: bool
) -> None:
    for name, count in (("the truth's phase", truth_residues), ("the residual phase", residual)):
        if not count:
            continue
        if given_mask:
            advice = (
                "the given mask includes pixels without a reliable phase (noise or vacuum?): "
                "tighten it to the object support"
            )
        else:
            advice = "noise or vacuum?; pass a mask of the object support"
        out.notes.append(
            f"{name} has {count} residues in the compared box: its unwrapping depends on "
            f"the path there ({advice})"
        )


def _alignment_metrics(out: _Collector, params: dict[str, Any] | None) -> None:
    """How far alignment had to move the reconstruction: shift (px) and ramp (rad/px).

    A pipeline that knows its scan geometry should need a fraction of a pixel
    and no ramp; a gate on these catches a global shift or a coordinate bug
    that alignment would otherwise remove silently.
    """
    why = "evaluate(align=False) estimates no alignment"
    shift = math.nan if params is None else math.hypot(*params["shift"])
    ramp = math.nan if params is None else math.hypot(*params["phase_ramp"])
    out.set("alignment_shift_px", shift, why)
    out.set("alignment_ramp", ramp, why)


def _complex_scale(recon: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    """``1 / |beta|``, beta = sum recon truth* / sum |truth|^2 (recon regressed on truth).

    Unbiased under zero-mean noise in recon (the noise power never enters);
    inf for a zero recon, NaN for a zero truth.
    """
    full = region.all()
    # Sums one block of rows at a time, in complex128 (a complex64 pair is
    # promoted exactly per block).
    power, cross_sum = 0.0, 0j
    for rows in row_blocks(truth.shape):
        r_in, t_in = promoted(recon[rows]), promoted(truth[rows])
        if not full:
            r_in = np.where(region[rows], r_in, 0)
            t_in = np.where(region[rows], t_in, 0)
        power += np.vdot(t_in, t_in).real
        cross_sum += np.vdot(t_in, r_in)
    cross = abs(cross_sum)
    if power == 0:
        return math.nan
    return power / cross if cross > 0 else math.inf
