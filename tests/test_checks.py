"""Bad-input matrix for ptycho_metrics._checks: every case names argument, expectation, value."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ptycho_metrics import QualityInputError, check_reconstruction
from ptycho_metrics._checks import (
    as_complex_2d,
    as_real_2d,
    check_choice,
    check_data_range,
    check_same_shape,
)


def _with(value: float, index: tuple[int, int], shape=(4, 4), dtype=float) -> np.ndarray:
    arr = np.ones(shape, dtype=dtype)
    arr[index] = value
    return arr


BAD_RECONSTRUCTIONS = [
    pytest.param(
        {"obj": _with(np.nan, (1, 2))},
        "recon must be finite, got 1 NaN and 0 Inf values out of 16 (first at index (1, 2)",
        id="nan",
    ),
    pytest.param(
        {"amplitude": _with(np.inf, (0, 3))},
        "recon.amplitude must be finite, got 0 NaN and 1 Inf values out of 16 "
        "(first at index (0, 3), value inf)",
        id="inf",
    ),
    pytest.param(
        {"obj": _with(complex(1, np.nan), (2, 0), dtype=complex)},
        "recon must be finite, got 1 NaN and 0 Inf values out of 16 (first at index (2, 0)",
        id="nan-in-imaginary-part",
    ),
    pytest.param(
        {"amplitude": np.ones((4, 4)), "phase": np.zeros((4, 5))},
        "recon.amplitude and recon.phase must have the same shape, got (4, 4) and (4, 5)",
        id="shape-mismatch",
    ),
    pytest.param(
        {"obj": np.ones((4, 4)), "expected_shape": (4, 5)},
        "recon must have shape (4, 5), got (4, 4)",
        id="unexpected-shape",
    ),
    pytest.param(
        {"obj": np.ones(5)}, "recon must be a 2-D array, got 1-D with shape (5,)", id="1-d"
    ),
    pytest.param(
        {"obj": np.ones((2, 3, 4))},
        "recon must be a 2-D array, got 3-D with shape (2, 3, 4)",
        id="3-d",
    ),
    pytest.param(
        {"obj": np.ones((1, 3, 4))},
        "recon must be a 2-D array, got 3-D with shape (1, 3, 4) "
        "(squeeze the singleton axis first)",
        id="3-d-singleton",
    ),
    pytest.param(
        {"obj": np.float64(3.0)}, "recon must be a 2-D array, got 0-D with shape ()", id="scalar"
    ),
    pytest.param({"obj": np.ones((0, 4))}, "recon must be non-empty, got shape (0, 4)", id="empty"),
    pytest.param(
        {"amplitude": _with(-0.5, (0, 1), shape=(3, 3))},
        "recon.amplitude must be >= 0, got 1 negative values (min -0.5, first at index (0, 1))",
        id="negative-amplitude",
    ),
    pytest.param(
        {"phase": np.full((3, 3), 3.5)},
        "recon.phase must be wrapped to [-pi, pi], got min 3.5 and max 3.5; "
        "wrap it with np.angle(np.exp(1j * phase))",
        id="phase-out-of-range",
    ),
    pytest.param(
        {"amplitude": np.ones((3, 3), dtype=complex)},
        "recon.amplitude must be real, got complex dtype complex128; "
        "pass np.abs() or np.angle() of it explicitly",
        id="complex-amplitude",
    ),
    pytest.param(
        {"phase": np.zeros((3, 3), dtype=np.complex64)},
        "recon.phase must be real, got complex dtype complex64",
        id="complex-phase",
    ),
    pytest.param(
        {"obj": np.array([["a", "b"], ["c", "d"]])},
        "recon must be a numeric array, got dtype <U1",
        id="strings",
    ),
    pytest.param(
        {"obj": [[1.0, 2.0], [3.0]]},
        "recon must be convertible to a numeric array, got list",
        id="ragged",
    ),
    pytest.param({}, "check_reconstruction needs obj, amplitude or phase for recon", id="nothing"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_RECONSTRUCTIONS)
def test_bad_reconstruction_is_refused_with_a_useful_message(kwargs, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        check_reconstruction(**kwargs)


def test_quality_input_error_is_a_value_error():
    assert issubclass(QualityInputError, ValueError)


def test_name_is_used_in_messages():
    with pytest.raises(QualityInputError, match=re.escape("truth.phase must have shape (3, 3)")):
        check_reconstruction(phase=np.zeros((2, 2)), name="truth", expected_shape=(3, 3))


def test_valid_reconstructions_pass_and_are_not_mutated():
    rng = np.random.default_rng(0)
    obj = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    amplitude, phase = np.abs(obj), np.angle(obj)
    copies = [a.copy() for a in (obj, amplitude, phase)]
    check_reconstruction(obj, amplitude=amplitude, phase=phase, expected_shape=(8, 8))
    for original, copy in zip((obj, amplitude, phase), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_float32_pi_is_within_the_phase_slack():
    # float32 rounds pi up by 8.7e-8; the documented slack admits it.
    check_reconstruction(phase=np.full((3, 3), np.float32(np.pi)))
    check_reconstruction(phase=np.full((3, 3), -np.float32(np.pi)))


def test_phase_beyond_the_slack_is_refused():
    with pytest.raises(QualityInputError, match=re.escape("recon.phase must be wrapped")):
        check_reconstruction(phase=np.full((3, 3), np.pi + 1e-5))


def test_boolean_and_integer_inputs_are_accepted():
    check_reconstruction(np.ones((3, 3), dtype=bool))
    check_reconstruction(amplitude=np.ones((3, 3), dtype=np.int16))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "data_range is required and is never guessed from the data"),
        (-1, "data_range must be a positive finite number, got -1.0"),
        (0, "data_range must be a positive finite number, got 0.0"),
        (float("nan"), "data_range must be a positive finite number, got nan"),
        (float("inf"), "data_range must be a positive finite number, got inf"),
        ("x", "data_range must be a positive finite number, got 'x'"),
    ],
)
def test_bad_data_range(value, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        check_data_range(value)


def test_data_range_is_returned_as_float():
    assert check_data_range(np.float32(2.0)) == 2.0


def test_choice_lists_the_valid_options():
    message = "window must be one of 'uniform', 'gaussian'; got 'box'"
    with pytest.raises(QualityInputError, match=re.escape(message)):
        check_choice("box", "window", ("uniform", "gaussian"))


def test_same_shape_shows_both_shapes():
    message = "recon and truth must have the same shape, got (256, 256) and (255, 256)"
    with pytest.raises(QualityInputError, match=re.escape(message)):
        check_same_shape(np.ones((256, 256)), np.ones((255, 256)), ("recon", "truth"))


def test_conversions_keep_precision_and_promote_real_to_complex():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert as_real_2d(x, "x").dtype == np.float64
    z = as_complex_2d(x, "z")
    assert z.dtype == np.complex128
    np.testing.assert_array_equal(z.real, x)


def test_real_conversion_refuses_complex_rather_than_dropping_the_imaginary_part():
    with pytest.raises(QualityInputError, match=re.escape("x must be real, got complex dtype")):
        as_real_2d(np.ones((2, 2), dtype=complex), "x")


def test_none_is_refused_by_name():
    with pytest.raises(QualityInputError, match=re.escape("x must be an array, got None")):
        as_real_2d(None, "x")


def test_every_public_name_resolves_and_the_package_imports_lazily():
    import subprocess
    import sys

    import ptycho_metrics

    for name in ptycho_metrics.__all__:
        assert getattr(ptycho_metrics, name) is not None
    code = "import sys, ptycho_metrics; print('scipy' in sys.modules, 'skimage' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    with pytest.raises(AttributeError, match="has no attribute 'not_a_metric'"):
        _ = ptycho_metrics.not_a_metric
