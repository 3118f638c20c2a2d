"""Regenerate the ground-truth fixtures bit-identically.

Usage::

    python tools/make_fixtures.py --output-dir fixtures            # write (refuses to overwrite)
    python tools/make_fixtures.py --output-dir fixtures --force    # overwrite differing files
    python tools/make_fixtures.py --output-dir fixtures --check    # verify, write nothing

Every object is built from the parametric description in :data:`FIXTURES`
(stored verbatim in ``manifest.json``), the probe from its spec, and the
diffraction with :func:`ptycho_metrics.forward.simulate_intensity` plus Poisson
noise from ``numpy.random.default_rng(seed)``. Only elementwise NumPy and
``numpy.fft`` are used, so the result does not depend on BLAS or thread count.
The ``.npz`` files are written as uncompressed zip archives with a fixed
timestamp, the ``.cxi`` files with h5py in memory without modification times
(:mod:`ptycho_metrics.fixtures_export`), so the bytes (and hashes) are
reproducible. Each fixture ``NAME`` gives ``NAME.npz`` and ``NAME.cxi``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

# The generator must run from a plain checkout too (``python tools/make_fixtures.py``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ptycho_metrics.fixtures_export.cxi import cxi_bytes
from ptycho_metrics.fixtures_export.npz import npz_bytes, ptychopinn_arrays
from ptycho_metrics.forward import simulate_intensity
from ptycho_metrics.geometry import Geometry

FORMAT_VERSION = 2
OBJECT_SIZE = 128
PROBE_SIZE = 32
SCAN_STEP = 8
DOSE = 1.0e6
FFT_CONVENTION = (
    'I = |fftshift(fft2(probe * patch, norm="ortho"), axes=(-2, -1))|**2; '
    "DC at index (N//2, N//2); diffraction = sqrt(Poisson counts)"
)
PATCH_CONVENTION = (
    "patch k = obj[y - N//2 : y + N//2, x - N//2 : x + N//2], "
    "x = xcoords[k], y = ycoords[k] (integer-valued centres, object pixels); "
    "raster order: y outer, x inner"
)
POSITION_CONVENTION = (
    "x_m = xcoords * pixel_size_m, y_m = ycoords * pixel_size_m: probe position in the object "
    "frame, +x = increasing column, +y = increasing row, origin at the centre of object pixel "
    "(0, 0). CXI /entry_1/sample_1/geometry_1/translation = sample translation = (x_m, y_m, 0) "
    "with the CXI default detector basis (rows -> -y, columns -> -x); the probe translation is "
    "its negation."
)
#: Geometry: every value a power of two, so the far-field pixel size
#: dx = wavelength * distance / (N * det_pixel) and every position (integer * dx) are exact in
#: float32 -- the codes that keep geometry in float32 (cdtools) recover the same pixel grid.
WAVELENGTH_M = 2.0**-33  # 0.1164 nm, 10.65 keV
DISTANCE_M = 1.0
DET_PIXEL_M = 2.0**-14  # 61.04 um
PROBE: dict[str, Any] = {
    "kind": "soft_disc_with_defocus",
    "size_px": PROBE_SIZE,
    "centre_px": [PROBE_SIZE // 2, PROBE_SIZE // 2],
    "radius_px": 9.0,
    "edge_width_px": 1.5,
    "quadratic_phase_at_radius_rad": 3.0,
    "normalisation": "sum |probe|^2 = dose (expected counts per pattern for a unit object)",
}

# Feature weights: ``w_amp`` and ``w_phase`` multiply the feature's shape in
# the raw amplitude and raw phase maps; each raw map is then mapped linearly
# onto its stated range. Centres are (x, y) in object pixels.
_DEFAULT_OBJECT: dict[str, Any] = {
    "size_px": OBJECT_SIZE,
    "amplitude_range": [0.3, 1.0],
    "phase_range_rad": [-1.4, 1.4],
    "features": [
        {"kind": "cosine", "kx": 1, "ky": 0, "offset_rad": 0.4, "w_amp": 0.25, "w_phase": 0.0},
        {"kind": "cosine", "kx": 1, "ky": 2, "offset_rad": 1.3, "w_amp": 0.1, "w_phase": 0.35},
        {"kind": "cosine", "kx": -2, "ky": 1, "offset_rad": 2.2, "w_amp": 0.0, "w_phase": 0.25},
        {
            "kind": "siemens_star",
            "centre": [38, 38],
            "radius": 26.0,
            "inner_radius": 6.0,
            "spokes": 12,
            "edge_width": 1.0,
            "w_amp": -0.55,
            "w_phase": 0.35,
        },
        {
            "kind": "disc",
            "centre": [84, 24],
            "radius": 3.0,
            "edge_width": 0.7,
            "w_amp": 0.35,
            "w_phase": 0.6,
        },
        {
            "kind": "disc",
            "centre": [104, 26],
            "radius": 6.0,
            "edge_width": 0.7,
            "w_amp": -0.35,
            "w_phase": 0.5,
        },
        {
            "kind": "disc",
            "centre": [88, 50],
            "radius": 10.0,
            "edge_width": 1.0,
            "w_amp": 0.3,
            "w_phase": -0.6,
        },
        {
            "kind": "disc",
            "centre": [110, 52],
            "radius": 4.5,
            "edge_width": 0.7,
            "w_amp": 0.0,
            "w_phase": -0.8,
        },
        {
            "kind": "grating",
            "centre": [28, 84],
            "size": [18, 18],
            "period": 3.0,
            "angle_deg": 0.0,
            "edge_width": 1.0,
            "w_amp": 0.3,
            "w_phase": 0.0,
        },
        {
            "kind": "grating",
            "centre": [50, 84],
            "size": [18, 18],
            "period": 4.5,
            "angle_deg": 90.0,
            "edge_width": 1.0,
            "w_amp": 0.0,
            "w_phase": 0.6,
        },
        {
            "kind": "grating",
            "centre": [28, 106],
            "size": [18, 18],
            "period": 6.0,
            "angle_deg": 45.0,
            "edge_width": 1.0,
            "w_amp": 0.3,
            "w_phase": 0.3,
        },
        {
            "kind": "grating",
            "centre": [50, 106],
            "size": [18, 18],
            "period": 9.0,
            "angle_deg": 135.0,
            "edge_width": 1.0,
            "w_amp": -0.3,
            "w_phase": 0.4,
        },
        {
            "kind": "disc",
            "centre": [92, 94],
            "radius": 18.0,
            "edge_width": 1.5,
            "w_amp": 0.0,
            "w_phase": 0.9,
        },
        {"kind": "gaussian", "centre": [100, 100], "sigma": 7.0, "w_amp": -0.4, "w_phase": 0.0},
        {"kind": "texture", "seed": 101, "sigma_px": 4.0, "w_amp": 0.06, "w_phase": 0.1},
        {"kind": "texture", "seed": 102, "sigma_px": 1.2, "w_amp": 0.04, "w_phase": 0.05},
    ],
}

_PHASE_WRAP_OBJECT: dict[str, Any] = {
    "size_px": OBJECT_SIZE,
    "amplitude_range": [0.3, 1.0],
    "phase_range_rad": [-10.5, 10.5],
    "features": [
        {"kind": "gaussian", "centre": [66, 60], "sigma": 30.0, "w_amp": 0.0, "w_phase": 1.0},
        {"kind": "ramp", "gx": 0.002, "gy": -0.001, "w_amp": 0.0, "w_phase": 1.0},
        {"kind": "cosine", "kx": 1, "ky": 1, "offset_rad": 0.7, "w_amp": 0.2, "w_phase": 0.03},
        {
            "kind": "siemens_star",
            "centre": [92, 90],
            "radius": 24.0,
            "inner_radius": 6.0,
            "spokes": 10,
            "edge_width": 1.0,
            "w_amp": -0.5,
            "w_phase": 0.04,
        },
        {
            "kind": "disc",
            "centre": [30, 30],
            "radius": 12.0,
            "edge_width": 1.0,
            "w_amp": 0.3,
            "w_phase": -0.05,
        },
        {
            "kind": "disc",
            "centre": [62, 26],
            "radius": 5.0,
            "edge_width": 0.7,
            "w_amp": -0.3,
            "w_phase": 0.05,
        },
        {
            "kind": "disc",
            "centre": [98, 32],
            "radius": 8.0,
            "edge_width": 0.8,
            "w_amp": 0.25,
            "w_phase": 0.06,
        },
        {
            "kind": "disc",
            "centre": [36, 66],
            "radius": 3.5,
            "edge_width": 0.7,
            "w_amp": -0.3,
            "w_phase": -0.06,
        },
        {
            "kind": "grating",
            "centre": [36, 100],
            "size": [26, 20],
            "period": 5.0,
            "angle_deg": 30.0,
            "edge_width": 1.0,
            "w_amp": 0.3,
            "w_phase": 0.04,
        },
        {"kind": "texture", "seed": 201, "sigma_px": 3.0, "w_amp": 0.06, "w_phase": 0.01},
        {"kind": "texture", "seed": 202, "sigma_px": 1.2, "w_amp": 0.04, "w_phase": 0.004},
    ],
}

PROBE_64: dict[str, Any] = {
    "kind": "soft_disc_with_defocus",
    "size_px": 64,
    "centre_px": [32, 32],
    "radius_px": 18.0,
    "edge_width_px": 3.0,
    # Stronger defocus than the N = 32 probe: spreads the far field, so the normalised
    # amplitudes meet PtychoPINN's max/mean < 100 rule (38 here; 141 at 3 rad).
    "quadratic_phase_at_radius_rad": 6.0,
    "normalisation": "sum |probe|^2 = dose (expected counts per pattern for a unit object)",
}

#: The starting probe of ``probe_retrieval``: what a user knows before a reconstruction
#: (a disc of about the right size, no phase), scaled to the data's mean counts.
PROBE_INITIAL: dict[str, Any] = {
    "kind": "soft_disc_with_defocus",
    "size_px": PROBE_SIZE,
    "centre_px": [PROBE_SIZE // 2, PROBE_SIZE // 2],
    "radius_px": 11.0,
    "edge_width_px": 2.5,
    "quadratic_phase_at_radius_rad": 0.0,
    "normalisation": "sum |probe|^2 = mean total counts per pattern of the stored counts",
}


def _raster(n: int, size: int, step: int) -> dict[str, Any]:
    return {
        "kind": "raster",
        "step_px": step,
        "first_centre_px": n // 2,
        "last_centre_px": size - n // 2,
    }


def _scaled_object(spec: dict[str, Any], factor: int) -> dict[str, Any]:
    """The same feature layout on a ``factor`` times larger canvas (fine periods kept)."""
    out = copy.deepcopy(spec)
    out["size_px"] = spec["size_px"] * factor
    for feature in out["features"]:
        if "centre" in feature:
            feature["centre"] = [c * factor for c in feature["centre"]]
        for key in ("radius", "sigma"):
            if key in feature:
                feature[key] = feature[key] * factor
        if "size" in feature:
            feature["size"] = [v * factor for v in feature["size"]]
    return out


_PINN64_OBJECT = _scaled_object(_DEFAULT_OBJECT, 2)

#: One entry per fixture: the complete generation parameters. ``layout`` is
#: "ptycho_metrics" (sqrt(counts) amplitudes, probe in sqrt(counts)) or "ptychopinn"
#: (PtychoPINN's normalised layout, ptycho_metrics.fixtures_export.npz).
FIXTURES: dict[str, dict[str, Any]] = {
    "default.npz": {
        "seed": 20261129,
        "dose": DOSE,
        "object": _DEFAULT_OBJECT,
        "probe": PROBE,
        "scan": _raster(PROBE_SIZE, OBJECT_SIZE, SCAN_STEP),
        "layout": "ptycho_metrics",
        "description": "smooth phase (-1.4..1.4 rad), Siemens star, gratings; perfect raster",
        "pipelines": ["ptycho-metrics reference pipeline", "cdtools (probe known)", "ptychodus"],
    },
    "phase_wrap.npz": {
        "seed": 20261130,
        "dose": DOSE,
        "object": _PHASE_WRAP_OBJECT,
        "probe": PROBE,
        "scan": _raster(PROBE_SIZE, OBJECT_SIZE, SCAN_STEP),
        "layout": "ptycho_metrics",
        "description": "phase spanning 3.3 turns of 2 pi (unwrapping); perfect raster",
        "pipelines": ["ptycho-metrics reference pipeline", "cdtools (probe known)", "ptychodus"],
    },
    "probe_retrieval.npz": {
        "seed": 20261201,
        "dose": DOSE,
        "object": _DEFAULT_OBJECT,
        "probe": PROBE,
        "probe_initial": PROBE_INITIAL,
        "scan": {
            **_raster(PROBE_SIZE, OBJECT_SIZE, SCAN_STEP),
            "kind": "jittered_raster",
            "jitter_px": 3,
            "jitter_seed": 20261202,
            "jitter": "integer offsets numpy.random.default_rng(jitter_seed).integers("
            "-jitter_px, jitter_px + 1, size=(2, n)) added to (x, y), then clipped to "
            "[first_centre_px, last_centre_px]",
        },
        "layout": "ptycho_metrics",
        "description": "default object, jittered raster (no raster pathology), separate "
        "starting probe probe_initial",
        "pipelines": [
            "cdtools (probe retrieval)",
            "PtyPy",
            "ptychodus",
            "any probe-retrieving code",
        ],
    },
    "pinn64.npz": {
        "seed": 20261203,
        "dose": DOSE,
        "object": _PINN64_OBJECT,
        "probe": PROBE_64,
        "scan": _raster(64, 2 * OBJECT_SIZE, 16),
        "layout": "ptychopinn",
        "description": "N = 64, 256 x 256 object, PtychoPINN's normalised npz layout with Y",
        "pipelines": ["PtychoPINN (TF and torch, supervised or not)", "cdtools", "ptychodus"],
    },
}


def _soft_step(d: np.ndarray, width: float) -> np.ndarray:
    """1 inside (d < 0), 0 outside, with a tanh edge so features are not aliased."""
    return 0.5 * (1.0 - np.tanh(d / width))


def _feature(spec: dict[str, Any], xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    kind = spec["kind"]
    size = xx.shape[0]
    if kind == "cosine":
        arg = 2.0 * np.pi * (spec["kx"] * xx + spec["ky"] * yy) / size + spec["offset_rad"]
        return np.cos(arg)
    if kind == "ramp":
        return spec["gx"] * (xx - size / 2) + spec["gy"] * (yy - size / 2)
    if kind == "texture":
        return _texture(size, spec["seed"], spec["sigma_px"])
    dx = xx - spec["centre"][0]
    dy = yy - spec["centre"][1]
    r = np.hypot(dx, dy)
    if kind == "disc":
        return _soft_step(r - spec["radius"], spec["edge_width"])
    if kind == "gaussian":
        return np.exp(-(r**2) / (2.0 * spec["sigma"] ** 2))
    if kind == "siemens_star":
        # Spokes fade out inside inner_radius, where their period would drop below ~3 px.
        spokes = np.cos(spec["spokes"] * np.arctan2(dy, dx))
        outer = _soft_step(r - spec["radius"], spec["edge_width"])
        inner = 1.0 - _soft_step(r - spec["inner_radius"], spec["edge_width"])
        return 0.5 + 0.5 * spokes * outer * inner - 0.5 * (1.0 - outer)
    if kind == "grating":
        theta = np.deg2rad(spec["angle_deg"])
        u = dx * np.cos(theta) + dy * np.sin(theta)
        half_w, half_h = spec["size"][0] / 2, spec["size"][1] / 2
        window = _soft_step(np.abs(dx) - half_w, spec["edge_width"]) * _soft_step(
            np.abs(dy) - half_h, spec["edge_width"]
        )
        return window * np.cos(2.0 * np.pi * u / spec["period"])
    msg = f"unknown feature kind {kind!r}"
    raise ValueError(msg)


def _texture(size: int, seed: int, sigma_px: float) -> np.ndarray:
    """Gaussian-correlated random field (periodic), zero mean, unit standard deviation."""
    white = np.random.default_rng(seed).standard_normal((size, size))
    f = np.fft.fftfreq(size)
    f2 = f[:, None] ** 2 + f[None, :] ** 2
    field = np.fft.ifft2(np.fft.fft2(white) * np.exp(-2.0 * np.pi**2 * sigma_px**2 * f2)).real
    return (field - field.mean()) / field.std()


def _rescale(raw: np.ndarray, bounds: list[float]) -> np.ndarray:
    lo, hi = bounds
    return lo + (hi - lo) * (raw - raw.min()) / (raw.max() - raw.min())


def build_object(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Return (amplitude, unwrapped phase) float64 maps of the described object."""
    size = spec["size_px"]
    yy, xx = np.indices((size, size), dtype=np.float64)
    raw_amp = np.zeros((size, size))
    raw_phase = np.zeros((size, size))
    for feature in spec["features"]:
        shape = _feature(feature, xx, yy)
        raw_amp += feature["w_amp"] * shape
        raw_phase += feature["w_phase"] * shape
    return _rescale(raw_amp, spec["amplitude_range"]), _rescale(raw_phase, spec["phase_range_rad"])


