"""Quality-gate engine: compare metrics against a golden reference, one-sided.

Pure functions, no pytest: the ``quality_gate`` fixture
(:mod:`ptycho_metrics.gate.plugin`), the tests and the review command
all call :func:`compare_metrics`, :func:`compare_contract` and the golden-file
helpers here.

A golden file is JSON with sorted keys and ``repr``-exact floats, holding three
blocks: ``metrics`` (name -> finite float), ``contract`` (what must be equal
for the metrics to be comparable: fixture sha256, seed, epochs, model
configuration, thread count, ...) and ``fingerprint`` (the environment that
made it; shown on failure, never compared strictly), and optionally ``info``
(the FRC curve, the learning curve: drawn in the failure report, summarised in
one line by the review command, never compared). Tolerances
are *not* in the golden: they live in :data:`DEFAULT_TOLERANCES` (absolute) and
:data:`DEFAULT_REL_TOLERANCES` (relative) or are passed by the caller, so
regenerating a golden cannot loosen them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from .._checks import QualityInputError
from .._metadata import METRICS
from ._ci import REVIEW_COMMAND

__all__ = [
    "CURVE_INFO_KEY",
    "DEFAULT_REL_TOLERANCES",
    "DEFAULT_TOLERANCES",
    "GOLDEN_FORMAT_VERSION",
    "REGEN_HINT",
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
    "environment_fingerprint",
    "fingerprint_diff",
    "format_contract_changes",
    "format_fingerprint",
    "load_golden",
    "load_golden_text",
    "normalize_contract",
    "resolve_directions",
    "resolve_rel_tolerances",
    "resolve_tolerances",
    "validate_metrics",
]

GateDirection = Literal["higher", "lower", "exact", "two-sided"]
Verdict = Literal["ok", "better", "worse", "changed", "missing", "extra", "not finite"]

_DIRECTIONS: tuple[str, ...] = ("higher", "lower", "exact", "two-sided")
_FAILING: frozenset[str] = frozenset({"worse", "changed", "missing", "extra", "not finite"})
_VERDICT_TEXT = {
    "worse": "worse beyond tolerance",
    "changed": "changed beyond tolerance",
    "missing": "in the golden, missing from this run",
    "extra": "in this run, absent from the golden",
    "not finite": "not finite",
}

GOLDEN_FORMAT_VERSION = 1

REGEN_HINT = (
    f"If the change is intended, review it with `{REVIEW_COMMAND} diff` and update the "
    f"goldens with `{REVIEW_COMMAND} update --reason '...'` (add --allow-worse for a metric "
    "that got worse); never in CI."
)

#: Absolute tolerance per metric of :data:`ptycho_metrics.METRICS`, in the
#: metric's unit: ``max(floor, 3 x spread)`` rounded up to two digits, on the
#: reference pipeline's **default** fixture (``tests/quality`` passes
#: phase_wrap's own). *spread* is the range (max - min) of the metric over
#: runs that differ only in float rounding, the contract (seed, epochs, lr,
#: threads) unchanged: the gate's own run (1 thread, AVX2), ``--threads 2``,
#: ``ATEN_CPU_CAPABILITY=default`` and the previous golden made on an
#: AVX-512 CPU. Reruns are bit-identical, other seeds are a contract change.
#: *floor* is the smallest difference the metric resolves (1e-4 for scores
#: on [0, 1], 0.01 dB, 0.02 px = two registration steps, ...), not a share of
#: its scale. Measured 2026-12-01 with ``tools/measure_spread.py``
#: (torch 2.13.0+cpu, 24 epochs); table and floors: ``docs/quality-gate.md``.
#: Sized on one pipeline: gate yours with tolerances measured on its runs.
DEFAULT_TOLERANCES: Mapping[str, float] = MappingProxyType(
    {
        "amplitude_ssim": 0.0016,  # spread 5.3e-4
        "phase_ssim": 0.00015,  # spread 4.8e-5
        "amplitude_ms_ssim": 0.0001,  # floor (spread 1.9e-5)
        "amplitude_psnr": 0.78,  # dB, spread 0.259
        "amplitude_mae": 0.00021,  # spread 6.9e-5
        "amplitude_rmse": 0.00064,  # spread 2.1e-4
        "amplitude_pearson": 0.00032,  # spread 1.05e-4
        "phase_mae": 0.00018,  # rad, spread 5.8e-5
        "phase_rmse": 0.00056,  # rad, spread 1.85e-4
        "phase_max": 0.084,  # rad, spread 0.0279 (one pixel's extreme)
        "phase_pearson": 0.0001,  # floor (spread 7.8e-6)
        "frc_0p5": 0.004,  # cycles/pixel, floor (half a ring at 128 px); not measurable
        "frc_half_bit": 0.004,  # cycles/pixel, floor (half a ring at 128 px); not measurable
        "frc_mean": 0.00069,  # spread 2.3e-4
        # |ln s| (since issue #11), re-measured 2026-12-01: spread 8.4e-6 over 4 runs on one
        # AVX2 CPU (1/2 threads, ATEN default, NumPy baseline); the old definition's was 1.7e-5.
        "amplitude_scale_error": 2.6e-05,
        "alignment_shift_px": 0.02,  # px, floor: two 0.01 px registration steps (spread 0)
        "alignment_ramp": 0.0001,  # rad/px, floor (spread 1.9e-5)
        # epochs, from the learning curve (tests/quality/test_convergence.py), measured
        # 2026-12-01: 3 x spread 0.0548 over seed 0 with 1 and 2 threads and with
        # ATEN_CPU_CAPABILITY=default on an AVX-512 and an AVX2 CPU (3.3379-3.3927;
        # each CPU alone 0.0528; reruns bit-identical); floor 0.1. Seeds 1-2 (2.89,
        # 3.05) are shown in docs but left out: the seed is in the contract.
        "epochs_to_amplitude_ssim_0p95": 0.17,
    }
)


#: Relative tolerance per metric (a fraction of ``|golden|``); the effective
#: tolerance is ``max(absolute, relative * |golden|)``. Empty: the measured
#: spread behind :data:`DEFAULT_TOLERANCES` is absolute, and no metric was
#: measured to scale with its value. Callers pass ``rel_tolerances=`` for their own.
DEFAULT_REL_TOLERANCES: Mapping[str, float] = MappingProxyType({})


class GateConfigError(QualityInputError):
    """A metric the gate cannot judge: unknown direction, missing or bad tolerance, bad value."""


class RatchetWarning(UserWarning):
    """A metric improved beyond its tolerance: consider regenerating the golden (ratchet)."""


# ----------------------------------------------------------------------------- inputs


def _as_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        msg = f"{what} must be a real number, got {type(value).__name__}: {value!r}"
        raise GateConfigError(msg)
    return float(value)


def validate_metrics(metrics: Mapping[str, Any], *, name: str = "metrics") -> dict[str, float]:
    """Return ``metrics`` as a new ``dict[str, float]``; refuse NaN, Inf and non-numbers.

    Raises
    ------
    GateConfigError
        When ``metrics`` is not a non-empty mapping of str to real numbers, or
        holds NaN or Inf (a non-finite value is never written to a golden nor
        accepted); the message names every offending metric.
    """
    if not isinstance(metrics, Mapping) or not metrics:
        msg = f"{name} must be a non-empty mapping of metric name to float, got {metrics!r}"
        raise GateConfigError(msg)
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            msg = f"{name} keys must be str, got {type(key).__name__}: {key!r}"
            raise GateConfigError(msg)
        out[key] = _as_float(value, f"{name}[{key!r}]")
    bad = {k: v for k, v in out.items() if not math.isfinite(v)}
    if bad:
        listed = ", ".join(f"{k}={v!r}" for k, v in sorted(bad.items()))
        msg = f"{name} must be finite; NaN/Inf is never stored nor accepted, got {listed}"
        raise GateConfigError(msg)
    return out


def _refuse_unused(what: str, given: Mapping[str, Any], names: Iterable[str]) -> None:
    # A misspelt name would otherwise be ignored silently.
    unused = sorted(set(given) - set(names))
    if unused:
        msg = f"{what} given for metric(s) absent from the metrics: {', '.join(map(repr, unused))}"
        raise GateConfigError(msg)


def resolve_directions(
    names: Iterable[str], directions: Mapping[str, str] | None = None
) -> dict[str, GateDirection]:
    """Direction of each metric: ``directions`` first, then :data:`ptycho_metrics.METRICS`.

    Raises
    ------
    GateConfigError
        When a direction is not one of "higher", "lower", "exact", "two-sided",
        or a metric has none (an unknown metric is an error, never a default).
    """
    names = list(names)
    given = dict(directions or {})
    _refuse_unused("directions", given, names)
    for key, value in given.items():
        if value not in _DIRECTIONS:
            msg = f"directions[{key!r}] must be one of {', '.join(_DIRECTIONS)}; got {value!r}"
            raise GateConfigError(msg)
    out: dict[str, GateDirection] = {}
    unknown = []
    for key in names:
        if key in given:
            out[key] = given[key]  # type: ignore[assignment]
        elif key in METRICS:
            out[key] = METRICS[key].direction
        else:
            unknown.append(key)
    if unknown:
        msg = (
            f"no direction known for metric(s) {', '.join(map(repr, sorted(unknown)))}: "
            f"they are not in ptycho_metrics.METRICS; pass directions={{name: "
            f"'higher' | 'lower' | 'exact' | 'two-sided'}}"
        )
        raise GateConfigError(msg)
    return out


def _checked_tolerance(value: Any, what: str, direction: GateDirection) -> float:
    """One given tolerance (absolute or relative): finite, >= 0, and 0 for an exact metric."""
    tol = _as_float(value, what)
    if not (math.isfinite(tol) and tol >= 0):
        msg = f"{what} must be finite and >= 0, got {tol!r}"
        raise GateConfigError(msg)
    if direction == "exact" and tol != 0:
        msg = f"{what} must be 0 or absent for an 'exact' metric, got {tol!r}"
        raise GateConfigError(msg)
    return tol


def resolve_tolerances(
    directions: Mapping[str, GateDirection], tolerances: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """Absolute tolerance of each metric: ``tolerances`` first, then :data:`DEFAULT_TOLERANCES`.

    An ``"exact"`` metric takes no tolerance (0). Raises :class:`GateConfigError`
    when a tolerance is missing, negative, not finite, or non-zero for an exact metric.
    """
    given = dict(tolerances or {})
    _refuse_unused("tolerances", given, directions)
    out: dict[str, float] = {}
    missing = []
    for key, direction in directions.items():
        if key in given:
            out[key] = _checked_tolerance(given[key], f"tolerances[{key!r}]", direction)
        elif direction == "exact":
            out[key] = 0.0
        elif key in DEFAULT_TOLERANCES:
            out[key] = DEFAULT_TOLERANCES[key]
        else:
            missing.append(key)
    if missing:
        msg = (
            f"no tolerance for metric(s) {', '.join(map(repr, sorted(missing)))}: "
            "they have no entry in ptycho_metrics.gate.DEFAULT_TOLERANCES; "
            "pass tolerances={name: absolute_tolerance}"
        )
        raise GateConfigError(msg)
    return out


def resolve_rel_tolerances(
    directions: Mapping[str, GateDirection], rel_tolerances: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """Relative tolerance of each metric: ``rel_tolerances``, then :data:`DEFAULT_REL_TOLERANCES`.

    A fraction of ``|golden|`` (0.02 = 2 %), 0 when none is given. Raises
    :class:`GateConfigError` when one is negative, not finite, or non-zero for
    an exact metric.
    """
    given = dict(rel_tolerances or {})
    _refuse_unused("rel_tolerances", given, directions)
    out: dict[str, float] = {}
    for key, direction in directions.items():
        value = given.get(key, DEFAULT_REL_TOLERANCES.get(key, 0.0))
        out[key] = _checked_tolerance(value, f"rel_tolerances[{key!r}]", direction)
    return out


def effective_tolerance(absolute: float, relative: float, golden: float | None) -> float:
    """``max(absolute, relative * |golden|)``: the tolerance a comparison uses."""
    if golden is None or not math.isfinite(golden):
        return absolute
    return max(absolute, relative * abs(golden))


# ----------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class GateRow:
    """One metric's comparison. ``None`` where a side lacks the metric.

    ``tolerance`` is the effective one, ``max(abs_tolerance, rel_tolerance *
    |golden|)``; ``rel_delta`` is ``delta / |golden|`` (None for a zero golden).
    """

    metric: str
    golden: float | None
    obtained: float | None
    delta: float | None
    direction: GateDirection | None
    tolerance: float | None
    verdict: Verdict
    rel_delta: float | None = None
    abs_tolerance: float | None = None
    rel_tolerance: float | None = None

    @property
    def tolerance_rule(self) -> str:
        """Which bound made the effective tolerance: ``"abs"`` or e.g. ``"rel 2%"``."""
        if self.tolerance is None or self.abs_tolerance is None:
            return ""
        if self.rel_tolerance and self.tolerance > self.abs_tolerance:
            return f"rel {self.rel_tolerance:.3g}"
        return "abs"

    @property
    def failed(self) -> bool:
        return self.verdict in _FAILING


@dataclass(frozen=True)
class GateResult:
    """Outcome of :func:`compare_metrics`: one :class:`GateRow` per metric, sorted by name."""

    rows: tuple[GateRow, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[GateRow, ...]:
        return tuple(r for r in self.rows if r.failed)

    @property
    def loosened(self) -> tuple[GateRow, ...]:
        """Rows that writing the obtained values as the golden would loosen: worse,
        changed (exact / two-sided) or dropped (missing from the run)."""
        return tuple(r for r in self.rows if r.verdict in ("worse", "changed", "missing"))

    @property
    def improvements(self) -> tuple[GateRow, ...]:
        return tuple(r for r in self.rows if r.verdict == "better")

    def describe_failures(self) -> str:
        """One line naming every failing metric and why, e.g. ``phase_ssim (worse ...)``."""
        return ", ".join(f"{r.metric} ({_VERDICT_TEXT[r.verdict]})" for r in self.failures)

    def format_table(self, rows: tuple[GateRow, ...] | None = None) -> str:
        """Plain-text table: metric, golden, obtained, delta, relative delta, direction,
        effective tolerance, the bound it came from (``abs`` or ``rel <fraction>``), verdict."""
        header = (
            "metric",
            "golden",
            "obtained",
            "delta",
            "rel_delta",
            "direction",
            "tolerance",
            "tol_from",
            "verdict",
        )
        body = [
            (
                r.metric,
                _fmt(r.golden),
                _fmt(r.obtained),
                "" if r.delta is None else f"{r.delta:+.4g}",
                "" if r.rel_delta is None else f"{r.rel_delta:+.3%}",
                r.direction or "",
                "" if r.tolerance is None else f"{r.tolerance:.4g}",
                r.tolerance_rule,
                r.verdict.upper() if r.failed else r.verdict,
            )
            for r in (self.rows if rows is None else rows)
        ]
        widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body
        ]
        head = "  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()
        return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.8g}"


def _verdict(obtained: float, golden: float, direction: str, tol: float) -> Verdict:
    if not (math.isfinite(obtained) and math.isfinite(golden)):
        return "not finite"
    if direction == "exact":
        return "ok" if obtained == golden else "changed"
    if direction == "two-sided":
        return "ok" if abs(obtained - golden) <= tol else "changed"
    low, high = golden - tol, golden + tol
    if direction == "higher":
        return "worse" if obtained < low else "better" if obtained > high else "ok"
    return "worse" if obtained > high else "better" if obtained < low else "ok"


def compare_metrics(
    obtained: Mapping[str, Any],
    golden: Mapping[str, Any],
    *,
    tolerances: Mapping[str, Any] | None = None,
    rel_tolerances: Mapping[str, Any] | None = None,
    directions: Mapping[str, str] | None = None,
) -> GateResult:
    """Compare ``obtained`` metrics against ``golden`` ones, one-sided per direction.

    Parameters
    ----------
    obtained, golden : Mapping[str, float]
        Metric name -> value. ``obtained`` must be finite (checked); a
        non-finite golden value (a hand-edited file) fails its row.
    tolerances : Mapping[str, float], optional
        Absolute tolerances overriding :data:`DEFAULT_TOLERANCES`.
    rel_tolerances : Mapping[str, float], optional
        Relative tolerances (fractions of ``|golden|``) overriding
        :data:`DEFAULT_REL_TOLERANCES`; per metric the comparison uses
        :math:`t = \\max(t_{abs}, t_{rel} |g|)`.
    directions : Mapping[str, str], optional
        Directions overriding :data:`ptycho_metrics.METRICS`.

    Returns
    -------
    GateResult
        ``passed`` is False when any metric is worse beyond its tolerance,
        changed (exact / two-sided), missing from the run, extra (absent from
        the golden) or not finite. "better" rows pass.

    Raises
    ------
    GateConfigError
        Non-finite obtained value, or an obtained metric without a known
        direction or tolerance.

    Notes
    -----
    With :math:`d = o - g`, effective tolerance :math:`t`: "higher" fails when
    :math:`o < g - t`; "lower" when :math:`o > g + t`; "exact" unless
    :math:`o = g`; "two-sided" when :math:`|d| > t`.
    """
    got = validate_metrics(obtained, name="obtained")
    ref = {k: _as_float(v, f"golden[{k!r}]") for k, v in golden.items()}
    dirs = resolve_directions(got, directions)
    tols = resolve_tolerances(dirs, tolerances)
    rels = resolve_rel_tolerances(dirs, rel_tolerances)
    rows = []
    for key in sorted(set(got) | set(ref)):
        if key not in ref:
            bounds = (tols[key], rels[key])
            rows.append(
                GateRow(key, None, got[key], None, dirs[key], tols[key], "extra", None, *bounds)
            )
        elif key not in got:
            rows.append(GateRow(key, ref[key], None, None, None, None, "missing"))
        else:
            g, o = ref[key], got[key]
            tol = effective_tolerance(tols[key], rels[key], g)
            delta = o - g
            rel_delta = delta / abs(g) if g != 0 and math.isfinite(g) else None
            verdict = _verdict(o, g, dirs[key], tol)
            rows.append(
                GateRow(key, g, o, delta, dirs[key], tol, verdict, rel_delta, tols[key], rels[key])
            )
    return GateResult(tuple(rows))


# ----------------------------------------------------------------------------- contract


@dataclass(frozen=True)
class ContractChange:
    """One contract entry that differs; ``key`` is dotted for nested mappings."""

    key: str
    golden: Any
    obtained: Any
    kind: Literal["changed", "added", "removed"]


def normalize_contract(contract: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``contract`` as plain JSON values (tuples become lists), refusing NaN and non-JSON."""
    if contract is None:
        return {}
    if not isinstance(contract, Mapping):
        msg = f"contract must be a mapping of str to JSON values, got {type(contract).__name__}"
        raise GateConfigError(msg)
    try:
        text = json.dumps(dict(contract), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        msg = (
            "contract must hold only finite JSON values (str, int, float, bool, None, "
            f"lists, dicts with str keys): {exc}"
        )
        raise GateConfigError(msg) from exc
    return json.loads(text)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: value}


