"""Seeded input pairs shared by tests/test_report_reference.py and tools/make_evaluate_reference.py.

Each case is a ``(recon, truth, kwargs)`` triple for :func:`ptycho_metrics.evaluate`,
built only from NumPy/SciPy with fixed seeds, so the reference values in
``tests/evaluate_reference.json`` can be recomputed from this file alone.
The cases cover the code paths of ``evaluate``: a non-periodic sub-pixel
shift (periodic-plus-smooth Fourier shift), a periodic one with a large ramp
(second registration round), a non-rectangular mask, phase residues
(scikit-image's Herraez unwrapper), ``align=False`` on a non-square pair, a
complex64 input and a box too small for five MS-SSIM scales.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

Case = tuple[np.ndarray, np.ndarray, dict[str, Any]]

MARGIN = 12


def _canvas(shape: tuple[int, int], seed: int, *, vacuum: float = 0.0) -> np.ndarray:
    """A complex object on a canvas ``MARGIN`` px larger per side, phase spanning > 2 pi."""
    rng = np.random.default_rng(seed)
    side = (shape[0] + 2 * MARGIN, shape[1] + 2 * MARGIN)
    y, x = (np.mgrid[: side[0], : side[1]] - np.array(side)[:, None, None] / 2) / max(shape)
    features = ndimage.gaussian_filter(rng.standard_normal(side), 1.5)
    features /= features.std()
    phase = 5.0 * np.exp(-(x**2 + y**2) / 0.08) + 2.0 * np.sin(2 * np.pi * (x + 0.5 * y))
    phase += 0.5 * features
    amplitude = 0.8 + 0.15 * np.tanh(features)
    if vacuum > 0:
        half = 0.5 * np.sqrt(1.0 - vacuum)
        frame = (np.abs(x) > half) | (np.abs(y) > half)
        amplitude[frame] = 0.01
        phase[frame] = rng.uniform(-np.pi, np.pi, size=int(frame.sum()))
    return amplitude * np.exp(1j * phase)


def _degraded(
    canvas: np.ndarray, shape: tuple[int, int], seed: int, shift: tuple[float, float]
) -> Case:
    """Crops of ``canvas`` (truth) and of its Fourier-shifted, phase-offset, noisy copy."""
    rng = np.random.default_rng(seed + 1)
    ky = sfft.fftfreq(canvas.shape[0])[:, None]
    kx = sfft.fftfreq(canvas.shape[1])[None, :]
    moved = sfft.ifft2(sfft.fft2(canvas) * np.exp(-2j * np.pi * (ky * shift[0] + kx * shift[1])))
    crop = np.s_[MARGIN : MARGIN + shape[0], MARGIN : MARGIN + shape[1]]
    truth = canvas[crop].copy()
    recon = moved[crop] * np.exp(1.3j)
    recon += 0.05 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    return recon, truth, {}


def shifted_noisy() -> Case:
    return _degraded(_canvas((256, 256), 11), (256, 256), 11, (0.37, -1.6))


def masked_disc() -> Case:
    recon, truth, _ = _degraded(_canvas((240, 240), 12), (240, 240), 12, (-0.8, 0.45))
    y, x = np.mgrid[:240, :240] - 119.5
    return recon, truth, {"mask": x**2 + y**2 < 105.0**2}


def periodic_ramp() -> Case:
    rng = np.random.default_rng(13)
    n = 192
    amp = 0.6 + 0.3 * np.tanh(5 * ndimage.gaussian_filter(rng.normal(size=(n, n)), 2, mode="wrap"))
    phase = ndimage.gaussian_filter(rng.normal(size=(n, n)), 5, mode="wrap")
    truth = amp * np.exp(1j * phase * (12.0 / np.ptp(phase)))
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    moved = sfft.ifft2(ndimage.fourier_shift(sfft.fft2(truth), (2.37, -1.6)))
    recon = moved * np.exp(1j * (2.9 + 0.3 * y - 0.2 * x))
    recon += 0.02 * (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    return recon, truth, {}


def vacuum_residues() -> Case:
    return _degraded(_canvas((200, 200), 14, vacuum=0.1), (200, 200), 14, (0.6, 0.2))


def unaligned_nonsquare() -> Case:
    recon, truth, _ = _degraded(_canvas((176, 208), 15), (176, 208), 15, (0.0, 0.0))
    return recon, truth, {"align": False, "pixel_size": 10e-9}


def complex64_input() -> Case:
    recon, truth, _ = _degraded(_canvas((224, 224), 16), (224, 224), 16, (1.25, -0.3))
    return recon.astype(np.complex64), truth.astype(np.complex64), {"scale": "amplitude"}


def small_four_scales() -> Case:
    recon, truth, _ = _degraded(_canvas((128, 144), 17), (128, 144), 17, (-0.2, 0.9))
    return recon, truth, {}


CASES: dict[str, Callable[[], Case]] = {
    "shifted_noisy": shifted_noisy,
    "masked_disc": masked_disc,
    "periodic_ramp": periodic_ramp,
    "vacuum_residues": vacuum_residues,
    "unaligned_nonsquare": unaligned_nonsquare,
    "complex64_input": complex64_input,
    "small_four_scales": small_four_scales,
}
