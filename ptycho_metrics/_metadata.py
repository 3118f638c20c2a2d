"""The one place where every reported metric declares its direction and unit.

The quality gate reads :data:`METRICS` to know what "worse" means; nothing
else in the project keeps a table of directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._checks import QualityInputError

__all__ = [
    "EVALUATE_METRICS",
    "METRICS",
    "Direction",
    "MetricInfo",
    "MetricSource",
    "metric_direction",
]

Direction = Literal["higher", "lower"]
#: Who computes a metric: :func:`ptycho_metrics.evaluate` from one reconstruction, or
#: :func:`ptycho_metrics.convergence_metrics` from a learning curve of evaluations.
MetricSource = Literal["evaluate", "curve"]


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric in :attr:`QualityReport.metrics`.

    Attributes
    ----------
    name : str
        Key in the metrics dict.
    direction : {"higher", "lower"}
        ``"higher"`` when a larger value is a better reconstruction.
    unit : str
        Unit of the value ("1" for dimensionless).
    description : str
        One line for reports and docs.
    source : {"evaluate", "curve"}
        ``"evaluate"`` for a key of :attr:`QualityReport.metrics`; ``"curve"``
        for a metric derived from a learning curve (:func:`convergence_metrics`).
    """

    name: str
    direction: Direction
    unit: str
    description: str
    source: MetricSource = "evaluate"

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"


def _info(
    name: str,
    direction: Direction,
    unit: str,
    description: str,
    *,
    source: MetricSource = "evaluate",
) -> MetricInfo:
    return MetricInfo(name, direction, unit, description, source)


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _info("amplitude_ssim", "higher", "1", "SSIM of aligned amplitude (7x7 uniform, skimage)"),
        _info("phase_ssim", "higher", "1", "SSIM of continuous (unwrapped) phase maps"),
        _info("amplitude_ms_ssim", "higher", "1", "MS-SSIM of aligned amplitude (Wang 2003)"),
        _info("amplitude_psnr", "higher", "dB", "PSNR of amplitude, L = truth max - min"),
        _info("amplitude_mae", "lower", "a.u.", "mean absolute amplitude error"),
        _info("amplitude_rmse", "lower", "a.u.", "root-mean-square amplitude error"),
        _info("amplitude_pearson", "higher", "1", "Pearson correlation of amplitudes"),
        _info("phase_mae", "lower", "rad", "mean absolute unwrapped residual phase"),
        _info("phase_rmse", "lower", "rad", "RMS unwrapped residual phase"),
        _info("phase_max", "lower", "rad", "max absolute unwrapped residual phase"),
        _info("phase_pearson", "higher", "1", "Pearson correlation of continuous phases"),
        _info("frc_0p5", "higher", "cycles/pixel", "FRC crossing of the 0.5 threshold"),
        _info("frc_half_bit", "higher", "cycles/pixel", "FRC crossing of the half-bit threshold"),
        _info("frc_mean", "higher", "1", "mean FRC over the rings from DC (excluded) to Nyquist"),
        _info(
            "amplitude_scale_error",
            "lower",
            "1",
            "|ln s|, s = |sum O O_gt*| / sum |O_gt|^2 (recon regressed on truth): symmetric "
            "(k and 1/k score the same), unbiased under zero-mean noise in recon",
        ),
        _info(
            "epochs_to_amplitude_ssim_0p95",
            "lower",
            "epochs",
            "training epochs until amplitude SSIM first reaches 0.95 (linear interpolation)",
            source="curve",
        ),
        _info(
            "alignment_shift_px",
            "lower",
            "pixel",
            "length of the sub-pixel translation alignment removed, hypot(dy, dx)",
        ),
        _info(
            "alignment_ramp",
            "lower",
            "rad/pixel",
            "length of the linear phase ramp alignment removed, hypot(gy, gx)",
        ),
    )
}

#: The keys of :attr:`QualityReport.metrics`, in order: every metric :func:`evaluate` computes.
EVALUATE_METRICS: tuple[str, ...] = tuple(k for k, m in METRICS.items() if m.source == "evaluate")


def metric_direction(name: str) -> Direction:
    """Return ``"higher"`` or ``"lower"`` for a metric of :data:`METRICS`.

    Raises
    ------
    QualityInputError
        When ``name`` is not a known metric; the message lists the known ones.
    """
    info = METRICS.get(name) if isinstance(name, str) else None
    if info is None:
        known = ", ".join(sorted(METRICS))
        msg = f"metric name must be one of {known}; got {name!r} ({type(name).__name__})"
        raise QualityInputError(msg)
    return info.direction
