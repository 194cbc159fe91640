"""``python3 -m pipeline.cli``: the same as ``nqs-ent``."""

import sys

from pipeline.cli import main

sys.exit(main())
