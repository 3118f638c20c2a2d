"""A picture of a placement and its evaluation: :func:`plot_placement`.

matplotlib is imported here only (it is not a dependency of the metrics).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .._checks import QualityInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .._report import QualityReport
    from ..data import PtychoData
    from .grid import GridPlacement

__all__ = ["plot_placement"]


def plot_placement(
    placement: GridPlacement,
    truth_data: PtychoData,
    report: QualityReport,
    path: str | os.PathLike[str],
) -> Figure:
    """Truth and placed reconstruction (amplitude, phase; scan mask outlined), FRC, metrics.

    The phase of the reconstruction is shown after removing the global phase
    that best matches the truth inside the mask, so the two panels share a
    colour scale.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        msg = "plot_placement needs matplotlib (pip install matplotlib)"
        raise QualityInputError(msg) from exc
    truth = np.asarray(truth_data.obj).astype(np.complex128)
    obj, mask = placement.object, placement.mask
    gamma = np.angle(np.vdot(obj[mask], truth[mask]))
    shown = obj * np.exp(1j * gamma)
    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3)
    amp = np.abs(truth[mask])
    lo, hi = float(amp.min()), float(amp.max())
    panels = (
        (axes[0, 0], np.abs(truth), "truth |O|", (lo, hi), "gray"),
        (axes[0, 1], np.abs(shown), f"reconstruction |O| ({placement.method})", (lo, hi), "gray"),
        (axes[1, 0], np.angle(truth), "truth arg O (rad)", (-np.pi, np.pi), "twilight"),
        (axes[1, 1], np.angle(shown), "reconstruction arg O (rad)", (-np.pi, np.pi), "twilight"),
    )
    for ax, image, title, (vmin, vmax), cmap in panels:
        im = ax.imshow(image, vmin=vmin, vmax=vmax, cmap=cmap, interpolation="nearest")
        ax.contour(mask, levels=[0.5], colors="tab:red", linewidths=0.8, linestyles="dashed")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    report.frc.plot(axes[0, 2])
    axes[1, 2].axis("off")
    axes[1, 2].text(0.0, 1.0, report.format_table(), family="monospace", va="top", fontsize=6)
    fig.suptitle("dashed: the fixture's scan mask (the compared pixels)", fontsize=9)
    fig.savefig(path)
    return fig
