"""Ptychography data files: the ``.npz`` loader and the embedded fixtures.

Files follow PtychoPINN's ``.npz`` data contract (see ``docs/fixtures.md``):

============== ============ ========== =============================================
key            shape        dtype      meaning
============== ============ ========== =============================================
diffraction    (n, N, N)    float32    measured amplitude sqrt(counts), DC centred
probeGuess     (N, N)       complex64  probe
objectGuess    (M, M)       complex64  ground-truth object
xcoords        (n,)         float64    integer-valued patch centre x (object pixels)
ycoords        (n,)         float64    integer-valued patch centre y (object pixels)
scan_index     (n,)         int64      optional; zeros when absent
counts         (n, N, N)    int        optional; the integer counts
probe_initial  (N, N)       complex    optional; a starting probe (not the truth)
energy_eV ...  ()           float64    optional geometry scalars (all or none), see
                                       :mod:`ptycho_metrics.geometry`
xcoords_m ...  (n,)         float64    optional; centres times pixel_size_m
============== ============ ========== =============================================

The NumPy forward model lives in :mod:`ptycho_metrics.forward`; its
functions are re-exported here.
Legacy files that store the diffraction under ``diff3d`` are accepted.
Every problem with a file raises :class:`DataError` (a
:class:`~ptycho_metrics.QualityInputError`) with one line naming the file, the
key, the expectation and what was found -- never a traceback from inside
NumPy's zip reader.

The embedded fixtures live in the package ``ptycho_metrics._fixture_data``
(the repository's ``fixtures/`` folder). Set the environment variable
``PTYCHO_METRICS_FIXTURES_DIR`` to read them from another folder, e.g. one
written by ``python tools/make_fixtures.py --output-dir DIR``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_path, describe
from ._errors import DataError, FixtureIntegrityError
from .forward import check_scan, extract_patches, simulate_intensity
from .geometry import NPZ_KEYS as GEOMETRY_KEYS
from .geometry import Geometry, GeometryError

__all__ = [
    "FIXTURES_DIR_ENV",
    "DataError",
    "FixtureIntegrityError",
    "PtychoData",
    "extract_patches",
    "fixture_manifest_entry",
    "fixture_path",
    "fixtures_dir",
    "list_fixtures",
    "load_fixture",
    "load_ptycho_npz",
    "load_scan",
    "sha256_file",
    "simulate_intensity",
]

#: Environment variable that points the fixture functions at another folder.
FIXTURES_DIR_ENV = "PTYCHO_METRICS_FIXTURES_DIR"
_FIXTURE_PACKAGE = "ptycho_metrics._fixture_data"
_MANIFEST = "manifest.json"
_REGENERATE = "python tools/make_fixtures.py --output-dir {dir} --force"


@dataclass(frozen=True)
class PtychoData:
    """The arrays of one ptychography ``.npz`` file, validated and in contract dtypes.

    Attributes
    ----------
    diffraction : ndarray, shape (n, N, N), float32
        Measured amplitudes ``sqrt(counts)``, DC at ``(N//2, N//2)``.
    probe : ndarray, shape (N, N), complex64
    obj : ndarray, shape (M, M), complex64
        Ground-truth object (``objectGuess``).
    xcoords, ycoords : ndarray, shape (n,), float64
        Integer-valued patch centres in object pixels.
    scan_index : ndarray, shape (n,), int64
    path : Path
        The file the arrays came from.
    sha256 : str
        Hex digest of the file's bytes.
    geometry : Geometry or None
        Physical geometry (wavelength, distance, detector and object pixel
        sizes, energy, dose) when the file stores it (all fixtures do).
    counts : ndarray, shape (n, N, N), int32, or None
        The measured integer counts, when the file stores them (key ``counts``).
    probe_initial : ndarray, shape (N, N), complex64, or None
        A starting probe for probe-retrieving codes (key ``probe_initial``),
        distinct from the true probe ``probe``.
    """

    diffraction: np.ndarray
    probe: np.ndarray
    obj: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    scan_index: np.ndarray
    path: Path
    sha256: str
    geometry: Geometry | None = None
    counts: np.ndarray | None = None
    probe_initial: np.ndarray | None = None

    @property
    def n_patterns(self) -> int:
        """Number of scan positions ``n``."""
        return int(self.diffraction.shape[0])

    @property
    def probe_size(self) -> int:
        """Side ``N`` of the probe and of each diffraction pattern."""
        return int(self.probe.shape[0])

    @property
    def positions_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Patch centres in metres ``(x_m, y_m)``: ``xcoords * pixel_size_m`` (same sign, origin).

        Raises
        ------
        DataError
            If the file carries no geometry.
        """
        if self.geometry is None:
            msg = (
                f"{self.path}: the file stores no geometry (keys {', '.join(GEOMETRY_KEYS)}), "
                "so positions in metres are undefined"
            )
            raise DataError(msg)
        return self.geometry.positions_m(self.xcoords, self.ycoords)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 digest of a file's bytes (read in 1 MiB chunks)."""
    file = check_path(path, "path")
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- loader

_REQUIRED = ("probeGuess", "objectGuess", "xcoords", "ycoords")


def _read_key(path: Path, loaded: Any, key: str) -> np.ndarray:
    """One array of an open archive; an object (pickled) array is refused by its key."""
    try:
        return loaded[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        msg = (
            f"{path}: key '{key}' holds a Python object array (it needs pickle, which is "
            f"never loaded); save it as a numeric array"
        )
        raise DataError(msg) from exc


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` archive, turning reader failures into DataError."""
    if not path.exists():
        msg = f"{path}: no such file"
        raise DataError(msg)
    if not path.is_file():
        msg = f"{path}: is not a regular file"
        raise DataError(msg)
    try:
        # Our own handle: np.load(path) leaks its file when the zip reader fails.
        with open(path, "rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            arrays = None
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    arrays = {key: _read_key(path, loaded, key) for key in loaded.files}
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        msg = (
            f"{path}: not a readable .npz archive (truncated, corrupted or another "
            f"format): {type(exc).__name__}: {exc}"
        )
        raise DataError(msg) from exc
    if arrays is None:
        msg = f"{path}: holds a single .npy array, expected an .npz archive of named arrays"
        raise DataError(msg)
    return arrays


#: Contract dtype per kind, and the numpy dtype kinds converted to it without loss of meaning.
_DTYPES: dict[str, tuple[str, type[np.generic]]] = {
    "complex": ("iufc", np.complex64),
    "float32": ("iuf", np.float32),
    "float64": ("iuf", np.float64),
    "int": ("iu", np.int64),
}


def _typed(path: Path, key: str, arr: np.ndarray, kind: str, ndim: int) -> np.ndarray:
    """Check ndim and dtype kind, then convert to the contract dtype."""
    if arr.ndim != ndim:
        msg = f"{path}: key '{key}' must be {ndim}-D, got shape {arr.shape}"
        raise DataError(msg)
    accepted, target = _DTYPES[kind]
    if arr.dtype.kind not in accepted:
        msg = f"{path}: key '{key}' must have a {kind}-compatible dtype, got {arr.dtype}"
        raise DataError(msg)
    if arr.size == 0:
        msg = f"{path}: key '{key}' must be non-empty, got shape {arr.shape}"
        raise DataError(msg)
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        msg = (
            f"{path}: key '{key}' must be finite, got {bad} NaN/Inf values (first at index {first})"
        )
        raise DataError(msg)
    return arr.astype(target, copy=False)


def _validate(path: Path, raw: dict[str, np.ndarray], sha: str) -> PtychoData:
    diff_key = "diff3d" if "diffraction" not in raw and "diff3d" in raw else "diffraction"
    missing = [k for k in (diff_key, *_REQUIRED) if k not in raw]
    if missing:
        names = ", ".join(f"'{k}'" for k in missing)
        msg = (
            f"{path}: missing key(s) {names}; expected diffraction (or legacy diff3d), "
            f"probeGuess, objectGuess, xcoords, ycoords; found {sorted(raw)}"
        )
        raise DataError(msg)
    diffraction = _typed(path, diff_key, raw[diff_key], "float32", 3)
    probe = _typed(path, "probeGuess", raw["probeGuess"], "complex", 2)
    obj = _typed(path, "objectGuess", raw["objectGuess"], "complex", 2)
    xcoords = _typed(path, "xcoords", raw["xcoords"], "float64", 1)
    ycoords = _typed(path, "ycoords", raw["ycoords"], "float64", 1)
    n, rows, cols = diffraction.shape
    if rows != cols or rows % 2:
        msg = f"{path}: key '{diff_key}' must hold square patterns of even side, got {rows}x{cols}"
        raise DataError(msg)
    if probe.shape != (rows, cols):
        msg = (
            f"{path}: key 'probeGuess' must match the diffraction pattern size "
            f"({rows}, {cols}), got {probe.shape}"
        )
        raise DataError(msg)
    if diffraction.min() < 0:
        msg = (
            f"{path}: key '{diff_key}' holds amplitudes sqrt(counts) and must be >= 0, "
            f"got min {float(diffraction.min()):g}"
        )
        raise DataError(msg)
    for key, coords in (("xcoords", xcoords), ("ycoords", ycoords)):
        if coords.shape != (n,):
            msg = (
                f"{path}: key '{key}' must have one entry per diffraction pattern, "
                f"shape ({n},), got {coords.shape}"
            )
            raise DataError(msg)
    check_scan(str(path), obj.shape, rows, xcoords, ycoords)
    if "scan_index" in raw:
        scan_index = _typed(path, "scan_index", raw["scan_index"], "int", 1)
        if scan_index.shape != (n,):
            msg = f"{path}: key 'scan_index' must have shape ({n},), got {scan_index.shape}"
            raise DataError(msg)
    else:
        scan_index = np.zeros(n, dtype=np.int64)
    try:
        geometry = Geometry.from_npz_arrays(raw, n_pixels=rows, where=str(path))
    except GeometryError as exc:
        raise DataError(str(exc)) from exc
    if geometry is not None:
        _check_positions_m(path, raw, geometry, xcoords, ycoords)
    counts = None
    if "counts" in raw:
        counts = _typed(path, "counts", raw["counts"], "int", 3)
        if counts.shape != diffraction.shape:
            msg = (
                f"{path}: key 'counts' must have the diffraction's shape {diffraction.shape}, "
                f"got {counts.shape}"
            )
            raise DataError(msg)
        if counts.min() < 0:
            msg = f"{path}: key 'counts' must be >= 0, got min {int(counts.min())}"
            raise DataError(msg)
        counts = counts.astype(np.int32)
    probe_initial = None
    if "probe_initial" in raw:
        probe_initial = _typed(path, "probe_initial", raw["probe_initial"], "complex", 2)
        if probe_initial.shape != probe.shape:
            msg = (
                f"{path}: key 'probe_initial' must have the probe's shape {probe.shape}, "
                f"got {probe_initial.shape}"
            )
            raise DataError(msg)
    return PtychoData(
        diffraction,
        probe,
        obj,
        xcoords,
        ycoords,
        scan_index,
        path,
        sha,
        geometry=geometry,
        counts=counts,
        probe_initial=probe_initial,
    )


def _check_positions_m(
    path: Path,
    raw: dict[str, np.ndarray],
    geometry: Geometry,
    xcoords: np.ndarray,
    ycoords: np.ndarray,
) -> None:
    """Stored ``xcoords_m``/``ycoords_m`` (optional) must equal the pixel centres times dx."""
    x_m, y_m = geometry.positions_m(xcoords, ycoords)
    for key, expected in (("xcoords_m", x_m), ("ycoords_m", y_m)):
        if key not in raw:
            continue
        stored = _typed(path, key, raw[key], "float64", 1)
        if stored.shape != expected.shape or not np.allclose(
            stored, expected, rtol=1e-9, atol=1e-6 * geometry.pixel_size_m
        ):
            msg = (
                f"{path}: key '{key}' must equal the pixel centres times pixel_size_m "
                f"({geometry.pixel_size_m:g} m) with the same sign and origin"
            )
            raise DataError(msg)


def load_ptycho_npz(path: str | os.PathLike[str]) -> PtychoData:
    """Load and validate a PtychoPINN-style ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.

    Returns
    -------
    PtychoData
        Arrays converted to the contract dtypes (float32 diffraction, complex64
        probe and object, float64 coordinates, int64 scan index).

    Raises
    ------
    DataError
        Missing, truncated or non-npz file; missing keys; wrong ndim, dtype or
        shape; probe size differing from the pattern size; coordinate count
        differing from the pattern count; non-integer coordinates; a patch
        outside the object; NaN/Inf anywhere; negative amplitudes.

    Examples
    --------
    >>> data = load_ptycho_npz(fixture_path("default"))
    >>> data.diffraction.shape, data.probe.dtype
    ((169, 32, 32), dtype('complex64'))
    """
    file = check_path(path, "path")
    raw = _read_npz(file)
    return _validate(file, raw, sha256_file(file))


# ------------------------------------------------------------------------- fixtures


def fixtures_dir() -> Path:
    """Folder holding the fixtures and ``manifest.json``.

    ``$PTYCHO_METRICS_FIXTURES_DIR`` when set, else the installed package
    ``ptycho_metrics._fixture_data`` (the repository's ``fixtures/``).
    """
    override = os.environ.get(FIXTURES_DIR_ENV)
    if override:
        return Path(override)
    root = files(_FIXTURE_PACKAGE)
    if not isinstance(root, Path):
        msg = (
            f"the fixtures of {_FIXTURE_PACKAGE} are not on the file system ({root!r}); "
            f"set {FIXTURES_DIR_ENV} to a folder holding them"
        )
        raise DataError(msg)
    return root


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / _MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read the fixture manifest ({exc.strerror or exc})"
        raise DataError(msg) from exc
    try:
        entries = json.loads(text)["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        msg = f"{path}: not a fixture manifest (expected JSON with a 'files' table): {exc}"
        raise DataError(msg) from exc
    return entries


def fixture_manifest_entry(name: str) -> dict[str, Any]:
    """The manifest entry of fixture ``name``: hashes, sizes, geometry, generation parameters.

    Raises
    ------
    DataError
        If ``name`` is not in the manifest or its file is missing.
    """
    path = fixture_path(name)
    entry: dict[str, Any] = _manifest(path.parent)[path.name]
    return entry


def list_fixtures() -> list[str]:
    """Names of the fixtures recorded in ``manifest.json`` (e.g. ``["default", "phase_wrap"]``)."""
    return [name.removesuffix(".npz") for name in _manifest(fixtures_dir())]


def _fixture_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        msg = f"name must be a fixture name (a non-empty str, e.g. 'default'), got {describe(name)}"
        raise DataError(msg)
    return name


def fixture_path(name: str = "default") -> Path:
    """Path of fixture ``name`` (with or without ``.npz``); it must be in the manifest.

    Raises
    ------
    DataError
        If ``name`` is not in the manifest or the file is missing.
    """
    name = _fixture_name(name)
    folder = fixtures_dir()
    file_name = name if name.endswith(".npz") else f"{name}.npz"
    entries = _manifest(folder)
    if file_name not in entries:
        known = ", ".join(repr(n.removesuffix(".npz")) for n in entries)
        msg = (
            f"unknown fixture {name!r}; the manifest in {folder} lists {known}: name must be "
            f"one of them, got {name!r}"
        )
        raise DataError(msg)
    path = folder / file_name
    if not path.is_file():
        msg = (
            f"{path}: fixture file is missing; regenerate it with "
            f"`{_REGENERATE.format(dir=folder)}`"
        )
        raise DataError(msg)
    return path


def load_fixture(name: str = "default") -> PtychoData:
    """Load fixture ``name`` after checking its sha256 against ``manifest.json``.

    Raises
    ------
    FixtureIntegrityError
        If the file's sha256 differs from the manifest's; the message names the
        file, both hashes and how to regenerate it.
    DataError
        If the fixture is unknown, missing or unreadable.

    Examples
    --------
    >>> data = load_fixture("phase_wrap")
    >>> data.obj.shape
    (128, 128)
    """
    path = fixture_path(name)
    expected = _manifest(path.parent)[path.name]["sha256"]
    actual = sha256_file(path)
    if actual != expected:
        msg = (
            f"{path}: sha256 {actual} does not match the manifest's {expected} "
            f"({path.parent / _MANIFEST}); the file was modified or corrupted -- restore it "
            f"from version control or regenerate it with "
            f"`{_REGENERATE.format(dir=path.parent)}`"
        )
        raise FixtureIntegrityError(msg)
    return _validate(path, _read_npz(path), actual)


def load_scan(spec: str | os.PathLike[str] | None) -> PtychoData:
    """A fixture by name (``"default"`` when None) or a scan ``.npz`` file by path.

    A name is taken as a fixture's only when no file of that name exists, so a
    file called ``default`` next to the caller is read as a file.

    Raises
    ------
    DataError
        No such file nor fixture, a file unreadable or breaking the data
        contract, or a damaged fixture (:class:`FixtureIntegrityError`).
    """
    if spec is None:
        return load_fixture("default")
    text = os.fspath(spec)
    if not Path(text).exists():
        names = list_fixtures()
        if text in names:
            return load_fixture(text)
        if not Path(text).suffix:  # meant as a fixture name, most likely: list them
            msg = f"{text}: no such file, nor a fixture name (fixtures: {', '.join(names)})"
            raise DataError(msg)
    return load_ptycho_npz(text)
