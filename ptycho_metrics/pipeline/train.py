"""Train :class:`PtychoPINNLightning` on one scan and write ``DIR/checkpoints/last.ckpt``.

Command line::

    python -m ptycho_metrics.pipeline.train --data FILE --output-dir DIR \\
        [--max-epochs 24] [--seed 0] [--threads 1] [--log-quality-every N] [--overwrite]

One epoch is ``steps_per_epoch`` (25) full-batch optimiser steps; the
default 24 epochs are 600 steps. A line per epoch goes to stderr. An
existing checkpoint is never replaced unless ``--overwrite`` is given.

With ``--log-quality-every N`` the reconstruction is evaluated against the
file's ground truth at the start and every N epochs
(:class:`ptycho_metrics.lightning.QualityCallback`; training is unchanged, bit
for bit) and ``DIR/quality_curve.csv`` and ``DIR/quality_curve.png`` are
written beside ``DIR/checkpoints``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import numpy as np
import torch

from .. import __version__
from .._checks import QualityInputError
from ..data import PtychoData, load_ptycho_npz
from .model import PtychoPINNLightning

if TYPE_CHECKING:
    from ..lightning import QualityCallback

__all__ = [
    "CURVE_FILES",
    "DEFAULT_MAX_EPOCHS",
    "DEFAULT_SEED",
    "DEFAULT_THREADS",
    "OutputExistsError",
    "deterministic_torch",
    "main",
    "train",
]

DEFAULT_MAX_EPOCHS = 24
DEFAULT_SEED = 0
#: One thread: the results then do not depend on the machine's core count,
#: and on a shared 2-core machine one thread trains faster than two (at load
#: 2.3-3.4: 16.5 s against 25.3 s; docs/pipeline.md, docs/quality-gate.md);
#: on a quiet machine two are ~10 % faster (12.1 s against 15.0 s).
DEFAULT_THREADS = 1
CHECKPOINT = Path("checkpoints") / "last.ckpt"
#: Written into the output directory when quality is logged during training.
CURVE_FILES = ("quality_curve.csv", "quality_curve.png")

_ENV_KEYS = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG")
_LEAFSPEC_WARNING = r".*LeafSpec.* is deprecated"
_QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric")


class OutputExistsError(FileExistsError):
    """An output file exists already and ``overwrite`` was not requested."""


def refuse_existing(paths: Sequence[Path], *, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` naming the first existing path unless ``overwrite``."""
    if overwrite:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        names = ", ".join(str(p) for p in existing)
        msg = f"refusing to overwrite existing output {names}; pass --overwrite to replace it"
        raise OutputExistsError(msg)


def as_data(data: str | os.PathLike[str] | PtychoData) -> PtychoData:
    """``data`` itself, or the validated contents of the ``.npz`` file it names."""
    return data if isinstance(data, PtychoData) else load_ptycho_npz(data)


def check_threads(threads: int) -> int:
    """``threads`` as a positive int, or :class:`QualityInputError`."""
    if isinstance(threads, bool) or int(threads) != threads or threads < 1:
        msg = f"threads must be a positive integer, got {threads!r}"
        raise QualityInputError(msg)
    return int(threads)


@contextlib.contextmanager
def deterministic_torch(threads: int) -> Iterator[None]:
    """Fix the thread count and restore every global that seeding or Lightning changes.

    ``Trainer(deterministic=True)`` and ``seed_everything`` flip process-wide
    state (deterministic algorithms, cuDNN benchmark, RNGs, environment
    variables) that outlives the call; this puts all of it back, so a run
    leaks nothing into the caller or into other tests.
    """
    saved_threads = torch.get_num_threads()
    saved_det = torch.are_deterministic_algorithms_enabled()
    saved_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    saved_bench = torch.backends.cudnn.benchmark
    saved_env = {k: os.environ.get(k) for k in _ENV_KEYS}
    # seed_everything reseeds the legacy global RNGs; put their states back.
    saved_rng = (torch.get_rng_state(), np.random.get_state(), random.getstate())  # noqa: NPY002
    saved_levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    torch.set_num_threads(threads)
    # Adam squares gradients that are ~1e-20 where the probe is weak; the
    # resulting denormal floats made CPU steps ~50x slower (1.1 s vs 20 ms,
    # measured). torch has no getter for this flag, so it is reset to torch's
    # default (off) afterwards.
    torch.set_flush_denormal(True)
    for name in _QUIET_LOGGERS:  # "GPU available: False ..." banners are noise here
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        torch.set_num_threads(saved_threads)
        torch.set_flush_denormal(False)
        torch.use_deterministic_algorithms(saved_det, warn_only=saved_warn)
        torch.backends.cudnn.benchmark = saved_bench
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        torch.set_rng_state(saved_rng[0])
        np.random.set_state(saved_rng[1])  # noqa: NPY002
        random.setstate(saved_rng[2])
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


