"""One call that checks, aligns and measures a reconstruction: :func:`evaluate`.

Every metric comes from the public functions of this package; this module
only decides what is compared with what (the region, the data ranges, the
continuous phase maps) and collects the numbers into a :class:`QualityReport`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _align
from ._align import bounding_box
from ._checks import QualityInputError, as_complex_2d, check_reconstruction, check_same_shape
from ._frc import Criterion, FRCResult, frc
from ._metadata import METRICS
from ._phase import as_mask, phase_error, unwrap
from ._ssim import MS_SSIM_WEIGHTS, ms_ssim, psnr, ssim
from ._threads import blas_single_threaded

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["QualityReport", "evaluate"]

#: Version of the layout written by :meth:`QualityReport.to_dict`.
REPORT_SCHEMA = 1

_TWO_PI = 2.0 * np.pi


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class QualityReport:
    """Metrics of one reconstruction against its ground truth.

    Attributes
    ----------
    metrics : dict of str to float
        One value per key of :data:`ptycho_metrics.METRICS`. NaN when a metric
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

    def finite_metrics(self) -> dict[str, float]:
        """The finite metrics: what a golden-reference gate can store and compare.

        An FRC that never crosses its threshold (NaN) or the PSNR of identical
        amplitudes (inf) is left out. The quality gate checks key sets both
        ways, so a metric that is finite in the golden and not in a later run
        (or the reverse) still fails the gate, naming it: a change of state is
        never silent.
        """
        return {k: v for k, v in self.metrics.items() if math.isfinite(v)}

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON (NaN and infinity written as null)."""
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
        fig = path_or_fig if isinstance(path_or_fig, Figure) else Figure(figsize=(10, 4))
        ax_frc, ax_text = fig.subplots(1, 2)
        self.frc.plot(ax_frc)
        ax_text.axis("off")
        ax_text.text(0.0, 1.0, self.format_table(), family="monospace", va="top", fontsize=7)
        if not isinstance(path_or_fig, Figure):
            fig.savefig(path_or_fig)
        return fig


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN when either input is constant."""
    dx = x - x.mean()
    dy = y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / denom if denom > 0 else math.nan


def _continuous_truth_phase(truth: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, int]:
    """Unwrapped truth phase, shifted by 2 pi k to a region mean in [-pi, pi), and its residues.

    SSIM's luminance term depends on the absolute level, so the 2 pi k left
    free by unwrapping is fixed here once, reproducibly.
    """
    phase, residues = unwrap(np.angle(truth))
    k = np.floor((phase[region].mean() + np.pi) / _TWO_PI)
    return phase - _TWO_PI * k, residues


