"""The convergence gate: how fast the reference pipeline gets good, not only where it ends.

The pipeline is trained through its CLI with ``--log-quality-every 1``
(:class:`ptycho_metrics.lightning.QualityCallback`, which leaves training bit
for bit unchanged), and ``quality_curve.csv`` is reduced to the convergence
metrics of :func:`ptycho_metrics.convergence_metrics` (epochs until amplitude
SSIM first reaches 0.95). They are gated against
``goldens/test_convergence/convergence_default.json`` with their tolerance from
``ptycho_metrics.gate.DEFAULT_TOLERANCES`` (measured spread, docs/quality-gate.md).

The run's curve goes into the golden's ``info`` block (``check(curve=...)``):
information only, never compared point by point, written only when the golden
is (first run, regeneration, ``ptycho-metrics goldens update``); a failure's
HTML report draws the golden's and this run's curves on one plot per metric.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest

from ptycho_metrics import convergence_metrics
from ptycho_metrics._curve import CONVERGENCE_LEVELS, read_curve_csv
from ptycho_metrics.gate import compare_metrics, load_golden
from ptycho_metrics.lightning import QualityCallback
from ptycho_metrics.pytest_plugin import golden_path_for

from .pipeline_runs import CURVE_EVERY, PipelineRun

pytestmark = pytest.mark.slow

FIXTURE = "default"
BASENAME = "convergence_default"
EVERY = CURVE_EVERY  # evaluate after every epoch (25 steps)


@pytest.fixture(scope="module")
def convergence_run(curve_run: PipelineRun) -> PipelineRun:
    # conftest.py's learning-curve run, which is also the default fixture's
    # determinism rerun (one training for both, pipeline_runs.CURVE_OPTIONS).
    return curve_run


def _curve(run_dir: Path) -> dict[str, np.ndarray]:
    return read_curve_csv(run_dir / "quality_curve.csv")


def _contract(run: PipelineRun) -> dict[str, Any]:
    levels = {name: {"metric": m, "level": lv} for name, (m, lv) in CONVERGENCE_LEVELS.items()}
    return {**run.contract, "log_quality_every": EVERY, "convergence_levels": levels}


def test_convergence_gate(convergence_run: PipelineRun, quality_gate: Any) -> None:
    curve = _curve(convergence_run.run_dir)
    quality_gate.check(
        convergence_metrics(curve),
        contract=_contract(convergence_run),
        basename=BASENAME,
        curve=curve,  # stored in the golden's info block, drawn on failure, never compared
    )


def test_curve_ends_at_the_gated_final_value(convergence_run: PipelineRun) -> None:
    """The callback evaluates exactly what infer writes: its last point is the final metric."""
    curve = _curve(convergence_run.run_dir)
    assert curve["epoch"].tolist() == list(range(25))  # start + 24 epochs
    assert curve["step"].tolist() == [25 * e for e in range(25)]
    for name in ("amplitude_ssim", "phase_ssim", "phase_rmse", "frc_mean"):
        assert curve[name][-1] == convergence_run.report.metrics[name]
    assert (convergence_run.run_dir / "quality_curve.png").is_file()


class _StopOnceConverged(pl.Callback):
    """End training at the first epoch by which the curve has reached every convergence level.

    A convergence metric is the *first* crossing of its level: the epochs
    after it cannot change it, so training them would only cost time (the
    warm-up bug's run reaches 0.95 after about 6 of its 24 epochs). A run
    that never reaches a level still trains to the end and gates as NaN.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        quality = next(c for c in trainer.callbacks if isinstance(c, QualityCallback))
        reached = quality.history and all(math.isfinite(v) for v in quality.convergence().values())
        if reached:
            trainer.should_stop = True


def test_slower_warmup_fails_the_convergence_gate(tmp_path: Path) -> None:
    """A learning-rate schedule bug (warm-up 3x longer) fails; the golden's own run passes.

    Measured (docs/quality-gate.md): the final metrics of this run stay within
    their tolerances, so only the convergence gate catches it.
    """
    from ptycho_metrics.data import load_fixture
    from ptycho_metrics.pipeline import train

    path = golden_path_for(Path(__file__), BASENAME)
    if not path.is_file():
        pytest.fail(f"no golden at {path}: run `pytest tests/quality` once (it writes it)")
    # The pipeline's own defaults (seed, threads, epochs), as `ptycho-metrics run` uses them.
    train(
        load_fixture(FIXTURE), tmp_path, log_quality_every=EVERY, progress=False,
        warmup_fraction=0.3, callbacks=[_StopOnceConverged()],
    )  # fmt: skip
    slow = convergence_metrics(read_curve_csv(tmp_path / "quality_curve.csv"))
    result = compare_metrics(slow, load_golden(path).metrics)
    assert [row.metric for row in result.failures] == ["epochs_to_amplitude_ssim_0p95"]
