"""Former home of the ``quality_gate`` plugin, kept so old imports work.

The plugin is :mod:`ptycho_metrics.gate.plugin` (the ``pytest11`` entry point).
This module registers no hooks or fixtures; it only re-exports the public names.
"""

from __future__ import annotations

from .gate.plugin import QualityGate, golden_path_for

__all__ = ["QualityGate", "golden_path_for"]
