"""Physical geometry of a far-field ptychography data set (SI units throughout).

One record, :class:`Geometry`, holds the photon energy, wavelength, detector
distance, detector pixel pitch, pattern size and the object pixel size they
imply by far-field sampling,

.. math:: \\Delta x = \\frac{\\lambda z}{N p},

plus the dose. It is stored in every fixture (``.npz`` scalar keys, the
manifest and the CXI file) and read back into :attr:`PtychoData.geometry
<ptycho_metrics.data.PtychoData.geometry>`.

Position convention (object frame, shared by every fixture file):
``x_m = xcoords * pixel_size_m`` and ``y_m = ycoords * pixel_size_m``, where
``xcoords`` counts object columns (axis 1) and ``ycoords`` object rows (axis 0)
from the centre of pixel (0, 0). ``+x`` is increasing column index, ``+y``
increasing row index. A CXI file stores the *sample* translation; see
``docs/fixtures.md`` for how that maps onto cdtools' and ptychodus' frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._checks import QualityInputError

__all__ = [
    "ELECTRON_VOLT_J",
    "HC_J_M",
    "NPZ_KEYS",
    "Geometry",
    "GeometryError",
]

#: Planck constant times the speed of light, J m (both exact in SI since 2019).
HC_J_M = 6.62607015e-34 * 299792458.0
#: One electron volt in joules (exact).
ELECTRON_VOLT_J = 1.602176634e-19

#: Scalar ``.npz`` keys that carry a :class:`Geometry` (float64 0-d arrays, except n_pixels).
NPZ_KEYS = (
    "energy_eV",
    "energy_J",
    "wavelength_m",
    "distance_m",
    "det_pixel_m",
    "pixel_size_m",
    "dose",
)


class GeometryError(QualityInputError):
    """A geometry is incomplete or inconsistent (names the field, expectation and value)."""


@dataclass(frozen=True)
class Geometry:
    """Far-field ptychography geometry, SI units.

    Attributes
    ----------
    wavelength_m : float
        Photon wavelength (m).
    distance_m : float
        Sample-to-detector distance (m).
    det_pixel_m : float
        Detector pixel pitch (m), square pixels.
    n_pixels : int
        Side ``N`` of the (square) diffraction patterns.
    dose : float
        Expected total counts per pattern for a unit-amplitude object
        (``sum |probe|^2`` with the probe in sqrt(counts)).

    Notes
    -----
    Derived properties: :attr:`energy_J` ``= h c / wavelength``,
    :attr:`energy_eV`, and :attr:`pixel_size_m` ``= wavelength * distance /
    (N * det_pixel)``, the object (real-space) pixel size.

    Examples
    --------
    >>> g = Geometry(wavelength_m=2.0**-33, distance_m=1.0, det_pixel_m=2.0**-14,
    ...              n_pixels=32, dose=1e6)
    >>> g.pixel_size_m == 2.0**-24
    True
    >>> round(g.energy_eV, 1)
    10650.2
    """

    wavelength_m: float
    distance_m: float
    det_pixel_m: float
    n_pixels: int
    dose: float

    def __post_init__(self) -> None:
        for name in ("wavelength_m", "distance_m", "det_pixel_m", "dose"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                msg = f"Geometry: {name} must be a positive finite number, got {value!r}"
                raise GeometryError(msg)
        if int(self.n_pixels) != self.n_pixels or self.n_pixels <= 0:
            msg = f"Geometry: n_pixels must be a positive integer, got {self.n_pixels!r}"
            raise GeometryError(msg)

    @property
    def energy_J(self) -> float:
        """Photon energy in joules, ``h c / wavelength``."""
        return HC_J_M / self.wavelength_m

    @property
    def energy_eV(self) -> float:
        """Photon energy in electron volts."""
        return self.energy_J / ELECTRON_VOLT_J

    @property
    def pixel_size_m(self) -> float:
        """Object pixel size by far-field sampling, ``wavelength * distance / (N * det_pixel)``."""
        return self.wavelength_m * self.distance_m / (self.n_pixels * self.det_pixel_m)

    def positions_m(
        self, xcoords: npt.ArrayLike, ycoords: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """Patch centres in metres: ``(xcoords * pixel_size_m, ycoords * pixel_size_m)``.

        Parameters
        ----------
        xcoords, ycoords : array_like
            Patch centres in object pixels (column, row), from the centre of pixel (0, 0).

        Returns
        -------
        (ndarray, ndarray)
            float64 positions in metres, same sign and origin.
        """
        dx = self.pixel_size_m
        return np.asarray(xcoords, np.float64) * dx, np.asarray(ycoords, np.float64) * dx

    def to_dict(self) -> dict[str, Any]:
        """Every field and derived value, JSON-ready (the manifest's ``geometry`` block)."""
        return {
            "energy_eV": self.energy_eV,
            "energy_J": self.energy_J,
            "wavelength_m": self.wavelength_m,
            "distance_m": self.distance_m,
            "det_pixel_m": self.det_pixel_m,
            "n_pixels": int(self.n_pixels),
            "pixel_size_m": self.pixel_size_m,
            "dose": self.dose,
        }

    def npz_arrays(self) -> dict[str, np.ndarray]:
        """The scalar ``.npz`` keys of :data:`NPZ_KEYS` as float64 0-d arrays."""
        values = self.to_dict()
        return {key: np.asarray(values[key], dtype=np.float64) for key in NPZ_KEYS}

    @classmethod
    def from_npz_arrays(
        cls, arrays: Mapping[str, np.ndarray], *, n_pixels: int, where: str = "geometry"
    ) -> Geometry | None:
        """Read a geometry back from ``.npz`` scalar keys; None when the file has none.

        Raises
        ------
        GeometryError
            If only some of the keys are present, a value is not a finite
            positive scalar, or the stored derived values (``pixel_size_m``,
            ``energy_J``, ``energy_eV``) disagree with the primary ones.
        """
        present = [k for k in NPZ_KEYS if k in arrays]
        if not present:
            return None
        missing = [k for k in NPZ_KEYS if k not in arrays]
        if missing:
            msg = (
                f"{where}: geometry keys are incomplete, missing {', '.join(missing)} "
                f"(found {', '.join(present)}); store all of {', '.join(NPZ_KEYS)} or none"
            )
            raise GeometryError(msg)
        values: dict[str, float] = {}
        for key in NPZ_KEYS:
            arr = np.asarray(arrays[key])
            if arr.shape != () or arr.dtype.kind not in "iuf":
                msg = (
                    f"{where}: key '{key}' must be a real scalar, got shape {arr.shape} {arr.dtype}"
                )
                raise GeometryError(msg)
            values[key] = float(arr)
        geometry = cls(
            wavelength_m=values["wavelength_m"],
            distance_m=values["distance_m"],
            det_pixel_m=values["det_pixel_m"],
            n_pixels=n_pixels,
            dose=values["dose"],
        )
        derived = geometry.to_dict()
        for key in ("pixel_size_m", "energy_J", "energy_eV"):
            if not math.isclose(values[key], derived[key], rel_tol=1e-9):
                msg = (
                    f"{where}: key '{key}' = {values[key]!r} disagrees with the value "
                    f"{derived[key]!r} implied by wavelength_m, distance_m, det_pixel_m and N"
                )
                raise GeometryError(msg)
        return geometry
