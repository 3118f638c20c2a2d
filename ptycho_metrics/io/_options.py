"""What the caller asked of a reader: layer or mode, pixel size, which array."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReadOptions"]


@dataclass(frozen=True)
class ReadOptions:
    """Options of :func:`ptycho_metrics.io.read_reconstruction`, checked, as one value.

    Attributes
    ----------
    layer : int or None
        Slice of a layered (multi-slice) object.
    mode : int or None
        Mode of a multi-mode object.
    pixel_size : tuple of float or None
        ``(width, height)`` in metres given by the caller; it overrides nothing
        a file records (a mismatch is an error).
    key : str or None
        Which of several objects a file holds (an npz key, a PtyPy storage ID).
    """

    layer: int | None = None
    mode: int | None = None
    pixel_size: tuple[float, float] | None = None
    key: str | None = None
