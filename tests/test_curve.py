"""Tests of ptycho_metrics._curve: convergence metrics, the curve's CSV and its plot."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from ptycho_metrics import METRICS, QualityInputError, convergence_metrics, epochs_to_reach
from ptycho_metrics._curve import (
    CONVERGENCE_LEVELS,
    curve_from_json,
    curve_to_json,
    plot_curve,
    read_curve_csv,
    write_curve_csv,
)


def test_convergence_metrics_are_declared_with_a_direction():
    for name, (metric, level) in CONVERGENCE_LEVELS.items():
        assert METRICS[name].source == "curve"
        assert METRICS[name].direction == "lower"  # fewer epochs is faster
        assert METRICS[metric].source == "evaluate"
        assert 0 < level < 1


def test_crossing_is_interpolated_between_evaluations():
    # 0.9 at epoch 2, 0.97 at epoch 3: 0.95 is reached 5/7 of the way.
    got = epochs_to_reach([0, 1, 2, 3, 4], [0.2, 0.6, 0.9, 0.97, 0.99], 0.95)
    assert got == pytest.approx(2 + 5 / 7, rel=1e-15)


def test_first_crossing_counts_not_a_later_one():
    got = epochs_to_reach([1, 2, 3, 4], [0.5, 0.96, 0.9, 0.97], 0.95)
    assert got == pytest.approx(1 + 0.45 / 0.46, rel=1e-15)


def test_reached_at_the_first_evaluation_and_never():
    assert epochs_to_reach([0, 2], [0.99, 0.995], 0.95) == 0.0
    assert math.isnan(epochs_to_reach([0, 1, 2], [0.2, 0.5, 0.94], 0.95))


def test_lower_is_better_direction():
    # phase RMSE falling below 0.1 rad between epochs 1 and 2.
    got = epochs_to_reach([0, 1, 2], [1.0, 0.3, 0.05], 0.1, direction="lower")
    assert got == pytest.approx(1 + 0.2 / 0.25, rel=1e-15)


def test_nan_evaluation_is_not_reached():
    assert epochs_to_reach([0, 1, 2], [0.2, math.nan, 0.97], 0.95) == 2.0


def test_slower_training_gives_a_larger_value():
    epochs = np.arange(25.0)
    fast = 1 - 0.8 * np.exp(-epochs / 2.0)
    slow = 1 - 0.8 * np.exp(-epochs / 3.0)
    assert epochs_to_reach(epochs, slow, 0.95) > epochs_to_reach(epochs, fast, 0.95)


@pytest.mark.parametrize(
    ("epochs", "values", "level", "kwargs", "message"),
    [
        ([0, 1], [0.5], 0.9, {}, "epochs and values must have the same length, got 2 and 1"),
        ([0, 0], [0.5, 0.6], 0.9, {}, "epochs must be finite and strictly increasing, got [0.0, 0.0]"),  # noqa: E501
        ([], [], 0.9, {}, "epochs must be a non-empty 1-D sequence of numbers, got shape (0,)"),
        ([0, 1], [0.5, 0.6], math.nan, {}, "level must be a finite number, got nan"),
        (
            [0, 1], [0.5, 0.6], 0.9, {"direction": "up"},
            "direction must be one of 'higher', 'lower'; got 'up'",
        ),
    ],
)  # fmt: skip
def test_bad_inputs(epochs, values, level, kwargs, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        epochs_to_reach(epochs, values, level, **kwargs)


def test_convergence_metrics_need_the_columns():
    curve = {"epoch": [0, 1, 2], "amplitude_ssim": [0.5, 0.96, 0.99]}
    assert convergence_metrics(curve) == {
        "epochs_to_amplitude_ssim_0p95": pytest.approx(0.45 / 0.46, rel=1e-15)
    }
    with pytest.raises(QualityInputError, match=re.escape("curve needs an 'epoch' column")):
        convergence_metrics({"amplitude_ssim": [0.5]})
    with pytest.raises(QualityInputError, match=re.escape("curve has none of the columns")):
        convergence_metrics({"epoch": [0], "phase_ssim": [0.5]})


def test_csv_round_trip_is_exact(tmp_path: Path):
    rows = [
        {"epoch": 0.0, "step": 0, "amplitude_ssim": 0.1 + 1e-17, "phase_rmse": math.nan},
        {"epoch": 1.0, "step": 25, "amplitude_ssim": 0.987654321987654, "phase_rmse": 0.0123},
    ]
    path = write_curve_csv(tmp_path / "c.csv", rows, metrics=["amplitude_ssim", "phase_rmse"])
    assert path.read_text().splitlines()[0] == "epoch,step,amplitude_ssim,phase_rmse"
    assert not (tmp_path / "c.csv.partial").exists()
    curve = read_curve_csv(path)
    assert list(curve) == ["epoch", "step", "amplitude_ssim", "phase_rmse"]
    assert curve["amplitude_ssim"].tolist() == [
        rows[0]["amplitude_ssim"],
        rows[1]["amplitude_ssim"],
    ]
    assert curve["step"].tolist() == [0.0, 25.0]
    assert math.isnan(curve["phase_rmse"][0])


def test_csv_refuses_incomplete_rows_and_foreign_files(tmp_path: Path):
    with pytest.raises(QualityInputError, match=re.escape("lacks the columns ['phase_ssim']")):
        write_curve_csv(tmp_path / "c.csv", [{"epoch": 0, "step": 0}], metrics=["phase_ssim"])
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(QualityInputError, match=re.escape("not a learning curve")):
        read_curve_csv(other)


def test_plot_writes_a_png(tmp_path: Path):
    pytest.importorskip("matplotlib")
    curve = {
        "epoch": np.arange(5.0),
        "step": np.arange(5.0) * 25,
        "amplitude_ssim": np.array([0.2, 0.8, 0.93, 0.97, 0.98]),
        "phase_ssim": np.array([0.1, 0.9, 0.99, 0.995, 0.997]),
    }
    path = tmp_path / "curve.png"
    fig = plot_curve(path, curve, final={"amplitude_ssim": 0.98, "phase_ssim": 0.997})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    labels = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert "final (gated) 0.98" in labels
    assert any(label.startswith("epochs_to_amplitude_ssim_0p95 = 2.") for label in labels)


# ----------------------------------------------------------------------------- JSON (goldens)


def test_curve_json_round_trip_keeps_order_values_and_nan():
    curve = {
        "phase_rmse": np.array([0.5, math.nan, 0.1]),
        "step": [0, 25, 50],
        "epoch": np.array([0.0, 1.0, 2.0]),
        "amplitude_ssim": (0.1 + 1e-17, 0.5, 0.98),
    }
    before = curve["phase_rmse"].copy()
    doc = curve_to_json(curve)
    assert doc["phase_rmse"] == [0.5, None, 0.1]  # NaN: a failed evaluation, stored as null
    assert all(type(x) is float for x in doc["epoch"])
    back = curve_from_json(doc)
    assert list(back) == ["epoch", "step", "amplitude_ssim", "phase_rmse"]
    assert back["amplitude_ssim"].tolist() == [0.1 + 1e-17, 0.5, 0.98]
    np.testing.assert_array_equal(back["phase_rmse"], before)
    np.testing.assert_array_equal(curve["phase_rmse"], before)  # input untouched


def test_curve_json_takes_an_object_with_a_curve():
    class Callback:
        def __init__(self) -> None:
            self.curve = {"epoch": np.arange(3.0), "frc_mean": np.array([0.1, 0.5, 0.9])}

    assert curve_to_json(Callback()) == {"epoch": [0.0, 1.0, 2.0], "frc_mean": [0.1, 0.5, 0.9]}


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        ([1, 2], "curve must be a mapping of column name to 1-D values ('epoch', optionally 'step', and metric columns) or an object with such a .curve, got list"),  # noqa: E501
        ({"step": [0], "amplitude_ssim": [0.5]}, "curve needs an 'epoch' column, got columns ['step', 'amplitude_ssim']"),  # noqa: E501
        ({"epoch": [0], "loss": [0.5]}, "curve columns must be 'epoch', 'step' or metrics of ptycho_metrics.METRICS (their units label the report's axes), got ['loss']"),  # noqa: E501
        ({"epoch": [0, 1], "step": [0, 1]}, "curve needs at least one metric column besides ['epoch', 'step']"),  # noqa: E501
        ({"epoch": [0, 1], "amplitude_ssim": [0.5]}, "curve columns must all have one length, got {'epoch': 2, 'amplitude_ssim': 1}"),  # noqa: E501
        ({"epoch": [1, 0], "amplitude_ssim": [0.5, 0.6]}, "curve['epoch'] must be finite and strictly increasing, got [1.0, 0.0]"),  # noqa: E501
        ({"epoch": [], "amplitude_ssim": []}, "curve['epoch'] must be a non-empty 1-D sequence of numbers, got shape (0,)"),  # noqa: E501
    ],
)  # fmt: skip
def test_curve_json_refuses_bad_curves(curve, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        curve_to_json(curve)
