"""Tiles of a network's state across a cut, for the streaming method
(:mod:`pipeline.numerics.streaming`): the network evaluated on ``D_A x |J|``
configurations at a time, never on all ``2^n``.

A cut is a site ordering and a size ``m``: ``A = order[:m]`` indexes the rows (site
``order[0]`` the most significant bit), ``B = order[m:]`` the columns, exactly as
:func:`pipeline.numerics.spectra.bipartition` arranges ``psi``. Where the network's
first layers read the spins (:attr:`~pipeline.architectures.base.Architecture.first_layers`),
``W s + b = W_A s_A + (W_B s_B + b)``: a table over the rows, computed once per cut, plus a
table over the tile's columns, so a tile costs no ``n x width`` products per configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.architectures.base import Architecture, Params
from pipeline.architectures.states import basis_spins
from pipeline.numerics.xp import namespace

EVAL_CONFIGS = 1 << 15
"""Configurations per call of the network inside a tile (bounds its intermediates)."""


class NetworkTiles:
    """A :class:`pipeline.numerics.streaming.TileSource` of one network and cut.

    Picklable (the row tables are rebuilt where it is unpickled), so a pass's chunks can
    run on Dask workers.
    """

    def __init__(
        self,
        architecture: Architecture,
        params: Params,
        n: int,
        hyper: Any,
        order: Sequence[int],
        m: int,
        backend: str = "numpy",
    ) -> None:
        order = tuple(int(s) for s in order)
        if sorted(order) != list(range(n)) or not 1 <= m <= n - 1:
            raise ValueError(f"need a permutation of 0..{n - 1} and 1 <= m <= {n - 1}")
        if m > n - m:  # rows are the smaller side
            order, m = order[m:] + order[:m], n - m
        self.architecture, self.params, self.n, self.hyper = architecture, params, n, hyper
        self.order, self.m, self.backend = order, m, backend
        self.rows, self.columns = 1 << m, 1 << (n - m)
        self.log_amplitude = architecture.is_log_amplitude(hyper)
        self.real = architecture.is_real(hyper)
        self._tables: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tables"] = None
        return state

    @property
    def xp(self) -> Any:
        return namespace(self.backend)

    def _row_tables(self) -> dict[str, Any]:
        """``W_A s_A`` over every row, per first layer: ``(D_A, out)``."""
        if self._tables is None:
            xp = self.xp
            assert self.architecture.first_layers is not None
            spins = basis_spins(0, self.rows, self.m, xp, xp.float64)
            rows = xp.asarray(list(self.order[: self.m]), dtype=xp.int64)
            self._tables = {
                name: xp.matmul(spins, xp.matrix_transpose(xp.take(xp.asarray(w), rows, axis=1)))
                for name, (w, _) in self.architecture.first_layers(self.params, self.hyper).items()
            }
        return self._tables

    def _values(self, values: Any, shape: tuple[int, int]) -> Any:
        """``values`` as a block of the tile: float64 for a real state, else complex128."""
        xp = self.xp
        if not self.real:
            return xp.reshape(xp.astype(values, xp.complex128), shape)
        if xp.isdtype(values.dtype, "complex floating"):
            if not bool(xp.all(xp.imag(values) == 0)):
                raise ValueError(
                    f"{self.architecture.name}: these hyperparameters declare a real state "
                    "(real_when), but the network returned complex values"
                )
            values = xp.real(values)
        return xp.reshape(xp.astype(values, xp.float64), shape)

    def __call__(self, start: int, stop: int) -> Any:
        """Raw values (log-amplitudes or amplitudes) of columns ``start..stop-1``:
        ``(D_A, stop - start)``, float64 where the state is real (:attr:`real`), else
        complex128."""
        xp = self.xp
        width = stop - start
        spins_b = basis_spins(start, stop, self.n - self.m, xp, xp.float64)
        step = max(1, EVAL_CONFIGS // width)
        blocks = []
        if self.architecture.first_layers is not None:
            assert self.architecture.evaluate_first is not None
            cols = xp.asarray(list(self.order[self.m :]), dtype=xp.int64)
            column_tables = {
                name: xp.matmul(spins_b, xp.matrix_transpose(xp.take(xp.asarray(w), cols, axis=1)))
                + xp.asarray(b)
                for name, (w, b) in self.architecture.first_layers(self.params, self.hyper).items()
            }
            tables = self._row_tables()
            for r0 in range(0, self.rows, step):
                r1 = min(r0 + step, self.rows)
                pre = {
                    name: xp.reshape(
                        tables[name][r0:r1, None, :] + column_tables[name][None, :, :],
                        ((r1 - r0) * width, -1),
                    )
                    for name in tables
                }
                values = self.architecture.evaluate_first(self.params, pre, self.hyper, xp)
                blocks.append(self._values(values, (r1 - r0, width)))
        else:
            position = {site: i for i, site in enumerate(self.order)}
            inverse = xp.asarray([position[s] for s in range(self.n)], dtype=xp.int64)
            for r0 in range(0, self.rows, step):
                r1 = min(r0 + step, self.rows)
                spins_a = basis_spins(r0, r1, self.m, xp, xp.float64)
                both = xp.concat(
                    [
                        xp.broadcast_to(spins_a[:, None, :], (r1 - r0, width, self.m)),
                        xp.broadcast_to(spins_b[None, :, :], (r1 - r0, width, self.n - self.m)),
                    ],
                    axis=-1,
                )
                spins = xp.take(xp.reshape(both, ((r1 - r0) * width, self.n)), inverse, axis=1)
                values = self.architecture.evaluate(self.params, spins, self.hyper, xp)
                blocks.append(self._values(values, (r1 - r0, width)))
        return xp.concat(blocks, axis=0) if len(blocks) > 1 else blocks[0]