class _EpochLine(pl.Callback):
    """One plain line per epoch on stderr (readable in CI logs, unlike a redrawn bar)."""

    def __init__(self, stream: Any, quality: QualityCallback | None = None) -> None:
        self.stream = stream
        self.start = 0.0
        self.quality = quality

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = float(trainer.callback_metrics["loss"])
        quality, q = "", self.quality
        if q is not None and q.history and q.history[-1]["epoch"] == trainer.current_epoch + 1:
            shown = " ".join(f"{m} {q.history[-1][m]:.4f}" for m in q.metrics)
            quality = f" | {shown} (evaluate {q.evaluate_seconds[-1]:.2f} s)"
        print(
            f"train: epoch {trainer.current_epoch + 1}/{trainer.max_epochs} "
            f"step {trainer.global_step}/{trainer.estimated_stepping_batches} "
            f"poisson_nll {loss:.4f} ({time.perf_counter() - self.start:.1f} s){quality}",
            file=self.stream,
            flush=True,
        )


class _RepeatedBatch:
    """The whole scan as one batch, ``steps`` times per epoch.

    The loss needs every overlap, so a batch is the full scan; a DataLoader
    would only add worker and collation overhead around the same tensor.
    """

    def __init__(self, batch: torch.Tensor, steps: int) -> None:
        self.batch = batch
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter([self.batch] * self.steps)


def _check_epochs(max_epochs: int, name: str = "max_epochs") -> int:
    if isinstance(max_epochs, bool) or int(max_epochs) != max_epochs or max_epochs < 1:
        msg = f"{name} must be a positive integer, got {max_epochs!r}"
        raise QualityInputError(msg)
    return int(max_epochs)