def compare_contract(
    obtained: Mapping[str, Any] | None, golden: Mapping[str, Any] | None
) -> list[ContractChange]:
    """Differences between two contracts (empty when equal), by dotted key."""
    new = _flatten(normalize_contract(obtained))
    old = _flatten(normalize_contract(golden))
    changes = []
    for key in sorted(set(new) | set(old)):
        if key not in old:
            changes.append(ContractChange(key, None, new[key], "added"))
        elif key not in new:
            changes.append(ContractChange(key, old[key], None, "removed"))
        elif new[key] != old[key] or type(new[key]) is not type(old[key]):
            changes.append(ContractChange(key, old[key], new[key], "changed"))
    return [c for c in changes if c.key]


def format_contract_changes(changes: list[ContractChange], result: GateResult | None = None) -> str:
    """Human-readable list of contract changes, ending with how to regenerate.

    With ``result`` (the metrics compared anyway), the metrics that moved
    beyond their tolerance follow, for information: under a changed
    contract they are not a verdict, but a reviewer wants to see them.
    """
    lines = ["The run's contract differs from the golden's, so the metrics are not comparable:"]
    for c in changes:
        if c.kind == "added":
            lines.append(f"  {c.key}: not in the golden, now {c.obtained!r}")
        elif c.kind == "removed":
            lines.append(f"  {c.key}: golden {c.golden!r}, absent from this run")
        else:
            lines.append(f"  {c.key}: golden {c.golden!r} -> obtained {c.obtained!r}")
    if result is not None:
        moved = tuple(r for r in result.rows if r.verdict != "ok")
        if moved:
            lines.append("Metrics that moved beyond tolerance (information, not the verdict):")
            lines.append(result.format_table(moved))
        else:
            lines.append("Every metric is within its tolerance of the golden's.")
    lines.append(REGEN_HINT)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- fingerprint

