"""Tests of ptycho_metrics._many: evaluate_many serially, in local processes and on Dask."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from scipy import ndimage

from ptycho_metrics import (
    ManyReport,
    Pair,
    QualityInputError,
    evaluate,
    evaluate_many,
)
from ptycho_metrics._metadata import EVALUATE_METRICS
from ptycho_metrics._threads import pinned_threads
from ptycho_metrics.data import fixture_path, load_fixture


def _truth(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = 0.7 + 0.2 * np.tanh(ndimage.gaussian_filter(rng.normal(size=(n, n)), 2))
    phase = ndimage.gaussian_filter(rng.normal(size=(n, n)), 4) * 20
    return amp * np.exp(1j * phase)


def _pairs(n: int = 96) -> list[Pair]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(3):
        truth = _truth(n, k)
        noise = rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape)
        recon = np.roll(truth, k, axis=1) * np.exp(0.4j) + 0.03 * noise
        out.append(Pair(f"pair{k}", recon, truth))
    out.append(Pair("bad_shape", _truth(n, 9)[:-4], _truth(n, 9)))
    return out


def _same(a: ManyReport, b: ManyReport) -> None:
    """Bit-identical reports: the same JSON text and the same FRC arrays."""
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):
        d.pop("route"), d.pop("seconds")
        for pair in d["pairs"]:
            pair.pop("seconds")
    assert json.dumps(da) == json.dumps(db)
    for ra, rb in zip(a.results, b.results, strict=True):
        if ra.report is not None and rb.report is not None:
            np.testing.assert_array_equal(ra.report.frc.correlation, rb.report.frc.correlation)
            assert ra.report.metrics == rb.report.metrics


@pytest.fixture(scope="module")
def serial() -> ManyReport:
    return evaluate_many(_pairs(), route="serial")


def test_serial_results_are_evaluate_and_a_failure_is_reported(serial):
    assert [r.name for r in serial.results] == ["pair0", "pair1", "pair2", "bad_shape"]
    assert [r.ok for r in serial.results] == [True, True, True, False]
    (bad,) = serial.failed
    assert bad.error == (
        "QualityInputError: recon and truth must have the same shape, got (92, 96) and (96, 96)"
    )
    pair = _pairs()[1]
    with pinned_threads(1):
        direct = evaluate(pair.recon, pair.truth)
    assert serial.results[1].report is not None
    assert serial.results[1].report.metrics == direct.metrics


def test_local_processes_are_bit_identical_to_serial(serial):
    calls = []
    parallel = evaluate_many(
        _pairs(), max_workers=2, progress=lambda done, total, r: calls.append((done, total))
    )
    assert parallel.route == "processes"
    _same(parallel, serial)
    assert sorted(calls) == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_dask_local_cluster_is_bit_identical_to_serial(serial):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = evaluate_many(_pairs(), scheduler=client)
        by_address = evaluate_many(_pairs()[:1], scheduler=cluster.scheduler_address)
    assert on_dask.route == "dask"
    _same(on_dask, serial)
    assert by_address.results[0].report is not None
    assert by_address.results[0].report.metrics == serial.results[0].report.metrics


def test_files_are_read_by_the_worker_with_the_stored_mask(tmp_path):
    truth = load_fixture("default").obj
    recon = truth * np.exp(0.3j)
    mask = np.ones(truth.shape, bool)
    mask[:10] = False
    np.savez(tmp_path / "rec.npz", object=recon, mask=mask)
    many = evaluate_many(
        [
            Pair("file", tmp_path / "rec.npz", str(fixture_path("default"))),
            Pair("fixture", tmp_path / "rec.npz", "default"),
            Pair("gone", tmp_path / "x.npz", "default"),
        ],
        route="serial",
    )
    expected = evaluate(recon, truth, mask=mask).metrics
    assert many.results[0].report is not None
    assert many.results[0].report.metrics == expected
    assert many.results[1].report is not None
    assert many.results[1].report.metrics == expected
    assert many.results[2].error is not None
    assert many.results[2].error.startswith("QualityInputError: ")
    assert "x.npz" in many.results[2].error


def test_json_and_csv_tables(tmp_path, serial):
    data = json.loads(serial.to_json())
    assert data["n_pairs"] == 4
    assert data["n_failed"] == 1
    assert data["pairs"][3]["report"] is None
    assert list(data["pairs"][0]["report"]["metrics"]) == list(EVALUATE_METRICS)
    path = tmp_path / "t.csv"
    serial.write_csv(path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["pair0", "pair1", "pair2", "bad_shape"]
    assert rows[3]["ok"] == "False"
    assert rows[3]["amplitude_ssim"] == ""
    value = serial.results[0].report.metrics["amplitude_ssim"]
    assert float(rows[0]["amplitude_ssim"]) == value


def test_mapping_input_and_options():
    truth = _truth(96, 1)
    many = evaluate_many({"a": (truth * 2, truth)}, options={"align": False})
    assert many.route == "serial"
    assert many.results[0].report is not None
    assert many.results[0].report.alignment is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"route": "threads"}, "route must be one of"),
        ({"route": "dask"}, "scheduler must be given for route='dask'"),
        ({"max_workers": 0}, "max_workers must be a positive int or None, got 0"),
        (
            {"options": {"mask": None}},
            "options must be keyword arguments of evaluate() other than mask",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(QualityInputError, match=re.escape(message)):
        evaluate_many(_pairs()[:1], **kwargs)


def test_duplicate_names_and_wrong_items():
    truth = _truth(96, 1)
    with pytest.raises(
        QualityInputError, match=re.escape("pairs must have unique names, got duplicates ['a']")
    ):
        evaluate_many([Pair("a", truth, truth), Pair("a", truth, truth)])
    with pytest.raises(
        QualityInputError, match=re.escape("pairs must hold ptycho_metrics.Pair objects, got tuple")
    ):
        evaluate_many([(truth, truth)])  # type: ignore[list-item]
