"""Progress of a run: a ``tqdm`` bar on a terminal, whole lines in a log.

When stderr is not a terminal (a SLURM log, ``2> file``), carriage-return updates would
pile up on one line; :class:`LineProgress` prints one complete line at a steady interval
instead, with the counts, the rate and the time left. While no task finishes (a single
n = 32 streaming task runs for many minutes), :meth:`LineProgress.refresh` still prints a
line every ``IDLE_INTERVALS`` intervals, so a log shows the run is alive:

>>> lines = []
>>> clock = iter([0.0, 10.0, 20.0, 70.0, 100.0, 140.0, 150.0]).__next__
>>> with LineProgress(4, lines.append, interval=15.0, clock=clock) as progress:
...     progress.update(1)  # at 10 s: not yet a line
...     progress.update(1)  # at 20 s
...     progress.refresh()  # at 70 s: nothing finished for 50 s, not yet a line
...     progress.refresh()  # at 100 s: 80 s
...     progress.refresh()  # at 140 s: 40 s since the last line
>>> for line in lines:  # the last: when it closed, at 150 s
...     print(line)
tasks: 2/4 (50%) after 20 s, 6.0 per min, about 20 s left
tasks: 2/4 (50%) after 100 s, 1.2 per min, about 100 s left
tasks: 2/4 (50%) after 2.5 min, 0.8 per min, about 2.5 min left
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

LOG_INTERVAL = 30.0
"""Seconds between progress lines in a log."""
IDLE_INTERVALS = 4
"""While no task finishes, a line every this many ``LOG_INTERVAL`` (2 minutes)."""


def _duration(seconds: float) -> str:
    """``42 s``, ``7.5 min``, ``3.2 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class LineProgress:
    """Counts done out of ``total``, printed through ``echo`` as whole lines: at most one
    every ``interval`` seconds while tasks finish, one every ``IDLE_INTERVALS * interval``
    seconds while none does (:meth:`refresh`), and one when closed."""

    def __init__(
        self,
        total: int,
        echo: Callable[[str], Any],
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "tasks",
    ) -> None:
        self.total, self.echo, self.interval, self.clock, self.unit = (
            total,
            echo,
            interval,
            clock,
            unit,
        )
        self.done = 0
        self.started = clock()
        self.printed = self.started

    def line(self, now: float) -> str:
        """The progress line at time ``now``."""
        elapsed = now - self.started
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.unit}: {self.done}/{self.total}{share} after {_duration(elapsed)}"
        if 0 < self.done < self.total and elapsed > 0:
            rate = self.done / elapsed
            left = (self.total - self.done) / rate
            text += f", {60 * rate:.1f} per min, about {_duration(left)} left"
        return text

    def _print_after(self, seconds: float) -> None:
        now = self.clock()
        if now - self.printed >= seconds:
            self.printed = now
            self.echo(self.line(now))

    def update(self, count: int = 1) -> None:
        self.done += count
        self._print_after(self.interval)

    def refresh(self) -> None:
        """A heartbeat while waiting: a line if none for ``IDLE_INTERVALS`` intervals."""
        self._print_after(IDLE_INTERVALS * self.interval)

    def close(self) -> None:
        self.echo(self.line(self.clock()))

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent:
    """No progress at all (``--no-progress``)."""

    def update(self, count: int = 1) -> None:
        pass

    def refresh(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(total: int, echo: Callable[[str], Any], show: bool = True) -> Any:
    """A context manager with ``update(count)`` and ``refresh()`` (called while waiting,
    so that elapsed time and heartbeats advance): a ``tqdm`` bar when stderr is a terminal,
    :class:`LineProgress` lines through ``echo`` otherwise, nothing when not ``show``."""
    if not show:
        return _Silent()
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(
            total=total,
            mininterval=0.2,
            unit="task",
            desc="tasks",
            dynamic_ncols=True,
            smoothing=0.1,
        )
    return LineProgress(total, echo)
