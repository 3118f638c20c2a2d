"""Tests of ptycho_metrics.lightning: QualityCallback on a toy module, the reference pipeline, DDP.

The toy module fits a complex 32x32 object (two real parameter maps) to a
known truth by gradient descent, through a dropout layer, so that an
evaluation that left the module in eval mode or drew random numbers would
change the trained weights.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ptycho_metrics import QualityInputError, evaluate, gate
from ptycho_metrics.data import PtychoData, load_fixture
from ptycho_metrics.lightning import QualityCallback, QualityWarning
from ptycho_metrics.pipeline import infer, train
from ptycho_metrics.pipeline.train import deterministic_torch

pytestmark = pytest.mark.filterwarnings(
    # Lightning 2.6 builds torch.utils._pytree.LeafSpec, deprecated in torch 2.13.
    "ignore:.*LeafSpec.* is deprecated:FutureWarning"
)

SIDE = 32
DDP_SCRIPT = Path(__file__).with_name("lightning_ddp_run.py")


def _truth() -> np.ndarray:
    y, x = np.mgrid[:SIDE, :SIDE] / SIDE
    return (0.8 + 0.2 * np.cos(6 * x) * np.sin(5 * y)) * np.exp(1j * (1.5 * x - y))


class _Batches:
    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter([torch.zeros(1)] * self.steps)


class ToyModule(pl.LightningModule):
    """Learns the truth's real and imaginary parts from a flat start, with dropout noise."""

    def __init__(self) -> None:
        super().__init__()
        truth = torch.from_numpy(_truth())
        self.register_buffer("target", torch.stack([truth.real, truth.imag]).float())
        self.maps = torch.nn.Parameter(torch.zeros(2, SIDE, SIDE))
        self.maps.data[0] = 0.5
        self.dropout = torch.nn.Dropout(0.2)
        self.modes_in_training_step: list[bool] = []

    def obj(self) -> np.ndarray:
        m = self.maps.detach().double().numpy()
        return m[0] + 1j * m[1]

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.modes_in_training_step.append(self.training and self.dropout.training)
        return torch.mean((self.dropout(self.maps) - self.target) ** 2)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=20.0)


def _fit(
    callback: QualityCallback | None,
    *,
    epochs: int = 3,
    steps: int = 3,
    loggers: list[Any] | None = None,
    seed: int = 7,
) -> ToyModule:
    with deterministic_torch(1):
        pl.seed_everything(seed, verbose=False)
        module = ToyModule()
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            deterministic=True,
            logger=loggers if loggers is not None else False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
            callbacks=[] if callback is None else [callback],
        )
        trainer.fit(module, train_dataloaders=_Batches(steps))
    return module


def _toy_callback(**kwargs: Any) -> QualityCallback:
    kwargs.setdefault("reconstruction", lambda module: module.obj())
    return QualityCallback(_truth(), **kwargs)


# ------------------------------------------------------------------------------ imports


def test_importing_the_package_never_imports_lightning() -> None:
    code = (
        "import sys, ptycho_metrics; ptycho_metrics.evaluate; ptycho_metrics.convergence_metrics; "
        "heavy = ('ptycho_metrics.lightning', 'lightning', 'torch'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# -------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["amplitude_ssim", "ssim"]}, "metrics must be a non-empty sequence of evaluate() metrics"),  # noqa: E501
        ({"metrics": ["epochs_to_amplitude_ssim_0p95"]}, "got ['epochs_to_amplitude_ssim_0p95']"),
        ({"metrics": []}, "metrics must be a non-empty sequence"),
        ({"metrics": ["phase_ssim", "phase_ssim"]}, "metrics must not repeat a name"),
        ({"every_n_epochs": 0}, "every_n_epochs must be a positive integer, got 0"),
        ({"every_n_steps": -2}, "every_n_steps must be a positive integer, got -2"),
        ({"every_n_epochs": 1.5}, "every_n_epochs must be a positive integer, got 1.5"),
        ({"every_n_epochs": 2, "every_n_steps": 5}, "give every_n_epochs or every_n_steps, not both"),  # noqa: E501
        ({"mask": np.ones((SIDE, SIDE + 1), bool)}, "mask must have shape (32, 32) like the images, got (32, 33)"),  # noqa: E501
        ({"reconstruction": "obj"}, "reconstruction must be a callable(pl_module) -> array"),
    ],
)  # fmt: skip
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(QualityInputError, match=re.escape(message)):
        _toy_callback(**kwargs)


