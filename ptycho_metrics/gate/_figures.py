"""Figures of the failure report as inline PNG (base64): FRC curves, learning curves, panels.

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

__all__ = ["frc_png", "learning_curves_png", "panels_png"]


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


_CURVE_STYLES: dict[str, dict[str, Any]] = {
    "golden": {"color": "tab:orange", "linestyle": "--", "linewidth": 2.0},
    "this run": {"color": "tab:blue", "linestyle": "-", "linewidth": 1.2, "marker": "."},
}


def _last_finite(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else math.nan


def learning_curves_png(
    golden: Mapping[str, Any] | None,
    run: Mapping[str, Any] | None,
    *,
    gated: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The golden's and the run's learning curves, one panel per metric, on shared axes.

    Parameters
    ----------
    golden, run : mapping, optional
        Curves as stored in a golden's ``info`` block
        (:func:`ptycho_metrics._curve.curve_to_json`: ``epoch`` and metric
        columns, None for NaN). At least one is given.
    gated : sequence of mapping
        The report's metric rows (``metric``, ``golden``, ``obtained``). A
        curve metric that is gated gets its gated final values as stars at
        each curve's last epoch (otherwise the curves' last values); a
        convergence metric (``epochs_to_...``) gets its level as a dotted
        line and the golden's and the run's gated epochs as vertical lines.

    Notes
    -----
    Axes are labelled with the units of :data:`ptycho_metrics.METRICS`. The
    curves are information: the gate compares only the gated metrics.
    """
    from matplotlib.figure import Figure

    from .._curve import CONVERGENCE_LEVELS, curve_from_json
    from .._metadata import METRICS

    curves = {
        label: curve_from_json(doc) for label, doc in (("golden", golden), ("this run", run)) if doc
    }
    names = [m for m in METRICS if any(m in c for c in curves.values())]
    rows = {str(r["metric"]): r for r in gated}
    levels = {metric: (conv, level) for conv, (metric, level) in CONVERGENCE_LEVELS.items()}
    ncols = 1 if len(names) == 1 else 2
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = Figure(figsize=(5.6 * ncols, 3.1 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes, names, strict=False):
        info = METRICS[name]
        row = rows.get(name)
        for label, curve in curves.items():
            if name not in curve:
                continue
            style = _CURVE_STYLES[label]
            epochs, values = curve["epoch"], curve[name]
            ax.plot(epochs, values, label=label, **style)
            side = "golden" if label == "golden" else "obtained"
            gated_value = row.get(side) if row is not None else None
            end = _last_finite(values) if gated_value is None else float(gated_value)
            kind = "gated final" if gated_value is not None else "final"
            # The golden's marker is hollow and larger: equal finals stay both visible.
            marker = (
                {"marker": "D", "markersize": 11, "markerfacecolor": "none", "markeredgewidth": 1.8}
                if label == "golden"
                else {"marker": "*", "markersize": 12, "markeredgecolor": "black",
                      "markeredgewidth": 0.5}
            )  # fmt: skip
            ax.plot(
                [epochs[-1]], [end], linestyle="none", color=style["color"],
                markeredgecolor=marker.pop("markeredgecolor", style["color"]),
                label=f"{label}, {kind}: {end:.5g}", **marker,
            )  # fmt: skip
        if name in levels:
            conv, level = levels[name]
            ax.axhline(level, color="grey", linestyle=":", linewidth=1.0, label=f"level {level:g}")
            conv_row = rows.get(conv)
            for label, side in (("golden", "golden"), ("this run", "obtained")):
                value = conv_row.get(side) if conv_row is not None else None
                if value is not None and math.isfinite(value):
                    ax.axvline(
                        value, color=_CURVE_STYLES[label]["color"], linestyle="-.",
                        linewidth=1.0, label=f"{conv}, {label}: {value:.4g}",
                    )  # fmt: skip
        unit = "dimensionless" if info.unit == "1" else info.unit
        ax.set_ylabel(f"{name} ({unit})", fontsize=9)
        ax.set_xlabel("epoch (training epochs completed)", fontsize=9)
        ax.set_title(f"{name} ({info.direction} is better)", fontsize=10)
        ax.grid(alpha=0.3)
        # Training curves converge towards the top (higher) or the bottom (lower) right.
        ax.legend(fontsize=8, loc="lower right" if info.direction == "higher" else "upper right")
    fig.suptitle(
        "Learning curves, golden and this run (information: never compared point by point)",
        fontsize=11,
    )
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
