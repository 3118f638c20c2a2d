"""Tests of ptycho_metrics._many: evaluate_many serially, in local processes and on Dask.

The pairs mix arrays and files: a cdtools results file written by cdtools'
own ``save_to_h5`` (the interop extra) against a fixture name, our
``reconstruction.npz`` against a scan file, and files that fail (other
data's hash, a wrong format, an unreadable file).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from _io_cases import write_cdtools_results, write_native
from scipy import ndimage

from ptycho_metrics import (
    ManyReport,
    Pair,
    QualityInputError,
    cli,
    evaluate,
    evaluate_many,
    scan_mask,
)
from ptycho_metrics._metadata import EVALUATE_METRICS
from ptycho_metrics._threads import pinned_threads
from ptycho_metrics.data import fixture_path, load_fixture
from ptycho_metrics.io import read_pair


def _truth(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = 0.7 + 0.2 * np.tanh(ndimage.gaussian_filter(rng.normal(size=(n, n)), 2))
    phase = ndimage.gaussian_filter(rng.normal(size=(n, n)), 4) * 20
    return amp * np.exp(1j * phase)


def _noisy(obj: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=obj.shape) + 1j * rng.normal(size=obj.shape)
    return (obj * np.exp(0.3j) + 0.02 * noise).astype(np.complex64)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Reconstruction files of the default fixture in three layouts, and broken ones."""
    pytest.importorskip("cdtools", reason="the interop extra is not installed")
    data = load_fixture("default")
    folder = tmp_path_factory.mktemp("many")
    garbage = folder / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not a zip archive after all")
    return {
        "cdtools": write_cdtools_results(folder / "results.h5", data, _noisy(data.obj, 1)),
        "native": write_native(folder / "reconstruction.npz", _noisy(data.obj, 2), data.sha256),
        "other": write_native(folder / "other.npz", data.obj, "0" * 64, "elsewhere.npz"),
        "garbage": garbage,
    }


def _pairs(files: dict[str, Path], n: int = 96) -> list[Pair]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(3):
        truth = _truth(n, k)
        noise = rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape)
        recon = np.roll(truth, k, axis=1) * np.exp(0.4j) + 0.03 * noise
        out.append(Pair(f"pair{k}", recon, truth))
    out.append(Pair("bad_shape", _truth(n, 9)[:-4], _truth(n, 9)))
    out += [
        Pair("cdtools", files["cdtools"], "default"),  # a fixture name as the truth
        Pair("native", files["native"], fixture_path("default")),  # a scan file as the truth
        Pair("other_data", files["other"], "default"),
        Pair("wrong_format", files["native"], "default", read={"format": "cdtools"}),
        Pair("unreadable", files["garbage"], "default"),
    ]
    return out


NAMES = [
    "pair0",
    "pair1",
    "pair2",
    "bad_shape",
    "cdtools",
    "native",
    "other_data",
    "wrong_format",
    "unreadable",
]
OK = [True, True, True, False, True, True, False, False, False]


def _bits(metrics: dict[str, float]) -> dict[str, str]:
    """Each value's exact bits (NaN equal to NaN, unlike ==)."""
    return {k: float(v).hex() for k, v in metrics.items()}


def _same(a: ManyReport, b: ManyReport) -> None:
    """Bit-identical reports: the same JSON text and the same FRC arrays."""
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):
        d.pop("route"), d.pop("seconds")
        for pair in d["pairs"]:
            pair.pop("seconds")
    assert json.dumps(da, default=str) == json.dumps(db, default=str)
    for ra, rb in zip(a.results, b.results, strict=True):
        if ra.report is not None and rb.report is not None:
            np.testing.assert_array_equal(ra.report.frc.correlation, rb.report.frc.correlation)
            assert _bits(ra.report.metrics) == _bits(rb.report.metrics)


@pytest.fixture(scope="module")
def serial(files) -> ManyReport:
    return evaluate_many(_pairs(files), route="serial")


def test_serial_results_are_evaluate_and_a_failure_is_reported(serial, files):
    assert [r.name for r in serial.results] == NAMES
    assert [r.ok for r in serial.results] == OK
    bad = serial.failed[0]
    assert bad.error == (
        "QualityInputError: recon and truth must have the same shape, got (92, 96) and (96, 96)"
    )
    pair = _pairs(files)[1]
    with pinned_threads(1):
        direct = evaluate(pair.recon, pair.truth)
    assert serial.results[1].report is not None
    assert _bits(serial.results[1].report.metrics) == _bits(direct.metrics)
    assert serial.results[1].input is None  # arrays: nothing was read


def _reader_error(recon: Path, truth: str, **read: object) -> str:
    """What read_pair itself raises for a file, as evaluate_many reports it."""
    with pytest.raises(QualityInputError) as info:
        read_pair(recon, truth, **read)  # type: ignore[arg-type]
    return f"{type(info.value).__name__}: {info.value}"


