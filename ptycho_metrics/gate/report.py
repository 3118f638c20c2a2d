"""The failure report: a results directory with an HTML summary, a JSON summary and the
``.obtained`` goldens, written by the ``quality_gate`` fixture.

Per gated test (on failure, or always with ``--quality-gate-report=all``) the
HTML shows the metric table (golden, obtained, delta, relative delta, effective
tolerance, verdict), the golden's and the run's FRC curves on one plot, their
learning curves (``check(..., curve=...)``) on shared axes per metric with the
gated final values marked, truth / aligned reconstruction / error panels for
amplitude and unwrapped phase, the alignment parameters, and the contract and
fingerprint differences. It is one self-contained file (PNG images inline as
base64, no script, no external resource), so it opens from a CI artifact
without a server. ``summary.json`` holds the same facts for CI systems, and
each test's ``<basename>.obtained.json`` is the golden this run would write: a
reviewer can take it from the artifacts.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._engine import ContractChange, GateResult

__all__ = ["SUMMARY_SCHEMA", "ReportEntry", "ResultsDir", "frc_curve", "image_rows"]

#: Version of the layout of ``summary.json``.
SUMMARY_SCHEMA = 1
_SUMMARY = "summary.json"
_INDEX = "index.html"


def frc_curve(frc: Any) -> dict[str, Any]:
    """An :class:`~ptycho_metrics.FRCResult` as the JSON curve stored in a golden's ``info``."""
    doc = frc.to_dict()
    half_bit = frc.threshold("half-bit")
    return {
        "frequency": doc["frequency"],
        "correlation": doc["correlation"],
        "half_bit": [None if not math.isfinite(v) else float(v) for v in half_bit],
    }


def image_rows(
    recon: Any, truth: Any, mask: Any = None, *, scale: Any = "complex"
) -> tuple[list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], dict[str, Any]]:
    """Truth, aligned reconstruction and error for amplitude and unwrapped phase.

    The same public steps as :func:`ptycho_metrics.evaluate`: :func:`align`
    removes shift, ramp, global phase and scale; amplitudes are compared as
    they are; the phase rows are the truth's unwrapped phase and the truth's
    plus the unwrapped residual of :func:`phase_error`. Cropped to the
    bounding box of the compared region; pixels outside it are NaN.

    Returns
    -------
    rows, alignment
        Rows for :func:`._figures.panels_png` and :meth:`Alignment.as_dict`.
    """
    from .. import align, phase_error
    from .._align import bounding_box
    from .._phase import unwrap

    al = align(recon, truth, mask=mask, scale=scale)
    box = bounding_box(al.region)
    region = al.region[box]
    rec = al.aligned[box]
    tru = np.asarray(truth, dtype=np.complex128)[box]
    outside = ~region

    def masked(values: np.ndarray) -> np.ndarray:
        out = np.array(values, dtype=np.float64)
        out[outside] = np.nan
        return out

    amp_t, amp_r = np.abs(tru), np.abs(rec)
    perr = phase_error(rec, tru, mask=region)
    phase_t, _ = unwrap(np.angle(tru))
    phase_t = phase_t - phase_t[region].mean()
    rows = [
        ("amplitude", masked(amp_t), masked(amp_r), masked(amp_r - amp_t)),
        (
            "phase (rad)",
            masked(phase_t),
            masked(phase_t + perr.residual),
            masked(perr.residual),
        ),
    ]
    return rows, al.as_dict()


@dataclass
class ReportEntry:
    """One gated test in the report."""

    nodeid: str
    golden: str
    outcome: str  # "failed", "passed", "refused"
    message: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    contract_changes: list[dict[str, Any]] = field(default_factory=list)
    fingerprint_changes: list[dict[str, Any]] = field(default_factory=list)
    alignment: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    figure_notes: list[str] = field(default_factory=list)
    obtained: str = ""
    images: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def table(result: GateResult | None) -> list[dict[str, Any]]:
        """The rows of ``result`` as JSON objects (with the effective tolerance's rule)."""
        if result is None:
            return []
        return [{**asdict(r), "tolerance_rule": r.tolerance_rule} for r in result.rows]

    @staticmethod
    def changes(changes: Sequence[ContractChange]) -> list[dict[str, Any]]:
        return [asdict(c) for c in changes]

    def summary(self) -> dict[str, Any]:
        """JSON form without the images."""
        doc = asdict(self)
        doc.pop("images")
        doc["failed_metrics"] = [
            r["metric"]
            for r in self.rows
            if r["verdict"] in ("worse", "changed", "missing", "extra", "not finite")
        ]
        return doc


