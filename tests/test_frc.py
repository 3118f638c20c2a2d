"""Tests of ptycho_metrics._frc against closed-form cases.

The reference curves are analytic (identity, independent noise, global phase,
a blurred noisy copy whose expected FRC is H / sqrt(H^2 + noise variance));
tolerances come from the ring statistics: for n Fourier pixels per ring and
no apodization, the estimated correlation has a standard deviation of about
(1 - rho^2) / sqrt(n) (a real image's n pixels carry n real degrees of
freedom: n/2 independent complex pairs).
"""

from __future__ import annotations

import json
import math
import re
import sys

import numpy as np
import pytest

from ptycho_metrics import FRCResult, QualityInputError, frc

SIGMA_BLUR = 2.0  # pixels
NOISE_STD = 0.1  # per pixel, for a unit-variance signal


def _blurred_noisy_pair(shape, seed=0):
    """a = white signal s; b = s blurred by H(f) = exp(-2 pi^2 sigma^2 f^2) plus noise.

    Circular blur, so the model holds exactly for the periodic transform.
    """
    rng = np.random.default_rng(seed)
    s = rng.normal(size=shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    h = np.exp(-2 * np.pi**2 * SIGMA_BLUR**2 * (fy**2 + fx**2))
    b = np.fft.ifft2(np.fft.fft2(s) * h).real + NOISE_STD * rng.normal(size=shape)
    return s, b


def _expected_frc(f):
    h = np.exp(-2 * np.pi**2 * SIGMA_BLUR**2 * f**2)
    return h / np.sqrt(h**2 + NOISE_STD**2)


# FRC = 0.5 <=> 4 H^2 = H^2 + sn^2 <=> H = sn / sqrt(3)
# <=> f = sqrt(ln(sqrt(3) / sn) / (2 pi^2 sigma^2)) = 0.19005 cycles/pixel here.
F_HALF = math.sqrt(math.log(math.sqrt(3) / NOISE_STD) / (2 * math.pi**2 * SIGMA_BLUR**2))


def _half_bit(n):
    # van Heel & Schatz 2005 eq. 17 with SNR = (sqrt(2) - 1) / 2, written out.
    snr = (math.sqrt(2) - 1) / 2
    return (snr + 2 * math.sqrt(snr / n) + 1 / math.sqrt(n)) / (snr + 2 * math.sqrt(snr / n) + 1)


def _ring_size(f, n_side):
    return 2 * math.pi * f * n_side  # pixels in the ring of radius f * n_side


def _crossing_tolerance(f, n_side, threshold=lambda n: 0.5, factor=3.0):
    """factor x the standard deviation of a crossing frequency at f.

    sd(rho) = (1 - rho^2) / sqrt(n) for the n pixels of the ring at f; the
    crossing moves by sd(rho) / |d(rho - T)/df|, the slope of the analytic
    curve minus the threshold (central difference).
    """
    rho = float(_expected_frc(np.array(f)))
    sd_rho = (1 - rho**2) / math.sqrt(_ring_size(f, n_side))
    h = 1e-4

    def gap(g):
        return float(_expected_frc(np.array(g))) - threshold(_ring_size(g, n_side))

    slope = (gap(f + h) - gap(f - h)) / (2 * h)
    return factor * sd_rho / abs(slope)


# ----------------------------------------------------------- closed forms


@pytest.mark.parametrize("apodization", ["hann", "tukey", None])
def test_identical_images_correlate_everywhere_and_never_cross(apodization):
    x = np.random.default_rng(0).normal(size=(64, 80))
    result = frc(x, x, apodization=apodization)
    assert math.isnan(result.correlation[0])  # DC: zero power after mean removal
    np.testing.assert_allclose(result.correlation[1:], 1.0, rtol=0, atol=1e-12)
    for criterion in (0.5, "1/7", "half-bit", "one-bit"):
        res = result.resolution(criterion)
        assert res.crossed is False
        assert math.isnan(res.frequency)
        assert math.isnan(res.half_period)
        assert math.isnan(res.full_period)
        assert res.reason == (
            "correlation stays at or above the threshold up to Nyquist (0.5 cycles/pixel)"
        )


def test_constant_offset_does_not_leak_into_low_rings():
    # The window-weighted mean is removed before apodization, so b = a + 100
    # is the same image for the FRC.
    x = np.random.default_rng(1).normal(size=(96, 96))
    result = frc(x, x + 100.0, apodization="hann")
    np.testing.assert_allclose(result.correlation[1:], 1.0, rtol=0, atol=1e-12)


def test_independent_noise_is_uncorrelated():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(512, 512)), rng.normal(size=(512, 512))
    result = frc(a, b, apodization=None)
    z = result.correlation[1:] * np.sqrt(result.n_pixels[1:])  # ~ N(0, 1) per ring
    n_rings = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n_rings)
    # RMS of n_rings unit normals: sd ~ 1 / sqrt(2 n_rings) = 0.044 here.
    assert 0.85 < math.sqrt(np.mean(z**2)) < 1.15
    assert result.resolution(0.5).crossed is False  # below at the first ring
    assert "below the threshold already at the first ring" in result.resolution(0.5).reason


