"""The architecture interface and the registry that specs look names up in.

An architecture is a handful of pure functions of plain arrays:

``init(rng, n, hyper) -> params``
    Draw parameters with a ``numpy.random.Generator``: a dict of NumPy arrays (linear
    layers as ``W`` of shape ``(out, in)`` and ``b``, applied as ``W @ x + b``). Parameters
    always live on the host; ``evaluate`` moves them to the namespace it is given, so the
    same seed gives the same network on every backend.
``evaluate(params, spins, hyper, xp) -> values``
    ``spins`` has shape ``(batch, n)`` with entries ``-1.0``/``+1.0`` (real dtype of the
    run); returns shape ``(batch,)`` complex: the amplitude, or the log-amplitude when
    ``log_amplitude`` is true. ``log_amplitude`` is a bool, or a function of the
    hyperparameters when a mode switches between the two (``mlp``); read it through
    :meth:`Architecture.is_log_amplitude`.
``k(n, hyper) -> int``
    The number of scalar nonlinearities of the graph, excluding the final map to the
    amplitude (the ``exp`` of a log-amplitude). ``None`` for reference states.
``check(n, hyper)``
    Raise ``ValueError`` when ``n`` does not fit the hyperparameters (odd ``n`` for
    ``dicke``, a patch longer than ``n``...). Optional.

Hyperparameters are a frozen dataclass per architecture whose ``__post_init__`` rejects bad
values with a ``ValueError`` naming the field; :func:`make_hyper` builds one from a plain
mapping (a spec table) and rejects unknown keys and wrong types.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class Architecture:
    """One registered architecture (see the module docstring for the contract)."""

    name: str
    """Registry name, as written in specs."""
    hyper_type: type
    """Frozen dataclass of hyperparameters, with defaults that reproduce the paper."""
    init: Callable[[np.random.Generator, int, Any], Params]
    """Draw parameters: ``init(rng, n, hyper)``."""
    evaluate: Callable[[Params, Any, Any, Any], Any]
    """Amplitudes or log-amplitudes: ``evaluate(params, spins, hyper, xp)``."""
    k: Callable[[int, Any], int | None]
    """Nonlinearity count: ``k(n, hyper)``."""
    log_amplitude: bool | Callable[[Any], bool]
    """True when ``evaluate`` returns ``log psi``; or ``log_amplitude(hyper) -> bool`` when
    that depends on the hyperparameters. Use :meth:`is_log_amplitude` to read it."""
    check: Callable[[int, Any], None] | None = None
    """Optional validation of ``n`` against the hyperparameters."""
    reference: bool = False
    """True for reference states (product, GHZ, Haar, MPS) that are not networks."""
    host_batch: int | Callable[[Any], int] | None = None
    """Configurations per ``evaluate`` call on the host (NumPy), when smaller batches than
    the default keep wide intermediates in cache, or ``host_batch(hyper)`` when that
    depends on the width; GPUs always get the large default. Use a multiple of 64: BLAS
    may round differently for odd-sized batches. Read it with :meth:`batch_for`."""
    full_values: Callable[[Params, int, Any, Any, Any], Any] | None = None
    """Optional ``full_values(params, n, hyper, xp, real_dtype)``: the unnormalised values
    on all ``2^n`` configurations at once, ``(2^n,)`` complex, by a faster route than
    ``evaluate`` batch by batch (e.g. the random-feature network's product form); None
    where that route does not apply to ``hyper``. ``evaluate`` is its test oracle."""
    product_form: Callable[[Params, int, Any, Sequence[int], Any, Any], Any] | None = None
    """Optional ``product_form(params, n, hyper, sites, xp, real_dtype) -> (left, right)``:
    the unnormalised state as ``left @ right^T`` across ``A = sites`` and the rest, with
    ``K`` columns (a sum of ``K`` product states), or None where it does not apply to
    ``hyper``. Spectra of sizes whose matrices exceed ``K`` then come from ``K x K`` Gram
    matrices (:func:`pipeline.numerics.spectra.product_schmidt_probs`)."""
    eval_bytes: Callable[[int, Any, int], int] | None = None
    """Optional ``eval_bytes(n, hyper, batch)``: bytes alive, beyond the state vector, while
    ``full_state`` evaluates the network on batches of ``batch`` configurations (the
    intermediates of one batch and any first-layer tables). Feeds the memory estimate of
    a dense task (:func:`pipeline.sweep.plan.task_bytes`); None: a conservative
    ``EVAL_REALS_PER_CONFIG`` reals per configuration of a batch."""
    exact_spectrum: Callable[[Params, int, Any, Sequence[int]], np.ndarray] | None = None
    """Optional ``exact_spectrum(params, n, hyper, sites)``: the Schmidt probabilities
    across ``A = sites`` and the rest in closed form, at any ``n`` and without the state
    (NumPy float64; e.g. a ``cos`` network's ``4 N_h x 4 N_h`` Gram matrices, Dicke's
    hypergeometric law). Method ``exact`` uses it where :meth:`has_exact`; the dense path
    is its test oracle."""
    exact_when: Callable[[Any], bool] | None = None
    """Optional ``exact_when(hyper)``: the hyperparameters for which ``exact_spectrum``
    applies (None: all)."""
    first_layers: Callable[[Params, Any], dict[str, tuple[Any, Any]]] | None = None
    """Optional ``first_layers(params, hyper) -> {name: (W, b)}``: the linear layers that
    read the spins (``W`` of shape ``(out, n)``), with ``evaluate_first``. Then
    :func:`~pipeline.architectures.states.full_state` never builds the spins: a batch of
    ``2^j`` consecutive configurations shares its first ``n - j`` sites, so each layer's
    ``W s + b`` is a fixed vector (those sites, with ``b``) plus a table over the last
    ``j`` sites, computed once."""
    evaluate_first: Callable[[Params, dict[str, Any], Any, Any], Any] | None = None
    """``evaluate_first(params, pre, hyper, xp)``: ``evaluate`` from the first layers'
    outputs ``pre[name]`` of shape ``(batch, out)`` instead of the spins."""
    real_when: Callable[[Any], bool] | None = None
    """Optional ``real_when(hyper)``: True when every amplitude is real for these
    hyperparameters (for a log-amplitude network: every ``log psi`` is real, a positive
    state). The streaming method then runs its passes in real arithmetic, a quarter of the
    multiply-adds of the complex ones. Use :meth:`is_real` to read it."""
    ignored_sites: Callable[[int, Any], Sequence[int]] | None = None
    """Optional ``ignored_sites(n, hyper)``: sites the amplitude does not depend on (a
    transformer's uncovered tail). :func:`~pipeline.architectures.states.full_state`
    evaluates the network once per configuration of the other sites and copies the
    values along the ignored ones: ``2^len(ignored)`` times less work, the same state."""

    def hyper(self, **values: Any) -> Any:
        """Hyperparameters from keyword arguments (see :func:`make_hyper`)."""
        return make_hyper(self, values)

    def batch_for(self, hyper: Any) -> int | None:
        """:attr:`host_batch` for these hyperparameters (None: the default)."""
        if callable(self.host_batch):
            return int(self.host_batch(hyper))
        return self.host_batch

    def is_log_amplitude(self, hyper: Any) -> bool:
        """True when ``evaluate`` returns ``log psi`` for these hyperparameters."""
        if callable(self.log_amplitude):
            return bool(self.log_amplitude(hyper))
        return bool(self.log_amplitude)

    def is_real(self, hyper: Any) -> bool:
        """True when every amplitude is real for these hyperparameters (:attr:`real_when`)."""
        return self.real_when is not None and bool(self.real_when(hyper))

    def has_exact(self, hyper: Any) -> bool:
        """True when ``exact_spectrum`` applies to these hyperparameters."""
        if self.exact_spectrum is None:
            return False
        return self.exact_when is None or bool(self.exact_when(hyper))

    def validate(self, n: int, hyper: Any) -> None:
        """Raise ``ValueError`` when this architecture cannot be built on ``n`` sites."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{self.name}: n must be a positive integer, got {n!r}")
        if self.check is not None:
            self.check(n, hyper)


REGISTRY: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    """Add an architecture to the registry under its name."""
    if architecture.name in REGISTRY:
        raise ValueError(f"architecture {architecture.name!r} is registered twice")
    REGISTRY[architecture.name] = architecture
    return architecture


def get_architecture(name: str) -> Architecture:
    """The architecture registered as ``name``; a clear error listing the choices.

    Importing :mod:`pipeline.architectures` registers every built-in architecture
    (networks such as ``rbm``, ``sn``, ``mlp``, ``transformer`` and reference states such
    as ``product``, ``ghz``, ``haar``); ``REGISTRY`` holds them all.

    Parameters
    ----------
    name : str
        The registry name, as written in a spec's ``architecture`` key.

    Returns
    -------
    Architecture
        Its functions ``init``, ``evaluate``, ``k`` and ``check`` and its hyperparameter
        type (see the module docstring for the contract).

    Raises
    ------
    ValueError
        When no architecture is registered as ``name``; the message lists the choices.

    Examples
    --------
    >>> rbm = get_architecture("rbm")
    >>> rbm.name, rbm.hyper(density=2.0).density
    ('rbm', 2.0)
    >>> rbm.reference, get_architecture("ghz").reference
    (False, True)
    >>> get_architecture("cnn")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown architecture 'cnn'; choose one of ...
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; choose one of {', '.join(sorted(REGISTRY))}"
        ) from None


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether ``value`` fits a simple annotation (int, float, str, bool, unions, Literal)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True


def make_hyper(architecture: Architecture, values: Mapping[str, Any]) -> Any:
    """Build ``architecture``'s hyperparameters from a mapping.

    Unknown keys and values of the wrong type raise ``ValueError`` naming the key; range
    checks are the dataclass's own ``__post_init__``.
    """
    cls = architecture.hyper_type
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise ValueError(
                f"{architecture.name}: unknown hyperparameter {key!r} (known: {known})"
            )
        if not _type_ok(value, hints[key]):
            raise ValueError(
                f"{architecture.name}: hyperparameter {key!r} must be "
                f"{_describe(hints[key])}, got {value!r}"
            )
    coerced = {key: float(value) if hints[key] is float else value for key, value in values.items()}
    return cls(**coerced)


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def hyper_dict(hyper: Any) -> dict[str, Any]:
    """Hyperparameters as a plain dict (for store attributes)."""
    return dataclasses.asdict(hyper)
