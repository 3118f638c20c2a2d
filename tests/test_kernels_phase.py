"""The kernels of the phase error, the phase maps and the input checks against the NumPy path.

Each kernel of ptycho_metrics._kernels.phase and ._kernels.checks is run on
inputs that reach its branches (masks, NaN/Inf inside and outside them,
complex64, zeros, residues, non-square maps) and compared with
``kernels("numpy")``; and the kernels give the same bits on one and two
threads.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import ptycho_metrics as pm
from ptycho_metrics import _checks, _kernels, _phase, _report
from ptycho_metrics._threads import pinned_threads

needs_numba = pytest.mark.skipif(not _kernels.available(), reason="numba not installed ([fast])")

SHAPE = (61, 90)  # non-square, odd


def _object(shape: tuple[int, int] = SHAPE, seed: int = 5, noise: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    phase = 0.21 * x - 0.13 * y + noise * rng.standard_normal(shape)
    return (1.0 + 0.2 * rng.random(shape)) * np.exp(1j * phase)


def _mask(shape: tuple[int, int] = SHAPE) -> np.ndarray:
    mask = np.ones(shape, bool)
    mask[:7, :20] = False
    mask[-5:, -9:] = False
    return mask


def _both(fn):
    with pm.kernels("numpy"):
        want = fn()
    with pm.kernels("numba"):
        got = fn()
    return want, got


@needs_numba
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float64, np.float32])
@pytest.mark.parametrize("masked", [False, True], ids=["all", "mask"])
def test_bounds_kernel_matches_numpy(dtype, masked):
    obj = _object()
    values = (obj if np.dtype(dtype).kind == "c" else obj.real).astype(dtype)
    where = _mask() if masked else None
    want, got = _both(lambda: _checks.peak_component(values, where))
    assert got == want  # minima and maxima are exact: same bits
    want, got = _both(lambda: _checks.degeneracy(values, 1e-10, where))
    assert got == want == ""
    with pm.kernels("numpy"):
        assert _checks.part_bounds(values, where) is None  # the caller's NumPy path
    with pm.kernels("numba"):
        parts, n, n_nan, n_inf = _checks.part_bounds(values, where)
    inside = values if where is None else values[where]
    arrays = (inside.real, inside.imag) if np.iscomplexobj(inside) else (inside,)
    assert parts == [(float(p.min()), float(p.max())) for p in arrays]
    assert (n, n_nan, n_inf) == (inside.size, 0, 0)


@needs_numba
def test_bounds_kernel_counts_nan_and_inf_and_defers_to_numpy():
    values = _object()
    values[30, 4] = np.nan
    values[10, 11] = complex(np.inf, 0.0)
    values[2, 2] = complex(0.0, -np.inf)  # outside the mask
    where = _mask()
    assert not where[2, 2]
    assert where[30, 4]
    with pm.kernels("numba"):
        _, n, n_nan, n_inf = _checks.part_bounds(values, where)
        assert (n, n_nan, n_inf) == (int(where.sum()), 1, 1)
        _, _, n_nan, n_inf = _checks.part_bounds(values)
        assert (n_nan, n_inf) == (1, 2)
    # With a NaN the NumPy reductions decide (NaN propagates): both paths agree.
    want, got = _both(lambda: _checks.peak_component(values, where))
    assert np.isnan(want)
    assert np.isnan(got)
    finite = np.where(np.isfinite(values), values, 0)
    finite[10, 11] = complex(np.inf, 0.0)
    want, got = _both(lambda: _checks.peak_component(finite, where))
    assert got == want == np.inf


@needs_numba
@pytest.mark.parametrize(
    ("values", "state"),
    [
        (np.zeros(SHAPE, complex), "zero"),
        (np.full(SHAPE, 2.0 - 1.0j), "constant"),
        (np.full(SHAPE, 3.0) + np.eye(*SHAPE) * 1e-13, "constant"),
        (np.full(SHAPE, 3.0) + np.eye(*SHAPE) * 1e-6, ""),
    ],
    ids=["zero", "constant", "rounding", "structure"],
)
def test_degeneracy_kernel_states(values, state):
    want, got = _both(lambda: _checks.degeneracy(values, 1e-10))
    assert want == got == state
    # A zero map outside the mask only: degenerate inside, not outside.
    outside = values.copy()
    outside[~_mask()] = 0.0
    want, got = _both(lambda: _checks.degeneracy(outside, 1e-10, _mask()))
    assert want == got == state


@needs_numba
def test_empty_mask_falls_back_to_numpy_errors_and_units():
    values = _object()
    nothing = np.zeros(SHAPE, bool)
    with pm.kernels("numba"):
        assert _phase.power_of_two_scale(values, nothing) == 1.0
        with pytest.raises(ValueError, match="zero-size array"):
            _checks.degeneracy(values, 1e-10, nothing)


@needs_numba
@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200])
def test_power_of_two_scale_kernel(scale):
    values = _object() * scale
    want, got = _both(lambda: _phase.power_of_two_scale(values, _mask()))
    assert got == want


@needs_numba
@pytest.mark.parametrize("shape", [(61, 90), (90, 61), (2, 40), (40, 2)])
def test_jumps_kernel_matches_numpy(shape):
    phase = np.angle(_object(shape))  # wraps and, from the noise, residues
    jy, jx, n_jumps, residues = _phase._compiled_jumps(phase)
    np.testing.assert_array_equal(jy, _phase._jumps(phase, 0))
    np.testing.assert_array_equal(jx, _phase._jumps(phase, 1))
    assert n_jumps == np.count_nonzero(jy) + np.count_nonzero(jx) > 0
    assert residues == _phase._count_residues(jy, jx)
    if shape == (61, 90):
        assert residues > 0  # the branch to scikit-image's unwrapper is reached


@needs_numba
@pytest.mark.parametrize("kind", ["flat", "ramp", "residues"])
def test_unwrap_kernel_matches_numpy(kind):
    y, x = np.mgrid[:70, :83]
    if kind == "flat":
        phase = 0.01 * x  # no jump: the input itself
    else:
        phase = np.angle(np.exp(1j * (0.4 * x + 0.3 * y)))
        if kind == "residues":
            phase[20:30, 20:30] = np.random.default_rng(1).uniform(-np.pi, np.pi, (10, 10))
    want, got = _both(lambda: _phase.unwrap(phase))
    assert got[1] == want[1]
    assert (got[1] > 0) == (kind == "residues")
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("mode", ["numpy", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_phase_of_is_the_float64_angle_of_the_values(dtype, mode):
    # A complex64 map gets the float64 phase of its values, not np.angle's float32 one.
    z = _object().astype(dtype)
    z[0, :3] = [0.0, -0.0, complex(-1.0, -0.0)]
    with pm.kernels(mode):
        got = _phase.phase_of(z)
    want = np.angle(z.astype(np.complex128))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-15)


@needs_numba
@pytest.mark.parametrize("masked", [False, True], ids=["all", "mask"])
@pytest.mark.parametrize("recon_dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("remove_ramp", [True, False])
@pytest.mark.parametrize("noise", [0.05, 1.0])
def test_phase_error_kernel_matches_numpy(masked, recon_dtype, remove_ramp, noise):
    truth = _object(seed=2, noise=noise)
    ramp = np.exp(1j * (0.7 + 0.05 * np.arange(90)))
    recon = (_object(seed=3, noise=noise) * ramp).astype(recon_dtype)
    kwargs = {"mask": _mask() if masked else None, "remove_ramp": remove_ramp}
    if masked:  # NaN and Inf outside the mask are never used
        recon = recon.copy()
        recon[0, 0] = np.nan
        recon[-1, -1] = np.inf
    before = recon.copy()
    want, got = _both(lambda: pm.phase_error(recon, truth, **kwargs))
    np.testing.assert_array_equal(recon, before)  # the input is not written
    assert got.residues == want.residues
    if not masked:  # (the zeros outside a mask add residues at its edge)
        assert (got.residues > 0) == (noise > 0.5)  # scikit-image's unwrapper, else Itoh
    for key in ("rmse", "mae", "max", "offset"):
        assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-12, abs=1e-13)
    np.testing.assert_allclose(got.residual, want.residual, rtol=0, atol=1e-12)


@needs_numba
def test_phase_error_kernel_keeps_the_errors():
    truth = _object()
    recon = _object(seed=9)
    recon[5, 6] = np.nan
    msg = "recon must be finite, got 1 NaN and 0 Inf values out of 5490 (first at index (5, 6)"
    for mode in ("numpy", "numba"):
        with pm.kernels(mode), pytest.raises(pm.QualityInputError, match=re.escape(msg)):
            pm.phase_error(recon, truth)
    zero = np.zeros(SHAPE, complex)
    msg = "truth must not be zero everywhere inside mask"
    for mode in ("numpy", "numba"):
        with pm.kernels(mode), pytest.raises(pm.QualityInputError, match=re.escape(msg)):
            pm.phase_error(truth, zero)


@needs_numba
def test_continuous_truth_phase_kernel():
    truth = _object((80, 120))
    region = np.ones(truth.shape, bool)
    region[:10] = False
    want, got = _both(lambda: _report._continuous_truth_phase(truth, region))
    assert got[1] == want[1]
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-13)


@needs_numba
def test_phase_kernels_same_bits_on_one_and_two_threads():
    truth = _object((97, 64), seed=4)
    recon = _object((97, 64), seed=6)
    mask = np.ones(truth.shape, bool)
    mask[:9, :9] = False
    results = []
    for threads in (1, 2):
        with pm.kernels("numba"), pinned_threads(threads):
            perr = pm.phase_error(recon, truth, mask=mask)
            jumps = _phase._compiled_jumps(np.angle(truth))
            bounds = _checks.part_bounds(recon, mask)
            results.append((perr, jumps, bounds, _phase.phase_of(truth)))
    (p1, j1, b1, a1), (p2, j2, b2, a2) = results
    assert (p1.rmse, p1.mae, p1.max, p1.offset, p1.ramp, p1.residues) == (
        p2.rmse,
        p2.mae,
        p2.max,
        p2.offset,
        p2.ramp,
        p2.residues,
    )
    np.testing.assert_array_equal(p1.residual, p2.residual)
    for x, y in zip(j1[:2], j2[:2], strict=True):
        np.testing.assert_array_equal(x, y)
    assert j1[2:] == j2[2:]
    assert b1 == b2
    np.testing.assert_array_equal(a1, a2)


@needs_numba
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float64, np.float32])
def test_finite_kernel_same_results_and_messages(dtype):
    clean = _object().astype(dtype) if np.dtype(dtype).kind == "c" else _object().real.astype(dtype)
    with pm.kernels("numba"):
        assert _checks._all_finite_compiled(clean)
        assert _checks.check_finite(clean, "x") is clean  # no copy
    cases = [(None, (30, 4), True), (_mask(), (30, 4), True), (_mask(), (2, 2), False)]
    for where, bad, refused in cases:
        values = clean.copy()
        values[bad] = np.nan
        values[-1, -1] = np.inf  # outside the mask
        with pm.kernels("numba"):
            assert not _checks._all_finite_compiled(values)
        outcomes = []
        for mode in ("numpy", "numba"):
            with pm.kernels(mode):
                try:
                    out = _checks.check_finite(values, "x", where)
                except pm.QualityInputError as exc:
                    outcomes.append(str(exc))
                else:
                    outcomes.append(out)
        assert isinstance(outcomes[0], str) == refused
        if refused:
            assert outcomes[0] == outcomes[1]
            assert "NaN" in outcomes[0]
        else:
            np.testing.assert_array_equal(outcomes[0], outcomes[1])
            assert outcomes[1] is not values  # NaN outside the mask: zeroed in a copy


def _pair_numpy(truth, recon, region, full_box):
    tv = truth.ravel() if full_box else truth[region]
    rv = recon.ravel() if full_box else recon[region]
    t_range, r_range = _report._range(tv), _report._range(rv)
    pearson = _report._pearson(tv, rv) if t_range > 0 and r_range > 0 else np.nan
    return (t_range, r_range, pearson, *_report._abs_errors(tv, rv))


@needs_numba
@pytest.mark.parametrize("case", ["full", "region", "flat-truth", "flat-recon"])
def test_pair_statistics_kernel_matches_numpy(case):
    truth = np.abs(_object((70, 93), seed=1))
    recon = truth + 0.05 * np.random.default_rng(2).standard_normal(truth.shape)
    region = np.ones(truth.shape, bool)
    if case == "region":
        region[:12, :30] = False
        truth = truth.copy()
        truth[0, 0] = 1e6  # outside the region: never seen
    if case == "flat-truth":
        truth = np.full(truth.shape, 0.7) + np.eye(*truth.shape) * 1e-14  # rounding only
    if case == "flat-recon":
        recon = np.full(truth.shape, -2.0)
    full_box = case != "region"
    want = _pair_numpy(truth, recon, region, full_box)
    with pm.kernels("numba"):
        got = _report._pair_statistics(truth, recon, region, full_box)
    got_t = (got.data_range, got.recon_range, got.pearson, got.mae, got.rmse)
    np.testing.assert_allclose(got_t, want, rtol=1e-14, atol=0)
    assert np.isnan(got.pearson) == (case.startswith("flat"))
    assert (got.data_range == 0) == (case == "flat-truth")


@needs_numba
def test_pair_statistics_kernel_same_bits_on_one_and_two_threads():
    truth = np.abs(_object((97, 64), seed=7))
    recon = np.abs(_object((97, 64), seed=8))
    region = _mask((97, 64))
    results = []
    for threads in (1, 2):
        with pm.kernels("numba"), pinned_threads(threads):
            results.append(_report._pair_statistics(truth, recon, region, False))
    assert repr(results[0]) == repr(results[1])


@needs_numba
@pytest.mark.parametrize(("offset", "ramp"), [(True, True), (True, False), (False, True)])
def test_plane_fit_kernel_matches_numpy(offset, ramp):
    phase = np.angle(_object((83, 70), noise=0.2)) + 0.3
    weights = np.abs(_object((83, 70), seed=11))
    weights[:10] = 0.0  # as outside a mask
    want, got = _both(lambda: _phase._wls_plane(phase, weights, offset=offset, ramp=ramp))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    assert (got[0] != 0) == offset
    assert (got[2] != 0) == ramp


@needs_numba
def test_remembered_bounds_runs_each_pass_once_and_ends_with_the_block(monkeypatch):
    values, other = _object(), _object(seed=8)
    where = _mask()
    calls = []
    real = _checks._part_bounds

    def counted(arr, mask):
        calls.append((id(arr), mask is None))
        return real(arr, mask)

    monkeypatch.setattr(_checks, "_part_bounds", counted)
    with pm.kernels("numba"):
        want = (_checks.peak_component(values), _checks.degeneracy(values, 1e-10, where))
        calls.clear()

        def stages() -> None:
            with _checks.remembered_bounds(values):
                assert _checks.check_finite(values, "x") is values
                got.extend(
                    [_checks.peak_component(values), _checks.degeneracy(values, 1e-10, where)]
                )
                _checks.peak_component(values, where)
                _checks.peak_component(other)  # not remembered
                _checks.peak_component(other)
                raise RuntimeError

        got: list = []
        with pytest.raises(RuntimeError):
            stages()
        assert tuple(got) == want
        once = [(id(values), True), (id(values), False)]
        assert calls == [*once, (id(other), True), (id(other), True)]
        calls.clear()
        _checks.peak_component(values)  # the block has ended: computed again
        assert calls == [(id(values), True)]
