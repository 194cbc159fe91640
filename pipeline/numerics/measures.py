"""Entropy measures by name: the one place that knows ``vn``, ``renyi<a>`` and ``inf``.

A measure's name gives its Renyi order (:func:`measure_order`), its store variable
(:func:`measure_variable`, ``S_<name>`` with ``.`` spelled ``p``) and back
(:func:`variable_measure`), and its label (:func:`measure_long_name`).
"""

from __future__ import annotations

import math
import re

_RENYI = re.compile(r"renyi((?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?)")


def measure_order(measure: str) -> float:
    """The Renyi order of a measure name: ``vn`` -> 1, ``inf`` -> inf, ``renyi<a>`` -> a.

    ``a`` is a positive number other than 1 written without superfluous zeros
    (``renyi2``, ``renyi0.5``; not ``renyi2.0``), so that one measure has one name.

    >>> measure_order("renyi2"), measure_order("vn"), measure_order("inf")
    (2.0, 1.0, inf)
    """
    if measure == "vn":
        return 1.0
    if measure == "inf":
        return math.inf
    match = _RENYI.fullmatch(measure) if isinstance(measure, str) else None
    if match is None:
        raise ValueError(
            f"unknown measure {measure!r}; expected 'vn', 'inf' or 'renyi<alpha>' with alpha "
            "a positive number != 1 written without extra zeros (e.g. renyi2, renyi0.5)"
        )
    alpha = float(match.group(1))
    if alpha == 0:
        raise ValueError(f"measure {measure!r}: the Renyi order must be > 0")
    if alpha == 1:
        raise ValueError(f"measure {measure!r}: the Renyi order 1 is von Neumann; write 'vn'")
    return alpha


def measure_variable(measure: str) -> str:
    """Store variable name of a measure: ``vn -> S_vn``, ``renyi0.5 -> S_renyi0p5``.

    The name is ``S_<measure>`` with ``.`` spelled ``p``; :func:`variable_measure` is the
    inverse. The variable holds entropies in nats (dims ``(n, <hyper...>, m, sample,
    window)`` in a store, see :mod:`pipeline.store.schema`).

    Parameters
    ----------
    measure : str
        ``"vn"``, ``"renyi<a>"`` (``a > 0``, ``a != 1``, without superfluous zeros) or
        ``"inf"``.

    Returns
    -------
    str
        The store variable name.

    Raises
    ------
    ValueError
        For an unknown or badly written measure name (:func:`measure_order`).

    Examples
    --------
    >>> [measure_variable(m) for m in ("vn", "renyi2", "renyi0.5", "inf")]
    ['S_vn', 'S_renyi2', 'S_renyi0p5', 'S_inf']
    >>> measure_variable("renyi2.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown measure 'renyi2.0'; expected 'vn', 'inf' or 'renyi<alpha>' ...
    """
    measure_order(measure)  # validates
    return "S_" + measure.replace(".", "p")


def variable_measure(variable: str) -> str:
    """The measure of a store variable, the inverse of :func:`measure_variable`.

    >>> variable_measure("S_renyi0p5"), variable_measure("S_vn")
    ('renyi0.5', 'vn')
    """
    measure = variable.removeprefix("S_").replace("p", ".")
    if measure_variable(measure) != variable:
        raise ValueError(f"{variable!r} is not the store variable of an entropy measure")
    return measure


MEASURE_NAMES = {"vn": "von Neumann entropy", "inf": "min-entropy"}
"""Long names of the measures that are not ``renyi<a>``."""


def measure_long_name(measure: str) -> str:
    """A label for plots: ``renyi2 -> 'Renyi-2 entropy'``."""
    return MEASURE_NAMES.get(measure, f"Renyi-{measure.removeprefix('renyi')} entropy")
