"""Unit tests of the quality-gate engine (ptycho_metrics.gate), no pytest plugin involved."""

from __future__ import annotations

import importlib.metadata
import json
import math
import re
from pathlib import Path

import pytest

from ptycho_metrics import METRICS, QualityInputError, gate
from ptycho_metrics.gate import (
    DEFAULT_TOLERANCES,
    GateConfigError,
    compare_contract,
    compare_metrics,
    dumps_golden,
    load_golden,
)

TOL = DEFAULT_TOLERANCES["amplitude_ssim"]


def _verdict(obtained: float, golden: float, **kwargs: object) -> str:
    result = compare_metrics({"m": obtained}, {"m": golden}, **kwargs)  # type: ignore[arg-type]
    return result.rows[0].verdict


# ----------------------------------------------------------------------------- defaults


def test_every_metric_has_a_positive_finite_default_tolerance() -> None:
    assert set(DEFAULT_TOLERANCES) == set(METRICS)
    assert all(math.isfinite(t) and t > 0 for t in DEFAULT_TOLERANCES.values())


def test_default_tolerances_are_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_TOLERANCES["amplitude_ssim"] = 1.0  # type: ignore[index]


def test_gate_config_error_is_a_quality_input_error() -> None:
    assert issubclass(GateConfigError, QualityInputError)
    assert issubclass(gate.RatchetWarning, UserWarning)


# ----------------------------------------------------------------------------- directions


@pytest.mark.parametrize(
    ("obtained", "verdict"),
    [
        (0.90, "ok"),
        (0.90 - TOL, "ok"),
        (0.90 - 2 * TOL, "worse"),
        (0.90 + TOL, "ok"),
        (0.90 + 2 * TOL, "better"),
    ],
)
def test_higher_is_one_sided(obtained: float, verdict: str) -> None:
    result = compare_metrics({"amplitude_ssim": obtained}, {"amplitude_ssim": 0.90})
    assert result.rows[0].verdict == verdict
    assert result.passed == (verdict != "worse")


@pytest.mark.parametrize(
    ("obtained", "verdict"),
    [
        (0.10, "ok"),
        (0.10 + 0.8 * DEFAULT_TOLERANCES["phase_mae"], "ok"),
        (0.2, "worse"),
        (0.01, "better"),
    ],
)
def test_lower_is_one_sided(obtained: float, verdict: str) -> None:
    result = compare_metrics({"phase_mae": obtained}, {"phase_mae": 0.10})
    assert result.rows[0].direction == "lower"
    assert result.rows[0].tolerance == DEFAULT_TOLERANCES["phase_mae"]
    assert result.rows[0].verdict == verdict


def test_exact_requires_equality_and_takes_no_tolerance() -> None:
    assert _verdict(169, 169, directions={"m": "exact"}) == "ok"
    assert _verdict(170, 169, directions={"m": "exact"}) == "changed"
    assert _verdict(168, 169, directions={"m": "exact"}) == "changed"
    with pytest.raises(GateConfigError, match=re.escape("must be 0 or absent for an 'exact'")):
        compare_metrics({"m": 1}, {"m": 1}, directions={"m": "exact"}, tolerances={"m": 0.5})


def test_two_sided_fails_both_ways() -> None:
    kwargs = {"directions": {"m": "two-sided"}, "tolerances": {"m": 0.1}}
    assert _verdict(1.05, 1.0, **kwargs) == "ok"
    assert _verdict(1.2, 1.0, **kwargs) == "changed"
    assert _verdict(0.8, 1.0, **kwargs) == "changed"


def test_directions_override_metadata() -> None:
    result = compare_metrics(
        {"amplitude_ssim": 0.5}, {"amplitude_ssim": 0.9}, directions={"amplitude_ssim": "lower"}
    )
    assert result.rows[0].verdict == "better"


def test_tolerances_override_defaults() -> None:
    result = compare_metrics(
        {"amplitude_ssim": 0.85}, {"amplitude_ssim": 0.9}, tolerances={"amplitude_ssim": 0.1}
    )
    assert result.passed
    assert result.rows[0].tolerance == 0.1


def test_unknown_direction_is_an_error_naming_the_metric() -> None:
    with pytest.raises(GateConfigError, match=r"no direction known for metric\(s\) 'my_metric'"):
        compare_metrics({"my_metric": 1.0}, {"my_metric": 1.0})


def test_bad_direction_value_lists_valid_ones() -> None:
    expected = "directions['m'] must be one of higher, lower, exact, two-sided; got 'up'"
    with pytest.raises(GateConfigError, match=re.escape(expected)):
        compare_metrics({"m": 1.0}, {"m": 1.0}, directions={"m": "up"})


