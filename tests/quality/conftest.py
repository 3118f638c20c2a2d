"""Session-scoped runs of the reference pipeline for the quality gate (see pipeline_runs.py).

Each configuration trains once per session. The runs the selected tests will
ask for are known after collection (:func:`planned_runs`), so they are started
ahead, in the background, as many at once as there are CPUs (each run trains
with one thread, the pipeline's default, so its result does not depend on what
runs beside it: the determinism test compares two runs made side by side).
A test then waits only for the run it needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from .pipeline_runs import CURVE_OPTIONS, PipelineRun, StartedRun, start_pipeline

RunKey = tuple[str, tuple[str, ...]]

#: How often a waiting test looks whether another run has finished (and a CPU came free).
_POLL_S = 0.2


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def planned_runs(items: Sequence[pytest.Item]) -> list[RunKey]:
    """The runs the selected tests will ask for, first asked first.

    A test that uses ``pipeline`` needs its ``fixture`` parameter's run with
    the gate's command (``default`` when it has no such parameter); one that
    uses ``curve_run`` needs the learning-curve run. Only a plan: a run no
    test planned still trains when a test asks for it.
    """
    keys: list[RunKey] = []
    for item in items:
        names = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        wanted = []
        if "curve_run" in names:
            wanted.append(("default", CURVE_OPTIONS))
        if "pipeline" in names:
            wanted.append((str(params.get("fixture", "default")), ()))
        keys.extend(k for k in wanted if k not in keys)
    return keys


class PipelineRuns:
    """The session's runs: started ahead in the background, each measured once."""

    def __init__(
        self, tmp_path_factory: pytest.TempPathFactory, plan: list[RunKey], jobs: int
    ) -> None:
        self._tmp = tmp_path_factory
        self._queue = list(plan)
        self._jobs = max(1, jobs)
        self._started: dict[RunKey, StartedRun] = {}
        self._done: dict[RunKey, PipelineRun] = {}
        self._fill()

    def _start(self, key: RunKey) -> None:
        fixture, options = key
        tag = "curve" if options else "main"
        out = self._tmp.mktemp(f"{fixture}-{tag}")
        self._started[key] = start_pipeline(fixture, out / "run", options=options)

    def _fill(self) -> None:
        """Start queued runs while fewer than ``jobs`` are training."""
        while self._queue and sum(not r.done() for r in self._started.values()) < self._jobs:
            self._start(self._queue.pop(0))

    def get(self, fixture: str, options: tuple[str, ...] = ()) -> PipelineRun:
        """The measured run of ``fixture`` with ``options``, waiting for it if needed."""
        key = (fixture, tuple(options))
        if key in self._done:
            return self._done[key]
        if key not in self._started:
            if key in self._queue:
                self._queue.remove(key)
            self._start(key)
        started = self._started[key]
        while not started.done():  # keep the CPUs busy while this one trains
            self._fill()
            time.sleep(_POLL_S)
        self._done[key] = started.result()
        self._fill()
        return self._done[key]

    def stop(self) -> None:
        """End runs still training (a session ended early by -x or a failure)."""
        for run in self._started.values():
            if not run.done():
                run.process.kill()
                run.process.wait()


@pytest.fixture(scope="session")
def _pipeline_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineRuns]:
    # Loaded in this process so the golden's fingerprint records torch's CPU
    # capability, which decides the pipeline's float rounding.
    import torch  # noqa: F401

    runs = PipelineRuns(tmp_path_factory, planned_runs(request.session.items), _cpus())
    yield runs
    runs.stop()


@pytest.fixture(scope="session")
def pipeline(_pipeline_runs: PipelineRuns) -> Callable[[str], PipelineRun]:
    """``pipeline(fixture)``: the cached :class:`PipelineRun` of the gate's command (defaults)."""

    def get(fixture: str) -> PipelineRun:
        return _pipeline_runs.get(fixture)

    return get


@pytest.fixture(scope="session")
def curve_run(_pipeline_runs: PipelineRuns) -> PipelineRun:
    """The default fixture's run with ``--log-quality-every 1`` (pipeline_runs.CURVE_OPTIONS)."""
    return _pipeline_runs.get("default", CURVE_OPTIONS)
