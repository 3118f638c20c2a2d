"""Unit conversions the readers share (CODATA 2018 exact constants)."""

from __future__ import annotations

import math

__all__ = ["HC_EV_M", "energy_ev_from_wavelength", "merge_pixel_size"]

#: h * c in eV * m (exact since the 2019 SI redefinition).
HC_EV_M = 6.62607015e-34 * 299792458.0 / 1.602176634e-19

#: Relative agreement required between a pixel size a file records and one the caller gives.
PIXEL_SIZE_AGREEMENT = 1e-6


def energy_ev_from_wavelength(wavelength_m: float) -> float | None:
    """Photon energy in eV of a wavelength in metres; None for a non-positive wavelength."""
    return HC_EV_M / wavelength_m if math.isfinite(wavelength_m) and wavelength_m > 0 else None


def merge_pixel_size(
    recorded: tuple[float, float] | None, given: tuple[float, float] | None, where: str
) -> tuple[float, float] | None:
    """The file's pixel size; the caller's must agree with it when both exist."""
    from ._record import ReaderError

    if recorded is None or given is None:
        return recorded if recorded is not None else given
    for r, g in zip(recorded, given, strict=True):
        if abs(r - g) > PIXEL_SIZE_AGREEMENT * abs(r):
            msg = (
                f"{where}: the file records pixel_size (width, height) = {recorded} m, but "
                f"pixel_size={given} was given; omit it, or use the right file"
            )
            raise ReaderError(msg)
    return recorded
