"""TODO docstring (entropy, spec, store)"""

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


measure_alpha = measure_order
"""The Renyi order of a measure name (see :func:`pipeline.entropy.measure_order`)."""


def measure_variable(measure: str) -> str:
    """Store variable name of a measure: ``vn -> S_vn``, ``renyi0.5 -> S_renyi0p5``.

    >>> [measure_variable(m) for m in ("vn", "renyi2", "renyi0.5", "inf")]
    ['S_vn', 'S_renyi2', 'S_renyi0p5', 'S_inf']
    """
    measure_alpha(measure)  # validates
    return "S_" + measure.replace(".", "p")


MEASURE_NAMES = {"vn": "von Neumann entropy", "inf": "min-entropy"}


def measure_long_name(measure: str) -> str:
    """A label for plots: ``renyi2 -> 'Renyi-2 entropy'``."""
    return MEASURE_NAMES.get(measure, f"Renyi-{measure.removeprefix('renyi')} entropy")
