"""Learning curves: evaluate() metrics against training epochs, and the metrics derived from them.

A *curve* maps column names to equal-length sequences: ``"epoch"`` (training
epochs completed at each evaluation, increasing), optionally ``"step"``, and
one column per metric of :data:`ptycho_metrics.METRICS`. It is what
:class:`ptycho_metrics.lightning.QualityCallback` records and what the reference
pipeline writes to ``quality_curve.csv``.

The convergence metrics (``source == "curve"`` in :data:`ptycho_metrics.METRICS`)
summarise *how fast* a run got good, which a gate on the final value alone
sees only weakly: a learning-rate schedule that warms up three times longer
ends within the final-value tolerances but reaches a given SSIM epochs later.
No metric is computed here: the values come from :func:`ptycho_metrics.evaluate`.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ._checks import QualityInputError
from ._metadata import METRICS, Direction

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CONVERGENCE_LEVELS",
    "convergence_metrics",
    "curve_from_json",
    "curve_to_json",
    "epochs_to_reach",
    "plot_curve",
    "read_curve_csv",
    "write_curve_csv",
]

#: Convergence metric -> (evaluate() metric it follows, level to reach).
CONVERGENCE_LEVELS: Mapping[str, tuple[str, float]] = {
    "epochs_to_amplitude_ssim_0p95": ("amplitude_ssim", 0.95),
}

_INDEX_COLUMNS = ("epoch", "step")


def _column(values: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        msg = f"{name} must be a non-empty 1-D sequence of numbers, got shape {arr.shape}"
        raise QualityInputError(msg)
    return arr


def epochs_to_reach(
    epochs: npt.ArrayLike,
    values: npt.ArrayLike,
    level: float,
    *,
    direction: Direction = "higher",
) -> float:
    """Epochs until a metric first reaches ``level``, linearly interpolated between evaluations.

    Parameters
    ----------
    epochs : array_like, shape (k,)
        Epochs completed at each evaluation, strictly increasing and finite.
    values : array_like, shape (k,)
        The metric at those evaluations (NaN for an evaluation that failed:
        it never counts as reached).
    level : float
        Level to reach: ``values >= level`` for ``direction="higher"``,
        ``values <= level`` for ``"lower"``.
    direction : {"higher", "lower"}
        Which way the metric improves.

    Returns
    -------
    float
        ``epochs[0]`` when the first evaluation has reached the level already;
        otherwise the epoch where the straight line between the last evaluation
        below the level and the first one at or above it crosses the level.
        NaN when the curve never reaches it.

    Raises
    ------
    QualityInputError
        Epochs not finite or not strictly increasing, lengths that differ, a
        non-finite level or an unknown direction.

    Examples
    --------
    >>> epochs_to_reach([0, 1, 2, 3], [0.2, 0.6, 0.9, 0.97], 0.95)
    2.625
    """
    e, v = _column(epochs, "epochs"), _column(values, "values")
    if e.shape != v.shape:
        msg = f"epochs and values must have the same length, got {e.size} and {v.size}"
        raise QualityInputError(msg)
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        msg = f"epochs must be finite and strictly increasing, got {e.tolist()}"
        raise QualityInputError(msg)
    if not math.isfinite(level):
        msg = f"level must be a finite number, got {level!r}"
        raise QualityInputError(msg)
    if direction not in ("higher", "lower"):
        msg = f"direction must be one of 'higher', 'lower'; got {direction!r}"
        raise QualityInputError(msg)
    sign = 1.0 if direction == "higher" else -1.0
    margin = sign * (v - level)  # >= 0 where reached; NaN compares False
    reached = np.flatnonzero(margin >= 0)
    if reached.size == 0:
        return math.nan
    i = int(reached[0])
    if i == 0 or not math.isfinite(v[i - 1]):
        return float(e[i])
    fraction = (level - v[i - 1]) / (v[i] - v[i - 1])
    return float(e[i - 1] + fraction * (e[i] - e[i - 1]))


def convergence_metrics(curve: Mapping[str, npt.ArrayLike]) -> dict[str, float]:
    """Every convergence metric of :data:`CONVERGENCE_LEVELS` that ``curve`` has the column for.

    Parameters
    ----------
    curve : mapping of str to array_like
        ``"epoch"`` and metric columns (e.g. :func:`read_curve_csv`'s result
        or :attr:`QualityCallback.curve`).

    Returns
    -------
    dict of str to float
        NaN where the curve never reaches the level (a gate then fails on it,
        naming it).

    Raises
    ------
    QualityInputError
        No ``"epoch"`` column, or none of the metrics the convergence metrics
        follow.
    """
    if "epoch" not in curve:
        msg = f"curve needs an 'epoch' column, got columns {sorted(curve)}"
        raise QualityInputError(msg)
    out = {
        name: epochs_to_reach(
            curve["epoch"], curve[metric], level, direction=METRICS[metric].direction
        )
        for name, (metric, level) in CONVERGENCE_LEVELS.items()
        if metric in curve
    }
    if not out:
        wanted = sorted({metric for metric, _ in CONVERGENCE_LEVELS.values()})
        msg = f"curve has none of the columns {wanted} that convergence metrics follow"
        raise QualityInputError(msg)
    return out


def write_curve_csv(
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, float]],
    *,
    metrics: Sequence[str],
) -> Path:
    """Write ``rows`` (one per evaluation) as CSV: ``epoch,step,<metrics>``.

    Floats are written with ``repr`` (round-trip exact), NaN as ``nan``. The
    file is written to ``<path>.partial`` and renamed, so an interrupted write
    never leaves a half-written file under the final name.
    """
    columns = [*_INDEX_COLUMNS, *metrics]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        missing = [c for c in columns if c not in row]
        if missing:
            msg = f"curve row {dict(row)} lacks the columns {missing}"
            raise QualityInputError(msg)
        writer.writerow([int(row["step"]) if c == "step" else repr(float(row[c])) for c in columns])
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(target)
    return target


def curve_to_json(curve: object, *, name: str = "curve") -> dict[str, list[float | None]]:
    """A learning curve as JSON columns (what a golden's ``info`` block stores), checked.

    Parameters
    ----------
    curve : mapping of str to array_like, or an object with a ``curve`` mapping
        ``"epoch"`` (finite, strictly increasing), optionally ``"step"``, and
        one or more metric columns named as in :data:`ptycho_metrics.METRICS`,
        all 1-D of one length: e.g. :func:`read_curve_csv`'s result, or a
        :class:`ptycho_metrics.lightning.QualityCallback` (its :attr:`curve`).
    name : str
        The argument's name in error messages.

    Returns
    -------
    dict of str to list
        Column -> floats (``repr``-exact once written as JSON); NaN and Inf
        (an evaluation that failed) become None. The input is not modified.

    Raises
    ------
    QualityInputError
        Not a mapping, no ``"epoch"`` column, no metric column, a column that
        is not in ``METRICS``, columns of different lengths, or epochs not
        finite and strictly increasing.
    """
    columns = getattr(curve, "curve", curve)
    if not isinstance(columns, Mapping):
        msg = (
            f"{name} must be a mapping of column name to 1-D values ('epoch', optionally "
            f"'step', and metric columns) or an object with such a .curve, got "
            f"{type(curve).__name__}"
        )
        raise QualityInputError(msg)
    keys = [str(k) for k in columns]
    if "epoch" not in columns:
        msg = f"{name} needs an 'epoch' column, got columns {keys}"
        raise QualityInputError(msg)
    unknown = [k for k in keys if k not in _INDEX_COLUMNS and k not in METRICS]
    if unknown:
        msg = (
            f"{name} columns must be 'epoch', 'step' or metrics of ptycho_metrics.METRICS "
            f"(their units label the report's axes), got {unknown}"
        )
        raise QualityInputError(msg)
    metrics = [k for k in keys if k not in _INDEX_COLUMNS]
    if not metrics:
        msg = f"{name} needs at least one metric column besides {keys}"
        raise QualityInputError(msg)
    arrays = {k: _column(columns[k], f"{name}[{k!r}]") for k in keys}
    lengths = {k: v.size for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        msg = f"{name} columns must all have one length, got {lengths}"
        raise QualityInputError(msg)
    epochs = arrays["epoch"]
    if not np.all(np.isfinite(epochs)) or np.any(np.diff(epochs) <= 0):
        msg = f"{name}['epoch'] must be finite and strictly increasing, got {epochs.tolist()}"
        raise QualityInputError(msg)
    return {
        k: [float(x) if math.isfinite(x) else None for x in v.tolist()] for k, v in arrays.items()
    }


def curve_from_json(doc: Mapping[str, Sequence[float | None]]) -> dict[str, np.ndarray]:
    """The inverse of :func:`curve_to_json`: column -> float64 array, None -> NaN.

    Columns come in the order ``epoch``, ``step``, then as in :data:`ptycho_metrics.METRICS`.

    Export a golden's curve as CSV, for example::

        curve = curve_from_json(load_golden(path).info["learning_curve"])
        np.savetxt("curve.csv", np.column_stack(list(curve.values())),
                   delimiter=",", header=",".join(curve), comments="")
    """
    # JSON stores keys sorted: put epoch and step first, then the metrics in METRICS order.
    rank = {k: i for i, k in enumerate((*_INDEX_COLUMNS, *METRICS))}
    order = sorted(doc, key=lambda k: (rank.get(k, len(rank)), k))
    return {
        str(k): np.array([math.nan if x is None else x for x in doc[k]], dtype=np.float64)
        for k in order
    }


def read_curve_csv(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a curve written by :func:`write_curve_csv`: column name -> float64 array."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or "epoch" not in rows[0]:
        msg = f"{path}: not a learning curve (no header with an 'epoch' column)"
        raise QualityInputError(msg)
    header, body = rows[0], rows[1:]
    try:
        columns = np.array(body, dtype=np.float64).reshape(len(body), len(header))
    except ValueError as exc:
        msg = f"{path}: every row must hold {len(header)} numbers ({exc})"
        raise QualityInputError(msg) from None
    return {name: columns[:, j] for j, name in enumerate(header)}


def plot_curve(
    path_or_fig: str | os.PathLike[str] | Figure,
    curve: Mapping[str, npt.ArrayLike],
    *,
    metrics: Sequence[str] | None = None,
    final: Mapping[str, float] | None = None,
    reference: Mapping[str, npt.ArrayLike] | None = None,
    reference_label: str = "golden",
    title: str = "Reconstruction quality during training",
) -> Figure:
    """One panel per metric against epoch; the gated final value and the convergence level marked.

    Parameters
    ----------
    path_or_fig : path or matplotlib Figure
        Saved as PNG when a path.
    curve : mapping of str to array_like
        ``"epoch"`` and metric columns.
    metrics : sequence of str, optional
        Panels, in order; default: every metric column of ``curve``.
    final : mapping of str to float, optional
        The gated final values (``evaluate()`` of the final reconstruction),
        drawn as a star at the last epoch; default: the curve's last values.
    reference : mapping of str to array_like, optional
        Another curve drawn behind this one for comparison (e.g. the golden
        run's), labelled ``reference_label``; its metrics that ``curve``
        lacks are skipped.
    reference_label : str
        Legend label of ``reference``.
    title : str
        Figure title.
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    names = [c for c in curve if c not in _INDEX_COLUMNS] if metrics is None else list(metrics)
    epochs = np.asarray(curve["epoch"], dtype=np.float64)
    if isinstance(path_or_fig, Figure):
        fig, target = path_or_fig, None
    else:
        fig, target = Figure(figsize=(7.0, 2.2 * len(names) + 0.6), dpi=100), path_or_fig
    fig.set_layout_engine("constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    levels = {metric: (name, level) for name, (metric, level) in CONVERGENCE_LEVELS.items()}
    for ax, name in zip(axes, names, strict=True):
        info = METRICS[name]
        values = np.asarray(curve[name], dtype=np.float64)
        if reference is not None and name in reference:
            ax.plot(
                np.asarray(reference["epoch"], dtype=np.float64),
                np.asarray(reference[name], dtype=np.float64),
                color="grey", linewidth=2.5, alpha=0.5, label=reference_label,
            )  # fmt: skip
        ax.plot(epochs, values, marker=".", color="tab:blue", label="during training")
        end = float(values[-1]) if final is None else float(final[name])
        ax.plot(
            [epochs[-1]], [end], marker="*", markersize=12, color="tab:red", linestyle="none",
            label=f"final (gated) {end:.5g}",
        )  # fmt: skip
        if name in levels:
            conv_name, level = levels[name]
            reached = epochs_to_reach(epochs, values, level, direction=info.direction)
            ax.axhline(level, color="grey", linestyle=":", linewidth=1.0)
            if math.isfinite(reached):
                ax.axvline(reached, color="tab:green", linestyle="--", linewidth=1.0,
                           label=f"{conv_name} = {reached:.3g}")  # fmt: skip
        unit = "" if info.unit == "1" else f" ({info.unit})"
        ax.set_ylabel(f"{name}{unit}\n({info.direction} is better)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[-1].set_xlabel("epoch")
    fig.suptitle(title, fontsize=11)
    if target is not None:
        fig.savefig(target)
    return fig
