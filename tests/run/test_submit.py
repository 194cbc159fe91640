"""Bounded submission (pipeline.run.submit.submit_bounded) against a real Dask cluster."""

from __future__ import annotations

import time

from distributed import Client

from pipeline.run.submit import _StopFlag, submit_bounded


def test_submission_is_bounded(cluster):
    with Client(cluster.scheduler_address) as client:
        outstanding, peak = [], [0]

        def make_future(task):
            outstanding[:] = [f for f in outstanding if not f.done()]
            future = client.submit(time.sleep, 0.02, pure=False)
            outstanding.append(future)
            peak[0] = max(peak[0], len(outstanding))
            return future

        seen = []
        tasks = list(range(60))
        stopped = submit_bounded(
            tasks, make_future, 3, lambda task, result, error: seen.append(task), _StopFlag()
        )
    assert not stopped and sorted(seen) == tasks
    assert peak[0] <= 3


def test_waiting_is_called_while_no_task_finishes(cluster):
    """The progress heartbeat: ``waiting()`` runs every poll while a long task runs."""
    with Client(cluster.scheduler_address) as client:
        calls, seen = [], []
        stopped = submit_bounded(
            [0],
            lambda task: client.submit(time.sleep, 2.0, pure=False),
            1,
            lambda task, result, error: seen.append((task, error)),
            _StopFlag(),
            waiting=lambda: calls.append(time.monotonic()),
        )
    assert not stopped and seen == [(0, None)]
    assert len(calls) >= 2  # POLL_SECONDS = 0.5 in a 2 s task
