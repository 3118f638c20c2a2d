"""The alignment and FRC kernels (ptycho_metrics._kernels.align / .frc) against the NumPy path.

Each kernel path is compared with the NumPy reference on inputs that reach
its branches (masks, odd and non-square shapes, complex64 input, periodic
and non-periodic images, huge and tiny magnitudes), and gives the same bits
on one and two threads. Whole evaluate() results in both modes are checked
against the stored reference in tests/test_report_reference.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import ptycho_metrics as pm
from ptycho_metrics import _frc, _kernels
from ptycho_metrics._threads import pinned_threads

pytestmark = pytest.mark.skipif(not _kernels.available(), reason="numba not installed ([fast])")

#: Largest difference measured between the two paths on these inputs was ~1e-15
#: (sums in another order); the bound leaves a decade.
TOL = 1e-13


def _complex(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _both_modes(func):
    with pm.kernels("numpy"):
        want = func()
    with pm.kernels("numba"):
        got = func()
        with pinned_threads(1):
            one = func()
        with pinned_threads(2):
            two = func()
    return want, got, one, two


@pytest.mark.parametrize("shape", [(97, 130), (128, 128), (64, 201)])
@pytest.mark.parametrize("apodization", ["hann", "tukey", None])
@pytest.mark.parametrize("magnitude", [1.0, 1e200, 1e-200])
def test_frc_kernels_match_numpy(shape, apodization, magnitude):
    a = _complex(shape, 1) * magnitude
    b = a + 0.5 * magnitude * _complex(shape, 2)
    want, got, one, two = _both_modes(lambda: pm.frc(a, b, apodization=apodization))
    np.testing.assert_allclose(got.correlation, want.correlation, rtol=0, atol=TOL)
    assert np.array_equal(got.n_pixels, want.n_pixels)
    assert np.isnan(got.correlation[0]) == np.isnan(want.correlation[0])
    assert np.array_equal(one.correlation, two.correlation, equal_nan=True)
    assert np.nanmin(want.correlation) < 0.9  # noisy: the curve is not trivially 1


def test_frc_kernel_overwrites_only_what_it_may():
    a, b = _complex((80, 90), 3), _complex((80, 90), 4)
    a_copy, b_copy = a.copy(), b.copy()
    with pm.kernels("numba"):
        pm.frc(a, b)
        assert np.array_equal(a, a_copy)
        assert np.array_equal(b, b_copy)
        # Strided (non-contiguous) inputs take the kernel too.
        got = _frc.frc_of_checked(a[:, ::2], b[:, ::2], "hann", 0.25, None, "m")
    with pm.kernels("numpy"):
        want = _frc.frc_of_checked(a[:, ::2], b[:, ::2], "hann", 0.25, None, "m")
    np.testing.assert_allclose(got.correlation, want.correlation, rtol=0, atol=TOL)
    with pm.kernels("numba"):
        mine = a.copy()
        _frc.frc_of_checked(mine, b, "hann", 0.25, None, "m", overwrite_a=True)
    assert not np.array_equal(mine, a)  # became its spectrum, as in the NumPy path


@pytest.mark.parametrize("value", [0.0, 2.5 - 1j])
def test_frc_kernel_flags_constant_images(value):
    a = np.full((40, 50), value, dtype=complex)
    b = _complex((40, 50), 5)
    want, got, _, _ = _both_modes(lambda: pm.frc(a, b))
    assert np.isnan(want.correlation).all()
    assert np.isnan(got.correlation).all()
