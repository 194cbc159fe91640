"""Every bad input ends with one line on stderr and exit status 2, and touches nothing.

The cases that escaped as tracebacks, hangs or misleading messages before: unreachable
schedulers, stores where nothing can be written, malformed ``--sites``, sweeps too large
to run, huge spec values, errors found after planning, a non-positive memory limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import GOOD_SPEC, file_digests, one_line_error

from pipeline.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------- schedulers


def test_unreachable_scheduler_gives_up_in_bounded_time(good, tmp_path, capsys):
    store = tmp_path / "s.zarr"
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    code = main(["run", str(good), "--store", str(store), "--scheduler", address,
                 "--connect-timeout", "2", "--no-progress"])  # fmt: skip
    seconds = time.monotonic() - started
    assert code == 2
    error = one_line_error(capsys)
    assert address in error and "within 2 s" in error
    assert seconds < 15
    assert not store.exists() and not (tmp_path / "s.zarr.lock").exists()


def test_default_connect_timeout_is_at_most_30_seconds():
    from pipeline.cli.parser import build_parser
    from pipeline.run.clusters import CONNECT_TIMEOUT

    args = build_parser().parse_args(["run", "x.toml"])
    assert args.connect_timeout == CONNECT_TIMEOUT <= 30


def test_missing_scheduler_file_is_refused_at_once(good, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "scheduler.json"
    started = time.monotonic()
    code = main(["run", str(good), "--store", str(tmp_path / "s.zarr"),
                 "--scheduler-file", str(missing), "--no-progress"])  # fmt: skip
    assert code == 2 and time.monotonic() - started < 10
    assert str(missing) in one_line_error(capsys)


def test_scheduler_file_that_is_not_one_is_refused(good, tmp_path, capsys):
    junk = tmp_path / "scheduler.json"
    junk.write_text("{not json")
    code = main(["run", str(good), "--store", str(tmp_path / "s.zarr"),
                 "--scheduler-file", str(junk), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "not a Dask scheduler file" in one_line_error(capsys)


def test_malformed_scheduler_address_is_refused(good, tmp_path, capsys):
    code = main(["run", str(good), "--store", str(tmp_path / "s.zarr"),
                 "--scheduler", "no such scheduler", "--no-progress"])  # fmt: skip
    assert code == 2
    assert "'no such scheduler' is not a Dask scheduler address" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["0", "-3", "inf", "soon"])
def test_connect_timeout_must_be_positive(good, value, capsys):
    assert main(["run", str(good), f"--connect-timeout={value}"]) == 2
    assert "positive number of seconds" in one_line_error(capsys)


# ------------------------------------------------------------------------ store places


def test_store_under_a_regular_file_is_refused(good, tmp_path, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("not a directory")
    store = blocker / "sweep.zarr"
    for command in (["run", str(good), "--store", str(store), "--no-progress"],
                    ["validate", str(good), "--store", str(store)]):  # fmt: skip
        assert main(command) == 2
        assert "is a file, not a directory" in one_line_error(capsys)
    assert blocker.read_text() == "not a directory"


def test_store_that_is_a_file_is_refused(good, tmp_path, capsys):
    store = tmp_path / "sweep.zarr"
    store.write_text("oops")
    assert main(["run", str(good), "--store", str(store), "--no-progress"]) == 2
    assert "is not an nqs-ent store" in one_line_error(capsys)
    assert store.read_text() == "oops"


@contextlib.contextmanager
def read_only_directory(tmp_path: Path, tmpfs):
    """A directory nobody may write (once :func:`make_read_only`): a tmpfs for root (who
    ignores permission bits), mode 0555 for anyone else."""
    folder = tmp_path / "readonly"
    if os.geteuid() != 0:
        folder.mkdir()
        yield folder
        return
    with tmpfs(folder, "8m") as disk:
        yield disk


def make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        folder.chmod(0o555)


def test_store_in_a_directory_nobody_can_write_is_refused(good, tmp_path, tmpfs, capsys):
    with read_only_directory(tmp_path, tmpfs) as folder:
        make_read_only(folder)
        store = folder / "new.zarr"
        for command in (["run", str(good), "--store", str(store), "--no-progress"],
                        ["validate", str(good), "--store", str(store)]):  # fmt: skip
            assert main(command) == 2
            assert "cannot write" in one_line_error(capsys)
        assert not store.exists()


def test_existing_store_on_a_read_only_filesystem_is_refused(
    good, tmp_path, existing_store, tmpfs, capsys
):
    with read_only_directory(tmp_path, tmpfs) as folder:
        store = folder / "store.zarr"
        shutil.copytree(existing_store, store)
        spec = tmp_path / "spec.toml"
        spec.write_text(existing_store.parent.joinpath("good.toml").read_text())
        make_read_only(folder)
        before = file_digests(store)
        assert main(["run", str(spec), "--store", str(store), "--no-progress"]) == 2
        assert "cannot write" in one_line_error(capsys)
        assert file_digests(store) == before


def test_error_after_planning_is_the_only_line(good, tmp_path, capsys):
    """A store locked by another run, found after the plan: stderr is the error alone."""
    store = tmp_path / "locked.zarr"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from pipeline.store import StoreLock; "
         "lock = StoreLock(Path(sys.argv[1])); lock.acquire(); print('locked', flush=True); "
         "time.sleep(60)", str(store)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(good), "--store", str(store), "--workers", "1"]) == 2
        assert "in use by another run" in one_line_error(capsys)
        assert not store.exists()
    finally:
        holder.kill()
        holder.wait()


# ----------------------------------------------------------------------------- values


def test_malformed_sites_json_is_refused(capsys):
    code = main(["entropy", "sn", "-n", "6", "--subsystem", "explicit", "--sites", "[[0,"])
    assert code == 2
    assert "--sites '[[0,' is not JSON" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["-4GiB", "0", "0B"])
def test_non_positive_memory_limit_is_refused(good, value, capsys):
    for command in ("validate", "run"):
        assert main([command, str(good), f"--memory-limit={value}"]) == 2
        error = one_line_error(capsys)
        assert "must be a positive size" in error and "memory limit" not in error


@pytest.mark.parametrize(
    "key", ["name", "architecture", "activation", "measure", "kind", "m", "experiment"]
)
def test_huge_value_gives_a_short_error_line(tmp_path, key, capsys):
    huge = "x" * 10_000_000
    values = {"name": "a", "architecture": "sn", "activation": "tanh", "measure": "vn",
              "kind": "window", "m": "1..n//2", "experiment": "e"}  # fmt: skip
    values[key] = huge
    text = (
        f'name = "{values["name"]}"\nseed = 1\n[[experiment]]\nname = "{values["experiment"]}"\n'
        f'architecture = "{values["architecture"]}"\nn = [6]\nsamples = 2\n'
        f'measures = ["{values["measure"]}"]\n[experiment.hyper]\n'
        f'activation = "{values["activation"]}"\n[experiment.subsystem]\n'
        f'kind = "{values["kind"]}"\nm = "{values["m"]}"\nwindows = 2\n'
    )
    path = tmp_path / "huge.toml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    error = one_line_error(capsys)
    assert len(error) < 400 and "xxx..." in error


# ------------------------------------------------------------------------------ scale


@pytest.mark.parametrize(
    ("samples", "per_task", "fragment"),
    [(10**12, None, "writes a chunk of"), (10**12, 1, "tasks, more than")],
)
def test_sweeps_too_large_to_run_are_refused(tmp_path, samples, per_task, fragment, capsys):
    text = GOOD_SPEC.replace("samples = 2", f"samples = {samples}")
    if per_task is not None:
        text = text.replace("measures", f"samples_per_task = {per_task}\nmeasures")
    path = tmp_path / "huge.toml"
    path.write_text(text)
    started = time.monotonic()
    assert main(["validate", str(path)]) == 2
    assert fragment in one_line_error(capsys)
    store = tmp_path / "huge.zarr"
    assert main(["run", str(path), "--store", str(store), "--no-progress"]) == 2
    assert fragment in one_line_error(capsys)
    assert time.monotonic() - started < 20 and not store.exists()


def test_store_larger_than_the_free_space_is_refused(tmp_path, tmpfs, capsys):
    # 200,000 tasks need about 3 GiB in 1,000,000 files, far beyond an 8 MiB filesystem
    text = GOOD_SPEC.replace("samples = 2", "samples = 100000\nsamples_per_task = 1")
    spec = tmp_path / "big.toml"
    spec.write_text(text)
    with read_only_directory(tmp_path, tmpfs) as folder:
        if os.geteuid() != 0:
            pytest.skip("needs a small filesystem (root mounts a tmpfs)")
        store = folder / "big.zarr"
        for command in (["validate", str(spec), "--store", str(store)],
                        ["run", str(spec), "--store", str(store), "--no-progress"]):  # fmt: skip
            assert main(command) == 2
            error = one_line_error(capsys)
            assert "on disk, more than the" in error and "free" in error
        assert not store.exists()


def test_validate_states_the_store_size(good, tmp_path, capsys):
    assert main(["validate", str(good), "--store", str(tmp_path / "s.zarr")]) == 0
    out = capsys.readouterr().out
    assert "on disk in 10 files when complete (new store" in out
