"""Planning a sweep (pipeline.sweep.plan): the task list (order, laziness, coverage), the
memory estimate of a task and its check against a worker's limit, the store estimate and
the scale limits, and byte counts as text. Pure arithmetic on parsed specs: no Dask, no
store."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import pytest
from helpers import TWO_EXPERIMENTS_SPEC

from pipeline.numerics.spectra import GATHER_BYTES
from pipeline.sweep.plan import (
    BASE_BYTES,
    BLOCK_BYTES,
    MAX_CHUNK_BYTES,
    MAX_TASKS,
    PlanError,
    StoreEstimate,
    Task,
    check_memory,
    check_scale,
    estimate_store,
    format_bytes,
    itemsize,
    iter_tasks,
    peak_task_bytes,
    task_bytes,
)
from pipeline.sweep.validate import parse_spec

SPEC = TWO_EXPERIMENTS_SPEC.format(block=4, block2=2)
"""Blocks of 4 of 6 samples (sn) and of 2 of 5 samples (mlp)."""


def one_experiment(
    n: str = "[6]",
    samples: int = 4,
    per_task: int = 1,
    windows: int = 2,
    m: str = '"1..n//2"',
    head: str = "",
) -> str:
    """A one-experiment spec without hyperparameter axes."""
    return f"""
name = "plan-one"
seed = 1
{head}
[[experiment]]
name = "a"
architecture = "sn"
n = {n}
samples = {samples}
samples_per_task = {per_task}
measures = ["vn", "renyi2"]
[experiment.subsystem]
kind = "window"
m = {m}
windows = {windows}
"""


# --- iter_tasks -----------------------------------------------------------------------------


def test_task_list_is_complete_and_disjoint():
    spec = parse_spec(SPEC)
    tasks = list(iter_tasks(spec))
    assert len(tasks) == spec.n_tasks == 2 * 2 * 2 + 1 * 2 * 3
    keys = {task.key(spec) for task in tasks}
    assert len(keys) == len(tasks)
    sn = [t for t in tasks if t.experiment == 0 and t.n_index == 0 and t.grid_index == (0,)]
    assert [(t.start, t.stop) for t in sn] == [(0, 4), (4, 6)]


def test_tasks_come_smallest_n_first_then_block_experiment_grid():
    """Breadth first: an interrupted sweep holds every experiment's first samples at the
    smallest sizes (sn has n = 8, 10; mlp n = 9)."""
    spec = parse_spec(SPEC)
    sn_blocks, mlp_blocks = [(0, 4), (4, 6)], [(0, 2), (2, 4), (4, 5)]
    expected = [
        Task(e, n_index, (g,), block, start, stop)
        for e, n_index, blocks in [(0, 0, sn_blocks), (1, 0, mlp_blocks), (0, 1, sn_blocks)]
        for block, (start, stop) in enumerate(blocks)
        for g in range(2)
    ]
    assert list(iter_tasks(spec)) == expected
    tasks = list(iter_tasks(spec))
    assert [t.key(spec) for t in tasks[:3]] == [
        "sn/n=8/0/block=0",
        "sn/n=8/1/block=0",
        "sn/n=8/0/block=1",
    ]
    assert tasks[-1].key(spec) == "sn/n=10/1/block=1"


def test_blocks_interleave_across_experiments_at_one_n():
    """At one n, block 0 of every experiment comes before any experiment's block 1."""
    text = SPEC.replace("n = [9]", "n = [8]")
    tasks = list(iter_tasks(parse_spec(text)))
    at_8 = [(t.block, t.experiment) for t in tasks if t.n_index == 0]
    assert at_8 == sorted(at_8)
    assert at_8[:4] == [(0, 0), (0, 0), (0, 1), (0, 1)]


def test_grid_points_are_in_c_order_and_keys_say_so():
    text = SPEC.replace("width = [2, 3]", "width = [2, 3]\ndepth = [1, 2, 3]")
    spec = parse_spec(text)
    mlp = [t for t in iter_tasks(spec) if t.experiment == 1 and t.block == 0]
    assert [t.grid_index for t in mlp] == list(itertools.product(range(2), range(3)))
    assert mlp[1].key(spec) == "mlp/n=9/0,1/block=0"


def test_task_without_hyperparameter_axes_has_an_empty_grid_index():
    spec = parse_spec(one_experiment(samples=3, per_task=2))
    tasks = list(iter_tasks(spec))
    assert [(t.grid_index, t.start, t.stop) for t in tasks] == [((), 0, 2), ((), 2, 3)]
    assert tasks[1].key(spec) == "a/n=6/-/block=1"


