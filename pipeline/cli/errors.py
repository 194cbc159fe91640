"""Error lines: every error a user sees is one short line.

Library code raises with a message; the CLI prints ``nqs-ent: error: <message>`` through
:func:`one_line`, which folds the message onto one line, cuts every quoted value to a
short excerpt (a 10 MB spec value gives a 10 MB message otherwise) and caps the length.
"""

from __future__ import annotations

import re

QUOTED_CHARS = 40
"""Longest quoted value kept whole in a message."""


LINE_CHARS = 300
"""Longest error line; longer ones keep their start and end."""


_QUOTED = re.compile(rf"""(['"])((?:(?!\1).){{{QUOTED_CHARS + 1},}})\1""", re.DOTALL)


def excerpt(value: object, limit: int = QUOTED_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters.

    >>> excerpt("x" * 100, 10)
    "'xxxxxxx...'"
    """
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def one_line(message: object, limit: int = LINE_CHARS) -> str:
    """``message`` on one line, quoted values cut to excerpts, at most ``limit`` chars.

    >>> one_line("unknown kind '" + "b" * 100 + "'\\n(see the docs)")
    "unknown kind 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...' (see the docs)"
    >>> len(one_line("a " * 400))
    300
    """
    text = _QUOTED.sub(
        lambda m: m.group(1) + m.group(2)[: QUOTED_CHARS - 3] + "..." + m.group(1), str(message)
    )
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = (limit - 7) * 2 // 3
    return f"{text[:head]} [...] {text[len(text) - (limit - 7 - head) :]}"


EXIT_OK = 0


EXIT_FAILED = 1


EXIT_USAGE = 2


EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: stopped early, rerun to resume


class UsageError(Exception):
    """Bad input: reported on one line, exit status 2."""


def _input_errors() -> tuple[type[BaseException], ...]:
    from pipeline.numerics.xp import BackendError
    from pipeline.run.clusters import ClusterError
    from pipeline.store.layout import StoreError
    from pipeline.sweep.plan import PlanError
    from pipeline.sweep.spec import SpecError

    return (UsageError, SpecError, PlanError, StoreError, BackendError, ClusterError)


EXIT_BROKEN_PIPE = 141
"""What a shell reports for a process killed by SIGPIPE (128 + 13)."""