@pytest.mark.parametrize("shape", [(512, 512), (384, 512), (512, 448)])
def test_blurred_noisy_copy_crosses_half_where_predicted(shape):
    a, b = _blurred_noisy_pair(shape)
    result = frc(a, b, apodization=None)
    res = result.resolution(0.5)
    assert res.crossed
    assert res.frequency == pytest.approx(F_HALF, abs=_crossing_tolerance(F_HALF, min(shape)))
    # The whole curve follows the prediction within the ring statistics. Rings
    # of >= 100 pixels, where the normal approximation of sd(rho) holds: over
    # 120 seeds and these shapes the RMS of z was 1.005 +- 0.047.
    big = result.n_pixels >= 100
    rho = _expected_frc(result.frequency[big])
    z = (result.correlation[big] - rho) / ((1 - rho**2) / np.sqrt(result.n_pixels[big]))
    assert 0.8 < math.sqrt(np.mean(z**2)) < 1.2


def test_blurred_noisy_copy_with_hann_window():
    # A 2-D Hann window leaves about (3/8)^2 / (35/128) = 0.51 of the
    # independent pixels per axis, 0.26 in 2-D: the ring noise grows ~2x.
    a, b = _blurred_noisy_pair((512, 512))
    res = frc(a, b).resolution(0.5)
    assert res.crossed
    assert res.frequency == pytest.approx(F_HALF, abs=2 * _crossing_tolerance(F_HALF, 512))


def test_blurred_noisy_copy_half_bit_crossing():
    a, b = _blurred_noisy_pair((512, 512))
    result = frc(a, b, apodization=None)
    # Predicted crossing: where the analytic curve meets the half-bit threshold
    # of rings of 2 pi r pixels, located by bisection.
    lo, hi = F_HALF, 0.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = _expected_frc(np.array(mid)) > _half_bit(_ring_size(mid, 512))
        lo, hi = (mid, hi) if above else (lo, mid)
    res = result.resolution("half-bit")
    assert res.crossed
    assert res.frequency == pytest.approx(lo, abs=_crossing_tolerance(lo, 512, _half_bit))


# -------------------------------------------------------- complex inputs


