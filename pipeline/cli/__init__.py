"""The ``nqs-ent`` command line: :mod:`~pipeline.cli.parser` (every command and option),
:mod:`~pipeline.cli.commands` (what each does), :mod:`~pipeline.cli.errors` (one error
handler, one set of exit statuses); :func:`main` is the entry point.

Nothing heavy is imported until a command needs it: ``nqs-ent --help`` and ``nqs-ent
validate`` load neither ``distributed`` nor ``xarray`` nor ``zarr``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from pipeline.cli.errors import EXIT_BROKEN_PIPE, EXIT_USAGE, _input_errors, one_line
from pipeline.cli.parser import build_parser
from pipeline.run.clusters import keep_freed_memory

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported on one line
        return int(exit_.code or 0)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nqs-ent: %(message)s"))
    ours = logging.getLogger("nqs_ent")
    ours.handlers[:] = [handler]
    ours.propagate = False
    ours.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    keep_freed_memory()  # bench and serial commands evaluate networks in this process
    if args.command == "run":
        import distributed  # noqa: F401  (applies its logging config first; then quiet it)

        for noisy in ("distributed", "tornado", "bokeh"):
            logging.getLogger(noisy).setLevel(logging.INFO if args.verbose else logging.ERROR)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # so a closed pipe shows up here, not at interpreter exit
        return status
    except _input_errors() as error:
        print(f"nqs-ent: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `nqs-ent status STORE | head`: the reader left early
        # Python's documented idiom: stdout to devnull so the final flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