class _Collector:
    """Metrics and the notes that explain their NaNs."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.notes: list[str] = []

    def set(self, key: str, value: float, why_nan: str = "") -> None:
        self.metrics[key] = float(value)
        if math.isnan(value) and why_nan:
            self.notes.append(f"{key} is NaN: {why_nan}")


#: A truth range below this fraction of its magnitude is rounding, not contrast
#: (|exp(i phi)| varies by ~1e-16): the map counts as constant.
FLAT_RELATIVE_RANGE = 1e-10


def _range(values: np.ndarray) -> float:
    """max - min, or 0.0 when that is below rounding level."""
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    return span if span > FLAT_RELATIVE_RANGE * max(abs(lo), abs(hi)) else 0.0


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
    tv = truth[region] if not full_box else truth.ravel()
    rv = recon[region] if not full_box else recon.ravel()
    data_range = _range(tv)
    flat = f"the truth's {kind} is constant in the region (data_range 0 up to rounding)"
    out.set(f"{kind}_pearson", _pearson(tv, rv) if data_range > 0 else math.nan, flat)
    if kind == "amplitude":
        diff = np.abs(tv - rv)
        out.set("amplitude_mae", float(diff.mean()))
        out.set("amplitude_rmse", float(np.sqrt(np.vdot(diff, diff) / diff.size)))
        del diff
        # PSNR over exactly the region's pixels: a 1 x n image is the same sum.
        value = psnr(tv[None], rv[None], data_range=data_range) if data_range > 0 else math.nan
        out.set("amplitude_psnr", value, flat)
    del tv, rv
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


def _frc_metrics(out: _Collector, result: FRCResult) -> None:
    criteria: tuple[tuple[str, Criterion], ...] = (("frc_0p5", 0.5), ("frc_half_bit", "half-bit"))
    for key, criterion in criteria:
        res = result.resolution(criterion)
        out.set(key, res.frequency, res.reason)
    # The crossings are NaN for a reconstruction good up to Nyquist (common against a
    # noise-free truth); the mean over the rings beyond DC is always defined.
    rings = (result.frequency > 0) & np.isfinite(result.correlation)
    mean = float(result.correlation[rings].mean()) if rings.any() else math.nan
    out.set("frc_mean", mean, "no ring beyond DC has power in both images")


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
) -> QualityReport:
    r"""Check, align and measure a reconstruction against its ground truth.

    Parameters
    ----------
    recon, truth : array_like
        Complex 2-D objects of the same shape (real input is promoted to
        complex). Checked with :func:`check_reconstruction`.
    mask : array_like of bool, optional
        Pixels of the truth's frame to compare (e.g. the scanned area).
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

    Returns
    -------
    QualityReport
        With exactly the metrics of :data:`ptycho_metrics.METRICS`.

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

    *Scale.* ``amplitude_scale_error`` is :math:`\big||\alpha| - 1\big|`
    for the least-squares complex factor
    :math:`\alpha = \sum O^* O_{gt} / \sum |O|^2` that maps the
    (registered, de-ramped, unscaled) reconstruction onto the truth.

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
    r, t, m = _checked_inputs(recon, truth, mask)
    out = _Collector()
    if align:
        al = _align.align(
            r, t, mask=m, upsample_factor=upsample_factor, scale=scale, max_shift=max_shift
        )
        aligned, region, params = al.aligned, al.region, al.as_dict()
        modulus = al.complex_scale
        del al  # so that `del aligned` below frees it
    else:
        aligned, region, params = r, m, None
        modulus = _complex_scale(r, t, m)
    del r
    out.set("amplitude_scale_error", abs(modulus - 1.0), "the reconstruction is zero in the region")

    box = bounding_box(region)
    a, tb, reg = aligned[box], t[box], region[box]
    del aligned
    full_box = bool(reg.all())
    if not full_box:
        out.notes.append(
            f"region is not rectangular: MS-SSIM and FRC use its bounding box with "
            f"{1.0 - reg.mean():.1%} of the pixels set to the truth in both images"
        )
    fourier = frc(
        a if full_box else np.where(reg, a, tb), tb, pixel_size=pixel_size, pixel_unit=pixel_unit
    )
    _frc_metrics(out, fourier)
    perr = phase_error(a, tb, mask=reg)
    out.set("phase_mae", perr.mae)
    out.set("phase_rmse", perr.rmse)
    out.set("phase_max", perr.max)

    t_amp = np.abs(tb)
    r_amp = np.abs(a) if full_box else np.where(reg, np.abs(a), t_amp)
    del a
    _real_pair_metrics(out, "amplitude", t_amp, r_amp, reg, full_box, ms_ssim_weights)
    del t_amp, r_amp
    t_phase, residues = _continuous_truth_phase(tb, reg)
    for name, count in (("the truth's phase", residues), ("the residual phase", perr.residues)):
        if count:
            out.notes.append(
                f"{name} has {count} residues in the compared box: its unwrapping depends on "
                f"the path there (noise or vacuum?); pass a mask of the object support"
            )
    _real_pair_metrics(out, "phase", t_phase, t_phase + perr.residual, reg, full_box)

    return QualityReport(
        metrics={key: out.metrics[key] for key in METRICS},
        directions={key: info.direction for key, info in METRICS.items()},
        frc=fourier,
        alignment=params,
        region_shape=(int(reg.shape[0]), int(reg.shape[1])),
        n_compared=int(np.count_nonzero(reg)),
        notes=tuple(out.notes),
    )


def _checked_inputs(
    recon: npt.ArrayLike, truth: npt.ArrayLike, mask: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """recon and truth as complex128 (checked, same shape) and the boolean mask."""
    # Convert once (a copy only for other dtypes), then check the converted arrays:
    # the same messages without converting complex64 input twice.
    r = as_complex_2d(recon, "recon", finite=False)
    t = as_complex_2d(truth, "truth", finite=False)
    check_reconstruction(r, name="recon")
    check_reconstruction(t, name="truth")
    check_same_shape(r, t, ("recon", "truth"))
    return r, t, as_mask(mask, t.shape)


def _complex_scale(recon: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    """``|alpha|`` of the least-squares complex factor recon -> truth; NaN for a zero recon."""
    within = recon if region.all() else np.where(region, recon, 0)
    power = np.vdot(within, within).real
    return abs(np.vdot(within, truth)) / power if power > 0 else math.nan
