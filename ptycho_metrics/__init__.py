"""ptycho-metrics: numbers about a ptychographic reconstruction against its ground truth.

Metrics (SSIM, MS-SSIM, PSNR, FRC, unwrapped phase error), removal of the
ambiguities ptychography leaves (global phase, phase ramp, sub-pixel shift,
scale), input checks with actionable errors, and :func:`evaluate`, which runs
them all and returns a :class:`QualityReport`.

This package never imports torch or Lightning; the reference pipeline lives in
:mod:`ptycho_metrics.pipeline` and uses the public functions here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._align import Alignment, align
    from ._checks import QualityInputError, check_reconstruction
    from ._curve import convergence_metrics, epochs_to_reach
    from ._frc import FRCResolution, FRCResult, frc
    from ._kernels import KernelFallbackWarning, kernels
    from ._many import ManyReport, Pair, PairResult, evaluate_many
    from ._mask import scan_mask
    from ._metadata import METRICS, MetricInfo, metric_direction
    from ._phase import PhaseError, phase_error
    from ._report import QualityReport, evaluate
    from ._ssim import ms_ssim, psnr, ssim

# Public names are imported on first use (PEP 562): the pytest plugin is loaded
# by every pytest session of an environment where this package is installed,
# and importing SciPy and scikit-image eagerly cost ~1.1 s there (measured with
# python -X importtime).
_LAZY = {
    "Alignment": "._align",
    "align": "._align",
    "QualityInputError": "._checks",
    "check_reconstruction": "._checks",
    "convergence_metrics": "._curve",
    "epochs_to_reach": "._curve",
    "FRCResolution": "._frc",
    "FRCResult": "._frc",
    "frc": "._frc",
    "kernels": "._kernels",
    "KernelFallbackWarning": "._kernels",
    "scan_mask": "._mask",
    "evaluate_many": "._many",
    "ManyReport": "._many",
    "Pair": "._many",
    "PairResult": "._many",
    "METRICS": "._metadata",
    "MetricInfo": "._metadata",
    "metric_direction": "._metadata",
    "PhaseError": "._phase",
    "phase_error": "._phase",
    "QualityReport": "._report",
    "evaluate": "._report",
    "ms_ssim": "._ssim",
    "psnr": "._ssim",
    "ssim": "._ssim",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'ptycho_metrics' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "METRICS",
    "Alignment",
    "FRCResolution",
    "FRCResult",
    "KernelFallbackWarning",
    "ManyReport",
    "MetricInfo",
    "Pair",
    "PairResult",
    "PhaseError",
    "QualityInputError",
    "QualityReport",
    "align",
    "check_reconstruction",
    "convergence_metrics",
    "epochs_to_reach",
    "evaluate",
    "evaluate_many",
    "frc",
    "kernels",
    "metric_direction",
    "ms_ssim",
    "phase_error",
    "psnr",
    "scan_mask",
    "ssim",
]