def test_missing_tolerance_is_an_error_naming_the_metric() -> None:
    with pytest.raises(GateConfigError, match=r"no tolerance for metric\(s\) 'my_metric'"):
        compare_metrics({"my_metric": 1.0}, {"my_metric": 1.0}, directions={"my_metric": "lower"})


@pytest.mark.parametrize("option", ["tolerances", "directions"])
def test_options_for_unknown_metrics_are_refused(option: str) -> None:
    value = 0.1 if option == "tolerances" else "higher"
    expected = f"{option} given for metric(s) absent from the metrics: 'amplitud_ssim'"
    with pytest.raises(GateConfigError, match=re.escape(expected)):
        compare_metrics(
            {"amplitude_ssim": 1.0}, {"amplitude_ssim": 1.0}, **{option: {"amplitud_ssim": value}}
        )


@pytest.mark.parametrize("tol", [-0.1, math.nan, math.inf, "0.1", True])
def test_bad_tolerance_is_an_error(tol: object) -> None:
    with pytest.raises(GateConfigError, match=re.escape("tolerances['phase_mae']")):
        compare_metrics({"phase_mae": 1.0}, {"phase_mae": 1.0}, tolerances={"phase_mae": tol})


# ----------------------------------------------------------------------------- key sets, NaN


def test_missing_and_extra_keys_fail_and_are_named() -> None:
    result = compare_metrics(
        {"amplitude_ssim": 0.9, "phase_ssim": 0.8}, {"amplitude_ssim": 0.9, "phase_mae": 0.1}
    )
    assert not result.passed
    verdicts = {r.metric: r.verdict for r in result.rows}
    assert verdicts == {"amplitude_ssim": "ok", "phase_mae": "missing", "phase_ssim": "extra"}
    text = result.describe_failures()
    assert "phase_mae (in the golden, missing from this run)" in text
    assert "phase_ssim (in this run, absent from the golden)" in text


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_obtained_is_refused(bad: float) -> None:
    with pytest.raises(GateConfigError, match=r"obtained must be finite.*phase_mae="):
        compare_metrics({"phase_mae": bad}, {"phase_mae": 0.1})


def test_non_finite_golden_value_fails_its_row() -> None:
    result = compare_metrics({"phase_mae": 0.1}, {"phase_mae": math.nan})
    assert not result.passed
    assert result.rows[0].verdict == "not finite"


@pytest.mark.parametrize(
    "bad", [{}, [("a", 1.0)], {"a": "0.5"}, {"a": None}, {"a": True}, {1: 0.5}]
)
def test_validate_metrics_refuses_non_numbers(bad: object) -> None:
    with pytest.raises(GateConfigError, match="metrics"):
        gate.validate_metrics(bad)  # type: ignore[arg-type]


def test_validate_metrics_returns_new_float_dict() -> None:
    import numpy as np

    given = {"a": np.float32(0.5), "b": 3}
    out = gate.validate_metrics(given)
    assert out == {"a": 0.5, "b": 3.0}
    assert all(type(v) is float for v in out.values())
    assert given == {"a": np.float32(0.5), "b": 3}


# ----------------------------------------------------------------------------- table


def test_table_shows_every_column_and_marks_failures() -> None:
    result = compare_metrics(
        {"amplitude_ssim": 0.8, "phase_mae": 0.1},
        {"amplitude_ssim": 0.9, "phase_mae": 0.1},
        tolerances={"amplitude_ssim": 0.005},
    )
    table = result.format_table()
    header = table.splitlines()[0].split()
    assert header == [
        "metric", "golden", "obtained", "delta", "rel_delta", "direction", "tolerance",
        "tol_from", "verdict",
    ]  # fmt: skip
    ssim_row = next(line for line in table.splitlines() if line.startswith("amplitude_ssim"))
    assert ssim_row.split() == [
        "amplitude_ssim", "0.9", "0.8", "-0.1", "-11.111%", "higher", "0.005", "abs", "WORSE"
    ]  # fmt: skip
    assert [r.metric for r in result.failures] == ["amplitude_ssim"]


def test_improvements_are_listed_and_pass() -> None:
    result = compare_metrics({"amplitude_ssim": 0.99}, {"amplitude_ssim": 0.9})
    assert result.passed
    assert [r.metric for r in result.improvements] == ["amplitude_ssim"]


# ----------------------------------------------------------------------------- contract