def test_array_truth_needs_a_reconstruction() -> None:
    with pytest.raises(QualityInputError, match=re.escape("reconstruction is required when truth")):
        QualityCallback(_truth())
    with pytest.raises(
        QualityInputError, match=re.escape("truth must be a 2-D array, got 1-D with shape (5,)")
    ):
        QualityCallback(np.ones(5), reconstruction=lambda m: m)


def test_unknown_fixture_fails_at_construction() -> None:
    with pytest.raises(QualityInputError, match=re.escape("unknown fixture 'nope'")):
        QualityCallback("nope")


def test_wrong_shape_fails_before_the_first_step() -> None:
    callback = QualityCallback(_truth(), reconstruction=lambda m: m.obj()[:16, :16])
    message = (
        "truth has shape (32, 32) but the module reconstructs an object of shape (16, 16); "
        "pass the ground truth of the data being trained on"
    )
    with pytest.raises(QualityInputError, match=re.escape(message)):
        _fit(callback)
    assert callback.history == []


def test_default_reconstruction_needs_the_reference_module() -> None:
    with pytest.raises(
        QualityInputError, match=re.escape("for PtychoPINNLightning; got a ToyModule")
    ):
        _fit(QualityCallback("default"))


def test_non_finite_start_fails_before_training() -> None:
    callback = QualityCallback(_truth(), reconstruction=lambda m: np.full((SIDE, SIDE), np.nan))
    with pytest.raises(QualityInputError, match=re.escape("must be finite")):
        _fit(callback)


# ----------------------------------------------------------------- what gets recorded


def test_curve_every_n_epochs_includes_start_and_last_epoch() -> None:
    callback = _toy_callback(every_n_epochs=2, metrics=["amplitude_ssim", "phase_rmse"])
    module = _fit(callback, epochs=5, steps=2)
    curve = callback.curve
    assert curve["epoch"].tolist() == [0, 2, 4, 5]
    assert curve["step"].tolist() == [0, 4, 8, 10]
    assert list(curve) == ["epoch", "step", "amplitude_ssim", "phase_rmse"]
    final = evaluate(module.obj(), _truth())
    assert curve["amplitude_ssim"][-1] == final.metrics["amplitude_ssim"]
    assert curve["amplitude_ssim"][0] < curve["amplitude_ssim"][-1]
    assert len(callback.evaluate_seconds) == 4


def test_curve_every_n_steps() -> None:
    callback = _toy_callback(every_n_steps=2, evaluate_at_start=False)
    _fit(callback, epochs=2, steps=3)
    assert callback.curve["step"].tolist() == [2, 4, 6]
    np.testing.assert_allclose(callback.curve["epoch"], [2 / 3, 1 + 1 / 3, 2], rtol=1e-15)


def test_logs_through_csv_and_tensorboard_loggers(tmp_path: Path) -> None:
    callback = _toy_callback(every_n_epochs=1, metrics=["amplitude_ssim", "frc_mean"])
    loggers = [CSVLogger(tmp_path, name="csv"), TensorBoardLogger(tmp_path, name="tb")]
    _fit(callback, epochs=3, steps=2, loggers=loggers)
    (csv_file,) = tmp_path.glob("csv/version_0/metrics.csv")
    rows = csv_file.read_text().splitlines()
    header = rows[0].split(",")
    col, step_col = header.index("quality/amplitude_ssim"), header.index("step")
    logged = [(int(r.split(",")[step_col]), float(r.split(",")[col])) for r in rows[1:]]
    logged = [(s, v) for s, v in logged if not math.isnan(v)]
    assert logged == list(zip([0, 2, 4, 6], callback.curve["amplitude_ssim"], strict=True))
    (events,) = tmp_path.glob("tb/version_0/events.out.tfevents.*")
    assert b"quality/amplitude_ssim" in events.read_bytes()
    assert b"quality/frc_mean" in events.read_bytes()


def test_failed_evaluation_warns_records_nan_and_training_goes_on() -> None:
    calls = []

    def flaky(module: ToyModule) -> np.ndarray:
        calls.append(1)
        return np.full((SIDE, SIDE), np.nan) if len(calls) == 3 else module.obj()

    callback = _toy_callback(reconstruction=flaky, metrics=["amplitude_ssim"])
    with pytest.warns(
        QualityWarning, match=re.escape("quality evaluation at epoch 1, step 2 failed")
    ):
        _fit(callback, epochs=3, steps=2)
    values = callback.curve["amplitude_ssim"]
    assert math.isnan(values[1])
    assert np.isfinite(values[[0, 2, 3]]).all()


