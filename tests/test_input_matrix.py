"""Bad-input matrix: every public function, the loaders and the CLI refuse bad input clearly.

Each case calls one public entry point with one bad argument and must raise a
:class:`~ptycho_metrics.QualityInputError` whose message starts with the
argument's name (or, for files, the path and key) and says what was expected
and what was received. Nothing else may escape: no TypeError, OverflowError,
IndexError from deep inside, and no silent number. The CLI cases run
``ptycho_metrics.cli.main`` in-process and expect exit status 1 with one
``error:`` line.

This module spans the package on purpose (one table of refusals for the
whole API, issue #11); the per-module tests keep their own detailed cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ptycho_metrics import (
    QualityInputError,
    align,
    check_reconstruction,
    cli,
    evaluate,
    frc,
    metric_direction,
    ms_ssim,
    phase_error,
    psnr,
    scan_mask,
    ssim,
)
from ptycho_metrics.data import (
    extract_patches,
    fixture_path,
    load_fixture,
    load_ptycho_npz,
    sha256_file,
    simulate_intensity,
)

RNG = np.random.default_rng(0)
X = RNG.random((32, 32))
Y = X + 0.05 * RNG.random((32, 32))
Z = np.exp(1j * X) * (1.0 + Y)
ZT = np.exp(1j * Y) * (1.0 + X)
BIG = RNG.random((176, 176))


def _frc_result() -> Any:
    return frc(Z, ZT)


def _with_nan_inside() -> np.ndarray:
    out = Z.copy()
    out[10, 10] = np.nan
    return out


def _masked(values: np.ndarray) -> np.ma.MaskedArray:
    hidden = np.zeros(values.shape, bool)
    hidden[:4] = True
    return np.ma.MaskedArray(values, mask=hidden)


#: (id, call, message start). Messages are checked with re.escape: they must start
#: with (or contain, for file errors) this text.
CASES: list[tuple[str, Callable[[], Any], str]] = [
    # ssim
    ("ssim-range-str", lambda: ssim(X, Y, data_range="1.0"), "data_range must be a positive"),
    ("ssim-range-bool", lambda: ssim(X, Y, data_range=True), "data_range must be a positive"),
    ("ssim-range-none", lambda: ssim(X, Y, data_range=None), "data_range is required"),
    ("ssim-range-nan", lambda: ssim(X, Y, data_range=np.nan), "data_range must be a positive"),
    ("ssim-range-neg", lambda: ssim(X, Y, data_range=-1.0), "data_range must be a positive"),
    ("ssim-window", lambda: ssim(X, Y, data_range=1.0, window="box"), "window must be one of"),
    ("ssim-window-none", lambda: ssim(X, Y, data_range=1.0, window=None), "window must be one of"),
    ("ssim-win-even", lambda: ssim(X, Y, data_range=1.0, win_size=8), "win_size must be an odd"),
    ("ssim-win-float", lambda: ssim(X, Y, data_range=1.0, win_size=7.0), "win_size must be an odd"),
    ("ssim-win-bool", lambda: ssim(X, Y, data_range=1.0, win_size=True), "win_size must be an odd"),
    ("ssim-k1-str", lambda: ssim(X, Y, data_range=1.0, k1="0.01"), "k1 must be a real finite"),
    ("ssim-k2-inf", lambda: ssim(X, Y, data_range=1.0, k2=np.inf), "k2 must be a real finite"),
    ("ssim-complex", lambda: ssim(Z, Y, data_range=1.0), "x must be real, got complex"),
    ("ssim-shape", lambda: ssim(X, Y[:, :31], data_range=1.0), "x and y must have the same shape"),
    ("ssim-3d", lambda: ssim(X[None], Y[None], data_range=1.0), "x must be a 2-D array"),
    ("ssim-str-array", lambda: ssim("abc", Y, data_range=1.0), "x must be a numeric array"),
    ("ssim-none", lambda: ssim(None, Y, data_range=1.0), "x must be an array, got None"),
    ("ssim-nan", lambda: ssim(np.full_like(X, np.nan), Y, data_range=1.0), "x must be finite"),
    (
        "ssim-mask-float",
        lambda: ssim(X, Y, data_range=1.0, mask=np.ones_like(X)),
        "mask must be a boolean array",
    ),
    (
        "ssim-mask-shape",
        lambda: ssim(X, Y, data_range=1.0, mask=np.ones((3, 3), bool)),
        "mask must have the shape of x and y",
    ),
    (
        "ssim-mask-1px",
        lambda: ssim(X, Y, data_range=1.0, mask=np.eye(32, dtype=bool)),
        "mask must contain at least one 7x7 square of True pixels",
    ),
    (
        "ssim-nan-in-mask",
        lambda: ssim(np.where(np.eye(32) > 0, np.nan, X), Y, data_range=1.0, mask=X > -1),
        "x must be finite inside the mask",
    ),
    (
        "ssim-overflow",
        lambda: ssim(1e200 * X, Y, data_range=1.0),
        "data_range must be at least 1e-150 times the largest |x|, |y|",
    ),
    # ms_ssim
    ("ms-weights-str", lambda: ms_ssim(BIG, BIG, data_range=1.0, weights="0.5"), "weights must"),
    ("ms-weights-neg", lambda: ms_ssim(BIG, BIG, data_range=1.0, weights=(-1.0,)), "weights must"),
    ("ms-small", lambda: ms_ssim(X, Y, data_range=1.0), "x and y must be at least 161 pixels"),
    ("ms-range-bool", lambda: ms_ssim(BIG, BIG, data_range=False), "data_range must be a positive"),
    (
        "ms-masked-array",
        lambda: ms_ssim(_masked(BIG), BIG, data_range=1.0),
        "x must not be a numpy.ma.MaskedArray with masked pixels",
    ),
    # psnr
    ("psnr-range-str", lambda: psnr(X, Y, data_range="1"), "data_range must be a positive"),
    ("psnr-complex", lambda: psnr(X, Z, data_range=1.0), "y must be real, got complex"),
    (
        "psnr-masked-array",
        lambda: psnr(X, _masked(Y), data_range=1.0),
        "y must not be a numpy.ma.MaskedArray",
    ),
    # frc and FRCResult
    ("frc-apod", lambda: frc(Z, ZT, apodization="hamming"), "apodization must be one of"),
    ("frc-apod-bool", lambda: frc(Z, ZT, apodization=False), "apodization must be one of"),
    ("frc-alpha", lambda: frc(Z, ZT, tukey_alpha=2.0), "tukey_alpha must be a real finite"),
    ("frc-alpha-str", lambda: frc(Z, ZT, tukey_alpha="0.5"), "tukey_alpha must be a real finite"),
    ("frc-pixel-size", lambda: frc(Z, ZT, pixel_size=0.0), "pixel_size must be a positive"),
    ("frc-pixel-bool", lambda: frc(Z, ZT, pixel_size=True), "pixel_size must be a positive"),
    ("frc-pixel-unit", lambda: frc(Z, ZT, pixel_unit=3), "pixel_unit must be a non-empty string"),
    ("frc-tiny", lambda: frc(Z[:3, :3], ZT[:3, :3]), "a and b must be at least 4 pixels"),
    ("frc-mixed", lambda: frc(X, Z), "a and b must be both real or both complex"),
    ("frc-criterion", lambda: _frc_result().threshold("half"), "criterion must be one of"),
    ("frc-criterion-num", lambda: _frc_result().resolution(1.5), "criterion must be one of"),
    ("frc-criterion-bool", lambda: _frc_result().resolution(True), "criterion must be one of"),
    ("frc-plot-criteria", lambda: _frc_result().plot(criteria="half-bit"), "criteria must be"),
    # phase_error
    (
        "phase-offset-str",
        lambda: phase_error(Z, ZT, remove_offset="no"),
        "remove_offset must be True or False, got 'no' (str)",
    ),
    ("phase-ramp-int", lambda: phase_error(Z, ZT, remove_ramp=1), "remove_ramp must be True or"),
    (
        "phase-real-with-complex",
        lambda: phase_error(X, ZT),
        "recon must be a complex object, got real dtype float64",
    ),
    ("phase-real-as", lambda: phase_error(X, ZT, real_as="amp"), "real_as must be one of"),
    (
        "phase-weights-neg",
        lambda: phase_error(Z, ZT, weights=-np.ones_like(X)),
        "weights must be >= 0",
    ),
    (
        "phase-weights-shape",
        lambda: phase_error(Z, ZT, weights=np.ones((3, 3))),
        "weights must have the images' shape",
    ),
    ("phase-mask-empty", lambda: phase_error(Z, ZT, mask=X > 2), "mask must select at least one"),
    ("phase-mask-str", lambda: phase_error(Z, ZT, mask="all"), "mask must be a boolean array"),
    (
        "phase-zero-recon",
        lambda: phase_error(np.zeros_like(Z), ZT),
        "recon must not be zero everywhere inside mask",
    ),
    ("phase-shape", lambda: phase_error(Z, ZT[:5]), "recon and truth must have the same shape"),
    # align
    ("align-upsample-bool", lambda: align(Z, ZT, upsample_factor=True), "upsample_factor must be"),
    ("align-upsample-float", lambda: align(Z, ZT, upsample_factor=10.0), "upsample_factor must"),
    ("align-upsample-zero", lambda: align(Z, ZT, upsample_factor=0), "upsample_factor must be"),
    ("align-max-shift-nan", lambda: align(Z, ZT, max_shift=np.nan), "max_shift must be a positive"),
    ("align-max-shift-str", lambda: align(Z, ZT, max_shift="3"), "max_shift must be a positive"),
    ("align-scale", lambda: align(Z, ZT, scale="real"), "scale must be one of"),
    ("align-scale-bool", lambda: align(Z, ZT, scale=True), "scale must be one of"),
    (
        "align-ramp-str",
        lambda: align(Z, ZT, remove_ramp="yes"),
        "remove_ramp must be True or False",
    ),
    ("align-real", lambda: align(np.abs(Z), ZT), "recon must be a complex object, got real"),
    ("align-real-as-neg", lambda: align(X - 2, ZT, real_as="amplitude"), "recon must be >= 0"),
    ("align-nan-inside", lambda: align(_with_nan_inside(), ZT), "recon must be finite"),
    ("align-zero", lambda: align(np.zeros_like(Z), ZT), "recon must not be zero everywhere"),
    # evaluate
    ("eval-align-str", lambda: evaluate(Z, ZT, align="no"), "align must be True or False"),
    (
        "eval-pixel-size",
        lambda: evaluate(Z, ZT, pixel_size="1e-9"),
        "pixel_size must be a positive",
    ),
    ("eval-pixel-unit", lambda: evaluate(Z, ZT, pixel_unit=""), "pixel_unit must be a non-empty"),
    ("eval-upsample", lambda: evaluate(Z, ZT, upsample_factor=2.5), "upsample_factor must be an"),
    ("eval-max-shift", lambda: evaluate(Z, ZT, max_shift=-1.0), "max_shift must be a positive"),
    ("eval-scale", lambda: evaluate(Z, ZT, scale="abs"), "scale must be one of"),
    ("eval-weights", lambda: evaluate(Z, ZT, ms_ssim_weights=(True,)), "ms_ssim_weights must be"),
    ("eval-real-as", lambda: evaluate(Z, ZT, real_as=1), "real_as must be one of"),
    ("eval-real", lambda: evaluate(X, ZT), "recon must be a complex object, got real"),
    (
        "eval-tiny-mask",
        lambda: evaluate(Z, ZT, mask=np.pad(np.ones((6, 20), bool), ((13, 13), (6, 6)))),
        "mask must leave a compared region holding a 7x7 square",
    ),
    (
        "eval-one-pixel-mask",
        lambda: evaluate(Z, ZT, mask=np.pad(np.ones((1, 1), bool), ((5, 26), (5, 26)))),
        "mask must leave a compared region holding a 7x7 square",
    ),
    ("eval-nan-inside", lambda: evaluate(_with_nan_inside(), ZT), "recon must be finite"),
    # check_reconstruction
    (
        "check-expected-shape-str",
        lambda: check_reconstruction(Z, expected_shape="64x64"),
        "expected_shape must be a sequence of 2 non-negative integers",
    ),
    (
        "check-expected-shape-float",
        lambda: check_reconstruction(Z, expected_shape=(32.0, 32.0)),
        "expected_shape must be a sequence of 2 non-negative integers",
    ),
    ("check-name", lambda: check_reconstruction(Z, name=3), "name must be a non-empty string"),
    # scan_mask
    ("mask-fraction-str", lambda: scan_mask(load_fixture(), fraction="0.1"), "fraction must be"),
    ("mask-fraction-nan", lambda: scan_mask(load_fixture(), fraction=np.nan), "fraction must be"),
    ("mask-data", lambda: scan_mask("default"), "data must be a PtychoData"),
    (
        "mask-object-shape",
        lambda: scan_mask(
            xcoords=[16.0], ycoords=[16.0], probe=np.ones((8, 8)), object_shape="32x32"
        ),
        "object_shape must be two positive integers",
    ),
    (
        "mask-coords-str",
        lambda: scan_mask(
            xcoords="a", ycoords=[16.0], probe=np.ones((8, 8)), object_shape=(32, 32)
        ),
        "xcoords must be a real numeric array",
    ),
    # metadata
    ("direction-name", lambda: metric_direction("ssim"), "metric name must be one of"),
    ("direction-list", lambda: metric_direction(["ssim"]), "metric name must be one of"),
    # data loaders
    ("load-int-path", lambda: load_ptycho_npz(3), "path must be a file path (str or os.PathLike)"),
    ("load-none-path", lambda: load_ptycho_npz(None), "path must be a file path"),
    ("sha-int-path", lambda: sha256_file(3), "path must be a file path"),
    ("fixture-int", lambda: load_fixture(1), "name must be a fixture name"),
    ("fixture-unknown", lambda: fixture_path("nope"), "unknown fixture 'nope'"),
    ("patches-n-float", lambda: extract_patches(X, [16.0], [16.0], 8.0), "extract_patches: n must"),
    ("patches-n-odd", lambda: extract_patches(X, [16.0], [16.0], 7), "extract_patches: n must"),
    ("patches-obj-str", lambda: extract_patches("obj", [16.0], [16.0], 8), "extract_patches: obj"),
    (
        "patches-coords-complex",
        lambda: extract_patches(X, [16j], [16.0], 8),
        "extract_patches: xcoords must be real",
    ),
    (
        "simulate-probe-str",
        lambda: simulate_intensity("p", Z, [16.0], [16.0]),
        "simulate_intensity: probe must be a numeric array",
    ),
]


@pytest.fixture(scope="module")
def report() -> Any:
    return evaluate(Z, Z)


def test_the_matrix_is_large_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_argument(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(QualityInputError, match=re.escape(message)) as info:
        call()
    # Every refusal says what was received.
    assert "got" in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.plot(3), "path_or_fig must be a file path (str or os.PathLike), got 3"),
        (lambda r: r.to_json(indent="2"), "indent must be an integer >= 0 or None, got '2' (str)"),
    ],
    ids=["plot-int-path", "json-indent-str"],
)
def test_report_methods_refuse_bad_arguments(
    report: Any, call: Callable[[Any], Any], message: str
) -> None:
    with pytest.raises(QualityInputError, match=re.escape(message)):
        call(report)


def _npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def test_loader_names_the_key_of_an_object_array(tmp_path: Path) -> None:
    data = dict(np.load(fixture_path("default")))
    data["probeGuess"] = np.array([{"a": 1}], dtype=object)
    path = _npz(tmp_path / "scan.npz", **data)
    with pytest.raises(
        QualityInputError, match=re.escape("key 'probeGuess' holds a Python object")
    ):
        load_ptycho_npz(path)


@pytest.fixture
def cli_files(tmp_path: Path) -> dict[str, Path]:
    obj = load_fixture("default").obj
    return {
        "real": _npz(tmp_path / "real.npz", object=np.abs(obj)),
        "pickled": _npz(tmp_path / "pickled.npz", object=np.array([None], dtype=object)),
        "no-object": _npz(tmp_path / "none.npz", other=np.ones(3)),
        "missing": tmp_path / "missing.npz",
        "good": _npz(tmp_path / "good.npz", object=obj),
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--recon", "{real}", "--truth", "default"], "real.npz: no complex array"),
        (["--recon", "{pickled}", "--truth", "default"], "pickled.npz: not a readable .npz"),
        (["--recon", "{no-object}", "--truth", "default"], "none.npz: no complex array"),
        (["--recon", "{missing}", "--truth", "default"], "missing.npz: no such file"),
        (
            ["--recon", "{good}", "--pixel-size", "5.9604644775390625e-08", "--truth", "nope.npz"],
            "nope.npz: no such file",
        ),
    ],
    ids=["real-object", "pickled-object", "no-object", "missing-file", "missing-truth"],
)
def test_cli_evaluate_refuses_bad_files(
    cli_files: dict[str, Path], argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    args = [a.format(**{k: str(v) for k, v in cli_files.items()}) for a in argv]
    assert cli.main(["evaluate", *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("ptycho-metrics: error: ")
    assert message in err[0], err[0]
