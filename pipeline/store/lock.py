"""One writer per store: an advisory ``fcntl`` lock on a file beside the store, naming its
holder; and the read-only checks that a store can be written where it is (location,
free space).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.store.layout import StoreError


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_location(path: Path) -> None:
    """Raise :class:`StoreError` unless a run can create or update the store at ``path``
    and its lock file beside it: every existing ancestor a directory, the store (or the
    directory it will be created in) writable. Read-only."""
    if path.exists() and not path.is_dir():
        raise StoreError(f"{path} is a file, not a store; choose another --store")
    ancestor = _existing_ancestor(path if path.exists() else path.parent)
    if not ancestor.is_dir():
        raise StoreError(
            f"cannot create {path}: {ancestor} is a file, not a directory; choose another --store"
        )
    need = [ancestor]
    if path.exists():
        need.append(path)
        lock = lock_path(path)
        need.append(lock if lock.exists() else path.parent)
    for where in need:
        if not os.access(where, os.W_OK | (os.X_OK if where.is_dir() else 0)):
            raise StoreError(
                f"cannot write {where} (permission denied or a read-only filesystem); "
                "choose another --store"
            )


def check_space(path: Path, estimate: Any) -> None:
    """Raise :class:`StoreError` when a new store's estimated size on disk (or its number
    of files) exceeds what the filesystem that will hold ``path`` has free.

    ``estimate``: a :class:`pipeline.sweep.plan.StoreEstimate`."""
    from pipeline.sweep.plan import format_bytes

    where = _existing_ancestor(path)
    stats = os.statvfs(where)
    free = stats.f_bavail * stats.f_frsize
    if estimate.bytes > free:
        raise StoreError(
            f"{path}: the store needs about {format_bytes(estimate.bytes)} on disk, more than "
            f"the {format_bytes(free)} free on the filesystem of {where}; free space, or "
            "choose another --store"
        )
    if stats.f_files and estimate.files > stats.f_favail:
        raise StoreError(
            f"{path}: the store needs {estimate.files} files, more than the "
            f"{stats.f_favail} free inodes of the filesystem of {where}; raise "
            "samples_per_task, or choose another --store"
        )


def lock_path(path: Path) -> Path:
    """The lock file of a store: ``STORE.lock`` beside it (Zarr ignores no foreign files
    inside a store)."""
    return path.with_name(path.name + ".lock")


def _owner(fd: int) -> str:
    """The holder named in an open lock file."""
    return os.read(fd, 4096).decode(errors="replace").strip() or "unknown process"


def in_use(path: Path, owner: str) -> StoreError:
    """The error for a store locked by another run."""
    return StoreError(
        f"{path} is in use by another run ({owner}); wait for it to finish or stop it"
    )


def check_unlocked(path: Path) -> None:
    """Raise :class:`StoreError` when another run holds the store's lock. Read-only."""
    owner = StoreLock(path).holder()
    if owner is not None:
        raise in_use(path, owner)


class StoreLock:
    """An exclusive advisory lock (``flock``) on the file ``STORE.lock``.

    The kernel releases it when the holder exits, even on SIGKILL, so a killed run never
    leaves a stale lock. The file names its holder for the message a second run prints.
    """

    def __init__(self, path: Path) -> None:
        self.store = path
        self.path = lock_path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(
                f"cannot lock {self.store}: {error.strerror or error} ({self.path}); "
                "choose another --store"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            raise in_use(self.store, owner) from None
        holder: dict[str, object] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        if os.environ.get("SLURM_JOB_ID"):
            holder["slurm_job"] = os.environ["SLURM_JOB_ID"]
        with contextlib.suppress(OSError):  # naming the holder is a courtesy (disk full)
            os.ftruncate(fd, 0)
            os.write(fd, " ".join(f"{k}={v}" for k, v in holder.items()).encode())
        self._fd = fd

    def holder(self) -> str | None:
        """Who holds the lock now (read-only probe), or ``None`` when it is free."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner(fd)
        finally:
            os.close(fd)  # also drops the shared lock, if taken
        return None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[StoreLock]:
    """``with locked(store): ...`` holds the store's lock for the block."""
    lock = StoreLock(path)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
