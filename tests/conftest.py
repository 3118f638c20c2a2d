"""Hypothesis profiles: bounded runs that take seconds.

``ci`` (selected when the environment variable CI is set, as in ``.ci/run``)
is derandomised, so a CI run is reproducible and never flakes on a new
random example, and keeps no example database in the clone. ``dev`` (the
default) explores new examples each run with the same bound. Select one
explicitly with ``pytest --hypothesis-profile=NAME``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "max_examples": 20,
    "deadline": None,  # the machine is shared and loaded: time per example varies 10x
    "suppress_health_check": [HealthCheck.too_slow],
}
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", **_COMMON)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
