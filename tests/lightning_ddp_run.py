"""Train the reference model with QualityCallback under DDP on CPU (gloo); run by test_lightning.py.

``python tests/lightning_ddp_run.py --out DIR --devices 2`` uses Lightning's
``ddp`` strategy, which starts the second process by running this script
again. Every rank writes ``DIR/rank<r>.json``: how many evaluations it ran,
its curve, and (rank zero) the final reconstruction's gated metrics. The
CSVLogger writes ``DIR/csv/version_0/metrics.csv``. ``--devices 1`` is the
single-process reference with the same seed, data and schedule.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger

from ptycho_metrics import evaluate
from ptycho_metrics.data import load_fixture
from ptycho_metrics.lightning import QualityCallback
from ptycho_metrics.pipeline import PtychoPINNLightning
from ptycho_metrics.pipeline.infer import reconstruct

EPOCHS, STEPS, EVERY = 4, 5, 2
UNGATED = ("frc_0p5", "frc_half_bit")  # NaN or flickering near Nyquist (tests/quality)


class FullScan:
    """The whole scan as the batch, STEPS times per epoch (as the pipeline's train does)."""

    def __init__(self, batch: torch.Tensor) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return STEPS

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter([self.batch] * STEPS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--devices", type=int, required=True)
    args = parser.parse_args()
    out = Path(args.out)
    warnings.filterwarnings("ignore")  # Lightning's DDP-on-CPU advice is noise in this log
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    pl.seed_everything(0, verbose=False)
    scan = load_fixture("default")
    model = PtychoPINNLightning.from_data(scan, max_epochs=EPOCHS, steps_per_epoch=STEPS)
    callback = QualityCallback(scan, every_n_epochs=EVERY, metrics=["amplitude_ssim", "phase_ssim"])
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
        deterministic=True,
        logger=CSVLogger(out, name="csv"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        callbacks=[callback],
    )
    trainer.fit(model, train_dataloaders=FullScan(torch.from_numpy(scan.diffraction)))
    curve = {k: v.tolist() for k, v in callback.curve.items()}
    curve["step"] = [int(s) for s in curve["step"]]
    record = {
        "global_rank": trainer.global_rank,
        "world_size": trainer.world_size,
        "evaluations": len(callback.history),
        "curve": curve,
    }
    if trainer.is_global_zero:
        obj, mask = reconstruct(model, scan)
        report = evaluate(obj, scan.obj, mask=mask)
        record["final"] = {k: v for k, v in report.finite_metrics().items() if k not in UNGATED}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps(record), encoding="utf-8")


if __name__ == "__main__":
    main()
