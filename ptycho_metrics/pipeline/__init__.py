"""Reference PtychoPINN-style pipeline: train -> checkpoint -> reload -> infer -> stitch.

Needs the ``pipeline`` extra (torch, Lightning, matplotlib). The metrics in
:mod:`ptycho_metrics` never import this subpackage; it uses them.

>>> from ptycho_metrics.pipeline import train, infer   # doctest: +SKIP
>>> ckpt = train("scan.npz", "out")                     # doctest: +SKIP
>>> npz = infer(ckpt, "scan.npz", "out")                # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings

# OpenMP threads that spin while waiting stall each other when the CPU is
# shared: training with 2 threads on a loaded 2-core machine took 66-80 s with
# the default policy and 12.8 s with PASSIVE (same bits). It only takes effect
# if set before torch loads its OpenMP runtime; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# ``python -m ptycho_metrics.pipeline.train`` (or ``.infer``) imports this
# package first, which imports the module it is about to run; runpy then warns
# that the module is already in sys.modules. Running it twice is harmless here
# (nothing happens at import), and the warning would break the one-line error
# contract of the CLIs. The imports must stay eager so that the names
# ``train`` and ``infer`` below are the functions, not the submodules.
warnings.filterwarnings(
    "ignore",
    message=r"'ptycho_metrics\.pipeline\.(train|infer)' found in sys\.modules",
    category=RuntimeWarning,
)

from .infer import CheckpointError, infer  # noqa: E402 (after the filter above)
from .model import PtychoPINNLightning  # noqa: E402
from .stitch import stitch_patches  # noqa: E402
from .train import OutputExistsError, train  # noqa: E402

__all__ = [
    "CheckpointError",
    "OutputExistsError",
    "PtychoPINNLightning",
    "infer",
    "stitch_patches",
    "train",
]
