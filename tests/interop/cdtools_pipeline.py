"""A cdtools user's own reconstruction script, as it would sit in their repository.

Nothing here converts anything for ptycho-metrics: it reads the fixture's
CXI file with cdtools, reconstructs with the known probe (frozen, as are the
per-shot weights, background and positions), and saves with cdtools' own
``save_to_h5``. Seeded and with a fixed thread count, so a run is repeatable.
"""

from __future__ import annotations

from pathlib import Path

import cdtools
import numpy as np
import torch

#: What the gate's contract pins: any change here is a different pipeline.
SETTINGS = {"iterations": 40, "lr": 0.1, "batch_size": 10, "obj_padding": 10, "seed": 0}


def reconstruct(
    cxi: Path, probe: np.ndarray, out: Path, *, iterations: int = 40, threads: int = 1
) -> Path:
    """Reconstruct ``cxi`` with ``probe`` held fixed; write cdtools' results file ``out``."""
    torch.manual_seed(SETTINGS["seed"])
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        dataset = cdtools.datasets.Ptycho2DDataset.from_cxi(cxi)
        model = cdtools.models.FancyPtycho.from_dataset(
            dataset, obj_padding=SETTINGS["obj_padding"]
        )
        model.probe.data = torch.as_tensor(probe, dtype=torch.complex64)[None] / model.probe_norm
        for fixed in (model.probe, model.weights, model.background, model.translation_offsets):
            fixed.requires_grad = False
        steps = model.Adam_optimize(
            iterations, dataset, lr=SETTINGS["lr"], batch_size=SETTINGS["batch_size"],
            schedule=True, thread=False,
        )  # fmt: skip
        for _ in steps:
            pass
        model.save_to_h5(out, dataset)
    finally:
        torch.set_num_threads(previous)
    return out
