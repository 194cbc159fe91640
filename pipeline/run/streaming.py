"""One state across a Dask cluster: the passes of the streaming method as Dask tasks.

:func:`dask_mapper` turns a ``distributed.Client`` (a ``LocalCluster``, an existing
scheduler, SLURM through dask-jobqueue) into the ``mapper`` of
:func:`pipeline.numerics.streaming.streaming_spectrum`: each chunk of a pass is one task
(the basis ``Q`` travels with it), and the chunks' sums come back to the client, which adds
them in chunk order. The chunks are fixed by the cut, so the result is bit-identical to the
serial one, whatever the number of workers. A state's intermediate basis lives only on the
client: a killed run recomputes the state from its first pass (a sweep resumes at task
granularity, never inside a state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.numerics.streaming import Mapper, Partial


def _single_threaded(function: Callable[..., Partial], *args: Any) -> Partial:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return function(*args)


def dask_mapper(client: Any) -> Mapper:
    """A ``mapper`` that runs each chunk of a pass as one task on ``client``'s workers
    (BLAS single-threaded in each, as in sweep tasks)."""

    def mapper(function: Callable[..., Partial], arguments: list[tuple[Any, ...]]) -> list[Partial]:
        columns = [list(column) for column in zip(*arguments, strict=True)]
        futures = client.map(_single_threaded, [function] * len(arguments), *columns, pure=False)
        return list(client.gather(futures))

    return mapper
