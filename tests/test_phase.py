"""Tests of ptycho_metrics._phase: phase_error and the unwrapping it relies on."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from scipy import ndimage
from skimage.restoration import unwrap_phase

from ptycho_metrics import PhaseError, QualityInputError, phase_error
from ptycho_metrics._phase import unwrap

N = 96


def _coords(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates relative to the array centre (phase_error's convention)."""
    y, x = np.mgrid[:n, :n].astype(float)
    return y - (n - 1) / 2, x - (n - 1) / 2


def _object(n: int = N, *, span: float = 30.0, seed: int = 0) -> np.ndarray:
    """A complex object whose phase spans ``span`` radians, smooth enough to be residue free."""
    rng = np.random.default_rng(seed)
    y, x = _coords(n)
    phase = span * np.sin(2 * np.pi * x / n) * np.cos(np.pi * y / n) / 2
    amplitude = 0.5 + 0.4 * ndimage.gaussian_filter(rng.random((n, n)), 3)
    return amplitude * np.exp(1j * phase)


def _plane_residual(noise: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Reference: weighted least-squares plane removal with numpy.linalg.lstsq."""
    y, x = _coords(noise.shape[0])
    design = np.stack([np.ones(noise.size), y.ravel(), x.ravel()], axis=1)
    sw = np.sqrt(weights.ravel())
    coef = np.linalg.lstsq(design * sw[:, None], noise.ravel() * sw, rcond=None)[0]
    return noise - (design @ coef).reshape(noise.shape)


def test_offset_ramp_and_wraps_give_zero_error_for_a_30_rad_object():
    truth = _object()
    y, x = _coords()
    recon = truth * np.exp(1j * (2.5 + 0.03 * y - 0.07 * x))
    err = phase_error(recon, truth)
    assert np.ptp(np.unwrap(np.angle(truth[N // 2]))) > 2 * np.pi  # the object does wrap
    assert err.rmse < 1e-12
    assert err.max < 1e-12
    assert err.offset == pytest.approx(2.5, abs=1e-12)
    assert err.ramp == pytest.approx((0.03, -0.07), abs=1e-14)
    assert err.n_pixels == N * N


def test_real_inputs_are_phase_maps_and_2pi_jumps_are_no_error():
    rng = np.random.default_rng(1)
    truth = np.angle(_object())
    recon = truth + 2 * np.pi * rng.integers(-3, 4, size=truth.shape) + 0.4
    err = phase_error(recon, truth)
    assert err.rmse < 1e-12
    assert err.offset == pytest.approx(0.4, abs=1e-12)


def test_noise_error_matches_numpy_weighted_plane_fit():
    truth = _object()
    noise = np.random.default_rng(2).normal(0.0, 0.1, truth.shape)
    recon = truth * np.exp(1j * noise)
    err = phase_error(recon, truth)
    expected = _plane_residual(noise, np.abs(truth))  # default weights: |truth|
    np.testing.assert_allclose(err.residual, expected, atol=1e-12)
    assert err.rmse == pytest.approx(np.sqrt(np.mean(expected**2)), rel=1e-12)
    assert err.mae == pytest.approx(np.mean(np.abs(expected)), rel=1e-12)
    assert err.max == pytest.approx(np.abs(expected).max(), rel=1e-12)


def test_explicit_weights_are_used_in_the_fit():
    truth = _object()
    noise = np.random.default_rng(3).normal(0.0, 0.2, truth.shape)
    weights = np.random.default_rng(4).random(truth.shape)
    err = phase_error(truth * np.exp(1j * noise), truth, weights=weights)
    np.testing.assert_allclose(err.residual, _plane_residual(noise, weights), atol=1e-12)


def test_no_removal_reports_the_raw_residual():
    truth = _object()
    err = phase_error(truth * np.exp(0.3j), truth, remove_offset=False, remove_ramp=False)
    assert err.rmse == pytest.approx(0.3, abs=1e-12)
    assert err.offset == 0.0
    assert err.ramp == (0.0, 0.0)
    assert phase_error(truth * np.exp(0.3j), truth).rmse < 1e-12


def test_offset_kept_is_placed_within_pi_of_zero_after_unwrapping():
    truth = np.angle(_object())
    y, _ = _coords()
    # A steep ramp forces the unwrapping route; 2 pi k must not leak into the error.
    # Uniform weights on centred coordinates: the ramp fit cannot absorb the offset.
    err = phase_error(truth + 0.2 + 0.5 * y, truth, remove_offset=False)
    assert err.rmse == pytest.approx(0.2, abs=1e-12)
    assert err.ramp[0] == pytest.approx(0.5, abs=1e-12)


def test_residues_are_counted():
    truth = _object()
    noisy = truth * np.exp(1j * np.random.default_rng(8).uniform(-np.pi, np.pi, truth.shape))
    assert phase_error(noisy, truth).residues > 0
    assert phase_error(truth * np.exp(0.3j), truth).residues == 0


def test_conjugated_phase_is_a_large_error():
    truth = _object(span=6.0)
    assert phase_error(np.conj(truth), truth).rmse > 0.5


def test_mask_restricts_fit_and_statistics():
    truth = _object()
    rng = np.random.default_rng(5)
    recon = truth * np.exp(1.1j)
    mask = np.zeros(truth.shape, dtype=bool)
    mask[10:70, 20:90] = True
    recon[~mask] = np.exp(1j * rng.uniform(-np.pi, np.pi, size=int((~mask).sum())))
    err = phase_error(recon, truth, mask=mask)
    assert err.rmse < 1e-12
    assert err.n_pixels == int(mask.sum())
    assert np.all(err.residual[~mask] == 0.0)
    assert phase_error(recon, truth).rmse > 0.5


def test_inputs_are_not_mutated():
    truth = _object()
    recon = truth * np.exp(0.7j)
    weights = np.abs(truth) ** 2
    copies = [a.copy() for a in (recon, truth, weights)]
    phase_error(recon, truth, weights=weights)
    for original, copy in zip((recon, truth, weights), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_result_is_frozen():
    err = phase_error(_object(), _object())
    with pytest.raises(dataclasses.FrozenInstanceError):
        err.rmse = 0.0  # type: ignore[misc]
    assert isinstance(err, PhaseError)


def test_unwrap_matches_scikit_image_on_a_residue_free_map():
    wrapped = np.angle(_object(128, span=40.0))
    ours, residues = unwrap(wrapped)
    assert residues == 0
    reference = unwrap_phase(wrapped)  # scikit-image 0.26.0, Herraez et al. 2002
    difference = ours - reference
    assert np.ptp(difference) < 1e-12
    assert difference[0, 0] / (2 * np.pi) == pytest.approx(round(difference[0, 0] / (2 * np.pi)))


def test_unwrap_returns_input_when_nothing_jumps():
    smooth = np.linspace(-1.0, 1.0, 64).reshape(8, 8)
    out, residues = unwrap(smooth)
    assert out is smooth
    assert residues == 0


def test_unwrap_with_residues_is_reproducible_whatever_the_c_rand_state():
    rng = np.random.default_rng(6)
    wrapped = np.angle(
        np.exp(1j * (0.05 * np.arange(300)[None, :] + rng.normal(0, 1.5, (300, 300))))
    )
    first, residues = unwrap(wrapped)
    assert residues > 0
    for seed in range(3):
        unwrap_phase(wrapped, rng=seed)  # advances the C rand() state scikit-image 0.26 uses
        np.testing.assert_array_equal(unwrap(wrapped)[0], first)


def test_unwrap_with_residues_stays_congruent():
    rng = np.random.default_rng(7)
    wrapped = np.angle(np.exp(1j * rng.normal(0, 2.0, (40, 40))))
    k = (unwrap(wrapped)[0] - wrapped) / (2 * np.pi)
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 5))},
            "recon and truth must have the same shape, got (4, 4) and (4, 5)",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones(4)},
            "truth must be a 2-D array, got 1-D with shape (4,)",
        ),
        (
            {"recon": np.full((4, 4), np.nan), "truth": np.ones((4, 4))},
            "recon must be finite, got 16 NaN and 0 Inf values out of 16",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 4)), "weights": -np.ones((4, 4))},
            "weights must be >= 0, got min -1",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 4)), "weights": np.ones((3, 4))},
            "weights must have the images' shape (4, 4), got (3, 4)",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 4)), "mask": np.ones((4, 3), bool)},
            "mask must have shape (4, 4) like the images, got (4, 3)",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 4)), "mask": np.zeros((4, 4), bool)},
            "mask must select at least one pixel, got an all-False mask of shape (4, 4)",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 4)), "mask": np.full((4, 4), 2)},
            "mask must be boolean (or 0/1), got values 2",
        ),
        (
            {"recon": np.ones((4, 4)), "truth": np.ones((4, 4)), "weights": np.zeros((4, 4))},
            "weights must have a positive sum inside mask, got all zeros there",
        ),
        (
            {"recon": np.ones((4, 4), complex), "truth": np.zeros((4, 4), complex)},
            "truth must not be zero everywhere inside mask: its phase is undefined there",
        ),
    ],
)
def test_bad_inputs_raise_quality_input_error(kwargs, message):
    recon, truth = kwargs.pop("recon"), kwargs.pop("truth")
    with pytest.raises(QualityInputError, match=re.escape(message)):
        phase_error(recon, truth, **kwargs)
