"""Whether this process runs in CI, and the names of the installed commands hints point to.

One rule, used by the plugin and the review command alike: the environment
variable ``CI`` means CI unless it is unset, empty, ``0`` or ``false`` (any
case, surrounding spaces ignored). CI services set ``CI=true``; a developer
who exports ``CI=false`` or ``CI=0`` locally is not in CI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["NOT_CI_VALUES", "REVIEW_COMMAND", "in_ci"]

#: Values of ``CI`` (lower-cased, stripped) that do not mean CI.
NOT_CI_VALUES: frozenset[str] = frozenset({"", "0", "false"})

#: The installed review command every hint names (``ptycho-metrics goldens --help``).
REVIEW_COMMAND = "ptycho-metrics goldens"


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CI`` is set to anything but empty, ``0`` or ``false`` (case-insensitive).

    Parameters
    ----------
    environ : Mapping[str, str], optional
        The environment to read; :data:`os.environ` by default.

    Examples
    --------
    >>> in_ci({"CI": "true"}), in_ci({"CI": "False"}), in_ci({"CI": ""}), in_ci({})
    (True, False, False, False)
    """
    value = (os.environ if environ is None else environ).get("CI")
    return value is not None and value.strip().lower() not in NOT_CI_VALUES
