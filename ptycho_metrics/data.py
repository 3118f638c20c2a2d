"""Ptychography data files: loader, embedded fixtures and the NumPy reference forward model.

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
============== ============ ========== =============================================

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
import numpy.typing as npt

from ._checks import QualityInputError, check_int, check_path, describe

__all__ = [
    "FIXTURES_DIR_ENV",
    "DataError",
    "FixtureIntegrityError",
    "PtychoData",
    "extract_patches",
    "fixture_path",
    "fixtures_dir",
    "list_fixtures",
    "load_fixture",
    "load_ptycho_npz",
    "sha256_file",
    "simulate_intensity",
]

#: Environment variable that points the fixture functions at another folder.
FIXTURES_DIR_ENV = "PTYCHO_METRICS_FIXTURES_DIR"
_FIXTURE_PACKAGE = "ptycho_metrics._fixture_data"
_MANIFEST = "manifest.json"
_REGENERATE = "python tools/make_fixtures.py --output-dir {dir} --force"


class DataError(QualityInputError):
    """A data file (or array) does not follow the data contract.

    The message names the file, the key, the expectation and what was found.
    """


class FixtureIntegrityError(DataError):
    """A fixture file's sha256 differs from the one recorded in ``manifest.json``."""


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
    """

    diffraction: np.ndarray
    probe: np.ndarray
    obj: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    scan_index: np.ndarray
    path: Path
    sha256: str

    @property
    def n_patterns(self) -> int:
        """Number of scan positions ``n``."""
        return int(self.diffraction.shape[0])

    @property
    def probe_size(self) -> int:
        """Side ``N`` of the probe and of each diffraction pattern."""
        return int(self.probe.shape[0])


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 digest of a file's bytes (read in 1 MiB chunks)."""
    file = check_path(path, "path")
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------- forward model


