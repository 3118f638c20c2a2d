"""Figures of the failure report as inline PNG (base64): FRC curves, image panels.

matplotlib is imported inside the functions (it is not a dependency of the
metrics); the report says so instead of drawing when it is missing. Figures
are made with :class:`matplotlib.figure.Figure` (no pyplot state, no GUI
backend), so drawing is safe in any pytest session.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["frc_png", "panels_png"]


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _curve(doc: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    freq = np.asarray(doc["frequency"], dtype=float)
    corr = np.asarray([math.nan if c is None else c for c in doc["correlation"]], dtype=float)
    return freq, corr


def frc_png(
    golden: Mapping[str, Any] | None, run: Mapping[str, Any] | None, *, title: str = ""
) -> str:
    """The golden's and the run's FRC curves on one plot, with the 0.5 and half-bit lines.

    Each curve is a mapping with ``frequency`` and ``correlation`` lists (as in
    :meth:`ptycho_metrics.FRCResult.to_dict`; None for NaN) and optionally
    ``half_bit`` (the threshold per ring).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    for doc, label, style in ((golden, "golden", "--"), (run, "this run", "-")):
        if doc:
            freq, corr = _curve(doc)
            ax.plot(freq, corr, style, label=f"FRC, {label}")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="0.5 threshold")
    source = run or golden
    if source and source.get("half_bit"):
        ax.plot(source["frequency"], source["half_bit"], color="grey", lw=0.8, label="half-bit")
    ax.set_xlabel("spatial frequency (cycles/pixel)")
    ax.set_ylabel("FRC")
    ax.set_xlim(0, 0.5)
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
    ax.set_title(title or "Fourier ring correlation")
    ax.legend(fontsize=7, loc="lower left")
    return _png(fig)


def panels_png(rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """One row of truth / aligned reconstruction / error panels per ``(label, truth, recon, err)``.

    Pixels outside the compared region are NaN (drawn light grey). Truth and
    reconstruction share a colour scale; the error uses a symmetric diverging one.
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    gray = mpl.colormaps["gray"].with_extremes(bad="#dddddd")
    diverging = mpl.colormaps["RdBu_r"].with_extremes(bad="#dddddd")
    fig = Figure(figsize=(10, 3.1 * len(rows)))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for (label, truth, recon, err), (ax_t, ax_r, ax_e) in zip(rows, axes, strict=True):
        finite = np.isfinite(truth)
        lo, hi = (float(np.nanmin(truth)), float(np.nanmax(truth))) if finite.any() else (0.0, 1.0)
        for ax, image, name in ((ax_t, truth, "truth"), (ax_r, recon, "aligned reconstruction")):
            shown = ax.imshow(image, cmap=gray, vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_title(f"{label}: {name}", fontsize=9)
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        bound = float(np.nanmax(np.abs(err))) if np.isfinite(err).any() else 1.0
        shown = ax_e.imshow(err, cmap=diverging, vmin=-bound, vmax=bound, interpolation="nearest")
        ax_e.set_title(f"{label}: reconstruction - truth", fontsize=9)
        fig.colorbar(shown, ax=ax_e, fraction=0.046, pad=0.04)
        for ax in (ax_t, ax_r, ax_e):
            ax.set_xticks([])
            ax.set_yticks([])
    return _png(fig)