def build_probe(spec: dict[str, Any], dose: float) -> np.ndarray:
    """Soft-edged disc with a quadratic (defocus) phase, scaled to ``sum |p|^2 = dose``."""
    size = spec["size_px"]
    yy, xx = np.indices((size, size), dtype=np.float64)
    r = np.hypot(xx - spec["centre_px"][0], yy - spec["centre_px"][1])
    amp = _soft_step(r - spec["radius_px"], spec["edge_width_px"])
    phase = spec["quadratic_phase_at_radius_rad"] * (r / spec["radius_px"]) ** 2
    probe = amp * np.exp(1j * phase)
    return probe * np.sqrt(dose / np.sum(np.abs(probe) ** 2))


def scan_positions(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Patch centres (x, y) of a raster (y outer, x inner), jittered by integers if asked."""
    centres = np.arange(spec["first_centre_px"], spec["last_centre_px"] + 1, spec["step_px"])
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    xs, ys = xs.ravel().astype(np.float64), ys.ravel().astype(np.float64)
    if spec["kind"] == "jittered_raster":
        # Integer jitter keeps whole-pixel patches, so the NumPy forward model stays exact
        # (no interpolation) and the loader's integer-centre contract holds.
        jitter = spec["jitter_px"]
        rng = np.random.default_rng(spec["jitter_seed"])
        dx, dy = rng.integers(-jitter, jitter + 1, size=(2, xs.size))
        lo, hi = spec["first_centre_px"], spec["last_centre_px"]
        xs = np.clip(xs + dx, lo, hi).astype(np.float64)
        ys = np.clip(ys + dy, lo, hi).astype(np.float64)
    return xs, ys


def geometry_for(n: int, dose: float) -> Geometry:
    """The fixtures' geometry for patterns of side ``n``."""
    return Geometry(
        wavelength_m=WAVELENGTH_M,
        distance_m=DISTANCE_M,
        det_pixel_m=DET_PIXEL_M,
        n_pixels=n,
        dose=dose,
    )


def make_arrays(
    params: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """Arrays of one fixture file (in file order), CXI inputs, and summary statistics."""
    amplitude, phase = build_object(params["object"])
    obj = (amplitude * np.exp(1j * phase)).astype(np.complex64)
    probe = build_probe(params["probe"], params["dose"]).astype(np.complex64)
    xcoords, ycoords = scan_positions(params["scan"])
    # Simulate from the stored (complex64) arrays so the files are self-consistent.
    expected = simulate_intensity(probe, obj, xcoords, ycoords)
    counts = np.random.default_rng(params["seed"]).poisson(expected)
    n = probe.shape[0]
    geometry = geometry_for(n, params["dose"])
    x_m, y_m = geometry.positions_m(xcoords, ycoords)
    if params["layout"] == "ptychopinn":
        arrays = ptychopinn_arrays(
            counts=counts,
            probe=probe,
            obj=obj,
            xcoords=xcoords,
            ycoords=ycoords,
            geometry=geometry,
        )
    else:
        # The original six keys first, in their original order: their bytes are unchanged.
        arrays = {
            "diffraction": np.sqrt(counts).astype(np.float32),
            "probeGuess": probe,
            "objectGuess": obj,
            "xcoords": xcoords,
            "ycoords": ycoords,
            "scan_index": np.zeros(xcoords.size, dtype=np.int64),
            "counts": counts.astype(np.int32),
            **geometry.npz_arrays(),
            "xcoords_m": x_m,
            "ycoords_m": y_m,
        }
        if "probe_initial" in params:
            mean_counts = float(counts.sum(axis=(1, 2)).mean())
            initial = build_probe(params["probe_initial"], mean_counts).astype(np.complex64)
            arrays["probe_initial"] = initial
    cxi_inputs = {
        "counts": counts,
        "probe": probe,
        "obj": obj,
        "xcoords": xcoords,
        "ycoords": ycoords,
        "geometry": geometry,
    }
    grad_y, grad_x = np.gradient(phase)
    stats = {
        "amplitude_min": _stat(amplitude.min()),
        "amplitude_max": _stat(amplitude.max()),
        "phase_min_rad": _stat(phase.min()),
        "phase_max_rad": _stat(phase.max()),
        "phase_span_over_2pi": _stat((phase.max() - phase.min()) / (2 * np.pi)),
        "max_phase_gradient_rad_per_px": _stat(np.hypot(grad_x, grad_y).max()),
        "mean_counts_per_pattern": _stat(counts.sum(axis=(1, 2)).mean()),
        "max_counts_per_pixel": int(counts.max()),
    }
    return arrays, cxi_inputs, stats


#: Significant digits of the manifest's descriptive statistics of the float64
#: maps. NumPy dispatches its transcendental functions per CPU (AVX2, AVX-512):
#: the float64 phase differs in its last bits between the two (measured: the
#: largest phase gradient of `default` 0.6993659113263107 on an AVX-512 CPU,
#: ...109 with NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL"), while the stored
#: complex64/float32/integer arrays came out byte-identical. Rounded, the
#: manifest is the same on both.
STAT_DIGITS = 12


def _stat(value: float) -> float:
    return float(f"{float(value):.{STAT_DIGITS}g}")


def generate() -> dict[str, bytes]:
    """Bytes of every fixture file (``.npz``, ``.cxi``) and of ``manifest.json``, by file name."""
    outputs: dict[str, bytes] = {}
    files: dict[str, Any] = {}
    for name, params in FIXTURES.items():
        arrays, cxi_inputs, stats = make_arrays(params)
        data = npz_bytes(arrays)
        outputs[name] = data
        stem = name.removesuffix(".npz")
        cxi_name = f"{stem}.cxi"
        cxi = cxi_bytes(name=stem, **cxi_inputs)
        outputs[cxi_name] = cxi
        scan = {**params["scan"], "n_positions": int(arrays["xcoords"].size)}
        parameters: dict[str, Any] = {
            "seed": params["seed"],
            "dose": params["dose"],
            "dose_definition": "expected total counts per pattern for a unit-amplitude object",
            "probe": params["probe"],
            "scan": scan,
            "patch_convention": PATCH_CONVENTION,
            "fft_convention": FFT_CONVENTION,
            "noise": "numpy.random.default_rng(seed).poisson(expected counts)",
            "numpy_version": np.__version__,
            "object": params["object"],
        }
        if "probe_initial" in params:
            parameters["probe_initial"] = params["probe_initial"]
        files[name] = {
            "sha256": _sha256(data),
            "size_bytes": len(data),
            "arrays": {
                k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()
            },
            "layout": params["layout"],
            "description": params["description"],
            "pipelines": params["pipelines"],
            "geometry": cxi_inputs["geometry"].to_dict(),
            "position_convention": POSITION_CONVENTION,
            "cxi": {
                "file": cxi_name,
                "sha256": _sha256(cxi),
                "size_bytes": len(cxi),
                "h5py_version": h5py.__version__,
                "hdf5_version": h5py.version.hdf5_version,
            },
            "parameters": parameters,
            "stats": stats,
        }
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "python tools/make_fixtures.py --output-dir fixtures",
        "files": files,
    }
    outputs["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return outputs


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(outputs: dict[str, bytes], out_dir: Path, *, force: bool) -> int:
    """Write ``outputs`` into ``out_dir``; refuse to replace differing files unless ``force``."""
    clashes = [
        name
        for name, data in outputs.items()
        if (out_dir / name).exists() and (out_dir / name).read_bytes() != data
    ]
    if clashes and not force:
        for name in clashes:
            old = _sha256((out_dir / name).read_bytes())
            print(
                f"refusing to overwrite {out_dir / name}: existing sha256 {old}, "
                f"new {_sha256(outputs[name])}",
                file=sys.stderr,
            )
        print("nothing written; pass --force to replace these files", file=sys.stderr)
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        path = out_dir / name
        if path.exists() and name not in clashes:
            status = "unchanged"
        else:
            status = "replaced" if name in clashes else "wrote"
            path.write_bytes(data)
        print(f"{status:9s} {path}  {len(data):>9d} bytes  sha256 {_sha256(data)}")
    total = sum(len(d) for d in outputs.values())
    print(f"total {total} bytes ({total / 2**20:.2f} MiB)")
    return 0


def check(outputs: dict[str, bytes], out_dir: Path) -> int:
    """Compare regenerated files and the files in ``out_dir`` with its manifest."""
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.is_file():
        print(f"no manifest at {manifest_path}", file=sys.stderr)
        return 1
    recorded = json.loads(manifest_path.read_text())["files"]
    problems = []
    hashed = [(name, entry["sha256"]) for name, entry in recorded.items()]
    hashed += [(e["cxi"]["file"], e["cxi"]["sha256"]) for e in recorded.values() if "cxi" in e]
    for name, sha in hashed:
        fresh = _sha256(outputs[name]) if name in outputs else "(not generated)"
        on_disk = out_dir / name
        stored = _sha256(on_disk.read_bytes()) if on_disk.is_file() else "(missing)"
        ok = fresh == sha == stored
        print(
            f"{'ok' if ok else 'MISMATCH':8s} {name}\n  manifest    {sha}\n"
            f"  regenerated {fresh}\n  on disk     {stored}"
        )
        if not ok:
            problems.append(name)
    fresh_manifest = json.loads(outputs["manifest.json"])["files"]
    if _without_versions(fresh_manifest) != _without_versions(recorded):
        print(
            "MISMATCH manifest.json: recorded parameters differ from the generator's",
            file=sys.stderr,
        )
        problems.append("manifest.json")
    if problems:
        print(f"check failed for: {', '.join(problems)}", file=sys.stderr)
        return 1
    print("all fixtures match the manifest")
    return 0


def _without_versions(files: dict[str, Any]) -> dict[str, Any]:
    """Manifest entries minus the numpy version (a new numpy may still give equal bytes)."""
    out = copy.deepcopy(files)
    for entry in out.values():
        entry["parameters"].pop("numpy_version", None)
        for key in ("h5py_version", "hdf5_version", "sha256", "size_bytes"):
            entry.get("cxi", {}).pop(key, None)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        required=True,
        help="directory for the .npz and .cxi fixtures and manifest.json",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory and compare with DIR/manifest.json; write nothing",
    )
    parser.add_argument("--force", action="store_true", help="replace existing files that differ")
    args = parser.parse_args(argv)
    outputs = generate()
    if args.check:
        return check(outputs, args.output_dir)
    return write(outputs, args.output_dir, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