def test_equal_contracts_have_no_changes() -> None:
    assert compare_contract({"a": (1, 2), "b": {"c": 1}}, {"a": [1, 2], "b": {"c": 1}}) == []


def test_contract_changes_are_named_with_both_values() -> None:
    changes = compare_contract(
        {"seed": 2, "model": {"width": 32}, "new": 1}, {"seed": 1, "model": {"width": 16}, "old": 0}
    )
    assert [(c.key, c.kind) for c in changes] == [
        ("model.width", "changed"),
        ("new", "added"),
        ("old", "removed"),
        ("seed", "changed"),
    ]
    text = gate.format_contract_changes(changes)
    assert "seed: golden 1 -> obtained 2" in text
    assert "model.width: golden 16 -> obtained 32" in text
    assert "ptycho-metrics goldens update" in text


def test_int_and_float_contract_values_differ() -> None:
    assert [c.key for c in compare_contract({"epochs": 40.0}, {"epochs": 40})] == ["epochs"]


@pytest.mark.parametrize("bad", [{"x": math.nan}, {"x": object()}, {"x": Path("a")}, [1]])
def test_contract_must_be_finite_json(bad: object) -> None:
    with pytest.raises(GateConfigError, match="contract must"):
        gate.normalize_contract(bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- golden files


def test_golden_round_trips_floats_exactly(tmp_path: Path) -> None:
    value = 0.1 + 0.2
    path = tmp_path / "g.json"
    path.write_text(dumps_golden({"b": value, "a": 1 / 3}, contract={"seed": 7}), "utf-8")
    golden = load_golden(path)
    assert golden.metrics == {"a": 1 / 3, "b": value}
    assert golden.contract == {"seed": 7}
    assert repr(value) in path.read_text("utf-8")


def test_golden_has_sorted_keys_and_no_tolerances() -> None:
    doc = json.loads(dumps_golden({"z": 1.0, "a": 2.0}, contract={"k": 1}, fingerprint={"p": 1}))
    assert list(doc) == ["contract", "fingerprint", "format_version", "metrics"]
    assert list(doc["metrics"]) == ["a", "z"]
    assert "tolerances" not in json.dumps(doc)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_golden_never_holds_non_finite(bad: float) -> None:
    with pytest.raises(GateConfigError, match="finite"):
        dumps_golden({"a": bad})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is unreadable"),
        ('{"format_version": 1, "metrics": {"a": NaN}, "contract": {}, "fingerprint": {}}', "NaN"),
        ('{"format_version": 2, "metrics": {}, "contract": {}, "fingerprint": {}}', "version 1"),
        ('{"format_version": 1, "metrics": {"a": 1.0}, "contract": {}}', "lacks the block"),
    ],
)
def test_bad_golden_file_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.json"
    path.write_text(text, "utf-8")
    with pytest.raises(GateConfigError, match=re.escape(str(path))) as info:
        load_golden(path)
    assert message in str(info.value)


def test_missing_golden_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GateConfigError, match="is unreadable"):
        load_golden(tmp_path / "absent.json")


# ----------------------------------------------------------------------------- fingerprint


def test_fingerprint_records_versions_cpu_and_git() -> None:
    fp = gate.environment_fingerprint(root=Path(__file__).parent)
    for dist in ("numpy", "scipy", "scikit-image", "pytest", "pytest-regressions"):
        assert fp["packages"][dist] == importlib.metadata.version(dist)
    assert fp["machine"]
    assert fp["python"].count(".") == 2
    json.dumps(fp, allow_nan=False)  # storable as is


def test_fingerprint_git_is_none_outside_a_repository(tmp_path: Path) -> None:
    assert gate.environment_fingerprint(root=tmp_path)["git"]["commit"] is None


def test_fingerprint_format_shows_only_differences() -> None:
    text = gate.format_fingerprint({"a": 1, "gone": 2, "same": 3}, {"a": 2, "same": 3, "new": 4})
    assert "  * a: 2 (golden: 1)" in text
    assert "same" not in text
    assert "1 more are equal" in text
    assert "  * gone: absent (golden: 2)" in text
    assert "  * new: 4 (not in the golden)" in text
    assert gate.format_fingerprint({"a": 1}, {"a": 1}) == (
        "Environment fingerprint: all 1 entries equal the golden's."
    )


def test_fingerprint_takes_extra_packages() -> None:
    fp = gate.environment_fingerprint(packages=["pytest-datadir", "no-such-dist-xyz"])
    assert fp["packages"]["pytest-datadir"] == importlib.metadata.version("pytest-datadir")
    assert fp["packages"]["no-such-dist-xyz"] is None
    with pytest.raises(GateConfigError, match=re.escape("without spaces, got ['a b']")):
        gate.environment_fingerprint(packages=["a b"])


