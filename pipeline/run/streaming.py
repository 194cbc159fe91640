"""One state across a Dask cluster: the passes of the streaming method as Dask tasks.

:func:`dask_mapper` turns a ``distributed.Client`` (a ``LocalCluster``, an existing
scheduler, SLURM through dask-jobqueue) into the ``mapper`` of
:func:`pipeline.numerics.streaming.streaming_spectrum`: each chunk of a pass is one task
(the source and the pass with its basis ``Q`` are broadcast to the workers once per
pass), and the chunks' sums come back to the client, which adds them in chunk order. The
chunks are fixed by the cut, so the result is bit-identical to the serial one, whatever
the number of workers. A state's intermediate basis lives only on the client: a killed
run recomputes the state from its first pass (a sweep resumes at task granularity, never
inside a state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pipeline.numerics.streaming import Mapper, Partial
from pipeline.run.clusters import keep_freed_memory


def _single_threaded(function: Callable[..., Partial], *args: Any) -> Partial:
    from threadpoolctl import threadpool_limits

    keep_freed_memory()
    with threadpool_limits(limits=1, user_api="blas"):
        return function(*args)


def _in_order(futures: list[Any]) -> Iterator[Partial]:
    """The chunks' sums in chunk order, each released on the cluster once fetched."""
    for i in range(len(futures)):
        future, futures[i] = futures[i], None
        result = future.result()
        future.release()  # the worker frees its copy before the next chunk is awaited
        del future
        yield result
        del result


def dask_mapper(client: Any) -> Mapper:
    """A ``mapper`` that runs each chunk of a pass as one task on ``client``'s workers
    (BLAS single-threaded in each, as in sweep tasks)."""

    def mapper(
        function: Callable[..., Partial], arguments: list[tuple[Any, ...]]
    ) -> Iterator[Partial]:
        columns = [list(column) for column in zip(*arguments, strict=True)]
        for i, column in enumerate(columns):
            # what every chunk shares (the source, the pass with its basis) goes out once
            if len(column) > 1 and all(value is column[0] for value in column):
                [shared] = client.scatter([column[0]], broadcast=True, hash=False)
                columns[i] = [shared] * len(column)
        futures = client.map(_single_threaded, [function] * len(arguments), *columns, pure=False)
        return _in_order(futures)

    return mapper
