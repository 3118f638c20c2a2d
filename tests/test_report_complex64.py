"""A complex64 pair gives the numbers of its exact complex128 copy, on both paths.

evaluate() keeps complex64 inputs as given (no full-size complex128 copy,
docs/performance.md, Memory) and promotes exactly wherever it computes with
them, so its metrics must equal those of ``x.astype(np.complex128)`` to
rounding of the order of the sums: this test is the guard for every consumer
of the recon and the truth (a float32 ``np.abs`` or ``np.angle`` anywhere
would differ by ~1e-8).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluate_cases import _canvas, _degraded

import ptycho_metrics as pm
from ptycho_metrics import _kernels

MODES = [
    "numpy",
    pytest.param(
        "numba",
        marks=pytest.mark.skipif(not _kernels.available(), reason="numba not installed ([fast])"),
    ),
]


def _case(name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    # 520 x 536: large enough that auto mode would take the kernels; non-square, even/odd mix.
    shape = (520, 536) if name != "odd" else (517, 531)
    recon, truth, kwargs = _degraded(_canvas(shape, 31), shape, 31, (0.63, -1.2))
    if name == "masked":
        y, x = np.mgrid[: shape[0], : shape[1]]
        kwargs = {"mask": (y - 260.0) ** 2 + (x - 270.0) ** 2 < 230.0**2}
    elif name == "tiny_scale":  # a power-of-two unit != 1 (exact rescaling path)
        recon, truth = recon * 1e-30, truth * 1e-30
    elif name == "unaligned":
        kwargs = {"align": False}
    elif name == "amplitude_scale":
        kwargs = {"scale": "amplitude"}
    return recon.astype(np.complex64), truth.astype(np.complex64), kwargs


def _close(got: float, want: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return got == want or abs(got - want) <= 1e-12 * max(abs(want), 1e-3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name", ["shifted", "odd", "masked", "tiny_scale", "unaligned", "amplitude_scale"]
)
@pytest.mark.parametrize("which", ["both", "truth", "recon"])
def test_complex64_inputs_give_their_complex128_copies_numbers(mode, name, which):
    recon, truth, kwargs = _case(name)
    r = recon if which in ("both", "recon") else recon.astype(np.complex128)
    t = truth if which in ("both", "truth") else truth.astype(np.complex128)
    before = (r.copy(), t.copy())
    with pm.kernels(mode):
        got = pm.evaluate(r, t, **kwargs)
        want = pm.evaluate(recon.astype(np.complex128), truth.astype(np.complex128), **kwargs)
    off = {
        key: (got.metrics[key], value)
        for key, value in want.metrics.items()
        if not _close(got.metrics[key], value)
    }
    assert not off, off
    assert got.notes == want.notes
    np.testing.assert_array_equal(r, before[0])  # inputs untouched
    np.testing.assert_array_equal(t, before[1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scale", [1.0, 1e-30, 1e30])
def test_phase_error_and_frc_of_complex64_maps_are_those_of_their_copies(mode, scale):
    recon, truth, _ = _case("shifted")
    recon, truth = (recon * scale).astype(np.complex64), (truth * scale).astype(np.complex64)
    wide = (recon.astype(np.complex128), truth.astype(np.complex128))
    y, x = np.mgrid[: recon.shape[0], : recon.shape[1]]
    mask = (y - 250.0) ** 2 + (x - 260.0) ** 2 < 240.0**2
    with pm.kernels(mode):
        for kwargs in ({}, {"mask": mask}):
            got, want = pm.phase_error(recon, truth, **kwargs), pm.phase_error(*wide, **kwargs)
            for key in ("rmse", "mae", "max"):
                assert _close(getattr(got, key), getattr(want, key)), (key, kwargs)
            assert got.residues == want.residues
            np.testing.assert_allclose(got.residual, want.residual, rtol=0, atol=1e-12)
        got_frc, want_frc = pm.frc(recon, truth), pm.frc(*wide)
    np.testing.assert_allclose(got_frc.correlation, want_frc.correlation, rtol=0, atol=1e-12)