def _numeric(where: str, name: str, value: Any) -> np.ndarray:
    """``value`` as a numeric array, or a DataError naming ``where`` and ``name``."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        msg = f"{where}: {name} must be a numeric array, got {describe(value)}: {exc}"
        raise DataError(msg) from exc
    if arr.dtype.kind not in "biufc":
        msg = f"{where}: {name} must be a numeric array, got dtype {arr.dtype}"
        raise DataError(msg)
    return arr


def _coordinates(where: str, name: str, value: Any) -> np.ndarray:
    arr = _numeric(where, name, value)
    if arr.dtype.kind == "c":
        msg = f"{where}: {name} must be real, got dtype {arr.dtype}"
        raise DataError(msg)
    return arr.astype(np.float64)


def _data_int(where: str, name: str, value: Any, want: str) -> int:
    try:
        return check_int(value, name, expected=want)
    except QualityInputError as exc:
        msg = f"{where}: {exc}"
        raise DataError(msg) from None


def _check_scan(
    where: str, obj_shape: tuple[int, ...], n: int, xcoords: np.ndarray, ycoords: np.ndarray
) -> None:
    """Raise unless every ``n x n`` patch centred on the scan lies inside the object."""
    if xcoords.shape != ycoords.shape or xcoords.ndim != 1:
        msg = (
            f"{where}: xcoords and ycoords must be 1-D of equal length, "
            f"got shapes {xcoords.shape} and {ycoords.shape}"
        )
        raise DataError(msg)
    for key, coords in (("xcoords", xcoords), ("ycoords", ycoords)):
        if not np.all(np.isfinite(coords)) or np.any(coords != np.round(coords)):
            msg = (
                f"{where}: {key} must hold finite integer-valued patch centres "
                f"(whole-pixel patches), got e.g. {coords[~(coords == np.round(coords))][:3]}"
            )
            raise DataError(msg)
    half = n // 2
    rows, cols = obj_shape
    outside = (xcoords - half < 0) | (xcoords + half > cols) | (ycoords - half < 0)
    outside |= ycoords + half > rows
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        msg = (
            f"{where}: patch {k} at centre (x={xcoords[k]:g}, y={ycoords[k]:g}) reaches outside "
            f"the {rows}x{cols} object; centres must lie in [{half}, {cols - half}] (x) and "
            f"[{half}, {rows - half}] (y) for {n}x{n} patches "
            f"({int(outside.sum())} of {outside.size} positions outside)"
        )
        raise DataError(msg)


def extract_patches(
    obj: npt.ArrayLike, xcoords: npt.ArrayLike, ycoords: npt.ArrayLike, n: int
) -> np.ndarray:
    """Cut the ``n x n`` object patch illuminated at every scan position.

    Parameters
    ----------
    obj : array_like, shape (M, M)
        Object (any dtype; the result keeps it).
    xcoords, ycoords : array_like, shape (k,)
        Integer-valued patch centres in object pixels.
    n : int
        Even patch side (the probe size ``N``).

    Returns
    -------
    ndarray, shape (k, n, n)
        ``out[j] = obj[y - n//2 : y + n//2, x - n//2 : x + n//2]`` with
        ``x = xcoords[j]``, ``y = ycoords[j]`` (a copy).

    Raises
    ------
    DataError
        If ``obj`` is not 2-D, ``n`` is not a positive even integer, the
        coordinates are not integer-valued or a patch leaves the object.
    """
    arr = _numeric("extract_patches", "obj", obj)
    if arr.ndim != 2:
        msg = f"extract_patches: obj must be 2-D, got shape {arr.shape}"
        raise DataError(msg)
    want = "a positive even integer"
    side = _data_int("extract_patches", "n", n, want)
    if side <= 0 or side % 2:
        msg = f"extract_patches: n must be {want}, got {n!r}"
        raise DataError(msg)
    xs = _coordinates("extract_patches", "xcoords", xcoords)
    ys = _coordinates("extract_patches", "ycoords", ycoords)
    n = side
    _check_scan("extract_patches", arr.shape, int(n), xs, ys)
    half = int(n) // 2
    out = np.empty((xs.size, int(n), int(n)), dtype=arr.dtype)
    for j, (x, y) in enumerate(zip(xs.astype(np.int64), ys.astype(np.int64), strict=True)):
        out[j] = arr[y - half : y + half, x - half : x + half]
    return out


def simulate_intensity(
    probe: npt.ArrayLike, obj: npt.ArrayLike, xcoords: npt.ArrayLike, ycoords: npt.ArrayLike
) -> np.ndarray:
    r"""Noise-free expected diffraction counts at every scan position (NumPy reference).

    Parameters
    ----------
    probe : array_like, shape (N, N)
        Complex probe, scaled in sqrt(photons): ``sum |probe|^2`` is the dose
        (expected counts per pattern) for a unit-amplitude object.
    obj : array_like, shape (M, M)
        Complex object.
    xcoords, ycoords : array_like, shape (n,)
        Integer-valued patch centres (see :func:`extract_patches`).

    Returns
    -------
    ndarray, shape (n, N, N), float64
        Expected counts, DC at index ``(N//2, N//2)``.

    Raises
    ------
    DataError
        If the probe is not square 2-D or a patch leaves the object.

    Notes
    -----
    Computed in complex128 with NumPy's unitary ("ortho") FFT:

    .. math:: I_k = \left| \mathrm{fftshift}\left(\mathcal{F}_{\mathrm{ortho}}
              [P \cdot O_k]\right) \right|^2 ,

    so by Parseval :math:`\sum I_k = \sum |P \cdot O_k|^2`, which equals the
    dose :math:`\sum |P|^2` when :math:`|O_k| = 1`. The fixtures draw
    ``counts ~ Poisson(I_k)`` and store ``sqrt(counts)``.

    Examples
    --------
    >>> probe = np.ones((4, 4), complex)
    >>> obj = np.ones((8, 8), complex)
    >>> float(simulate_intensity(probe, obj, [4.0], [4.0]).sum())
    16.0
    """
    p = _numeric("simulate_intensity", "probe", probe).astype(np.complex128)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        msg = f"simulate_intensity: probe must be a square 2-D array, got shape {p.shape}"
        raise DataError(msg)
    o = _numeric("simulate_intensity", "obj", obj).astype(np.complex128)
    for name, arr in (("probe", p), ("obj", o)):
        if not np.all(np.isfinite(arr)):
            msg = f"simulate_intensity: {name} must be finite, got NaN or Inf values"
            raise DataError(msg)
    patches = extract_patches(o, xcoords, ycoords, p.shape[0])
    far_field = np.fft.fftshift(np.fft.fft2(p * patches, norm="ortho"), axes=(-2, -1))
    return far_field.real**2 + far_field.imag**2


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
    _check_scan(str(path), obj.shape, rows, xcoords, ycoords)
    if "scan_index" in raw:
        scan_index = _typed(path, "scan_index", raw["scan_index"], "int", 1)
        if scan_index.shape != (n,):
            msg = f"{path}: key 'scan_index' must have shape ({n},), got {scan_index.shape}"
            raise DataError(msg)
    else:
        scan_index = np.zeros(n, dtype=np.int64)
    return PtychoData(diffraction, probe, obj, xcoords, ycoords, scan_index, path, sha)


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