def _complex_object(shape=(128, 96), seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def test_global_phase_gives_cosine_everywhere():
    # Re sum F (F e^{i phi})* / sum |F|^2 = cos(phi); a modulus form would give 1.
    a = _complex_object()
    phi = 1.1
    result = frc(a, a * np.exp(1j * phi))
    np.testing.assert_allclose(result.correlation[1:], math.cos(phi), rtol=0, atol=1e-12)


def test_imaginary_part_is_not_dropped():
    # a = (1 + i) x gives conj(a) = -i a: a global phase of -pi/2, so the FRC is
    # cos(-pi/2) = 0 in every ring; dropping the imaginary parts would give 1.
    x = np.random.default_rng(6).normal(size=(64, 48))
    a = (1 + 1j) * x
    np.testing.assert_allclose(frc(a, a.conj()).correlation[1:], 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(frc(a.real, a.conj().real).correlation[1:], 1.0, atol=1e-12)


def test_conjugate_of_random_complex_image_is_uncorrelated():
    # For a = u + i v with independent white u, v: Re sum F[a] F[conj a]* =
    # sum |U|^2 - |V|^2 per ring, zero on average.
    a = _complex_object(shape=(512, 512))
    result = frc(a, a.conj(), apodization=None)
    z = result.correlation[1:] * np.sqrt(result.n_pixels[1:])
    assert abs(z.mean()) < 4 / math.sqrt(z.size)


def test_real_input_equals_promoted_complex_input():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(40, 40)), rng.normal(size=(40, 40))
    np.testing.assert_array_equal(frc(a, b).correlation, frc(a + 0j, b + 0j).correlation)


# ------------------------------------------------- rings, units, results


@pytest.mark.parametrize("shape", [(200, 300), (301, 200), (64, 64), (65, 65)])
def test_rings_cover_every_frequency_up_to_nyquist(shape):
    result = frc(np.ones(shape), np.ones(shape), apodization=None)
    side = min(shape)
    assert result.frequency.size == side // 2 + 1
    np.testing.assert_allclose(result.frequency, np.arange(side // 2 + 1) / side)
    assert result.frequency[-1] <= 0.5
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    radius = np.hypot(fy, fx) * side
    # Every Fourier pixel within the Nyquist radius is in exactly one ring.
    assert result.n_pixels.sum() == np.count_nonzero(np.rint(radius) <= side // 2)
    assert result.n_pixels.sum() >= np.count_nonzero(np.hypot(fy, fx) <= 0.5)


def test_pixel_size_gives_physical_periods():
    a, b = _blurred_noisy_pair((256, 256))
    plain = frc(a, b).resolution(0.5)
    assert plain.half_period_physical is None
    assert plain.full_period_physical is None
    assert plain.pixel_unit is None
    res = frc(a, b, pixel_size=2.5e-9, pixel_unit="m").resolution(0.5)
    assert res.frequency == plain.frequency
    assert res.full_period == pytest.approx(1 / res.frequency, rel=1e-15)
    assert res.half_period == pytest.approx(0.5 / res.frequency, rel=1e-15)
    assert res.full_period_physical == pytest.approx(res.full_period * 2.5e-9, rel=1e-15)
    assert res.half_period_physical == pytest.approx(res.half_period * 2.5e-9, rel=1e-15)
    assert res.pixel_unit == "m"


def _curve(correlation, n_pixels=None):
    corr = np.asarray(correlation, dtype=float)
    return FRCResult(
        frequency=np.arange(corr.size) / 10.0,
        correlation=corr,
        n_pixels=np.asarray(n_pixels if n_pixels is not None else [1] * corr.size),
        pixel_size=None,
        pixel_unit="m",
        apodization=None,
    )


def test_crossing_is_linearly_interpolated():
    res = _curve([np.nan, 0.9, 0.7, 0.3, 0.1]).resolution(0.5)
    # Between f = 0.2 (0.7) and f = 0.3 (0.3): 0.2 + 0.1 * 0.2 / 0.4 = 0.25.
    assert res.crossed
    assert res.frequency == pytest.approx(0.25, abs=1e-15)
    assert res.half_period == pytest.approx(2.0, abs=1e-14)
    assert res.full_period == pytest.approx(4.0, abs=1e-14)
    assert res.criterion == 0.5
    assert res.reason == "crossed between rings 2 and 3"


def test_crossing_skips_nan_rings_and_dc():
    # DC is ignored even when below; the NaN ring is skipped.
    res = _curve([0.0, 0.9, np.nan, 0.1]).resolution(0.5)
    assert res.frequency == pytest.approx(0.1 + 0.2 * 0.4 / 0.8, abs=1e-15)
    assert res.reason == "crossed between rings 1 and 3"


def test_curve_below_threshold_from_first_ring_is_not_crossed():
    res = _curve([np.nan, 0.3, 0.6, 0.2]).resolution(0.5)
    assert res.crossed is False
    assert math.isnan(res.frequency)
    assert res.reason.startswith("correlation is below the threshold already at the first ring")


def test_curve_without_power_is_not_crossed():
    res = _curve([np.nan, np.nan, np.nan]).resolution("1/7")
    assert res.crossed is False
    assert res.reason == "no ring beyond DC has power in both images"


def test_thresholds_against_hand_computed_values():
    # n = 4: sqrt(n) = 2; n = 100: sqrt(n) = 10.
    # one-bit, SNR 1/2, sqrt(SNR) = 1/sqrt(2):
    #   n=4:   (0.5 + 1/sqrt(2) + 0.5) / (0.5 + 1/sqrt(2) + 1) = 1.70711 / 2.20711 = 0.773459
    #   n=100: (0.5 + 0.1 sqrt(2) + 0.1) / (1.5 + 0.1 sqrt(2))   = 0.741421 / 1.641421 = 0.451695
    # half-bit, SNR = 0.2071068, sqrt(SNR) = 0.4550899:
    #   n=4:   (0.2071068 + 0.4550899 + 0.5) / (0.2071068 + 0.4550899 + 1) = 0.699193
    #   n=100: (0.2071068 + 0.0910180 + 0.1) / (0.2071068 + 0.0910180 + 1) = 0.306692
    # n -> inf: SNR / (SNR + 1) = 3 - 2 sqrt(2) = 0.171573 (half-bit) and 1/3 (one-bit).
    # n = 1: numerator = denominator, threshold 1.
    curve = _curve([np.nan, 1.0, 1.0, 1.0, 1.0], n_pixels=[1, 4, 100, 10**14, 10**14])
    one = curve.threshold("one-bit")
    half = curve.threshold("half-bit")
    np.testing.assert_allclose(one[:3], [1.0, 0.773459, 0.451695], atol=5e-7)
    np.testing.assert_allclose(half[:3], [1.0, 0.699193, 0.306692], atol=5e-7)
    assert one[-1] == pytest.approx(1 / 3, abs=1e-6)
    assert half[-1] == pytest.approx(3 - 2 * math.sqrt(2), abs=1e-6)
    np.testing.assert_array_equal(curve.threshold("1/7"), np.full(5, 1 / 7))
    np.testing.assert_array_equal(curve.threshold(0.5), np.full(5, 0.5))
    np.testing.assert_array_equal(curve.threshold(0.25), np.full(5, 0.25))


def test_result_is_read_only_and_serialisable():
    x = np.random.default_rng(5).normal(size=(32, 32))
    result = frc(x, x, pixel_size=1e-8)
    with pytest.raises(ValueError, match="read-only"):
        result.correlation[1] = 0.0
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["correlation"][0] is None  # DC ring, NaN
    assert payload["correlation"][1:] == pytest.approx([1.0] * 16, abs=1e-12)
    assert payload["n_pixels"] == [int(n) for n in result.n_pixels]
    assert payload["pixel_size"] == 1e-8
    assert payload["apodization"] == "hann"


def test_inputs_are_not_modified():
    a, b = _complex_object(), _complex_object(seed=9)
    a0, b0 = a.copy(), b.copy()
    frc(a, b, apodization="tukey")
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_plot_draws_curve_and_thresholds():
    pytest.importorskip("matplotlib")
    a, b = _blurred_noisy_pair((64, 64))
    result = frc(a, b)
    ax = result.plot(criteria=(0.5, "half-bit", "1/7"))
    lines = ax.get_lines()
    assert len(lines) == 4
    np.testing.assert_array_equal(lines[0].get_ydata(), result.correlation)
    np.testing.assert_array_equal(lines[2].get_ydata(), result.threshold("half-bit"))


def test_plot_without_matplotlib_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = frc(np.eye(8), np.eye(8))
    with pytest.raises(ImportError, match=re.escape("FRCResult.plot needs matplotlib")):
        result.plot()


# ------------------------------------------------------------ bad inputs

GOOD = np.random.default_rng(0).normal(size=(16, 16))
NAN = GOOD.copy()
NAN[2, 5] = np.nan


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (GOOD, GOOD[:, :15], "a and b must have the same shape, got (16, 16) and (16, 15)"),
        (GOOD[0], GOOD[0], "a must be a 2-D array, got 1-D with shape (16,)"),
        (GOOD[None], GOOD[None], "a must be a 2-D array, got 3-D with shape (1, 16, 16)"),
        (GOOD, NAN, "b must be finite, got 1 NaN and 0 Inf values out of 256 (first at index"),
        (np.zeros((0, 4)), np.zeros((0, 4)), "a must be non-empty, got shape (0, 4)"),
        (
            GOOD[:3],
            GOOD[:3],
            "a and b must be at least 4 pixels along each axis for an FRC "
            "(DC and two rings), got shape (3, 16)",
        ),
    ],
    ids=["shape", "1-D", "3-D", "nan", "empty", "too-small"],
)
def test_bad_images_raise(a, b, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        frc(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"apodization": "hamming"}, "apodization must be one of 'hann', 'tukey', None; got"),
        ({"tukey_alpha": 1.5}, "tukey_alpha must be a real finite number in [0, 1], got 1.5"),
        ({"pixel_size": 0.0}, "pixel_size must be a positive finite number or None, got 0.0"),
        ({"pixel_size": "1nm"}, "pixel_size must be a positive finite number or None, got '1nm'"),
        ({"pixel_unit": ""}, "pixel_unit must be a non-empty string, got ''"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        frc(GOOD, GOOD, **kwargs)


@pytest.mark.parametrize("criterion", ["half bit", "0.5", 1.5, 0.0, True, None])
def test_bad_criterion_lists_valid_ones(criterion):
    result = frc(GOOD, GOOD)
    listed = "'1/7', 'half-bit', 'one-bit'"
    with pytest.raises(QualityInputError, match=re.escape(listed)):
        result.resolution(criterion)
    with pytest.raises(QualityInputError, match=re.escape(f"got {criterion!r}")):
        result.threshold(criterion)
