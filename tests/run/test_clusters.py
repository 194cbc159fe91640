"""The processes' malloc policy (:func:`pipeline.run.clusters.keep_freed_memory`): freed
temporaries are reused instead of faulting in fresh pages."""

from __future__ import annotations

import subprocess
import sys

import pytest

# three 2 MiB temporaries per round, freed at its end: with glibc's defaults the heap top is
# trimmed and every round faults its 1536 pages in again
ROUNDS = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from pipeline.run.clusters import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()  # idempotent
x = np.ones(1 << 18)
def rounds(count):
    for _ in range(count):
        a = np.exp(x); b = np.exp(x); c = a + b; del a, b, c
rounds(3)
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(50)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 50)
"""


def _faults_per_round(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_temporaries_are_reused_without_page_faults():
    assert _faults_per_round("defaults") > 1000  # the cost this policy removes
    assert _faults_per_round("tuned") < 10
