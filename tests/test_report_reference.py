"""evaluate() reproduces its stored float64 reference values within 1e-9.

``tests/evaluate_reference.json`` was written by ``tools/make_evaluate_reference.py``
(provenance inside: commit, library versions) from the seeded cases of
``tests/evaluate_cases.py``. Numerical rewrites of the metric internals
(issue #13: FFT reuse, fused SSIM moments, cropping, ...) must keep every
number, the FRC curve and the alignment parameters included, within
``ABS_TOL`` of it; notes and counts must be equal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from evaluate_cases import CASES

from ptycho_metrics import _kernels, evaluate

REFERENCE = Path(__file__).with_name("evaluate_reference.json")

#: Issue #13's bound for the float64 path; reordering sums moves values by ~1e-15.
ABS_TOL = 1e-9


def _differences(new: Any, ref: Any, path: str) -> list[str]:
    if isinstance(ref, dict):
        if not isinstance(new, dict) or set(new) != set(ref):
            got = sorted(new) if isinstance(new, dict) else new
            return [f"{path}: keys {got!r} != {sorted(ref)}"]
        return [d for k in ref for d in _differences(new[k], ref[k], f"{path}.{k}")]
    if isinstance(ref, list):
        if not isinstance(new, list) or len(new) != len(ref):
            return [f"{path}: length {len(new) if isinstance(new, list) else new!r} != {len(ref)}"]
        pairs = enumerate(zip(new, ref, strict=True))
        return [d for i, (n, r) in pairs for d in _differences(n, r, f"{path}[{i}]")]
    if isinstance(ref, float) and not isinstance(new, bool) and isinstance(new, (int, float)):
        if math.isfinite(ref) and abs(new - ref) <= ABS_TOL:
            return []
        return [f"{path}: {new!r} != {ref!r} (diff {new - ref:.3g})"]
    return [] if new == ref and type(new) is type(ref) else [f"{path}: {new!r} != {ref!r}"]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def test_reference_covers_every_case_and_has_provenance(reference):
    assert set(reference["cases"]) == set(CASES)
    prov = reference["provenance"]
    assert prov["command"] == "python tools/make_evaluate_reference.py"
    assert len(prov["commit"]) == 40
    assert {"numpy", "scipy", "scikit-image"} <= set(prov["versions"])


@pytest.mark.parametrize(
    "kernels",
    [
        "numpy",
        pytest.param(
            "numba",
            marks=pytest.mark.skipif(not _kernels.available(), reason="no numba ([fast])"),
        ),
    ],
)
@pytest.mark.parametrize("name", list(CASES))
def test_evaluate_matches_reference(reference, name, kernels):
    recon, truth, kwargs = CASES[name]()
    with _kernels.kernels(kernels):  # the small cases take the NumPy path in "auto"
        new = evaluate(recon, truth, **kwargs).to_dict()
    assert _differences(new, reference["cases"][name], name) == []


def test_comparison_catches_a_change():
    ref = {"m": {"a": 0.5, "b": None}, "notes": ["x"], "n": 3}
    assert _differences(ref, ref, "r") == []
    assert _differences({"m": {"a": 0.5 + 2e-9, "b": None}, "notes": ["x"], "n": 3}, ref, "r")
    assert _differences({"m": {"a": 0.5, "b": 1.0}, "notes": ["x"], "n": 3}, ref, "r")
    assert _differences({"m": {"a": 0.5}, "notes": ["x"], "n": 3}, ref, "r")
    assert _differences({"m": {"a": 0.5, "b": None}, "notes": ["y"], "n": 3}, ref, "r")
    assert _differences({"m": {"a": 0.5, "b": None}, "notes": ["x"], "n": 3.0}, ref, "r")