_PACKAGES = (
    "numpy",
    "scipy",
    "scikit-image",
    "torch",
    "lightning",
    "pytest",
    "pytest-regressions",
    "ptycho-metrics",
)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _numpy_cpu() -> dict[str, Any]:
    # numpy exposes these only privately (numpy.show_runtime reads the same names).
    try:
        mu = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:
        return {}
    enabled = {k for k, v in mu.__cpu_features__.items() if v}
    return {
        "baseline": list(mu.__cpu_baseline__),
        "dispatch_enabled": [f for f in mu.__cpu_dispatch__ if f in enabled],
    }


def _torch_cpu() -> dict[str, Any]:
    # Only when the caller already uses torch: importing it here would cost
    # seconds and change process state (threads) in sessions that never need it.
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "num_threads": torch.get_num_threads(),
    }


def _git(root: Path) -> dict[str, Any]:
    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None}
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def environment_fingerprint(
    *, root: str | os.PathLike[str] | None = None, packages: Iterable[str] = ()
) -> dict[str, Any]:
    """Describe the environment a golden was made in (versions, CPU, threads, git commit).

    torch's CPU capability and thread count are recorded when torch is
    already imported in this process.

    Parameters
    ----------
    root : path, optional
        Where to read the git commit (default: the working directory).
    packages : iterable of str
        Further distributions whose versions to record (your reconstruction
        library, e.g. ``("cdtools-py",)``), beside numpy, scipy, scikit-image,
        torch, Lightning, pytest, pytest-regressions and ptycho-metrics. An
        uninstalled one is recorded as None.

    Stored beside the metrics and shown on failure; never compared strictly,
    since a different CPU or library build legitimately moves the last digits.
    """
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "packages": {name: _version(name) for name in (*_PACKAGES, *_dist_names(packages))},
        "numpy_cpu": _numpy_cpu(),
        "torch": _torch_cpu(),
        "git": _git(Path(root) if root is not None else Path.cwd()),
    }


