"""Tests of ptycho_metrics._ssim: SSIM and PSNR against scikit-image, MS-SSIM
against an independent direct implementation of Wang et al. 2003.

Reference values come from scikit-image (0.26.0 at the time of writing)
computed in the test itself on its bundled sample images; nothing is
hard-coded.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import ndimage, signal
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ptycho_metrics import QualityInputError, ms_ssim, psnr, ssim
from ptycho_metrics._ssim import _ssim_map

# Sample images shipped inside the scikit-image wheel (no download needed).
IMAGES = ("camera", "coins", "moon", "checkerboard", "text")


def _image(name: str) -> np.ndarray:
    return getattr(data, name)().astype(np.float64)


def _noisy(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return x + np.random.default_rng(seed).normal(0.0, sigma, x.shape)


def _skimage_gaussian(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    return structural_similarity(
        x,
        y,
        data_range=data_range,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )


# --------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("name", IMAGES)
def test_ssim_uniform_matches_skimage_default(name):
    x = _image(name)
    y = _noisy(x, 25.0)
    expected = structural_similarity(x, y, data_range=255.0)
    assert ssim(x, y, data_range=255.0) == pytest.approx(expected, abs=1e-9, rel=0)


@pytest.mark.parametrize("name", IMAGES)
def test_ssim_gaussian_matches_skimage_wang(name):
    x = _image(name)
    y = _noisy(x, 25.0)
    expected = _skimage_gaussian(x, y, 255.0)
    got = ssim(x, y, data_range=255.0, window="gaussian")
    assert got == pytest.approx(expected, abs=1e-9, rel=0)


def test_ssim_other_uniform_window_and_constants_match_skimage():
    x = _image("camera")
    y = _noisy(x, 10.0)
    expected = structural_similarity(x, y, data_range=300.0, win_size=11, K1=0.02, K2=0.05)
    got = ssim(x, y, data_range=300.0, win_size=11, k1=0.02, k2=0.05)
    assert got == pytest.approx(expected, abs=1e-9, rel=0)


def test_ssim_integer_and_float32_inputs_are_computed_in_float64():
    x8 = data.camera()
    y8 = np.clip(_noisy(x8.astype(np.float64), 20.0), 0, 255).astype(np.uint8)
    expected = structural_similarity(x8.astype(np.float64), y8.astype(np.float64), data_range=255.0)
    assert ssim(x8, y8, data_range=255.0) == pytest.approx(expected, abs=1e-9, rel=0)
    got32 = ssim(x8.astype(np.float32), y8.astype(np.float32), data_range=255.0)
    assert got32 == pytest.approx(expected, abs=1e-9, rel=0)


@pytest.mark.parametrize("window", ["uniform", "gaussian"])
def test_ssim_identical_images_is_one(window):
    x = _image("moon")
    assert ssim(x, x, data_range=255.0, window=window) == pytest.approx(1.0, abs=1e-12)


def test_ssim_does_not_modify_inputs():
    x = _image("coins")
    y = _noisy(x, 5.0)
    x0, y0 = x.copy(), y.copy()
    ssim(x, y, data_range=255.0)
    ssim(x, y, data_range=255.0, window="gaussian", mask=np.ones(x.shape, bool))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_ssim_map_matches_skimage_full_map():
    x = _image("coins")
    y = _noisy(x, 15.0)
    _, expected = structural_similarity(x, y, data_range=255.0, full=True)
    smap, pad = _ssim_map(x, y, data_range=255.0)
    assert pad == 3
    inner = (slice(pad, -pad), slice(pad, -pad))
    np.testing.assert_allclose(smap, expected[inner], rtol=0, atol=1e-12)


@pytest.mark.parametrize("window", ["uniform", "gaussian"])
def test_ssim_all_true_mask_equals_cropped_mean(window):
    x = _image("camera")
    y = _noisy(x, 30.0)
    full = ssim(x, y, data_range=255.0, window=window)
    masked = ssim(x, y, data_range=255.0, window=window, mask=np.ones(x.shape, bool))
    assert masked == pytest.approx(full, abs=1e-12)


def test_ssim_mask_averages_pixels_whose_window_is_inside():
    x = _image("camera")
    y = _noisy(x, 30.0)
    mask = np.zeros(x.shape, bool)
    mask[40:300, 100:420] = True
    mask[200:260, 150:200] = False  # a hole
    _, smap = structural_similarity(x, y, data_range=255.0, full=True)
    inside = ndimage.binary_erosion(mask, structure=np.ones((7, 7), bool), border_value=0)
    expected = smap[inside].mean()
    assert ssim(x, y, data_range=255.0, mask=mask) == pytest.approx(expected, abs=1e-12)
    # Changing y anywhere outside the mask cannot change the result.
    y2 = y.copy()
    y2[~mask] = 0.0
    assert ssim(x, y2, data_range=255.0, mask=mask) == pytest.approx(expected, abs=1e-12)


def test_ssim_mask_errors():
    x = _image("checkerboard")
    with pytest.raises(QualityInputError, match=re.escape("mask must be a boolean array")):
        ssim(x, x, data_range=255.0, mask=np.ones(x.shape))
    with pytest.raises(
        QualityInputError, match=re.escape("mask must have the shape of x and y (200, 200)")
    ):
        ssim(x, x, data_range=255.0, mask=np.ones((10, 10), bool))
    small = np.zeros(x.shape, bool)
    small[10:16, 10:30] = True
    with pytest.raises(
        QualityInputError,
        match=re.escape(
            "mask must contain at least one 7x7 square of True pixels (the SSIM window must "
            "lie entirely inside it), got 120 True pixels in a 6x20 bounding box"
        ),
    ):
        ssim(x, x, data_range=255.0, mask=small)


# ------------------------------------------------------------------ MS-SSIM


def _reference_ms_ssim(x, y, data_range, weights):
    """Direct transcription of Wang's msssim.m: 'valid' Gaussian filtering by
    explicit 2-D correlation, imfilter(ones(2)/4, 'symmetric') and
    img(1:2:end, 1:2:end) between scales."""
    t = np.arange(-5, 6)
    g = np.exp(-(t**2) / (2 * 1.5**2))
    win = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def filt(a):
        return signal.correlate2d(a, win, mode="valid")

    values = []
    for level in range(len(weights)):
        mx, my = filt(x), filt(y)
        vx = filt(x * x) - mx**2
        vy = filt(y * y) - my**2
        cxy = filt(x * y) - mx * my
        cs = (2 * cxy + c2) / (vx + vy + c2)
        lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
        values.append((lum * cs).mean() if level == len(weights) - 1 else cs.mean())
        box = np.ones((2, 2)) / 4
        x = signal.correlate2d(np.pad(x, ((0, 1), (0, 1)), mode="symmetric"), box, "valid")
        y = signal.correlate2d(np.pad(y, ((0, 1), (0, 1)), mode="symmetric"), box, "valid")
        x, y = x[::2, ::2], y[::2, ::2]
    return float(np.prod(np.asarray(values) ** np.asarray(weights)))


@pytest.mark.parametrize(("name", "sigma"), [("camera", 10.0), ("coins", 30.0), ("moon", 5.0)])
def test_ms_ssim_matches_direct_implementation(name, sigma):
    x = _image(name)[:250, :230]  # odd halvings on purpose: 250 -> 125 -> 63 ...
    y = _noisy(x, sigma)
    expected = _reference_ms_ssim(x, y, 255.0, (0.0448, 0.2856, 0.3001, 0.2363, 0.1333))
    assert ms_ssim(x, y, data_range=255.0) == pytest.approx(expected, rel=1e-12)


def test_ms_ssim_single_scale_is_wang_ssim():
    x = _image("camera")
    y = _noisy(x, 20.0)
    got = ms_ssim(x, y, data_range=255.0, weights=(1.0,))
    assert got == pytest.approx(_skimage_gaussian(x, y, 255.0), abs=1e-12)


def test_ms_ssim_identity_is_one():
    x = _image("camera")
    assert ms_ssim(x, x, data_range=255.0) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_decreases_with_noise():
    x = _image("camera")
    values = [ms_ssim(x, _noisy(x, s), data_range=255.0) for s in (2.0, 5.0, 10.0, 20.0, 40.0)]
    assert np.all(np.diff(values) < 0), values
    assert 0.0 < values[-1] < values[0] < 1.0


def test_ms_ssim_anticorrelated_images_give_zero_not_nan():
    x = _image("camera")
    got = ms_ssim(x, 255.0 - x, data_range=255.0)
    assert got == 0.0


@pytest.mark.parametrize(
    ("shape", "n_scales", "need"), [((160, 300), 5, 161), ((300, 40), 3, 41), ((10, 10), 1, 11)]
)
def test_ms_ssim_too_small_image_names_minimum(shape, n_scales, need):
    x = np.random.default_rng(0).random(shape)
    weights = (0.2,) * n_scales
    with pytest.raises(
        QualityInputError,
        match=re.escape(
            f"x and y must be at least {need} pixels on the short side for {n_scales} MS-SSIM "
            f"scales with an 11-tap window, got shape {shape}"
        ),
    ):
        ms_ssim(x, x, data_range=1.0, weights=weights)


@pytest.mark.parametrize(("shape", "n_scales"), [((161, 161), 5), ((41, 50), 3), ((11, 11), 1)])
def test_ms_ssim_minimum_size_is_enough(shape, n_scales):
    x = np.random.default_rng(0).random(shape)
    y = x + 0.05 * np.random.default_rng(1).random(shape)
    value = ms_ssim(x, y, data_range=1.0, weights=(0.2,) * n_scales)
    assert 0.0 < value < 1.0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ((), "weights must be a non-empty 1-D"),
        ((0.5, -0.1), "weights must be a non-empty 1-D"),
        ((0.5, float("nan")), "weights must be a non-empty 1-D"),
        ((0.0, 0.0), "weights must be a non-empty 1-D"),
        (((0.1, 0.2),), "weights must be a sequence of real numbers, got ((0.1, 0.2),) (tuple)"),
        ((True, 0.5), "weights must be a sequence of real numbers, got (True, 0.5) (tuple)"),
        ("0.5", "weights must be a sequence of real numbers, got '0.5' (str)"),
    ],
)
def test_ms_ssim_bad_weights(weights, message):
    x = _image("camera")
    with pytest.raises(QualityInputError, match=re.escape(message)):
        ms_ssim(x, x, data_range=255.0, weights=weights)


# --------------------------------------------------------------------- PSNR


@pytest.mark.parametrize("name", IMAGES)
def test_psnr_matches_skimage(name):
    x = _image(name)
    y = _noisy(x, 12.0)
    expected = peak_signal_noise_ratio(x, y, data_range=255.0)
    assert psnr(x, y, data_range=255.0) == pytest.approx(expected, abs=1e-9, rel=0)


def test_psnr_uses_callers_peak():
    x = np.zeros((8, 8))
    y = np.full((8, 8), 0.01)
    # MSE = 1e-4, so 10 log10(L^2 / 1e-4) = 40 + 20 log10(L).
    assert psnr(x, y, data_range=1.0) == pytest.approx(40.0, abs=1e-12)
    assert psnr(x, y, data_range=2.0) == pytest.approx(40.0 + 20 * np.log10(2.0), abs=1e-12)


def test_psnr_identical_is_inf():
    x = _image("moon")
    assert psnr(x, x, data_range=255.0) == float("inf")


# --------------------------------------------------------------- bad inputs

GOOD = np.random.default_rng(0).random((32, 32))
NAN = GOOD.copy()
NAN[3, 4] = np.nan


def _all_functions():
    return [
        pytest.param(lambda x, y, **kw: ssim(x, y, **kw), id="ssim"),
        pytest.param(lambda x, y, **kw: ssim(x, y, window="gaussian", **kw), id="ssim-gauss"),
        pytest.param(lambda x, y, **kw: ms_ssim(x, y, weights=(0.5, 0.5), **kw), id="ms_ssim"),
        pytest.param(lambda x, y, **kw: psnr(x, y, **kw), id="psnr"),
    ]


@pytest.mark.parametrize("func", _all_functions())
@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (GOOD + 0j, GOOD, "x must be real, got complex dtype complex128"),
        (GOOD, GOOD[:, :31], "x and y must have the same shape, got (32, 32) and (32, 31)"),
        (GOOD[0], GOOD[0], "x must be a 2-D array, got 1-D with shape (32,)"),
        (GOOD[None], GOOD[None], "x must be a 2-D array, got 3-D with shape (1, 32, 32)"),
        (GOOD, NAN, "y must be finite, got 1 NaN and 0 Inf values out of 1024 (first at index"),
        (np.zeros((0, 5)), np.zeros((0, 5)), "x must be non-empty, got shape (0, 5)"),
    ],
    ids=["complex", "shape", "1-D", "3-D", "nan", "empty"],
)
def test_bad_images_raise(func, x, y, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        func(x, y, data_range=1.0)


@pytest.mark.parametrize("func", _all_functions())
@pytest.mark.parametrize(
    ("data_range", "message"),
    [
        (None, "data_range is required and is never guessed from the data"),
        (0.0, "data_range must be a positive finite number, got 0.0"),
        (-1.0, "data_range must be a positive finite number, got -1.0"),
        (float("inf"), "data_range must be a positive finite number, got inf"),
        ("wide", "data_range must be a positive finite number, got 'wide'"),
    ],
)
def test_bad_data_range_raises(func, data_range, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        func(GOOD, GOOD, data_range=data_range)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": "box"}, "window must be one of 'uniform', 'gaussian'; got 'box'"),
        ({"win_size": 8}, "win_size must be an odd integer >= 3, got 8"),
        ({"win_size": 1}, "win_size must be an odd integer >= 3, got 1"),
        ({"win_size": 7.0}, "win_size must be an odd integer >= 3, got 7.0"),
        (
            {"window": "gaussian", "win_size": 7},
            "win_size is fixed to 11 by window='gaussian' (sigma 1.5, truncate 3.5); got 7",
        ),
        ({"k1": -0.01}, "k1 must be a real finite number in (0, 1], got -0.01"),
        ({"k2": 0}, "k2 must be a real finite number in (0, 1], got 0"),
        ({"k2": 1e154}, "k2 must be a real finite number in (0, 1], got 1e+154"),
    ],
)
def test_bad_ssim_options_raise(kwargs, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        ssim(GOOD, GOOD, data_range=1.0, **kwargs)


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        (
            (6, 40),
            {},
            "x and y must be at least 7x7 pixels for a 7x7 SSIM window, got shape (6, 40)",
        ),
        ((40, 10), {"window": "gaussian"}, "at least 11x11 pixels for a 11x11 SSIM window"),
        ((20, 20), {"win_size": 21}, "at least 21x21 pixels for a 21x21 SSIM window"),
    ],
)
def test_ssim_image_smaller_than_window_raises(shape, kwargs, message):
    x = np.ones(shape)
    with pytest.raises(QualityInputError, match=re.escape(message)):
        ssim(x, x, data_range=1.0, **kwargs)
