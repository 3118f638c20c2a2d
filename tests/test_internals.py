"""The rewritten numerical internals of issue #13 against the straightforward forms they replace.

Each test compares one blocked or fused routine (and the thread policy of
``ptycho_metrics._threads``) with the plain computation: scipy.ndimage's
interpolation, a full-size ring index, a full-size SSIM map, other thread
counts. The end-to-end check of evaluate() against values computed before
the rewrite is tests/test_report_reference.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sfft
from scipy import ndimage

from ptycho_metrics import _frc, _ssim, _threads, evaluate
from ptycho_metrics._align import _add_linear_shift
from ptycho_metrics._frc import _ring_sums


@pytest.mark.parametrize("shift", [(0.37, -1.6), (2.0, -3.0), (-0.5, 0.0), (-4.25, 3.75)])
def test_linear_shift_equals_ndimage_order_1(shift):
    rng = np.random.default_rng(3)
    image = rng.normal(size=(37, 29)) + 1j * rng.normal(size=(37, 29))
    out = np.ones_like(image)
    _add_linear_shift(out, image, np.array(shift))
    expected = 1.0 + ndimage.shift(image, shift, order=1, mode="nearest")
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(40, 40), (33, 50), (64, 21)])
@pytest.mark.parametrize("block", [1, 100, 2**18])
def test_ring_sums_equal_a_full_size_ring_index(shape, block, monkeypatch):
    rng = np.random.default_rng(4)
    f1 = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    f2 = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    side = min(shape)
    radius = np.hypot(*np.meshgrid(sfft.fftfreq(shape[0]), sfft.fftfreq(shape[1]), indexing="ij"))
    index = np.minimum(np.rint(radius * side).astype(int), side // 2 + 1).ravel()
    n = side // 2 + 1
    expected = [
        np.bincount(index, weights=(f1 * f2.conj()).real.ravel(), minlength=n + 1)[:n],
        np.bincount(index, weights=(np.abs(f1) ** 2).ravel(), minlength=n + 1)[:n],
        np.bincount(index, weights=(np.abs(f2) ** 2).ravel(), minlength=n + 1)[:n],
        np.bincount(index, minlength=n + 1)[:n],
    ]
    monkeypatch.setattr(_frc, "RING_BLOCK", block)
    for got, want in zip(_ring_sums(f1, f2), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("window", ["uniform", "gaussian"])
@pytest.mark.parametrize("block_bytes", [1, 2**12, 2**22])
def test_ssim_blocks_do_not_change_the_value(window, block_bytes, monkeypatch):
    rng = np.random.default_rng(5)
    x = ndimage.gaussian_filter(rng.normal(size=(90, 70)), 2)
    y = x + 0.1 * rng.normal(size=x.shape)
    mask = np.ones(x.shape, bool)
    mask[:20, :30] = False
    reference = [_ssim.ssim(x, y, data_range=1.0, window=window, mask=m) for m in (None, mask)]
    monkeypatch.setattr(_ssim, "BLOCK_BYTES", block_bytes)
    for m, want in zip((None, mask), reference, strict=True):
        got = _ssim.ssim(x, y, data_range=1.0, window=window, mask=m)
        assert got == pytest.approx(want, abs=1e-14, rel=0)


def test_fft_is_identical_for_any_thread_count():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(96, 80)) + 1j * rng.normal(size=(96, 80))
    np.testing.assert_array_equal(sfft.fft2(a, workers=1), sfft.fft2(a, workers=2))


def test_pinned_fft_workers_apply_inside_the_block_only():
    outside = _threads.fft_workers()
    with _threads.pinned_threads(1):
        assert _threads.fft_workers() == 1
    assert _threads.fft_workers() == outside == _threads.usable_cores()


def test_evaluate_runs_blas_single_threaded_and_restores_it():
    from threadpoolctl import threadpool_info

    before = [p["num_threads"] for p in threadpool_info()]
    seen: list[list[int]] = []
    original = _ssim._ssim_sums

    def spy(*args, **kwargs):
        seen.append([p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"])
        return original(*args, **kwargs)

    truth = np.exp(1j * ndimage.gaussian_filter(np.random.default_rng(7).normal(size=(64, 64)), 3))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_ssim, "_ssim_sums", spy)
        evaluate(truth * 1.1, truth, ms_ssim_weights=(1.0,))
    assert seen
    assert all(counts == [1] * len(counts) for counts in seen)
    assert [p["num_threads"] for p in threadpool_info()] == before
