"""Fixture files in the formats other ptychography codes read: CXI and PtychoPINN's npz.

One module per format: :mod:`.cxi` (cxidb CXI through h5py) and :mod:`.npz`
(reproducible ``.npz`` bytes and PtychoPINN's layout). Both write bytes that
depend only on their inputs, so ``tools/make_fixtures.py`` regenerates the
shipped files bit-identically.
"""

from __future__ import annotations