def _dist_names(packages: Iterable[str]) -> list[str]:
    if isinstance(packages, str):
        packages = [packages]
    names = [str(p).strip() for p in packages]
    bad = [p for p in names if not p or any(c.isspace() for c in p)]
    if bad:
        msg = f"fingerprint packages must be distribution names without spaces, got {bad!r}"
        raise GateConfigError(msg)
    return [n for n in names if n not in _PACKAGES]


def fingerprint_diff(
    golden: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> list[ContractChange]:
    """Entries of the fingerprint that differ (informational only)."""
    return compare_contract(current or {}, golden or {})


def format_fingerprint(golden: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str:
    """The fingerprint entries that differ from the golden's (only those), marked ``*``."""
    diffs = fingerprint_diff(golden, current)
    keys = set(_flatten(normalize_contract(current)))
    if not diffs:
        return f"Environment fingerprint: all {len(keys)} entries equal the golden's."
    equal = len(keys - {c.key for c in diffs})
    lines = [
        "Environment fingerprint, entries that differ from the golden's "
        f"(informational, not compared; {equal} more are equal):"
    ]
    for c in diffs:
        if c.kind == "removed":
            lines.append(f"  * {c.key}: absent (golden: {c.golden!r})")
        elif c.kind == "added":
            lines.append(f"  * {c.key}: {c.obtained!r} (not in the golden)")
        else:
            lines.append(f"  * {c.key}: {c.obtained!r} (golden: {c.golden!r})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- golden files


#: Key of the learning curve (``check(..., curve=...)``) in a golden's ``info`` block:
#: column name -> list of floats (None for NaN), ``epoch`` first.
CURVE_INFO_KEY = "learning_curve"


def _curve_summary(doc: Any) -> str:
    """``25 evaluations, epochs 0-24; final amplitude_ssim 0.98371, ...`` of a JSON curve."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("epoch"), list) or not doc["epoch"]:
        return "not a learning curve"
    epochs = doc["epoch"]
    finals = []
    for key in sorted(doc):
        values = doc[key]
        if key in ("epoch", "step") or not isinstance(values, list) or not values:
            continue
        last = values[-1]
        finals.append(f"{key} {'nan' if last is None else format(last, '.6g')}")
    return (
        f"{len(epochs)} evaluations, epochs {epochs[0]:g}-{epochs[-1]:g}; "
        f"final {', '.join(finals) or 'no metric'}"
    )


def describe_info_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[str]:
    """One line per ``info`` entry that differs between two goldens; information, not a verdict.

    The learning curve is summarised (length, epoch range, final values), never
    listed point by point; another entry (the FRC curve, ...) is named.
    Empty when the two blocks are equal.
    """
    old, new = dict(old or {}), dict(new or {})
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        kind = "added" if key not in old else "removed" if key not in new else "changed"
        if key == CURVE_INFO_KEY:
            if kind == "added":
                what = _curve_summary(after)
            elif kind == "removed":
                what = f"the golden's: {_curve_summary(before)}"
            else:
                what = f"{_curve_summary(before)} -> {_curve_summary(after)}"
            lines.append(f"info {key}: {kind} ({what}; not compared)")
        else:
            lines.append(f"info {key}: {kind} (not compared)")
    return lines


@dataclass(frozen=True)
class Golden:
    """The content of a golden file. ``info`` (FRC and learning curves) is never compared."""

    metrics: dict[str, float]
    contract: dict[str, Any]
    fingerprint: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def dumps_golden(
    metrics: Mapping[str, Any],
    *,
    contract: Mapping[str, Any] | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
) -> str:
    """Serialise a golden: sorted keys, ``repr`` floats, NaN/Inf refused.

    ``info`` (JSON values; NaN must already be None) is stored for reports only.
    """
    doc = {
        "format_version": GOLDEN_FORMAT_VERSION,
        "metrics": validate_metrics(metrics),
        "contract": normalize_contract(contract),
        "fingerprint": normalize_contract(fingerprint),
    }
    if info:
        doc["info"] = normalize_contract(info)
    # json writes floats with float.__repr__, the shortest string that round-trips.
    return json.dumps(doc, sort_keys=True, indent=2, allow_nan=False) + "\n"


def _reject_constant(name: str) -> float:
    msg = f"golden files never hold {name}"
    raise ValueError(msg)


def load_golden(path: str | os.PathLike[str]) -> Golden:
    """Read a golden file written by :func:`dumps_golden`.

    Raises
    ------
    GateConfigError
        When the file is missing, not JSON, of another format version, lacks a
        block, or holds a non-finite metric; the message names the file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        msg = f"golden file {path} is unreadable: {exc}"
        raise GateConfigError(msg) from exc
    return load_golden_text(text, path)


def load_golden_text(text: str, path: str | os.PathLike[str] = "<text>") -> Golden:
    """:func:`load_golden` of a file's content; ``path`` only names it in errors."""
    path = Path(path)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        msg = f"golden file {path} is unreadable: {exc}"
        raise GateConfigError(msg) from exc
    if not isinstance(doc, dict) or doc.get("format_version") != GOLDEN_FORMAT_VERSION:
        msg = (
            f"golden file {path} must be a JSON object with format_version {GOLDEN_FORMAT_VERSION}"
        )
        raise GateConfigError(msg)
    missing = [
        b for b in ("metrics", "contract", "fingerprint") if not isinstance(doc.get(b), dict)
    ]
    if missing:
        msg = f"golden file {path} lacks the block(s) {', '.join(missing)}"
        raise GateConfigError(msg)
    metrics = validate_metrics(doc["metrics"], name=f"metrics of golden {path}")
    info = doc.get("info")
    return Golden(
        metrics, doc["contract"], doc["fingerprint"], info if isinstance(info, dict) else {}
    )
