"""Tests of ptycho_metrics._align: joint removal of shift, ramp, global phase and scale."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import scipy.fft as sfft
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from ptycho_metrics import Alignment, QualityInputError, align
from ptycho_metrics import _align as align_module
from ptycho_metrics._align import _register

N = 128
ONES_C = np.ones((8, 8), complex)


def _band_limited(n: int = N, *, seed: int = 0, span: float = 8.0) -> np.ndarray:
    """Periodic band-limited complex object (Fourier shifts of it are exact)."""
    rng = np.random.default_rng(seed)
    amp = 0.6 + 0.3 * np.tanh(5 * ndimage.gaussian_filter(rng.normal(size=(n, n)), 3, mode="wrap"))
    phase = ndimage.gaussian_filter(rng.normal(size=(n, n)), 6, mode="wrap")
    phase *= span / np.ptp(phase)
    return amp * np.exp(1j * phase)


def _fourier_shift(obj: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """obj(r - shift) for a periodic object, via the Fourier shift theorem."""
    return sfft.ifft2(ndimage.fourier_shift(sfft.fft2(obj), shift))


def _centred(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[:n, :n].astype(float)
    return y - (n - 1) / 2, x - (n - 1) / 2


def _degrade(truth, *, shift=(0.37, -1.6), offset=0.8, ramp=(0.02, -0.05), scale=1.7):
    y, x = _centred(truth.shape[0])
    moved = _fourier_shift(truth, shift)
    return scale * moved * np.exp(1j * (offset + ramp[0] * y + ramp[1] * x))


def test_recovers_subpixel_shift_ramp_phase_and_scale():
    truth = _band_limited()
    shift, offset, ramp, scale = (0.37, -1.6), 0.8, (0.02, -0.05), 1.7
    al = align(_degrade(truth, shift=shift, offset=offset, ramp=ramp, scale=scale), truth)
    assert al.shift == pytest.approx((-0.37, 1.6), abs=0.01)
    assert al.phase_ramp == pytest.approx(ramp, abs=1e-5)
    assert al.scale == pytest.approx(1 / scale, rel=1e-4)
    # recon(r) = s e^{i(c + g.(r - rc))} truth(r - s0)  =>  removed offset c + g . s0
    expected_offset = np.angle(np.exp(1j * (offset + np.dot(ramp, shift))))
    assert al.phase_offset == pytest.approx(expected_offset, abs=1e-3)
    error = np.abs(al.aligned - truth)[al.region]
    assert error.max() < 5e-3
    assert np.sqrt(np.mean(error**2)) < 5e-4


def test_registration_matches_scikit_image_phase_cross_correlation():
    rng = np.random.default_rng(1)
    for shift in [(0.37, -1.6), (3.123, 7.777), (-10.25, 0.004), (0.5, -0.5)]:
        ref = _band_limited(96, seed=int(rng.integers(100)))
        moving = _fourier_shift(ref, shift) + 0.05 * rng.normal(size=ref.shape)
        fr, fm = sfft.fft2(ref), sfft.fft2(moving)
        # scikit-image 0.26.0, upsample 100, no phase normalisation (Field guide, trap 4)
        expected, _, _ = phase_cross_correlation(
            fr, fm, space="fourier", upsample_factor=100, normalization=None
        )
        np.testing.assert_allclose(_register(fr, fm, 100), expected, atol=1e-9)
        integer, _, _ = phase_cross_correlation(fr, fm, space="fourier", normalization=None)
        np.testing.assert_allclose(_register(fr, fm, 1), integer, atol=1e-9)


def test_region_excludes_the_edges_the_shift_wrapped():
    truth = _band_limited()
    al = align(_degrade(truth, shift=(0.37, -1.6)), truth)
    # Applied shift (-0.37, +1.6): content wrapped in at the bottom rows and left columns.
    expected = np.zeros(truth.shape, dtype=bool)
    expected[1 : N - 2, 3 : N - 1] = True
    np.testing.assert_array_equal(al.region, expected)


def test_no_shift_keeps_every_pixel():
    truth = _band_limited()
    al = align(truth * np.exp(0.5j), truth)
    assert al.shift == (0.0, 0.0)
    assert al.region.all()
    np.testing.assert_allclose(al.aligned, truth, atol=1e-9)


def test_mask_is_respected():
    truth = _band_limited()
    recon = _degrade(truth)
    mask = np.zeros(truth.shape, dtype=bool)
    mask[20:100, 10:110] = True
    al = align(recon, truth, mask=mask)
    assert not al.region[~mask].any()
    assert al.shift == pytest.approx((-0.37, 1.6), abs=0.01)


def test_large_ramp_takes_the_second_round_and_still_registers():
    truth = _band_limited(seed=3)
    al = align(_degrade(truth, ramp=(0.4, -0.3), scale=1.0), truth)
    assert al.shift == pytest.approx((-0.37, 1.6), abs=0.01)
    assert al.phase_ramp == pytest.approx((0.4, -0.3), abs=1e-4)


@pytest.mark.parametrize("shift", [(2.3, -0.7), (0.37, -1.6)])
def test_non_periodic_crop_is_registered_and_shifted_without_ringing(shift):
    big = _band_limited(256, seed=4)
    moved = _fourier_shift(big, shift)
    truth, recon = big[40:200, 50:210], moved[40:200, 50:210]
    assert not align_module._is_periodic(truth)
    al = align(recon, truth)
    assert al.shift == pytest.approx((-shift[0], -shift[1]), abs=0.02)
    error = np.abs(al.aligned - truth)[al.region]
    # A plain Fourier shift leaves 0.007 rms, 0.06 max here (Gibbs ringing from the edges).
    assert np.sqrt(np.mean(error**2)) < 1.5e-3
    assert error.max() < 0.02


def test_periodicity_test_tells_a_periodic_object_from_a_crop():
    big = _band_limited(256, seed=4)
    assert align_module._is_periodic(big)
    assert not align_module._is_periodic(big[40:200, 50:210])


def test_registration_on_a_central_crop_still_recovers_the_shift(monkeypatch):
    # Large images register on their central REGISTRATION_SIDE pixels; emulate at 128 px.
    monkeypatch.setattr(align_module, "REGISTRATION_SIDE", 64)
    truth = _band_limited()
    al = align(_degrade(truth), truth)
    assert al.shift == pytest.approx((-0.37, 1.6), abs=0.01)
    assert al.region.shape == truth.shape


@pytest.mark.parametrize("mode", ["complex", "amplitude", None])
def test_scale_modes(mode):
    truth = _band_limited()
    noisy = 0.5 * truth + 0.02 * np.random.default_rng(5).normal(size=truth.shape)
    al = align(noisy, truth, scale=mode)
    region = al.region
    if mode is None:
        assert al.scale == 1.0
    elif mode == "complex":
        # Unbiased: the noise (sampling error ~2e-4 here) does not shrink the scale.
        assert al.scale == pytest.approx(2.0, rel=2e-3)
    else:
        assert al.scale == pytest.approx(2.0, rel=0.02)
    # The complex mode regresses recon on truth: recon ~ beta * truth, scale = 1 / |beta|.
    if mode == "complex":
        unscaled = al.aligned[region] / al.scale
        beta = np.vdot(truth[region], unscaled) / np.vdot(truth[region], truth[region])
        assert 1 / abs(beta) == pytest.approx(al.scale, rel=1e-9)
        assert np.angle(beta) == pytest.approx(0.0, abs=1e-9)
    assert al.scale_mode == mode
    assert al.complex_scale == pytest.approx(2.0, rel=2e-3)
    if mode == "complex":
        assert al.complex_scale == al.scale


def test_remove_ramp_false_leaves_the_ramp():
    truth = _band_limited()
    al = align(_degrade(truth, shift=(0.0, 0.0), ramp=(0.0, 0.01)), truth, remove_ramp=False)
    assert al.phase_ramp == (0.0, 0.0)
    assert np.abs(al.aligned - truth).max() > 0.1


def test_as_dict_is_json_safe():
    truth = _band_limited()
    params = align(_degrade(truth), truth).as_dict()
    assert json.loads(json.dumps(params, allow_nan=False)) == params
    assert set(params) == {
        "shift",
        "phase_offset",
        "phase_ramp",
        "scale",
        "scale_mode",
        "complex_scale",
        "n_region",
    }
    assert all(type(v) is float for v in params["shift"] + params["phase_ramp"])


def test_inputs_are_not_mutated_and_result_is_frozen():
    truth = _band_limited()
    recon = _degrade(truth)
    mask = np.ones(truth.shape, dtype=bool)
    copies = [a.copy() for a in (recon, truth, mask)]
    al = align(recon, truth, mask=mask)
    for original, copy in zip((recon, truth, mask), copies, strict=True):
        np.testing.assert_array_equal(original, copy)
    assert isinstance(al, Alignment)
    with pytest.raises(dataclasses.FrozenInstanceError):
        al.scale = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.ones((8, 8)), np.ones((8, 9))), {}, "recon and truth must have the same shape"),
        ((ONES_C[:3, :3], ONES_C[:3, :3]), {}, "must be at least 4x4 to align, got (3, 3)"),
        (
            (ONES_C, ONES_C),
            {"scale": "real"},
            "scale must be one of 'complex', 'amplitude', None; got 'real' (str)",
        ),
        (
            (ONES_C, ONES_C),
            {"upsample_factor": 0},
            "upsample_factor must be an integer >= 1, got 0",
        ),
        (
            (np.zeros((8, 8), complex), ONES_C),
            {},
            "recon must not be zero everywhere inside the mask (or image), got all zeros",
        ),
        (
            (np.ones((8, 8)), ONES_C),
            {},
            "recon must be a complex object, got real dtype float64; say what it is: "
            "real_as='amplitude'",
        ),
        (
            (ONES_C, ONES_C),
            {"mask": np.zeros((8, 8), bool)},
            "mask must select at least one pixel",
        ),
    ],
)
def test_bad_inputs_raise_quality_input_error(args, kwargs, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        align(*args, **kwargs)


def test_mask_inside_the_wrapped_edge_is_refused():
    truth = _band_limited()
    mask = np.zeros(truth.shape, dtype=bool)
    mask[:, :3] = True  # the columns a +1.6 px shift wraps: ceil(1.6) + 1
    message = "mask leaves no pixel to compare once the edges wrapped by the shift (0.0, 1.6) px"
    with pytest.raises(QualityInputError, match=re.escape(message)):
        align_module._apply_shift(truth.copy(), np.array([0.0, 1.6]), truth, mask, True, None)


def test_tiny_masks_still_register():
    truth = _band_limited()
    mask = np.zeros(truth.shape, dtype=bool)
    mask[40:42, 30:100] = True  # two rows: no Hann taper possible along y
    al = align(truth * np.exp(0.2j), truth, mask=mask)
    assert al.shift == (0.0, 0.0)
    assert al.phase_offset == pytest.approx(0.2, abs=1e-12)
    np.testing.assert_array_equal(al.region, mask)


def test_shift_beyond_max_shift_is_refused():
    truth = _band_limited()
    recon = _fourier_shift(truth, (6.0, 0.0))
    with pytest.raises(QualityInputError, match=re.escape("more than the 3 px allowed")):
        align(recon, truth, max_shift=3)