def test_failing_files_carry_the_readers_one_line_message(serial, files):
    errors = {r.name: r.error for r in serial.failed}
    other = _reader_error(files["other"], "default")
    assert other.startswith(
        f"OtherDataError: {files['other']}: made from data with sha256 000000000000... "
        f"(elsewhere.npz), but the truth's data has sha256"
    )
    wrong = _reader_error(files["native"], "default", format="cdtools")
    assert wrong == (
        f"FormatError: {files['native']}: format='cdtools' needs an HDF5 file, and this is not one"
    )
    unreadable = _reader_error(files["garbage"], "default")
    assert unreadable.startswith(f"ReaderError: {files['garbage']}: ")
    assert errors["other_data"] == other
    assert errors["wrong_format"] == wrong
    assert errors["unreadable"] == unreadable
    for error in errors.values():
        assert error is not None
        assert "\n" not in error


def _single_pair_cli(recon: Path, truth: str, capsys: pytest.CaptureFixture) -> dict:
    status = cli.main(["evaluate", "--recon", str(recon), "--truth", truth, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def test_files_are_read_as_the_single_pair_evaluate_reads_them(serial, files, capsys):
    by_name = {r.name: r for r in serial.results}
    for name, truth in (("cdtools", "default"), ("native", str(fixture_path("default")))):
        single = _single_pair_cli(files[name], truth, capsys)
        result = by_name[name]
        assert result.report is not None
        assert result.input is not None
        assert result.report.to_dict()["metrics"] == single["metrics"]
        document = json.loads(json.dumps(result.input, default=str))
        for key in ("reconstruction", "truth", "placement", "input_notes"):
            assert document[key] == single[key]
    cdtools_input = by_name["cdtools"].input
    assert cdtools_input is not None
    assert cdtools_input["reconstruction"]["format"] == "cdtools"
    assert cdtools_input["placement"]["method"] == "positions"
    assert cdtools_input["truth"]["path"] == str(fixture_path("default"))
    assert by_name["native"].input["placement"]["method"] == "same grid"
    # Placed exactly: the same numbers as the array that was written, on the scan mask.
    data = load_fixture("default")
    written = evaluate(_noisy(data.obj, 1), data.obj, mask=scan_mask(data))
    assert _bits(by_name["cdtools"].report.metrics) == _bits(written.metrics)


def test_local_processes_are_bit_identical_to_serial(serial, files):
    calls = []
    parallel = evaluate_many(
        _pairs(files), max_workers=2, progress=lambda done, total, r: calls.append((done, total))
    )
    assert parallel.route == "processes"
    _same(parallel, serial)
    assert sorted(calls) == [(i, len(NAMES)) for i in range(1, len(NAMES) + 1)]


def test_dask_local_cluster_is_bit_identical_to_serial(serial, files):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = evaluate_many(_pairs(files), scheduler=client)
        by_address = evaluate_many(_pairs(files)[:1], scheduler=cluster.scheduler_address)
    assert on_dask.route == "dask"
    _same(on_dask, serial)
    assert by_address.results[0].report is not None
    assert _bits(by_address.results[0].report.metrics) == _bits(serial.results[0].report.metrics)


def test_a_given_mask_narrows_the_truths_scan_mask(files):
    data = load_fixture("default")
    scan = scan_mask(data)
    given = np.ones(scan.shape, bool)
    given[:40] = False
    many = evaluate_many(
        {
            "narrowed": (files["native"], "default", given),
            "wrong_mask": (files["native"], "default", given[:10]),
            "loaded": (files["native"], data, given),  # the truth as PtychoData
        },
        route="serial",
    )
    prepared = read_pair(files["native"], data)
    expected = evaluate(prepared.object, data.obj, mask=scan & given).metrics
    narrowed = many.results[0]
    assert narrowed.report is not None
    assert narrowed.input is not None
    assert _bits(narrowed.report.metrics) == _bits(expected)
    assert narrowed.input["placement"]["n_masked"] == int((scan & given).sum())
    dropped = int((given & ~scan).sum())
    assert dropped > 0
    assert narrowed.input["input_notes"][-2:] == [
        "mask narrowed by the given array",
        f"{dropped} pixels of the given mask lie outside the truth's scan mask or the "
        "reconstruction's array: not compared",
    ]
    assert many.results[1].error == (
        "QualityInputError: pair 'wrong_mask': mask must be a boolean array of the truth's "
        "shape (128, 128), got bool (10, 128)"
    )
    assert many.results[2].report is not None
    assert _bits(many.results[2].report.metrics) == _bits(expected)


def test_an_npz_of_object_alone_is_read_as_ptycho_metrics_when_told(tmp_path):
    """What --many used to read (keys object[, mask]) needs format='ptycho-metrics' now."""
    data = load_fixture("default")
    recon = data.obj * np.exp(0.3j)
    np.savez(tmp_path / "rec.npz", object=recon, mask=np.ones(recon.shape, bool))
    many = evaluate_many(
        [
            Pair("auto", tmp_path / "rec.npz", "default"),
            Pair("told", tmp_path / "rec.npz", "default", read={"format": "ptycho-metrics"}),
            Pair("gone", tmp_path / "x.npz", "default"),
        ],
        route="serial",
    )
    assert many.results[0].error == (
        f"ReaderError: {tmp_path / 'rec.npz'}: a plain array records no pixel "
        "size; pass pixel_size=(width, height) in metres (command line: --pixel-size W[,H]) or, "
        "if it is a ptycho-metrics reconstruction on the truth's own grid, "
        "format='ptycho-metrics' (command line: --format ptycho-metrics)"
    )
    told = many.results[1]
    assert told.report is not None
    assert told.input is not None
    assert _bits(told.report.metrics) == _bits(
        evaluate(recon, data.obj, mask=scan_mask(data)).metrics
    )
    assert told.input["input_notes"][0] == (
        f"{tmp_path / 'rec.npz'} records no data sha256: not checked against the truth's"
    )
    assert many.results[2].error == f"ReaderError: {tmp_path / 'x.npz'}: no such file"


def test_json_and_csv_tables(tmp_path, serial):
    data = json.loads(serial.to_json())
    assert data["n_pairs"] == len(NAMES)
    assert data["n_failed"] == OK.count(False)
    assert data["pairs"][3]["report"] is None
    assert list(data["pairs"][0]["report"]["metrics"]) == list(EVALUATE_METRICS)
    assert list(data["pairs"][0]) == ["name", "ok", "error", "seconds", "report", "input"]
    assert data["pairs"][4]["input"]["reconstruction"]["format"] == "cdtools"
    path = tmp_path / "t.csv"
    serial.write_csv(path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
        assert rows
        assert list(rows[0]) == ["name", "ok", "error", "seconds", *EVALUATE_METRICS]
    assert [r["name"] for r in rows] == NAMES
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
        (
            {"read": {"colour": "red"}},
            "read must hold options of ptycho_metrics.io.read_pair() (format, layer, mode, key, "
            "pixel_size, resample, pixel_tolerance, allow_other_data), got colour",
        ),
        ({"read": {"format": "hdf5"}}, "read['format'] must be one of 'auto', 'ptycho-metrics'"),
        ({"read": ["format"]}, "read must be a mapping of read_pair() options or None, got list"),
    ],
)
def test_bad_arguments(kwargs, message):
    truth = _truth(96, 1)
    with pytest.raises(QualityInputError, match=re.escape(message)):
        evaluate_many([Pair("a", truth, truth)], **kwargs)


def test_bad_pairs_of_files():
    truth = _truth(96, 1)
    with pytest.raises(
        QualityInputError,
        match=re.escape(
            "pair 'f': a reconstruction file needs its truth as a fixture name or a scan .npz "
            "(its positions, pixel size and scan mask place the file), got an array"
        ),
    ):
        evaluate_many([Pair("f", "rec.h5", truth)])
    with pytest.raises(
        QualityInputError,
        match=re.escape(
            "pair 'a': read options apply to a reconstruction file, and recon is an array"
        ),
    ):
        evaluate_many([Pair("a", truth, truth, read={"layer": 0})])
    with pytest.raises(
        QualityInputError, match=re.escape("pair 'f': read['format'] must be one of 'auto'")
    ):
        evaluate_many([Pair("f", "rec.h5", "default", read={"format": "h5"})])


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


def test_one_truth_is_loaded_once_per_process_until_its_file_changes(tmp_path, monkeypatch):
    import ptycho_metrics.data as data_module
    from ptycho_metrics._many import _scan_of

    _scan_of.cache_clear()
    loads = []
    real = data_module.load_scan
    monkeypatch.setattr(data_module, "load_scan", lambda spec: loads.append(spec) or real(spec))
    data = load_fixture("default")
    scan = tmp_path / "scan.npz"
    scan.write_bytes(fixture_path("default").read_bytes())
    for k in range(3):
        write_native(tmp_path / f"r{k}.npz", data.obj * (1 + 0.1 * k), data.sha256)
    pairs = [Pair(f"r{k}", tmp_path / f"r{k}.npz", scan) for k in range(3)]
    first = evaluate_many(pairs, route="serial")
    assert [r.ok for r in first.results] == [True, True, True]
    assert loads == [str(scan)]
    # Replaced by another scan (other size): read again, and the hash check sees it.
    scan.write_bytes(fixture_path("phase_wrap").read_bytes())
    again = evaluate_many(pairs[:1], route="serial")
    assert loads == [str(scan), str(scan)]
    assert again.results[0].error is not None
    assert again.results[0].error.startswith("OtherDataError: ")
    _scan_of.cache_clear()
