"""The compiled kernels (ptycho_metrics._kernels): same numbers, any thread count, clear modes.

The agreement of whole evaluate() results with the stored reference values in
both modes is tested in tests/test_report_reference.py; here each kernel is
compared with its NumPy path on inputs that reach its branches (masks,
windows, odd shapes), and the mode switch is checked.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from evaluate_cases import CASES

import ptycho_metrics as pm
from ptycho_metrics import _kernels
from ptycho_metrics._ssim import _downsample, _ssim_map
from ptycho_metrics._threads import pinned_threads

needs_numba = pytest.mark.skipif(not _kernels.available(), reason="numba not installed ([fast])")


def _pair(shape: tuple[int, int], seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random(shape)
    return x, x + 0.2 * rng.standard_normal(shape)


def test_mode_from_environment_and_context(monkeypatch):
    monkeypatch.delenv(_kernels.ENV_VAR, raising=False)
    assert _kernels.mode() == "auto"
    monkeypatch.setenv(_kernels.ENV_VAR, " NumPy ")
    assert _kernels.mode() == "numpy"
    assert not _kernels.wanted(10**9)
    with pm.kernels("auto"):
        assert _kernels.mode() == "auto"
        assert not _kernels.wanted(_kernels.MIN_PIXELS - 1)
        assert _kernels.wanted(_kernels.MIN_PIXELS) == _kernels.available()
    assert _kernels.mode() == "numpy"


def test_bad_modes_are_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv(_kernels.ENV_VAR, "fast")
    with pytest.raises(pm.QualityInputError, match=r"KERNELS must be one of .*'fast'"):
        _kernels.mode()
    bad = pytest.raises(pm.QualityInputError, match=r"kernels mode must be one of .*got 'gpu'")
    with bad, pm.kernels("gpu"):  # type: ignore[arg-type]
        pass


def test_numba_mode_without_numba_says_how_to_install(monkeypatch):
    monkeypatch.setattr(_kernels, "available", lambda: False)
    with pm.kernels("numba"), pytest.raises(pm.QualityInputError, match=r"ptycho-metrics\[fast\]"):
        _kernels.wanted(1)
    with pm.kernels("auto"):
        assert not _kernels.wanted(10**9)


# A process where numba finds no writable cache directory: numba's own caching
# code raises its RuntimeError ("no locator available") when it is given no
# locator, as it does for a read-only package and home (reproduced for real as
# user nobody on the dev VM; here without changing file permissions).
_NO_CACHE = """
import sys, warnings
import numpy as np
import numba.core.caching
numba.core.caching.CacheImpl._locator_classes = []
import ptycho_metrics as pm
rng = np.random.default_rng(0)
truth = np.exp(1j * rng.standard_normal((512, 512)))
recon = 0.9 * np.roll(truth, 1, axis=0) * np.exp(0.4j)
if sys.argv[1] == "numba":
    with pm.kernels("numba"):
        try:
            pm.evaluate(recon, truth)
        except pm.QualityInputError as error:
            print("ERROR", error)
    raise SystemExit
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with pm.kernels("auto"):
        fallback = pm.evaluate(recon, truth).to_dict()
        again = pm.evaluate(recon, truth).to_dict()
with pm.kernels("numpy"):
    reference = pm.evaluate(recon, truth).to_dict()
print("WARNINGS", [(w.category.__name__, str(w.message)) for w in caught])
print("SAME", fallback == reference == again)
"""


@needs_numba
def test_kernels_without_a_writable_cache_fall_back_with_one_warning():
    run = subprocess.run(
        [sys.executable, "-c", _NO_CACHE, "auto"], capture_output=True, text=True, check=True
    )
    assert "SAME True" in run.stdout, run.stdout + run.stderr
    warnings_line = next(line for line in run.stdout.splitlines() if line.startswith("WARNINGS"))
    assert warnings_line.count("KernelFallbackWarning") == 1, warnings_line
    assert "NUMBA_CACHE_DIR" in warnings_line
    assert "no locator available" in warnings_line


@needs_numba
def test_numba_mode_without_a_writable_cache_says_what_to_set():
    run = subprocess.run(
        [sys.executable, "-c", _NO_CACHE, "numba"], capture_output=True, text=True, check=True
    )
    assert "ERROR kernels mode 'numba'" in run.stdout, run.stdout + run.stderr
    assert "NUMBA_CACHE_DIR" in run.stdout


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_split_rows_covers_each_row_once(threads):
    seen = np.zeros(10, int)

    def kernel(r0: int, r1: int, out: np.ndarray) -> None:
        out[r0:r1] += 1

    with pinned_threads(threads):
        _kernels.split_rows(kernel, 10, seen)
    assert seen.tolist() == [1] * 10


@needs_numba
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"window": "gaussian"},
        {"win_size": 5},
        {"mask": True},
        {"window": "gaussian", "mask": True},
    ],
    ids=["uniform", "gaussian", "uniform5", "uniform-mask", "gaussian-mask"],
)
def test_ssim_kernel_matches_numpy(kwargs):
    x, y = _pair((97, 130))
    if kwargs.get("mask"):
        mask = np.ones(x.shape, bool)
        mask[:30, :40] = False
        mask[70:, 90:] = False
        kwargs = {**kwargs, "mask": mask}
    with pm.kernels("numpy"):
        want = pm.ssim(x, y, data_range=1.0, **kwargs)
    with pm.kernels("numba"):
        got = pm.ssim(x, y, data_range=1.0, **kwargs)
    assert got == pytest.approx(want, rel=1e-14, abs=0)
    assert got != 1.0  # a pair with structure: the comparison means something


@needs_numba
def test_ssim_map_and_ms_ssim_kernel_match_numpy():
    x, y = _pair((200, 181))
    with pm.kernels("numpy"):
        want_map, _ = _ssim_map(x, y, data_range=1.0, window="gaussian")
        want_ms = pm.ms_ssim(x, y, data_range=1.0, weights=(0.3, 0.3, 0.4))
    with pm.kernels("numba"):
        got_map, _ = _ssim_map(x, y, data_range=1.0, window="gaussian")
        got_ms = pm.ms_ssim(x, y, data_range=1.0, weights=(0.3, 0.3, 0.4))
    np.testing.assert_allclose(got_map, want_map, rtol=0, atol=1e-13)
    assert got_ms == pytest.approx(want_ms, rel=1e-14, abs=0)


@needs_numba
@pytest.mark.parametrize("name", ["shifted_noisy", "masked_disc", "complex64_input"])
def test_evaluate_with_kernels_same_bits_on_one_and_two_threads(name):
    recon, truth, kwargs = CASES[name]()
    with pm.kernels("numba"):
        with pinned_threads(1):
            one = pm.evaluate(recon, truth, **kwargs).to_dict()
        with pinned_threads(2):
            two = pm.evaluate(recon, truth, **kwargs).to_dict()
    assert repr(one) == repr(two)


@needs_numba
@pytest.mark.parametrize("shape", [(8, 8), (7, 10), (10, 7), (9, 11), (1, 5)])
def test_downsample_kernel_same_bits_as_numpy(shape):
    x, _ = _pair(shape)
    with pm.kernels("numpy"):
        want = _downsample(x)
    with pm.kernels("numba"):
        got = _downsample(x)
    assert got.shape == want.shape == ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    assert got.tobytes() == want.tobytes()
