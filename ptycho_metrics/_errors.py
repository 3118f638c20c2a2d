"""Error types for data files, shared by the loader, the forward model and the exporters."""

from __future__ import annotations

from ._checks import QualityInputError

__all__ = ["DataError", "FixtureIntegrityError"]


class DataError(QualityInputError):
    """A data file (or array) does not follow the data contract.

    The message names the file, the key, the expectation and what was found.
    """


class FixtureIntegrityError(DataError):
    """A fixture file's sha256 differs from the one recorded in ``manifest.json``."""
