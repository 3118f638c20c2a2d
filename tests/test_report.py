"""Tests of ptycho_metrics._report: evaluate() and QualityReport."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import scipy.fft as sfft
from scipy import ndimage

from ptycho_metrics import (
    METRICS,
    QualityInputError,
    QualityReport,
    align,
    evaluate,
    frc,
    ms_ssim,
    phase_error,
    psnr,
    ssim,
)
from ptycho_metrics._metadata import EVALUATE_METRICS

N = 192  # large enough for five MS-SSIM scales (161 px minimum)


def _truth(n: int = N, *, seed: int = 0, span: float = 12.0) -> np.ndarray:
    """Periodic band-limited complex object whose phase spans ``span`` radians."""
    rng = np.random.default_rng(seed)
    amp = 0.6 + 0.3 * np.tanh(5 * ndimage.gaussian_filter(rng.normal(size=(n, n)), 2, mode="wrap"))
    phase = ndimage.gaussian_filter(rng.normal(size=(n, n)), 5, mode="wrap")
    phase *= span / np.ptp(phase)
    return amp * np.exp(1j * phase)


def _noisy(truth: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return truth + sigma * (rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape))


def _ambiguous_copy(truth: np.ndarray) -> np.ndarray:
    """truth with every ptychographic ambiguity: sub-pixel shift, ramp, global phase, wraps."""
    n = truth.shape[0]
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    moved = sfft.ifft2(ndimage.fourier_shift(sfft.fft2(truth), (0.37, -1.6)))
    return moved * np.exp(1j * (2.9 + 0.03 * y - 0.02 * x))


def test_metrics_have_exactly_the_declared_keys_and_directions():
    report = evaluate(_noisy(_truth(), 0.05), _truth())
    evaluated = {k: m for k, m in METRICS.items() if m.source == "evaluate"}
    assert list(report.metrics) == list(evaluated) == list(EVALUATE_METRICS)
    assert report.directions == {k: m.direction for k, m in evaluated.items()}
    # The learning-curve metrics are declared too, but evaluate() cannot compute them.
    assert "epochs_to_amplitude_ssim_0p95" in METRICS
    assert "epochs_to_amplitude_ssim_0p95" not in report.metrics
    assert all(isinstance(v, float) for v in report.metrics.values())


def test_perfect_reconstruction():
    truth = _truth()
    report = evaluate(truth, truth)
    m = report.metrics
    for key in ("amplitude_ssim", "phase_ssim", "amplitude_ms_ssim"):
        assert m[key] == pytest.approx(1.0, abs=1e-12)
    for key in ("amplitude_pearson", "phase_pearson"):
        assert m[key] == pytest.approx(1.0, abs=1e-12)
    for key in ("amplitude_mae", "amplitude_rmse", "phase_mae", "phase_rmse", "phase_max"):
        assert m[key] < 1e-12
    assert m["amplitude_scale_error"] < 1e-12
    assert m["amplitude_psnr"] > 200
    # A perfect curve never crosses: NaN with the reason, never a silent Nyquist.
    assert math.isnan(m["frc_0p5"])
    assert math.isnan(m["frc_half_bit"])
    assert any("frc_0p5 is NaN: correlation stays at or above" in n for n in report.notes)
    assert m["frc_mean"] == pytest.approx(1.0, abs=1e-12)  # always defined
    assert report.region_shape == (N, N)
    assert report.n_compared == N * N


def test_shift_ramp_global_phase_and_wraps_are_not_errors():
    truth = _truth(span=25.0)
    report = evaluate(_ambiguous_copy(truth), truth)
    m = report.metrics
    assert report.alignment is not None
    assert report.alignment["shift"] == pytest.approx([-0.37, 1.6], abs=0.01)
    assert m["amplitude_ssim"] > 0.9999
    assert m["phase_ssim"] > 0.9999
    assert m["phase_rmse"] < 1e-3
    assert m["amplitude_scale_error"] < 1e-3
    assert report.n_compared == (N - 3) * (N - 4)  # edges wrapped by the shift excluded


def test_metrics_are_the_public_functions_on_the_aligned_region():
    truth = _truth()
    recon = _noisy(_ambiguous_copy(truth), 0.05)
    report = evaluate(recon, truth)
    al = align(recon, truth)
    rows = np.flatnonzero(al.region.any(axis=1))
    cols = np.flatnonzero(al.region.any(axis=0))
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    a, t = al.aligned[box], truth[box]
    t_amp, r_amp = np.abs(t), np.abs(a)
    rng = np.ptp(t_amp)
    m = report.metrics
    assert m["amplitude_ssim"] == ssim(t_amp, r_amp, data_range=rng)
    assert m["amplitude_ms_ssim"] == ms_ssim(t_amp, r_amp, data_range=rng)
    assert m["amplitude_psnr"] == pytest.approx(psnr(t_amp, r_amp, data_range=rng), rel=1e-12)
    assert m["amplitude_rmse"] == pytest.approx(np.sqrt(np.mean((t_amp - r_amp) ** 2)), rel=1e-12)
    assert m["amplitude_mae"] == pytest.approx(np.mean(np.abs(t_amp - r_amp)), rel=1e-12)
    assert m["amplitude_pearson"] == pytest.approx(np.corrcoef(t_amp.ravel(), r_amp.ravel())[0, 1])
    assert m["phase_rmse"] == phase_error(a, t).rmse
    curve = frc(a, t)
    assert m["frc_0p5"] == curve.resolution(0.5).frequency
    assert m["frc_half_bit"] == curve.resolution("half-bit").frequency
    beyond_dc = curve.frequency > 0
    assert m["frc_mean"] == pytest.approx(np.mean(curve.correlation[beyond_dc]), rel=1e-12)
    assert 0 < m["frc_0p5"] < 0.5
    np.testing.assert_array_equal(report.frc.correlation, curve.correlation)


def test_a_shifted_crop_of_a_non_periodic_object_scores_near_perfect():
    canvas = _truth(256, span=25.0)
    moved = sfft.ifft2(ndimage.fourier_shift(sfft.fft2(canvas), (0.37, -1.6)))
    crop = np.s_[30:230, 20:220]
    report = evaluate(moved[crop] * np.exp(0.7j), canvas[crop])
    m = report.metrics
    # Measured: 0.99972, 0.0049 rad, 0.067 rad; a plain Fourier shift rings from the
    # crop's edges and gives 0.9971, 0.018 rad, 0.25 rad.
    assert m["amplitude_ssim"] > 0.9995
    assert m["phase_rmse"] < 0.008
    assert m["phase_max"] < 0.12


def test_scale_is_removed_but_reported_symmetrically():
    truth = _truth()
    half, double = evaluate(0.5 * truth, truth), evaluate(2.0 * truth, truth)
    assert half.metrics["amplitude_rmse"] < 1e-12
    # |ln s|: a factor 2 and a factor 1/2 are the same error, ln 2.
    assert half.metrics["amplitude_scale_error"] == pytest.approx(np.log(2.0), abs=1e-12)
    assert double.metrics["amplitude_scale_error"] == pytest.approx(np.log(2.0), abs=1e-12)


def test_phase_ssim_uses_the_truth_range_so_a_weak_phase_object_is_not_flattered():
    truth = _truth(span=0.2)
    noise = np.random.default_rng(2).normal(0.0, 0.02, truth.shape)
    recon = truth * np.exp(1j * noise)
    report = evaluate(recon, truth, align=False)
    t_phase = np.angle(truth)
    t_phase -= 2 * np.pi * np.floor((t_phase.mean() + np.pi) / (2 * np.pi))
    r_phase = t_phase + phase_error(recon, truth).residual
    expected = ssim(t_phase, r_phase, data_range=np.ptp(t_phase))
    assert report.metrics["phase_ssim"] == pytest.approx(expected, abs=1e-12)
    flattered = ssim(t_phase, r_phase, data_range=2 * np.pi)
    assert report.metrics["phase_ssim"] < flattered - 0.05


@pytest.mark.parametrize(
    ("key", "better"),
    [
        ("amplitude_ssim", "higher"),
        ("phase_ssim", "higher"),
        ("amplitude_ms_ssim", "higher"),
        ("amplitude_psnr", "higher"),
        ("amplitude_rmse", "lower"),
        ("phase_rmse", "lower"),
        ("frc_0p5", "higher"),
        ("frc_half_bit", "higher"),
        ("frc_mean", "higher"),
    ],
)
def test_more_noise_is_worse_in_the_declared_direction(key, better):
    truth = _truth()
    values = [evaluate(_noisy(truth, s), truth).metrics[key] for s in (0.02, 0.08, 0.3)]
    assert all(np.isfinite(values))
    ordered = values[::-1] if better == "higher" else values
    assert ordered == sorted(ordered)
    assert METRICS[key].direction == better


def test_blur_lowers_resolution_and_ssim():
    truth = _truth(seed=3)
    blurred = ndimage.gaussian_filter(truth.real, 1.5) + 1j * ndimage.gaussian_filter(
        truth.imag, 1.5
    )
    noisy = _noisy(truth, 0.02)
    sharp, soft = evaluate(noisy, truth).metrics, evaluate(_noisy(blurred, 0.02), truth).metrics
    assert soft["frc_0p5"] < sharp["frc_0p5"]
    assert soft["amplitude_ssim"] < sharp["amplitude_ssim"]


def test_conjugated_phase_is_caught():
    truth = _truth(span=4.0)
    report = evaluate(np.conj(truth), truth)
    assert report.metrics["phase_rmse"] > 0.3
    assert report.metrics["phase_ssim"] < 0.5


def _refuse_constant(name: str) -> None:
    pytest.fail(f"non-standard JSON constant {name} in the report")


def test_json_round_trip_is_strict_and_lossless():
    truth = _truth()
    report = evaluate(_noisy(truth, 0.05), truth, pixel_size=1e-8)
    text = report.to_json()
    loaded = json.loads(text, parse_constant=_refuse_constant)
    assert loaded == report.to_dict()
    for key, value in report.metrics.items():
        assert loaded["metrics"][key] == pytest.approx(value, rel=1e-15)
    assert loaded["frc"]["pixel_size"] == 1e-8
    assert loaded["alignment"]["scale_mode"] == "complex"


def test_nan_metrics_are_written_as_null():
    truth = _truth()
    loaded = json.loads(evaluate(truth, truth).to_json(), parse_constant=_refuse_constant)
    assert loaded["metrics"]["frc_0p5"] is None
    assert loaded["metrics"]["frc_half_bit"] is None


def test_format_table_lists_every_metric():
    truth = _truth()
    table = evaluate(_noisy(truth, 0.05), truth).format_table()
    for key in EVALUATE_METRICS:
        info = METRICS[key]
        assert re.search(rf"^{key}\s+\S+\s+{re.escape(info.unit)}\s+{info.direction}$", table, re.M)


def test_plot_writes_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    truth = _truth()
    path = tmp_path / "report.png"
    evaluate(_noisy(truth, 0.05), truth).plot(path)
    assert path.stat().st_size > 0


def test_small_region_uses_the_scales_that_fit_and_says_so():
    truth = _truth(100)
    recon = _noisy(truth, 0.05)
    report = evaluate(recon, truth, align=False)  # the whole frame is compared
    weights = (0.0448, 0.2856, 0.3001, 0.2363)  # 4 scales need 81 px; 5 would need 161
    expected = ms_ssim(
        np.abs(truth),
        np.abs(recon),
        data_range=float(np.ptp(np.abs(truth))),
        weights=tuple(w / sum(weights) for w in weights),
    )
    assert report.metrics["amplitude_ms_ssim"] == pytest.approx(expected, rel=1e-12)
    assert any(n.startswith("amplitude_ms_ssim uses 4 scales, not 5") for n in report.notes)


def test_explicit_ms_ssim_weights_too_many_for_the_region_raise():
    truth = _truth(100)
    with pytest.raises(QualityInputError, match=re.escape("at least 161 pixels on the short side")):
        evaluate(
            _noisy(truth, 0.05), truth, ms_ssim_weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
        )


def test_pure_phase_object_has_nan_amplitude_ssim_with_the_reason():
    truth = np.exp(1j * np.angle(_truth()))
    report = evaluate(_noisy(truth, 0.05), truth)
    assert math.isnan(report.metrics["amplitude_ssim"])
    assert any("truth's amplitude is constant in the region" in n for n in report.notes)
    assert np.isfinite(report.metrics["phase_ssim"])


def test_non_rectangular_mask_is_stated():
    truth = _truth()
    mask = np.zeros(truth.shape, dtype=bool)
    mask[10:180, 20:170] = True
    mask[80:100, 80:100] = False
    recon = _noisy(truth, 0.05)
    recon[~mask] = 0.0  # unscanned pixels must not matter
    report = evaluate(recon, truth, mask=mask)
    assert report.n_compared == int(mask.sum())
    assert report.region_shape == (170, 150)
    assert any("region is not rectangular" in n for n in report.notes)
    unmasked = evaluate(_noisy(truth, 0.05), truth).metrics
    assert report.metrics["amplitude_rmse"] == pytest.approx(unmasked["amplitude_rmse"], rel=0.05)


def test_phase_residues_are_stated():
    truth = _truth()
    rng = np.random.default_rng(4)
    truth[:20] = 0.01 * np.exp(1j * rng.uniform(-np.pi, np.pi, (20, N)))  # vacuum band
    report = evaluate(_noisy(truth, 0.01), truth)
    assert any(n.startswith("the truth's phase has") for n in report.notes)
    assert any(n.startswith("the residual phase has") for n in report.notes)
    assert not any("residues" in n for n in evaluate(_noisy(_truth(), 0.01), _truth()).notes)


def test_align_false_compares_as_given():
    truth = _truth()
    report = evaluate(truth * np.exp(0.4j), truth, align=False)
    assert report.alignment is None
    assert report.metrics["phase_rmse"] < 1e-12  # phase_error still removes the offset
    assert report.n_compared == N * N


@pytest.mark.parametrize("align", [True, False])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_inputs_are_not_mutated(align, dtype):
    # evaluate() lets the FRC overwrite the aligned crop in place: never the caller's
    # array, which align=False compares as given.
    truth = _truth()
    recon = _ambiguous_copy(truth).astype(dtype)
    mask = np.ones(truth.shape, dtype=bool)
    copies = [a.copy() for a in (recon, truth, mask)]
    evaluate(recon, truth, mask=mask, align=align)
    evaluate(recon, truth, align=align)
    for original, copy in zip((recon, truth, mask), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_report_is_a_quality_report():
    truth = _truth()
    assert isinstance(evaluate(truth, truth), QualityReport)


@pytest.mark.parametrize(
    ("recon", "truth", "message"),
    [
        (
            np.full((8, 8), np.nan + 0j),
            np.ones((8, 8), complex),
            "recon must be finite, got 64 NaN",
        ),
        (np.ones((8, 8)), np.ones((8, 8), complex), "recon must be a complex object, got real"),
        (np.ones((8, 8)), np.ones((8, 9)), "recon and truth must have the same shape"),
        (np.ones(8), np.ones(8), "recon must be a 2-D array, got 1-D with shape (8,)"),
    ],
)
def test_bad_inputs_raise_quality_input_error(recon, truth, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        evaluate(recon, truth)


def test_finite_metrics_leaves_out_exactly_the_undefined_ones():
    truth = _truth()
    report = evaluate(truth, truth, align=False)  # identical: FRC never crosses, PSNR is inf
    finite = report.finite_metrics()
    assert set(report.metrics) - set(finite) == {
        "frc_0p5",
        "frc_half_bit",
        "amplitude_psnr",
        "alignment_shift_px",  # align=False: nothing estimated
        "alignment_ramp",
    }
    assert all(math.isfinite(v) for v in finite.values())


def test_suspicious_alignment_note() -> None:
    y, x = np.mgrid[:96, :96]
    truth = (1 + 0.3 * np.cos(x / 5) * np.sin(y / 7)) * np.exp(1j * 0.5 * np.sin(x / 9))
    far = evaluate(np.roll(truth, 20, axis=1), truth)  # 20 px of a 96 px box: 21 %
    notes = [n for n in far.notes if n.startswith("suspicious alignment")]
    assert len(notes) == 1, far.notes
    assert "is the reconstruction on the truth's grid?" in notes[0]
    near = evaluate(np.roll(truth, 3, axis=1), truth)  # 3 %: an ordinary registration
    assert not [n for n in near.notes if n.startswith("suspicious alignment")]


# ----------------------------------------------------------------------------- gate_metrics


def _textured(n: int = 96) -> np.ndarray:
    y, x = np.mgrid[:n, :n]
    rng = np.random.default_rng(11)
    amp = 1 + 0.3 * ndimage.gaussian_filter(rng.standard_normal((n, n)), 1.0)
    return amp * np.exp(1j * 0.5 * np.sin(x / 6 + y / 11))


def _noisy(truth: np.ndarray, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    return truth + sigma * (
        rng.standard_normal(truth.shape) + 1j * rng.standard_normal(truth.shape)
    )


def test_gate_metrics_keep_every_key_when_frc_never_crosses() -> None:
    truth = _textured()
    perfect = evaluate(truth * np.exp(0.2j), truth)
    assert math.isnan(perfect.metrics["frc_0p5"])  # never crosses up to Nyquist
    gated = perfect.gate_metrics()
    assert list(gated) == list(perfect.metrics)  # the same keys, in METRICS order
    assert gated["frc_0p5"] == gated["frc_half_bit"] == 0.5
    assert all(math.isfinite(v) for v in gated.values())


def test_gate_metrics_better_passes_worse_fails_across_a_crossing_change() -> None:
    from ptycho_metrics.gate import compare_metrics

    truth = _textured()
    clean = evaluate(_noisy(truth, 0.002), truth)  # no crossing below Nyquist
    noisy = evaluate(_noisy(truth, 0.3), truth)  # crossings appear
    assert math.isnan(clean.metrics["frc_0p5"])
    assert math.isfinite(noisy.metrics["frc_0p5"])
    assert set(clean.gate_metrics()) == set(noisy.gate_metrics())
    # Better than the golden: a crossing vanished; the gate passes (a ratchet).
    better = compare_metrics(clean.gate_metrics(), noisy.gate_metrics())
    assert better.passed, better.format_table()
    assert {r.metric for r in better.improvements} >= {"frc_0p5", "frc_half_bit"}
    # Worse than the golden: a crossing appeared; the gate fails and names it.
    worse = compare_metrics(noisy.gate_metrics(), clean.gate_metrics())
    assert {"frc_0p5", "frc_half_bit", "amplitude_ssim"} <= {r.metric for r in worse.failures}
    assert not {r.metric for r in worse.rows if r.verdict in ("missing", "extra")}
    # finite_metrics() changes its key set across the same change: what gate_metrics fixes.
    assert set(clean.finite_metrics()) != set(noisy.finite_metrics())


def test_gate_metrics_caps_infinite_psnr() -> None:
    from ptycho_metrics._report import PSNR_CEILING_DB

    truth = _textured(64)
    identical = evaluate(truth, truth, align=False)
    assert identical.metrics["amplitude_psnr"] == math.inf
    assert identical.gate_metrics()["amplitude_psnr"] == PSNR_CEILING_DB
    assert 313 < PSNR_CEILING_DB < 314


# ------------------------------------------------------- degenerate and masked inputs (#11)


@pytest.mark.parametrize("align_first", [True, False])
def test_a_zero_reconstruction_gets_no_good_metric_and_notes_that_name_recon(align_first):
    truth = _truth(64)
    report = evaluate(np.zeros_like(truth), truth, align=align_first)
    m = report.metrics
    for key in ("phase_mae", "phase_rmse", "phase_max", "phase_ssim", "phase_pearson"):
        assert math.isnan(m[key]), key
    for key in ("frc_0p5", "frc_half_bit", "frc_mean", "amplitude_pearson"):
        assert math.isnan(m[key]), key
    assert m["amplitude_scale_error"] == math.inf
    assert m["amplitude_ssim"] < 0.01
    assert m["amplitude_psnr"] < 10.0
    assert m["amplitude_mae"] == pytest.approx(np.abs(truth).mean())
    notes = " ".join(report.notes)
    assert "the phase of recon is undefined: recon is zero everywhere in the region" in notes
    assert "recon is constant in the compared box" in notes
    assert "truth's" not in notes  # nothing blames the truth
    if align_first:
        assert report.alignment is None
        assert "alignment skipped: recon is zero inside the compared pixels" in notes


def test_a_constant_reconstruction_names_recon_for_the_undefined_correlations():
    truth = _truth(64)
    report = evaluate(np.full_like(truth, 0.7 + 0.1j), truth)
    m = report.metrics
    assert math.isnan(m["amplitude_pearson"])
    assert math.isnan(m["frc_mean"])
    assert "amplitude_pearson is NaN: recon's amplitude is constant in the region" in report.notes
    assert np.isfinite(m["phase_rmse"])  # a constant phase is a phase: a large error
    assert m["phase_rmse"] > 0.5


def test_a_zero_truth_gives_nan_scale_with_a_note_naming_truth():
    truth = _truth(64)
    report = evaluate(truth, np.zeros_like(truth))
    assert math.isnan(report.metrics["amplitude_scale_error"])
    assert "amplitude_scale_error is NaN: truth is zero in the region: no scale" in report.notes
    assert math.isnan(report.metrics["phase_rmse"])
    assert any("the phase of truth is undefined" in n for n in report.notes)


def test_nan_outside_the_mask_is_excluded_and_numpy_ma_masks_are_honoured():
    truth = _truth(64)
    rng = np.random.default_rng(1)
    recon = truth * np.exp(0.4j) + 0.05 * rng.normal(size=truth.shape)
    mask = np.zeros(truth.shape, bool)
    mask[8:56, 4:60] = True
    reference = evaluate(recon, truth, mask=mask).metrics
    padded = np.where(mask, recon, np.nan)
    # Values outside the mask enter the registration window only: filled with 0, they
    # may move the sub-pixel estimate and the metrics slightly.
    filled = evaluate(padded, truth, mask=mask).metrics
    assert filled == pytest.approx(reference, rel=1e-3, abs=1e-3, nan_ok=True)
    masked = np.ma.MaskedArray(padded, mask=~mask)
    assert evaluate(masked, truth).metrics == pytest.approx(filled, rel=1e-12, nan_ok=True)
    with pytest.raises(QualityInputError, match=re.escape("recon must be finite, got 1408 NaN")):
        evaluate(padded, truth)


def test_a_region_too_small_names_the_metric_the_size_and_the_minimum():
    truth = _truth(64)
    mask = np.zeros(truth.shape, bool)
    mask[20:26, 10:40] = True  # 6 rows: no 7x7 window
    message = (
        "mask must leave a compared region holding a 7x7 square (after the edges wrapped by "
        "the alignment shift are excluded): amplitude_ssim and phase_ssim need one 7x7 window "
        "entirely inside it (frc a 4x4 box, amplitude_ms_ssim 11x11 for one scale), got 180 "
        "pixels in a 6x30 box"
    )
    with pytest.raises(QualityInputError, match=re.escape(message)):
        evaluate(truth, truth, mask=mask)


def test_real_input_needs_real_as():
    truth = _truth(64)
    amp = np.abs(truth)
    with pytest.raises(QualityInputError, match=re.escape("recon must be a complex object")):
        evaluate(amp, truth)
    report = evaluate(amp, np.abs(truth), real_as="amplitude")
    assert report.metrics["amplitude_ssim"] == pytest.approx(1.0, abs=1e-12)
    phase = evaluate(np.angle(truth), np.angle(truth) + 0.3, real_as="phase")
    assert phase.metrics["phase_rmse"] < 1e-9


def test_the_residue_note_advises_a_mask_only_when_none_was_given():
    truth = _truth(64)
    rng = np.random.default_rng(3)
    spikes = rng.uniform(-np.pi, np.pi, size=truth.shape) * (rng.random(truth.shape) < 0.05)
    noisy = truth * np.exp(1j * spikes)
    plain = " ".join(evaluate(noisy, truth).notes)
    assert "pass a mask of the object support" in plain
    masked = " ".join(evaluate(noisy, truth, mask=np.ones(truth.shape, bool)).notes)
    assert "residues" in masked
    assert "pass a mask of the object support" not in masked
    assert "the given mask includes pixels without a reliable phase" in masked


def test_finite_metrics_exclude_opts_out_per_metric():
    truth = _truth()
    report = evaluate(_noisy(truth, 0.05), truth)
    kept = report.finite_metrics(exclude=("alignment_shift_px", "alignment_ramp"))
    assert set(report.finite_metrics()) - set(kept) == {"alignment_shift_px", "alignment_ramp"}
    with pytest.raises(QualityInputError, match=re.escape("got unknown ['alignment_shift']")):
        report.finite_metrics(exclude=["alignment_shift"])


def test_alignment_metrics_report_the_removed_shift_and_ramp():
    truth = _truth()
    y, x = np.mgrid[: truth.shape[0], : truth.shape[1]]
    moved = np.roll(truth, (1, -2), axis=(0, 1)) * np.exp(1j * (0.01 * x + 0.02 * y))
    report = evaluate(moved, truth)
    assert report.metrics["alignment_shift_px"] == pytest.approx(np.hypot(1, 2), abs=0.02)
    assert report.metrics["alignment_ramp"] == pytest.approx(np.hypot(0.01, 0.02), rel=0.05)
    aligned = evaluate(truth, truth)
    assert aligned.metrics["alignment_shift_px"] == 0.0
    assert aligned.metrics["alignment_ramp"] < 1e-12
    notes = evaluate(truth, truth, align=False).notes
    assert "alignment_shift_px is NaN: evaluate(align=False) estimates no alignment" in notes
