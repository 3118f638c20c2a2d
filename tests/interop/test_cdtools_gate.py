"""Gate a cdtools reconstruction of the CXI fixture, the way a cdtools user would in their repo.

``test_cdtools_reconstruction`` is the worked example of docs/interop.md (its
own code: about 20 lines). The golden is ``goldens/test_cdtools_gate/cdtools_default.json``,
written by the first run. The teeth tests rerun the same pipeline degraded
(a quarter of the iterations; a wrong probe) and require the same
comparison against the same golden to fail.

Tolerances (``TOLERANCES``) are max(floor, 3 x spread) of reruns with 1 and 2
threads, measured with ``tools/measure_interop_spread.py`` (docs/interop.md).
``amplitude_scale_error`` is gated here because the probe and per-shot weights
are frozen (known probe): with a refined probe it is a gauge and must be left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho_metrics import evaluate
from ptycho_metrics.data import fixture_path, load_fixture
from ptycho_metrics.gate import compare_metrics, load_golden
from ptycho_metrics.io import read_reconstruction, to_fixture_grid
from ptycho_metrics.pytest_plugin import golden_path_for

pytest.importorskip("cdtools", reason="the interop extra is not installed")

# cdtools 0.3.2's CXI reader calls np.maximum(data, 0, data), deprecated in NumPy 2.4.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Passing more than 2 positional arguments to np.maximum:DeprecationWarning"
)

from .cdtools_pipeline import SETTINGS, reconstruct  # noqa: E402

#: Metrics that are not gated: FRC crossings near Nyquist come and go with rounding.
UNGATED = ("frc_0p5", "frc_half_bit")

#: Absolute tolerances: max(floor, 3 x measured spread). Reruns with 1 and 2 threads were
#: bit-identical (spread 0, 2026-12-01, AVX2, tools/measure_interop_spread.py), so every
#: metric gets the gate's floor (tools/measure_spread.py FLOORS); the two below differ from
#: ptycho_metrics.gate.DEFAULT_TOLERANCES, which are sized on the reference pipeline's spread.
TOLERANCES: dict[str, float] = {
    "amplitude_psnr": 0.1,  # dB, floor (spread 0)
    "phase_max": 0.05,  # rad, floor (spread 0)
}


def gated(result_h5: Path) -> dict[str, float]:
    """Read cdtools' file back, put it on the fixture's grid, measure it."""
    data = load_fixture("default")
    obj, mask = to_fixture_grid(read_reconstruction(result_h5), data)
    metrics = evaluate(obj, data.obj, mask=mask).finite_metrics()
    return {k: v for k, v in metrics.items() if k not in UNGATED}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = load_fixture("default")
    cxi = fixture_path("default").with_suffix(".cxi")
    return reconstruct(cxi, data.probe, tmp_path_factory.mktemp("cdtools") / "result.h5")


def test_cdtools_reconstruction(quality_gate, clean: Path) -> None:
    data = load_fixture("default")
    contract = {"fixture_sha256": data.sha256, "cdtools": SETTINGS, "threads": 1}
    quality_gate.check(
        gated(clean), contract=contract, tolerances=TOLERANCES, basename="cdtools_default"
    )


def _against_golden(metrics: dict[str, float]) -> tuple[bool, str, set[str]]:
    path = golden_path_for(Path(__file__), "cdtools_default")
    if not path.is_file():
        pytest.fail(f"no golden at {path}: run `pytest tests/interop` once (it writes it)")
    result = compare_metrics(metrics, load_golden(path).metrics, tolerances=TOLERANCES)
    return result.passed, result.format_table(), {r.metric for r in result.failures}


def test_quarter_of_the_iterations_fails(tmp_path: Path) -> None:
    data = load_fixture("default")
    cxi = fixture_path("default").with_suffix(".cxi")
    short = reconstruct(
        cxi, data.probe, tmp_path / "short.h5", iterations=SETTINGS["iterations"] // 4
    )
    passed, table, failed = _against_golden(gated(short))
    assert not passed, f"a quarter of the iterations passed the gate:\n{table}"
    assert "amplitude_ssim" in failed, table


def test_wrong_probe_fails(tmp_path: Path) -> None:
    """The conjugate probe: the defocus of the opposite sign (a propagator sign slip)."""
    data = load_fixture("default")
    cxi = fixture_path("default").with_suffix(".cxi")
    wrong = reconstruct(cxi, np.conj(data.probe), tmp_path / "wrong.h5")
    passed, table, failed = _against_golden(gated(wrong))
    assert not passed, f"a wrong probe passed the gate:\n{table}"
    assert failed & {"amplitude_ssim", "phase_ssim"}, table
