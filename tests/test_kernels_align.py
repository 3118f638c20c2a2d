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
from evaluate_cases import CASES

import ptycho_metrics as pm
from ptycho_metrics import _align, _frc, _kernels
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


def _odd_shift() -> tuple[np.ndarray, np.ndarray, dict]:
    """A non-square, odd-sided, non-periodic crop with a shift and ramp, complex64 recon."""
    recon, truth, _ = CASES["shifted_noisy"]()
    recon, truth = recon[3:190, 5:236], truth[3:190, 5:236]
    y, x = np.mgrid[: recon.shape[0], : recon.shape[1]]
    recon = (recon * np.exp(1j * (0.01 * y - 0.02 * x))).astype(np.complex64)
    return recon, truth, {"scale": None}


def _strided() -> tuple[np.ndarray, np.ndarray, dict]:
    """A Fortran-ordered recon and a truth that is a strided view (kernels on non-C layouts)."""
    recon, truth, _ = CASES["shifted_noisy"]()
    wide = np.zeros((truth.shape[0], 2 * truth.shape[1]), dtype=truth.dtype)
    wide[:, ::2] = truth
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    return np.asfortranarray(recon), view, {}


ALIGN_CASES = {
    "shifted_noisy": lambda: CASES["shifted_noisy"](),
    "masked_disc": lambda: CASES["masked_disc"](),
    "periodic_ramp": lambda: CASES["periodic_ramp"](),
    "complex64_amplitude": lambda: CASES["complex64_input"](),
    "odd_complex64_unscaled": _odd_shift,
    "no_ramp": lambda: (*CASES["shifted_noisy"]()[:2], {"remove_ramp": False}),
    "fortran_order_and_strided": _strided,
    # Power-of-two units on both (recon near 1e200, truth near 1e150): their product 1e350
    # would overflow without them.
    "huge_values": lambda: (
        CASES["shifted_noisy"]()[0] * 1e200,
        CASES["shifted_noisy"]()[1] * 1e150,
        {"scale": "amplitude"},
    ),
}


@pytest.mark.parametrize("name", list(ALIGN_CASES))
def test_align_kernels_match_numpy(name):
    recon, truth, kwargs = ALIGN_CASES[name]()
    kwargs = {k: v for k, v in kwargs.items() if k in ("mask", "scale", "remove_ramp")}
    given = (recon.copy(), truth.copy())
    want, got, one, two = _both_modes(lambda: _align.align(recon, truth, **kwargs))
    assert np.array_equal(recon, given[0])  # inputs never mutated
    assert np.array_equal(truth, given[1])
    assert got.shift == want.shift
    assert np.array_equal(got.region, want.region)
    for key in ("phase_offset", "scale", "complex_scale"):
        assert getattr(got, key) == pytest.approx(getattr(want, key), rel=TOL, abs=0)
    np.testing.assert_allclose(got.phase_ramp, want.phase_ramp, rtol=0, atol=TOL)
    scale = np.abs(want.aligned[want.region]).max()
    np.testing.assert_allclose(
        got.aligned[got.region], want.aligned[want.region], rtol=0, atol=TOL * scale
    )
    assert one.as_dict() == two.as_dict()
    assert np.array_equal(one.aligned, two.aligned)
    assert scale > 0  # a comparison of something


def test_align_kernel_cases_reach_their_branches():
    """The cases above take the periodic, non-periodic, masked and second-round paths."""
    periodic = [
        _align._is_periodic(r) and _align._is_periodic(t)
        for r, t, _ in (ALIGN_CASES[n]() for n in ("periodic_ramp", "shifted_noisy"))
    ]
    assert periodic == [True, False]
    recon, truth, kwargs = ALIGN_CASES["masked_disc"]()
    assert not kwargs["mask"].all()
    recon, truth, _ = ALIGN_CASES["periodic_ramp"]()
    with pm.kernels("numba"):
        al = _align.align(recon, truth)
    assert max(abs(g) for g in al.phase_ramp) > 0.1  # a ramp that takes the second round


def test_compiled_shift_matches_numpy_inside_the_region():
    """One inverse FFT with the interpolation in Fourier space: the NumPy values in the region.

    Outside it (the pixels the shift brings in across the edge) the smooth part
    wraps around instead of replicating the edge, which the region excludes.
    """
    rng = np.random.default_rng(7)
    image = _complex((61, 90), 8) + 3.0 * np.outer(np.arange(61), np.ones(90))
    assert not _align._is_periodic(image)
    shifts = ([0.37, -1.6], [-2.0, 0.25], [0.0, 0.0], [3.0, -0.5], [-0.5, 2.7])
    for shift in map(np.array, shifts):
        with pm.kernels("numpy"):
            want = _align._shifted(image.copy(), shift)
        with pm.kernels("numba"):
            got = _align._shifted(image.copy(), shift)
        inside = _align._edge_region(image.shape, shift)
        scale = np.abs(want).max()
        np.testing.assert_allclose(got[inside], want[inside], rtol=0, atol=1e-13 * scale)
    periodic = rng.standard_normal((40, 40)) + 0j
    assert _align._is_periodic(periodic)
    with pm.kernels("numpy"):
        want = _align._shifted(periodic.copy(), np.array([0.5, 0.5]))
    with pm.kernels("numba"):
        got = _align._shifted(periodic.copy(), np.array([0.5, 0.5]))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("bad", [np.nan, np.inf, complex(0, -np.inf)])
def test_kernel_finiteness_check_defers_to_the_numpy_checks(bad):
    recon, truth, _ = CASES["shifted_noisy"]()
    recon = recon.copy()
    recon[5, 7] = bad
    messages = []
    for mode in ("numpy", "numba"):
        with pm.kernels(mode), pytest.raises(pm.QualityInputError) as info:
            _align.align(recon, truth)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "recon must be finite" in messages[0]
    mask = np.ones(recon.shape, bool)
    mask[:20, :20] = False  # NaN/Inf outside the mask: allowed, set to 0 in a copy
    want, got, one, two = _both_modes(lambda: _align.align(recon, truth, mask=mask))
    assert got.shift == want.shift
    assert got.scale == pytest.approx(want.scale, rel=TOL, abs=0)
    assert np.isnan(recon[5, 7]) or np.isinf(recon[5, 7])  # the input is left as it was
    assert one.as_dict() == two.as_dict()


def test_kernel_finiteness_check_returns_only_what_as_object_2d_would():
    x = _complex((30, 40), 9)
    with pm.kernels("numba"):
        assert _align._finite_as_given(x, (np.complex128,)) is x
        assert _align._finite_as_given(x.astype(np.complex64), (np.complex128,)) is None
        assert _align._finite_as_given(x.real, (np.complex128,)) is None
        assert _align._finite_as_given(np.ma.masked_array(x), (np.complex128,)) is None
    with pm.kernels("numpy"):
        assert _align._finite_as_given(x, (np.complex128,)) is None
