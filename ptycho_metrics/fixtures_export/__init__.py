"""Fixture files in the formats other ptychography codes read: CXI and PtychoPINN's npz.

One module per format: :mod:`.cxi` (cxidb CXI through h5py) and :mod:`.npz`
(reproducible ``.npz`` bytes and PtychoPINN's layout). Both write bytes that
depend only on their inputs, so ``tools/make_fixtures.py`` regenerates the
shipped files bit-identically. :mod:`.export` writes a fixture out in either
format and describes the fixtures (the ``ptycho-metrics fixtures`` subcommand).
"""

from __future__ import annotations

from .export import PTYCHOPINN_PATCH_SIZES, ExportFormat, describe_fixtures, export_fixture

__all__ = ["PTYCHOPINN_PATCH_SIZES", "ExportFormat", "describe_fixtures", "export_fixture"]
