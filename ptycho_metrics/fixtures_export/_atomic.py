"""Write a file so that it is either complete or absent, never partial."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .._errors import DataError

__all__ = ["write_bytes_atomic"]


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    An interrupted write (exception, KeyboardInterrupt, full disk) leaves only
    the previous state: the temporary file is removed and ``path`` is either
    untouched or complete. ``os.replace`` is atomic on one file system, hence
    the temporary file beside the target.

    Parameters
    ----------
    path : str or path-like
        Target file; its folder must exist.
    data : bytes
        The complete content.
    overwrite : bool
        Replace an existing ``path``; when False an existing file is an error.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    DataError
        If ``path`` exists and ``overwrite`` is False, is a folder, or its
        folder does not exist.
    """
    target = Path(path)
    if target.is_dir():
        msg = f"{target}: is a folder; give a file name for the output"
        raise DataError(msg)
    if target.exists() and not overwrite:
        msg = f"{target}: already exists; pass --overwrite (overwrite=True) to replace it"
        raise DataError(msg)
    if not target.parent.is_dir():
        msg = f"{target}: the folder {target.parent} does not exist"
        raise DataError(msg)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return target