# -------------------------------------------------------------- training is unchanged


def test_evaluation_changes_nothing_in_training() -> None:
    seen = []

    def greedy(module: ToyModule) -> np.ndarray:
        # Draws from every global RNG; checks the module is in eval mode here.
        seen.append((module.training, module.dropout.training))
        torch.rand(100)
        np.random.rand(100)  # noqa: NPY002
        random.random()
        return module.obj()

    plain = _fit(None, epochs=3, steps=3)
    watched = _fit(_toy_callback(reconstruction=greedy, every_n_steps=1), epochs=3, steps=3)
    assert torch.equal(plain.maps, watched.maps)  # bit-identical weights
    assert len(seen) == 1 + 1 + 9  # the on_fit_start check, the start, every step
    assert set(seen) == {(False, False)}
    assert all(watched.modes_in_training_step)
    assert len(watched.modes_in_training_step) == 9


@pytest.mark.slow
def test_reference_pipeline_is_bit_identical_with_the_callback(
    tmp_path: Path, scan: PtychoData
) -> None:
    tiny = {"max_epochs": 3, "steps_per_epoch": 3, "progress": False, "threads": 1}
    plain = train(scan, tmp_path / "plain", **tiny)
    watched = train(scan, tmp_path / "watched", log_quality_every=1, **tiny)
    assert plain.read_bytes() == watched.read_bytes()  # the whole checkpoint file
    arrays = []
    for run in ("plain", "watched"):
        npz = infer(tmp_path / run / "checkpoints" / "last.ckpt", scan, tmp_path / run, threads=1)
        with np.load(npz) as f:
            arrays.append({k: f[k] for k in ("object", "amplitude", "phase", "mask")})
    for key in arrays[0]:
        np.testing.assert_array_equal(arrays[0][key], arrays[1][key], strict=True)
    # The last point of the curve is exactly what the gate measures on infer's output.
    from ptycho_metrics._curve import read_curve_csv

    curve = read_curve_csv(tmp_path / "watched" / "quality_curve.csv")
    final = evaluate(arrays[1]["object"], scan.obj, mask=arrays[1]["mask"])
    assert curve["epoch"].tolist() == [0, 1, 2, 3]
    for name in ("amplitude_ssim", "phase_ssim", "phase_rmse", "frc_mean"):
        assert curve[name][-1] == final.metrics[name]
    png = (tmp_path / "watched" / "quality_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scan() -> PtychoData:
    return load_fixture("default")


# ------------------------------------------------------------------------------- DDP


def _ddp_run(out: Path, devices: int) -> dict[str, Any]:
    cmd = [sys.executable, str(DDP_SCRIPT), "--out", str(out), "--devices", str(devices)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return {
        "ranks": [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))],
        "csv": (out / "csv" / "version_0" / "metrics.csv").read_text().splitlines(),
    }


@pytest.mark.slow
def test_ddp_logs_once_per_evaluation_on_rank_zero(tmp_path: Path) -> None:
    ddp = _ddp_run(tmp_path / "ddp", devices=2)
    single = _ddp_run(tmp_path / "single", devices=1)
    rank0, rank1 = ddp["ranks"]
    assert (rank0["global_rank"], rank0["world_size"]) == (0, 2)
    assert (rank1["global_rank"], rank1["world_size"]) == (1, 2)
    assert rank1["evaluations"] == 0
    assert rank0["evaluations"] == len(rank0["curve"]["epoch"]) == 3  # start, epoch 2, epoch 4
    header = ddp["csv"][0].split(",")
    col, step_col = header.index("quality/amplitude_ssim"), header.index("step")
    steps = [r.split(",")[step_col] for r in ddp["csv"][1:] if r.split(",")[col]]
    assert steps == [str(s) for s in rank0["curve"]["step"]]  # each evaluation logged once
    # Final metrics against the single-process run, within the gate's measured tolerances.
    (single0,) = single["ranks"]
    result = gate.compare_metrics(rank0["final"], single0["final"])
    assert result.passed, result.format_table()
