"""Reconstruct a CXI fixture with cdtools' own API, then gate it with ptycho_metrics.

Usage::

    python tools/reconstruct_with_cdtools.py [--fixture default] [--epochs 50] [--retrieve-probe]

The cdtools part is the few lines between the markers: no converter code, the
geometry, counts and positions come from the CXI file. ``--retrieve-probe``
starts from the fixture's ``probe_initial`` (a disc, no phase) and refines the
probe (use it with ``--fixture probe_retrieval``); otherwise the probe is the
file's illumination and stays fixed. Needs the ``interop`` extra (cdtools-py).
Measured numbers are in docs/fixtures.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ptycho_metrics as pm
from ptycho_metrics.data import fixture_path, load_fixture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default="default", help="fixture name (default: default)")
    parser.add_argument("--epochs", type=int, default=50, help="Adam epochs (default: 50)")
    parser.add_argument("--retrieve-probe", action="store_true", help="refine the probe too")
    args = parser.parse_args(argv)
    import cdtools  # the interop extra

    torch.set_num_threads(1)
    cxi = fixture_path(args.fixture).with_suffix(".cxi")
    start = time.perf_counter()
    # ---- cdtools only, from here
    dataset = cdtools.datasets.Ptycho2DDataset.from_cxi(cxi)
    model = cdtools.models.FancyPtycho.from_dataset(dataset)  # obj_padding=200
    if args.retrieve_probe:
        probe = np.load(fixture_path(args.fixture))["probe_initial"]
    else:
        with h5py.File(cxi, "r") as f:
            probe = f["entry_1/instrument_1/source_1/illumination"][()]
        model.probe.requires_grad = False
        model.weights.requires_grad = False
    model.probe.data[0] = torch.as_tensor(probe) / model.probe_norm
    model.translation_offsets.requires_grad = False
    for _ in model.Adam_optimize(args.epochs, dataset, lr=0.02, batch_size=10):
        print(model.report(), flush=True)
    obj = model.obj.detach().numpy()[200:-200, 200:-200]  # cdtools pixel = ours + 200
    # ---- to here
    elapsed = time.perf_counter() - start
    truth = load_fixture(args.fixture)
    report = pm.evaluate(obj, truth.obj, mask=pm.scan_mask(truth))
    print(
        f"cdtools {cdtools.__version__ if hasattr(cdtools, '__version__') else ''}: "
        f"{args.epochs} epochs in {elapsed:.1f} s (1 thread)"
    )
    print(report.format_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