# ----------------------------------------------------------------------------- CI rule


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"CI": ""}, False),
        ({"CI": "0"}, False),
        ({"CI": "false"}, False),
        ({"CI": " False "}, False),
        ({"CI": "true"}, True),
        ({"CI": "1"}, True),
        ({"CI": "yes"}, True),
    ],
)
def test_in_ci(environ: dict[str, str], expected: bool) -> None:
    assert gate.in_ci(environ) is expected


def test_hints_name_the_installed_command() -> None:
    assert "`ptycho-metrics goldens update --reason '...'`" in gate.REGEN_HINT
    assert "tools/" not in gate.REGEN_HINT


# ----------------------------------------------------------------------------- relative


def test_relative_tolerance_widens_only_beyond_the_absolute_one() -> None:
    golden = {"amplitude_psnr": 40.0}
    rel = {"amplitude_psnr": 0.05}  # 2 dB at 40 dB, above the absolute 1.2 dB
    assert compare_metrics({"amplitude_psnr": 38.5}, golden).rows[0].verdict == "worse"
    row = compare_metrics({"amplitude_psnr": 38.5}, golden, rel_tolerances=rel).rows[0]
    assert (row.verdict, row.tolerance, row.tolerance_rule) == ("ok", 2.0, "rel 0.05")
    assert row.rel_delta == pytest.approx(-1.5 / 40)
    row = compare_metrics({"amplitude_psnr": 37.9}, golden, rel_tolerances=rel).rows[0]
    assert row.verdict == "worse"
    small = compare_metrics(
        {"phase_mae": 0.1}, {"phase_mae": 0.1}, rel_tolerances={"phase_mae": 1e-4}
    )
    assert DEFAULT_TOLERANCES["phase_mae"] > 1e-4 * 0.1
    assert (small.rows[0].tolerance, small.rows[0].tolerance_rule) == (
        DEFAULT_TOLERANCES["phase_mae"],
        "abs",
    )


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ({"amplitude_ssim": -0.1}, "rel_tolerances['amplitude_ssim'] must be finite and >= 0"),
        ({"nope": 0.1}, "rel_tolerances given for metric(s) absent from the metrics: 'nope'"),
    ],
)
def test_bad_relative_tolerances_are_refused(rel: dict, message: str) -> None:
    with pytest.raises(GateConfigError, match=re.escape(message)):
        compare_metrics({"amplitude_ssim": 0.9}, {"amplitude_ssim": 0.9}, rel_tolerances=rel)


def test_contract_changes_list_the_metrics_that_moved() -> None:
    changes = compare_contract({"seed": 2}, {"seed": 1})
    result = compare_metrics({"amplitude_ssim": 0.8}, {"amplitude_ssim": 0.9})
    text = gate.format_contract_changes(changes, result)
    assert "seed: golden 1 -> obtained 2" in text
    assert "Metrics that moved beyond tolerance" in text
    assert "amplitude_ssim" in text.split("Metrics that moved")[1]


def test_golden_info_is_stored_and_never_compared(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text(dumps_golden({"a": 1.0}, info={"frc": {"correlation": [None, 0.9]}}))
    assert load_golden(path).info == {"frc": {"correlation": [None, 0.9]}}


# ----------------------------------------------------------------------------- info


def test_info_changes_summarise_the_learning_curve_in_one_line() -> None:
    old = {"learning_curve": {"epoch": [0.0, 1.0, 2.0], "amplitude_ssim": [0.3, 0.71, 0.98]}}
    new = {"learning_curve": {"epoch": [0.0, 1.0], "amplitude_ssim": [0.3, None]}, "frc": [1]}
    assert gate.describe_info_changes(old, old) == []
    assert gate.describe_info_changes(old, new) == [
        "info frc: added (not compared)",
        "info learning_curve: changed (3 evaluations, epochs 0-2; final amplitude_ssim 0.98 "
        "-> 2 evaluations, epochs 0-1; final amplitude_ssim nan; not compared)",
    ]
    assert gate.describe_info_changes({}, old) == [
        "info learning_curve: added (3 evaluations, epochs 0-2; final amplitude_ssim 0.98; "
        "not compared)"
    ]
    assert gate.describe_info_changes(old, None) == [
        "info learning_curve: removed (the golden's: 3 evaluations, epochs 0-2; final "
        "amplitude_ssim 0.98; not compared)"
    ]
