"""ptycho-metrics: numbers about a ptychographic reconstruction against its ground truth.

Metrics (SSIM, MS-SSIM, PSNR, FRC, unwrapped phase error), removal of the
ambiguities ptychography leaves (global phase, phase ramp, sub-pixel shift,
scale), input checks with actionable errors, and :func:`evaluate`, which runs
them all and returns a :class:`QualityReport`.

This package never imports torch or Lightning; the reference pipeline lives in
:mod:`ptycho_metrics.pipeline` and uses the public functions here.
"""

from __future__ import annotations

from ._align import Alignment, align
from ._checks import QualityInputError, check_reconstruction
from ._frc import FRCResolution, FRCResult, frc
from ._metadata import METRICS, MetricInfo, metric_direction
from ._phase import PhaseError, phase_error
from ._report import QualityReport, evaluate
from ._ssim import ms_ssim, psnr, ssim

__version__ = "0.1.0"

__all__ = [
    "METRICS",
    "Alignment",
    "FRCResolution",
    "FRCResult",
    "MetricInfo",
    "PhaseError",
    "QualityInputError",
    "QualityReport",
    "align",
    "check_reconstruction",
    "evaluate",
    "frc",
    "metric_direction",
    "ms_ssim",
    "phase_error",
    "psnr",
    "ssim",
]