def train(
    data: str | os.PathLike[str] | PtychoData,
    output_dir: str | os.PathLike[str],
    *,
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    seed: int = DEFAULT_SEED,
    threads: int = DEFAULT_THREADS,
    overwrite: bool = False,
    progress: bool = True,
    log_quality_every: int | None = None,
    callbacks: Sequence[pl.Callback] = (),
    **hparams: Any,
) -> Path:
    """Fit a :class:`PtychoPINNLightning` to one scan; return the checkpoint path.

    Parameters
    ----------
    data : path or PtychoData
        The scan (an ``.npz`` file following the data contract, or its
        loaded form). The ground-truth object in it is never used.
    output_dir : path
        The checkpoint goes to ``output_dir/checkpoints/last.ckpt``.
    max_epochs : int
        Epochs of ``steps_per_epoch`` full-batch steps each.
    seed : int
        Seed of every RNG (``lightning.seed_everything``).
    threads : int
        ``torch.set_num_threads`` during training; restored afterwards.
    overwrite : bool
        Replace an existing checkpoint instead of refusing.
    progress : bool
        Print one line per epoch to stderr.
    log_quality_every : int, optional
        Evaluate the reconstruction against ``data``'s ground truth at the
        start and every this many epochs (and after the last) with
        :class:`ptycho_metrics.lightning.QualityCallback`, and write
        :data:`CURVE_FILES` into ``output_dir``. Training is unchanged (the
        checkpoint is bit-identical to a run without it).
    callbacks : sequence of lightning.Callback
        More callbacks for the trainer, after the quality callback (so they
        see its latest evaluation), e.g. one that stops training early.
    **hparams
        Keyword arguments of :class:`PtychoPINNLightning` (``hidden``,
        ``lr``, ``steps_per_epoch``, ...).

    Returns
    -------
    Path
        ``output_dir/checkpoints/last.ckpt``.

    Raises
    ------
    DataError
        The data file breaks the data contract.
    OutputExistsError
        The checkpoint (or a curve file, with ``log_quality_every``) exists
        and ``overwrite`` is False.
    QualityInputError
        Bad ``max_epochs``, ``threads`` or ``log_quality_every``.
    """
    epochs, n_threads = _check_epochs(max_epochs), check_threads(threads)
    every = (
        None if log_quality_every is None else _check_epochs(log_quality_every, "log_quality_every")
    )
    ckpt = Path(output_dir) / CHECKPOINT
    curve_files = [Path(output_dir) / name for name in CURVE_FILES] if every else []
    refuse_existing([ckpt, *curve_files], overwrite=overwrite)
    scan = as_data(data)
    quality = None
    if every is not None:
        from ..lightning import QualityCallback

        quality = QualityCallback(scan, every_n_epochs=every)
    hooks: list[pl.Callback] = [*([] if quality is None else [quality]), *callbacks]
    if progress:  # after the quality callback, so its epoch line can show the new values
        hooks.append(_EpochLine(sys.stderr, quality))
    with deterministic_torch(n_threads):
        pl.seed_everything(int(seed), verbose=False)
        model = PtychoPINNLightning.from_data(scan, max_epochs=epochs, **hparams)
        model.run_info = {
            "data_path": str(scan.path),
            "data_sha256": scan.sha256,
            "seed": int(seed),
            "threads": n_threads,
            "max_epochs": epochs,
            "ptycho_metrics_version": __version__,
        }
        diffraction = torch.from_numpy(scan.diffraction)
        batches = _RepeatedBatch(diffraction, model.hparams["steps_per_epoch"])
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            deterministic=True,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
            default_root_dir=str(output_dir),
            callbacks=hooks,
        )
        with warnings.catch_warnings():
            # Lightning 2.6 builds torch.utils._pytree.LeafSpec, which torch 2.13
            # deprecates with a FutureWarning on every fit; nothing for us to change.
            warnings.filterwarnings("ignore", message=_LEAFSPEC_WARNING, category=FutureWarning)
            trainer.fit(model, train_dataloaders=batches)
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        partial = ckpt.with_suffix(".ckpt.partial")
        trainer.save_checkpoint(partial)
        partial.replace(ckpt)  # an interrupted save never leaves a half-written last.ckpt
    if quality is not None:
        quality.write_csv(curve_files[0])
        quality.plot(curve_files[1])
    return ckpt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ptycho_metrics.pipeline.train",
        description="Train the reference PtychoPINN-style model on one scan (.npz).",
    )
    parser.add_argument("--data", required=True, help="scan .npz following the data contract")
    parser.add_argument("--output-dir", required=True, help="checkpoint goes to DIR/checkpoints")
    parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument(
        "--log-quality-every",
        type=int,
        metavar="N",
        help="evaluate against the data's ground truth every N epochs; writes "
        f"{' and '.join(CURVE_FILES)} (training is unchanged)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser


def run_cli(action: Any) -> int:
    """Run ``action()``; turn expected failures into one ``error:`` line and exit code 1."""
    try:
        action()
    except (QualityInputError, OSError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {text}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ptycho_metrics.pipeline.train``."""
    args = _parser().parse_args(argv)

    def action() -> None:
        ckpt = train(
            args.data,
            args.output_dir,
            max_epochs=args.max_epochs,
            seed=args.seed,
            threads=args.threads,
            overwrite=args.overwrite,
            log_quality_every=args.log_quality_every,
        )
        print(f"checkpoint: {ckpt}")
        if args.log_quality_every is not None:
            for name in CURVE_FILES:
                print(f"learning curve: {ckpt.parent.parent / name}")

    return run_cli(action)


if __name__ == "__main__":
    sys.exit(main())