def _slug(nodeid: str) -> str:
    return re.sub(r"[^\w.-]+", "_", nodeid).strip("_")[:150] or "test"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


class ResultsDir:
    """The directory the report goes to; it survives the run.

    On first use in a session it removes what a previous session of the
    gate wrote there (the files its ``summary.json`` lists, nothing else).
    """

    def __init__(self, path: Path, *, header: Mapping[str, Any]):
        self.path = path
        self.header = dict(header)
        self.entries: list[ReportEntry] = []
        self._started = False

    @property
    def index(self) -> Path:
        return self.path / _INDEX

    def _start(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        old = self.path / _SUMMARY
        if old.is_file():
            try:
                previous = json.loads(old.read_text(encoding="utf-8"))
                dirs = {
                    Path(t["obtained"]).parts[0]
                    for t in previous.get("tests", [])
                    if t.get("obtained")
                }
            except (ValueError, KeyError, TypeError, IndexError):
                dirs = set()
            for name in dirs:
                target = self.path / name
                if target.is_dir() and target.parent == self.path:
                    shutil.rmtree(target, ignore_errors=True)
            for name in (_SUMMARY, _INDEX):
                (self.path / name).unlink(missing_ok=True)
        self._started = True

    def add(self, entry: ReportEntry, obtained_text: str, basename: str) -> Path:
        """Write ``entry``'s obtained golden, then rewrite index.html and summary.json."""
        if not self._started:
            self._start()
        folder = self.path / _slug(entry.nodeid)
        n = 2
        while (
            any(e.obtained.startswith(f"{folder.name}/") for e in self.entries)
            and (folder / f"{basename}.obtained.json").exists()
        ):
            folder = self.path / f"{_slug(entry.nodeid)}-{n}"
            n += 1
        folder.mkdir(parents=True, exist_ok=True)
        obtained = folder / f"{basename}.obtained.json"
        obtained.write_text(obtained_text, encoding="utf-8")
        entry.obtained = obtained.relative_to(self.path).as_posix()
        self.entries.append(entry)
        self.write()
        return self.index

    def write(self) -> None:
        summary = {
            "schema": SUMMARY_SCHEMA,
            "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **self.header,
            "failed": sum(e.outcome != "passed" for e in self.entries),
            "passed": sum(e.outcome == "passed" for e in self.entries),
            "tests": [e.summary() for e in self.entries],
        }
        _write_atomic(self.path / _SUMMARY, json.dumps(summary, indent=2, sort_keys=True) + "\n")
        _write_atomic(self.index, render_html(self.entries, self.header))


# ----------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em;
color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em;border-top:1px solid #ccc;padding-top:1em}
h3{font-size:1em;margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.3em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
td.num{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace}
tr.fail td{background:#fde2e1}tr.better td{background:#e3f6e3}
.badge{display:inline-block;padding:1px 8px;border-radius:8px;color:#fff;font-size:.85em}
.failed,.refused{background:#c0392b}.passed{background:#2e7d32}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em;white-space:pre-wrap}
img{max-width:100%;height:auto;display:block;margin:.3em 0}
.note{color:#555;font-size:.85em}
"""

_FAILING = ("worse", "changed", "missing", "extra", "not finite")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, spec: str = ".8g") -> str:
    if value is None:
        return ""
    return format(value, spec)


def _metric_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "<tr><th>metric</th><th>golden</th><th>obtained</th><th>delta</th><th>rel. delta</th>"
        "<th>direction</th><th>tolerance</th><th>from</th><th>verdict</th></tr>"
    )
    body = []
    for r in rows:
        cls = "fail" if r["verdict"] in _FAILING else "better" if r["verdict"] == "better" else ""
        rel = "" if r["rel_delta"] is None else f"{r['rel_delta']:+.3%}"
        body.append(
            f'<tr class="{cls}"><td>{_e(r["metric"])}</td>'
            f'<td class="num">{_num(r["golden"])}</td><td class="num">{_num(r["obtained"])}</td>'
            f'<td class="num">{_num(r["delta"], "+.4g")}</td><td class="num">{rel}</td>'
            f'<td>{_e(r["direction"] or "")}</td><td class="num">{_num(r["tolerance"], ".4g")}</td>'
            f"<td>{_e(r['tolerance_rule'])}</td><td>{_e(r['verdict'])}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _changes_table(changes: list[dict[str, Any]], what: str) -> str:
    if not changes:
        return f'<p class="note">{_e(what)}: no difference from the golden.</p>'
    rows = "".join(
        f"<tr><td>{_e(c['key'])}</td><td>{_e(c['kind'])}</td><td>{_e(repr(c['golden']))}</td>"
        f"<td>{_e(repr(c['obtained']))}</td></tr>"
        for c in changes
    )
    head = "<tr><th>entry</th><th>change</th><th>golden</th><th>this run</th></tr>"
    return f"<h3>{_e(what)}: entries that differ</h3><table>{head}{rows}</table>"


def _entry_html(entry: ReportEntry, index: int) -> str:
    parts = [
        f'<h2 id="t{index}"><span class="badge {_e(entry.outcome)}">{_e(entry.outcome)}</span> '
        f"{_e(entry.nodeid)}</h2>",
        f"<p>golden: <code>{_e(entry.golden)}</code>; this run's golden: "
        f'<a href="{_e(entry.obtained)}"><code>{_e(entry.obtained)}</code></a></p>',
        f"<pre>{_e(entry.message)}</pre>",
    ]
    if entry.rows:
        parts += ["<h3>Metrics</h3>", _metric_table(entry.rows)]
    parts.append(_changes_table(entry.contract_changes, "Contract"))
    parts.append(_changes_table(entry.fingerprint_changes, "Environment fingerprint"))
    for key, alt in (
        ("frc", "FRC curves of the golden and this run"),
        ("curve", "learning curves of the golden and this run"),
        ("panels", "truth, aligned reconstruction and error"),
    ):
        if key not in entry.images:
            continue
        if key == "curve":
            parts.append(
                '<h3>Learning curves</h3><p class="note">Stored in the golden\'s '
                "<code>info</code> as information: never compared point by point; only the "
                "metrics in the table are gated.</p>"
            )
        parts.append(f'<img alt="{_e(alt)}" src="data:image/png;base64,{entry.images[key]}">')
    if entry.alignment:
        rows = "".join(
            f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in entry.alignment.items()
        )
        parts.append(f"<h3>Alignment (removed ambiguities)</h3><table>{rows}</table>")
    notes = [*entry.notes, *entry.figure_notes]
    if notes:
        parts.append("<ul>" + "".join(f'<li class="note">{_e(n)}</li>' for n in notes) + "</ul>")
    return "\n".join(parts)


def render_html(entries: Sequence[ReportEntry], header: Mapping[str, Any]) -> str:
    """The self-contained HTML page of ``entries``."""
    failed = sum(e.outcome != "passed" for e in entries)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(header.get("packages", {}).items()) if v)
    toc = "".join(
        f'<li><a href="#t{i}">{_e(e.nodeid)}</a> ({_e(e.outcome)})</li>'
        for i, e in enumerate(entries)
    )
    body = "\n".join(_entry_html(e, i) for i, e in enumerate(entries))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>quality gate: {failed} failed of {len(entries)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>ptycho-metrics quality gate: {failed} of {len(entries)} reported test(s) failed</h1>"
        f'<p class="note">rootdir <code>{_e(header.get("rootdir", ""))}</code>; '
        f"written {_e(dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'))}; "
        f"{_e(versions)}</p><ul>{toc}</ul>\n{body}\n</body></html>\n"
    )
