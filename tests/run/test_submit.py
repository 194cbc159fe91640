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
