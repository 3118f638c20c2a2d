"""Reconstruction quality during training: a Lightning callback around ``evaluate()``.

>>> from ptycho_metrics.lightning import QualityCallback          # doctest: +SKIP
>>> trainer = Trainer(callbacks=[QualityCallback("default")])    # doctest: +SKIP

:class:`QualityCallback` measures the module's current reconstruction against
a ground truth every N epochs (or steps) with :func:`ptycho_metrics.evaluate`,
logs the chosen metrics through the trainer's loggers (CSVLogger,
TensorBoardLogger, ...) and keeps the learning curve
(:attr:`QualityCallback.curve`). It never changes training: the global RNG
states (torch, NumPy, ``random``) and every submodule's train/eval flag are
put back after each evaluation, and no gradient is recorded. Under DDP only
global rank zero evaluates and logs; the other ranks do not wait for it beyond
the next gradient all-reduce.

This module imports Lightning and torch; ``import ptycho_metrics`` never
imports it.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import numpy as np
import numpy.typing as npt
import torch

from ._checks import QualityInputError, as_complex_2d
from ._curve import convergence_metrics, write_curve_csv
from ._mask import scan_mask
from ._metadata import EVALUATE_METRICS
from ._phase import as_mask
from ._report import evaluate
from .data import PtychoData, load_fixture

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_QUALITY_METRICS", "QualityCallback", "QualityWarning", "Reconstruction"]

#: The module -> its current complex object (2-D, the truth's frame).
Reconstruction = Callable[[pl.LightningModule], npt.ArrayLike]

#: Logged by default: what the reference pipeline's gate watches most.
DEFAULT_QUALITY_METRICS = ("amplitude_ssim", "phase_ssim", "phase_rmse", "frc_mean")


class QualityWarning(UserWarning):
    """An evaluation during training failed; its metrics are NaN and training goes on."""


def _interval(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        msg = f"{name} must be a positive integer, got {value!r}"
        raise QualityInputError(msg)
    return int(value)


def _metric_names(metrics: Sequence[str]) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = tuple(metrics)
    unknown = [m for m in names if m not in EVALUATE_METRICS]
    if unknown or not names:
        known = ", ".join(EVALUATE_METRICS)
        msg = (
            f"metrics must be a non-empty sequence of evaluate() metrics "
            f"(ptycho_metrics.METRICS with source 'evaluate': {known}); got {list(metrics)!r}"
        )
        raise QualityInputError(msg)
    if len(set(names)) != len(names):
        msg = f"metrics must not repeat a name, got {list(names)!r}"
        raise QualityInputError(msg)
    return names


@contextlib.contextmanager
def _untouched(module: torch.nn.Module) -> Iterator[None]:
    """Put back what an evaluation may change: RNG states, train/eval flags, grad mode."""
    modes = [(m, m.training) for m in module.modules()]
    device = _device(module)
    devices = [device.index or 0] if device.type == "cuda" else []
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
        for m, training in modes:
            m.training = training


def _device(module: torch.nn.Module) -> torch.device:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


class QualityCallback(pl.Callback):
    """Evaluate the reconstruction against ground truth during training and log the metrics.

    Parameters
    ----------
    truth : str, PtychoData or array_like
        A fixture name (``"default"``; loaded with its sha256 checked), a
        loaded scan (:func:`ptycho_metrics.data.load_ptycho_npz`), or the
        complex ground-truth object itself.
    mask : array_like of bool, optional
        Pixels to compare. Default: the scan mask
        (:func:`ptycho_metrics.scan_mask`) for a fixture or scan; every pixel
        for an array.
    reconstruction : callable, optional
        ``reconstruction(pl_module) -> complex 2-D array`` in the truth's
        frame. Called in eval mode under ``torch.no_grad()``. Default, for
        :class:`ptycho_metrics.pipeline.PtychoPINNLightning` and a fixture or
        scan as ``truth``: :func:`ptycho_metrics.pipeline.infer.reconstruct`,
        the pipeline's own inference and stitching.
    metrics : sequence of str
        :func:`evaluate` metrics to log and keep in :attr:`curve`.
    every_n_epochs, every_n_steps : int, optional
        Evaluate after every N-th epoch, or every N-th optimiser step (give at
        most one; default ``every_n_epochs=1``). With ``every_n_epochs`` the
        last epoch is always evaluated.
    evaluate_at_start : bool
        Also evaluate the untrained module when training starts (epoch 0).
    prefix : str
        Logged names are ``prefix + metric`` (``"quality/amplitude_ssim"``).

    Raises
    ------
    QualityInputError
        Here: unknown metric, bad interval, truth not a complex 2-D array, a
        mask of another shape. In ``on_fit_start``, before any training step:
        a reconstruction whose shape differs from the truth's, a module the
        default reconstruction cannot handle, a non-finite reconstruction.

    Notes
    -----
    Each evaluation is ``evaluate(recon, truth, mask=mask)`` with evaluate()'s
    defaults, so the value logged after the last epoch is the one a final
    evaluation of the same reconstruction reports. An evaluation that fails
    mid-training (a reconstruction gone non-finite) emits a
    :class:`QualityWarning` and records NaN; training goes on. The curve is not
    stored in checkpoints (a checkpoint stays byte-identical with and without
    the callback); after a resume it starts again.
    """

    def __init__(
        self,
        truth: str | PtychoData | npt.ArrayLike,
        *,
        mask: npt.ArrayLike | None = None,
        reconstruction: Reconstruction | None = None,
        metrics: Sequence[str] = DEFAULT_QUALITY_METRICS,
        every_n_epochs: int | None = None,
        every_n_steps: int | None = None,
        evaluate_at_start: bool = True,
        prefix: str = "quality/",
    ) -> None:
        super().__init__()
        self.metrics = _metric_names(metrics)
        self.every_n_epochs = _interval(every_n_epochs, "every_n_epochs")
        self.every_n_steps = _interval(every_n_steps, "every_n_steps")
        if self.every_n_epochs is not None and self.every_n_steps is not None:
            msg = (
                f"give every_n_epochs or every_n_steps, not both; got every_n_epochs="
                f"{every_n_epochs!r} and every_n_steps={every_n_steps!r}"
            )
            raise QualityInputError(msg)
        if self.every_n_steps is None and self.every_n_epochs is None:
            self.every_n_epochs = 1
        if reconstruction is not None and not callable(reconstruction):
            msg = f"reconstruction must be a callable(pl_module) -> array, got {reconstruction!r}"
            raise QualityInputError(msg)
        self.scan = load_fixture(truth) if isinstance(truth, str) else None
        if isinstance(truth, PtychoData):
            self.scan = truth
        obj: Any = truth if self.scan is None else self.scan.obj
        # complex128 copy: the caller's array is never referenced, so never mutated.
        self.truth = np.array(as_complex_2d(obj, "truth"), dtype=np.complex128)
        if mask is None and self.scan is not None:
            mask = scan_mask(self.scan)
        self.mask = np.array(as_mask(mask, self.truth.shape))
        if reconstruction is None and self.scan is None:
            msg = (
                "reconstruction is required when truth is an array: pass "
                "reconstruction=lambda module: <its complex object>, or a fixture name or "
                "PtychoData as truth to use the reference pipeline's inference"
            )
            raise QualityInputError(msg)
        self._uses_pipeline = reconstruction is None
        self._reconstruction = self._pipeline_object if reconstruction is None else reconstruction
        self.evaluate_at_start = bool(evaluate_at_start)
        self.prefix = str(prefix)
        self.history: list[dict[str, float]] = []
        self.evaluate_seconds: list[float] = []
        self._last_step = -1

    # ----------------------------------------------------------------- results

    @property
    def curve(self) -> dict[str, np.ndarray]:
        """The learning curve so far: ``epoch``, ``step`` and one column per metric."""
        columns = ("epoch", "step", *self.metrics)
        return {c: np.array([row[c] for row in self.history], dtype=np.float64) for c in columns}

    def convergence(self) -> dict[str, float]:
        """:func:`ptycho_metrics.convergence_metrics` of :attr:`curve`."""
        return convergence_metrics(self.curve)

    def write_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`curve` as ``epoch,step,<metrics>`` CSV (atomically)."""
        return write_curve_csv(path, self.history, metrics=self.metrics)

    def plot(
        self, path_or_fig: str | os.PathLike[str] | Figure, *, final: dict[str, float] | None = None
    ) -> Figure:
        """Draw the learning curve (:func:`ptycho_metrics._curve.plot_curve`)."""
        from ._curve import plot_curve

        return plot_curve(path_or_fig, self.curve, metrics=self.metrics, final=final)

    # --------------------------------------------------------------- internals

    def _pipeline_object(self, pl_module: pl.LightningModule) -> np.ndarray:
        from .pipeline.infer import reconstruct

        if self.scan is None:  # unreachable: __init__ requires a scan for the default
            msg = "the default reconstruction needs a fixture or PtychoData as truth"
            raise QualityInputError(msg)
        return reconstruct(pl_module, self.scan)[0]  # type: ignore[arg-type]

    def _reconstruct(self, pl_module: pl.LightningModule) -> np.ndarray:
        with _untouched(pl_module):
            pl_module.eval()
            raw = self._reconstruction(pl_module)
        if isinstance(raw, torch.Tensor):
            raw = raw.detach().cpu().numpy()
        return np.asarray(raw)

    def _check_module(self, pl_module: pl.LightningModule) -> None:
        if not self._uses_pipeline:
            return
        from .pipeline.model import PtychoPINNLightning

        if not isinstance(pl_module, PtychoPINNLightning):
            msg = (
                f"the default reconstruction is the reference pipeline's, for "
                f"PtychoPINNLightning; got a {type(pl_module).__name__}: pass "
                f"reconstruction=lambda module: <its complex object>"
            )
            raise QualityInputError(msg)

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: float) -> None:
        step = int(trainer.global_step)
        self._last_step = step
        if not trainer.is_global_zero:
            return
        start = time.perf_counter()
        try:
            recon = self._reconstruct(pl_module)
            report = evaluate(recon, self.truth, mask=self.mask)
            values = {m: float(report.metrics[m]) for m in self.metrics}
        except QualityInputError as exc:
            warnings.warn(
                QualityWarning(f"quality evaluation at epoch {epoch:g}, step {step} failed: {exc}"),
                stacklevel=2,
            )
            values = dict.fromkeys(self.metrics, math.nan)
        self.evaluate_seconds.append(time.perf_counter() - start)
        self.history.append({"epoch": float(epoch), "step": float(step), **values})
        logged = {self.prefix + k: v for k, v in values.items()}
        for logger in trainer.loggers:
            logger.log_metrics(logged, step=step)

    # ------------------------------------------------------------------- hooks

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse a module or truth that cannot be evaluated, before the first step (every rank)."""
        self._check_module(pl_module)
        recon = self._reconstruct(pl_module)
        if recon.shape != self.truth.shape:
            msg = (
                f"truth has shape {self.truth.shape} but the module reconstructs an object of "
                f"shape {recon.shape}; pass the ground truth of the data being trained on"
            )
            raise QualityInputError(msg)
        as_complex_2d(recon, "the reconstruction at the start of training")
        self.history, self.evaluate_seconds, self._last_step = [], [], -1

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.evaluate_at_start:
            self._evaluate(trainer, pl_module, float(trainer.current_epoch))

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        n = self.every_n_steps
        step = int(trainer.global_step)
        # global_step stands still during gradient accumulation: evaluate each step once.
        if n is None or step % n or step == self._last_step:
            return
        per_epoch = trainer.num_training_batches
        fraction = (batch_idx + 1) / per_epoch if math.isfinite(per_epoch) and per_epoch else 0.0
        self._evaluate(trainer, pl_module, trainer.current_epoch + fraction)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        n = self.every_n_epochs
        if n is None:
            return
        done = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and done >= trainer.max_epochs
        if done % n == 0 or last:
            self._evaluate(trainer, pl_module, float(done))
