"""Bounded submission and stop signals: at most ``in_flight`` futures exist at once, and
SIGTERM/SIGINT/SIGUSR1 stop the submission (a second signal abandons running tasks).
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pipeline.sweep.plan import (
    Task,
)

log = logging.getLogger("nqs_ent")


class Abandon(Exception):
    """Raised by a second stop signal: leave running tasks behind."""


class _StopFlag:
    """Set by SIGTERM/SIGINT/SIGUSR1; a second signal abandons running tasks."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stop:
            log.warning("%s again: abandoning running tasks", name)
            raise Abandon(name)
        self.stop = True
        log.warning(
            "%s: submitting no more tasks; waiting for running ones (send it again to stop "
            "at once)",
            name,
        )


@contextlib.contextmanager
def _signals_handled(flag: _StopFlag) -> Iterator[None]:
    names = ("SIGTERM", "SIGINT", "SIGUSR1")
    previous = {}
    for name in names:
        number = getattr(signal, name)
        with contextlib.suppress(ValueError):  # not in the main thread
            previous[number] = signal.signal(number, flag)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


POLL_SECONDS = 0.5
"""How often the submission loop wakes to check for a stop signal while tasks run."""


def executing_keys(dask_worker: Any) -> list[str]:
    """Keys of the tasks a worker is running right now (run on workers via ``client.run``)."""
    return [task.key for task in dask_worker.state.executing]


def submit_bounded(
    tasks: Iterable[Task],
    make_future: Callable[[Task], Any],
    max_in_flight: int,
    on_result: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
    flag: _StopFlag,
    stop_after: int | None = None,
    withdraw: Callable[[list[Any]], None] | None = None,
    waiting: Callable[[], None] | None = None,
) -> bool:
    """Keep at most ``max_in_flight`` tasks on the cluster until all are done, or until
    ``flag.stop`` is set. Then ``withdraw(futures)`` is called once, within
    ``POLL_SECONDS``, to cancel the submitted tasks that have not started; the running ones
    are awaited. Cancelled futures are dropped silently. ``waiting()`` is called every
    ``POLL_SECONDS`` that passes with no task finished (a progress heartbeat). Returns
    whether it stopped early."""
    from distributed import wait
    from distributed.client import FuturesCancelledError

    queue = iter(tasks)
    futures: dict[Any, Task] = {}

    def top_up() -> None:
        while not flag.stop and len(futures) < max_in_flight:
            task = next(queue, None)
            if task is None:
                return
            futures[make_future(task)] = task

    top_up()
    finished = dropped = 0
    withdrawn = False
    while futures:
        if flag.stop and not withdrawn:
            withdrawn = True
            if withdraw is not None:
                withdraw(list(futures))
        try:
            done = wait(list(futures), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            if waiting is not None:
                waiting()
            continue
        except FuturesCancelledError:
            done = {future for future in futures if future.done()}
        for future in done:
            task = futures.pop(future)
            if future.cancelled():
                dropped += 1
                continue
            try:
                result = future.result()
            except Exception as error:  # the task's own error, reported per task
                on_result(task, None, error)
            else:
                on_result(task, result, None)
            finished += 1
            if stop_after is not None and finished >= stop_after:
                flag.stop = True
        top_up()
    return flag.stop and (dropped > 0 or next(queue, None) is not None)