def test_selected_experiments_only():
    spec = parse_spec(SPEC)
    assert {t.experiment for t in iter_tasks(spec, {1})} == {1}
    assert len(list(iter_tasks(spec, {1}))) == spec.experiments[1].n_tasks == 6
    assert list(iter_tasks(spec, set())) == []
    assert list(iter_tasks(spec, {0, 1})) == list(iter_tasks(spec))


def test_iter_tasks_is_lazy():
    """10^12 tasks: the first few come at once, and taking them allocates next to nothing."""
    spec = parse_spec(one_experiment(samples=10**12))
    assert spec.n_tasks == 10**12
    tracemalloc.start()
    try:
        tasks = iter_tasks(spec)
        first = list(itertools.islice(tasks, 1000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first[0] == Task(0, 0, (), 0, 0, 1) and first[-1] == Task(0, 0, (), 999, 999, 1000)
    assert next(tasks) == Task(0, 0, (), 1000, 1000, 1001)
    assert peak < 2**20  # 1000 small tasks, no list of 10^12


# --- task memory ----------------------------------------------------------------------------


def test_itemsize_follows_the_dtype():
    assert itemsize(parse_spec(one_experiment())) == 16
    assert itemsize(parse_spec(one_experiment(head='dtype = "complex64"'))) == 8


def test_task_bytes_has_the_worker_base_and_grows_like_the_state():
    experiment = parse_spec(one_experiment(n="[10, 20, 22, 24]", m='"1..4"')).experiments[0]
    estimates = [task_bytes(experiment, n, 16) for n in (10, 20, 22, 24)]
    assert all(b > BASE_BYTES for b in estimates)
    assert estimates == sorted(estimates)
    # small matrices: the state, one permuted copy and the stack of both windows' copies
    state = 2**24 * 16
    assert estimates[3] - BASE_BYTES >= 2 * state


def test_a_half_cut_task_counts_two_states_and_the_gather_buffer():
    """What nqs-ent bench memory measures: the state, the 2^(n/2) x 2^(n/2) matrix (as many
    entries as the state) and its eigensolver workspace; a window adds one gather buffer."""
    first = one_experiment(n="[24]", m='"n//2"', windows=1).replace('"window"', '"first"')
    window = one_experiment(n="[24]", m='"n//2"', windows=1)
    first_bytes = task_bytes(parse_spec(first).experiments[0], 24, 16)
    window_bytes = task_bytes(parse_spec(window).experiments[0], 24, 16)
    state = 2**24 * 16
    assert 2 * state <= first_bytes - BASE_BYTES <= 2.05 * state
    assert window_bytes - first_bytes == GATHER_BYTES


def test_only_complex_arrays_scale_with_the_itemsize():
    """complex128 against complex64: 8 bytes more per amplitude of the state, its permuted
    copy and the stack of both windows' copies (|A| <= 4: matrices below HERK_MIN_DIM;
    at n = 22 they outweigh a batch's evaluation, which does not scale), and of the
    16 x 16 matrix with its nested partial trace (1.5 matrices) and the eigensolver's
    band of 64 columns."""
    experiment = parse_spec(one_experiment(n="[22]", m='"1..4"')).experiments[0]
    difference = task_bytes(experiment, 22, 16) - task_bytes(experiment, 22, 8)
    assert difference == 8 * (4 * 2**22 + 3 * 16**2 // 2 + 64 * 16)


def test_the_largest_cut_counts_with_the_smaller_side():
    """A size m > n/2 has the same reduced matrix as n - m: m = 7 of n = 10 costs as m = 3."""
    small = parse_spec(one_experiment(n="[10]", m="[3]")).experiments[0]
    large = parse_spec(one_experiment(n="[10]", m="[7]")).experiments[0]
    assert task_bytes(small, 10, 16) == task_bytes(large, 10, 16)


def test_peak_task_bytes_is_the_largest_estimate_and_says_where():
    spec = parse_spec(SPEC)
    peak, where = peak_task_bytes(spec)
    estimates = {
        (e.name, n): task_bytes(e, n, itemsize(spec)) for e in spec.experiments for n in e.n
    }
    assert peak == max(estimates.values())
    assert where == "experiment 'sn' at n = 10" and peak == estimates[("sn", 10)]


def test_check_memory_passes_at_the_peak_and_refuses_a_byte_less():
    spec = parse_spec(SPEC)
    peak, _ = peak_task_bytes(spec)
    assert check_memory(spec, peak) == peak
    assert check_memory(spec, 2**40) == peak
    with pytest.raises(PlanError) as info:
        check_memory(spec, peak - 1)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith("engine-test: the largest task (experiment 'sn' at n = 10) ")
    assert f"needs about {format_bytes(peak)}" in message
    assert f"worker's {format_bytes(peak - 1)} memory limit" in message
    assert "--memory-limit" in message


def test_check_memory_refuses_a_state_larger_than_the_worker():
    spec = parse_spec(one_experiment(n="[30]", m="[1]", windows=1))
    with pytest.raises(PlanError, match=r"at n = 30\) needs about \d+\.\d GiB"):
        check_memory(spec, 4 * 2**30)


# --- store estimate and scale limits -------------------------------------------------------


def test_store_estimate_counts_every_chunk_file():
    """Per task: one chunk per measure, the site orderings, the sample status, the
    checksums and the done flag; each takes at least one filesystem block."""
    spec = parse_spec(SPEC)
    estimate = estimate_store(spec)
    assert isinstance(estimate, StoreEstimate)
    files = sum(e.n_tasks * (len(e.measures) + 4) for e in spec.experiments)
    assert estimate.files == files == 8 * 7 + 6 * 5
    assert estimate.bytes == files * BLOCK_BYTES  # every chunk here is smaller than a block
    # sn: 6 sizes (m = 1..6 over n = 8, 10) x 4 samples x 3 windows of float64
    assert estimate.largest_chunk == 6 * 4 * 3 * 8
    assert estimate.where == "experiment 'sn'"


def test_store_estimate_of_large_chunks():
    spec = parse_spec(one_experiment(n="[20]", samples=1000, per_task=1000, windows=10))
    estimate = estimate_store(spec)
    entropy = 10 * 1000 * 10 * 8  # sizes 1..10 x samples x windows
    orders = 1000 * 10 * 20 * 2  # int16 site orderings
    assert estimate.largest_chunk == entropy
    assert estimate.files == 2 + 4
    assert estimate.bytes == 2 * entropy + orders + 3 * BLOCK_BYTES  # status, CRCs, flag


def test_check_scale_returns_the_estimate():
    spec = parse_spec(SPEC)
    assert check_scale(spec) == estimate_store(spec)


def test_max_tasks_is_allowed_and_one_more_refused():
    assert MAX_TASKS == 10_000_000
    spec = parse_spec(one_experiment(samples=MAX_TASKS))
    assert spec.n_tasks == MAX_TASKS
    assert check_scale(spec).files == MAX_TASKS * 6
    over = parse_spec(one_experiment(samples=MAX_TASKS + 1))
    with pytest.raises(PlanError, match=r"plan-one: 1e\+07 tasks, more than the 1e\+07"):
        check_scale(over)


def test_max_chunk_bytes_is_allowed_and_one_sample_more_refused():
    """Sizes 1..4 of n = 8 in float64, one window: 2^25 samples make a 1 GiB chunk."""
    assert MAX_CHUNK_BYTES == 2**30
    samples = 2**25
    spec = parse_spec(one_experiment(n="[8]", samples=samples, per_task=samples, windows=1))
    assert check_scale(spec).largest_chunk == MAX_CHUNK_BYTES
    more = samples + 1
    over = parse_spec(one_experiment(n="[8]", samples=more, per_task=more, windows=1))
    with pytest.raises(PlanError) as info:
        check_scale(over)
    assert "one task of experiment 'a' writes a chunk of 1.0 GiB, more than 1.0 GiB" in str(
        info.value
    )
    assert "lower samples_per_task" in str(info.value)


# --- format_bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (2**20 - 1, "1024.0 KiB"),
        (2**20, "1.0 MiB"),
        (5 * 2**30, "5.0 GiB"),
        (3 * 2**40, "3.0 TiB"),
        (2**50, "1.0 PiB"),
        (2**60, "1024.0 PiB"),
        (-2048, "-2.0 KiB"),
        (1536.0, "1.5 KiB"),
    ],
)
def test_format_bytes(count, text):
    assert format_bytes(count) == text


def test_format_bytes_uses_binary_units_with_one_decimal():
    for exponent, unit in enumerate(("KiB", "MiB", "GiB", "TiB"), start=1):
        value = math.pi * 1024**exponent
        assert format_bytes(value) == f"3.1 {unit}"
