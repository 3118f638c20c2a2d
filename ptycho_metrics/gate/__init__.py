"""The quality gate: golden references for reconstruction metrics, in one place.

- :mod:`._engine`: the comparison (one-sided, per-metric absolute and relative
  tolerances), contracts, golden files, environment fingerprint;
- :mod:`.plugin`: the ``quality_gate`` pytest fixture (``pytest11`` entry point);
- :mod:`.report`: the failure report (HTML, JSON summary, ``.obtained`` goldens);
- :mod:`.review`: ``ptycho-metrics goldens status | diff | update``;
- :mod:`._ci`: the one CI rule (``CI`` unset, empty, ``0`` or ``false`` is not CI).

Public names are imported on first use (PEP 562): pytest imports
:mod:`ptycho_metrics.gate.plugin` in every session of an environment where
this package is installed, which imports this ``__init__`` first; it must
cost nothing until the gate is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._ci import REVIEW_COMMAND, in_ci
    from ._engine import (
        CURVE_INFO_KEY,
        DEFAULT_REL_TOLERANCES,
        DEFAULT_TOLERANCES,
        GOLDEN_FORMAT_VERSION,
        REGEN_HINT,
        ContractChange,
        GateConfigError,
        GateDirection,
        GateResult,
        GateRow,
        Golden,
        RatchetWarning,
        compare_contract,
        compare_metrics,
        describe_info_changes,
        dumps_golden,
        effective_tolerance,
        environment_fingerprint,
        fingerprint_diff,
        format_contract_changes,
        format_fingerprint,
        load_golden,
        load_golden_text,
        normalize_contract,
        resolve_directions,
        resolve_rel_tolerances,
        resolve_tolerances,
        validate_metrics,
    )

_LAZY = {
    "CURVE_INFO_KEY": "._engine",
    "describe_info_changes": "._engine",
    "DEFAULT_REL_TOLERANCES": "._engine",
    "resolve_rel_tolerances": "._engine",
    "effective_tolerance": "._engine",
    "load_golden_text": "._engine",
    "in_ci": "._ci",
    "REVIEW_COMMAND": "._ci",
    "DEFAULT_TOLERANCES": "._engine",
    "GOLDEN_FORMAT_VERSION": "._engine",
    "REGEN_HINT": "._engine",
    "ContractChange": "._engine",
    "GateConfigError": "._engine",
    "GateDirection": "._engine",
    "GateResult": "._engine",
    "GateRow": "._engine",
    "Golden": "._engine",
    "RatchetWarning": "._engine",
    "compare_contract": "._engine",
    "compare_metrics": "._engine",
    "dumps_golden": "._engine",
    "environment_fingerprint": "._engine",
    "fingerprint_diff": "._engine",
    "format_contract_changes": "._engine",
    "format_fingerprint": "._engine",
    "load_golden": "._engine",
    "normalize_contract": "._engine",
    "resolve_directions": "._engine",
    "resolve_tolerances": "._engine",
    "validate_metrics": "._engine",
}

__all__ = [
    "CURVE_INFO_KEY",
    "DEFAULT_REL_TOLERANCES",
    "DEFAULT_TOLERANCES",
    "GOLDEN_FORMAT_VERSION",
    "REGEN_HINT",
    "REVIEW_COMMAND",
    "ContractChange",
    "GateConfigError",
    "GateDirection",
    "GateResult",
    "GateRow",
    "Golden",
    "RatchetWarning",
    "compare_contract",
    "compare_metrics",
    "describe_info_changes",
    "dumps_golden",
    "effective_tolerance",
    "environment_fingerprint",
    "fingerprint_diff",
    "format_contract_changes",
    "format_fingerprint",
    "in_ci",
    "load_golden",
    "load_golden_text",
    "normalize_contract",
    "resolve_directions",
    "resolve_rel_tolerances",
    "resolve_tolerances",
    "validate_metrics",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'ptycho_metrics.gate' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
