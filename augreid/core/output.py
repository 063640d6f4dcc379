"""Where a run writes: an output folder checked before any work, and one run at a time in it.

The check refuses, before a second of work, an output that is a file, that cannot be written, or that lies in the
data set read (a run must never write into its own input). The lock is a file beside the folder, held while the
run writes into it and removed after. It is the kernel's (`flock`, through `filelock`): a process that dies, even by
kill -9, releases it, so a stale file never blocks the next run. The holder writes its description into the file, so
the refusal can say which run has the folder.
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from filelock import Timeout, UnixFileLock

from augreid.core.errors import InputError


def check_output(out: str | Path, data_root: str | Path | None = None) -> Path:
    """`out` as a folder this process can create or write, outside `data_root`; InputError otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (choose another output)")
    if data_root is not None:
        # resolved and as written: an augmented set links to its source's test folders, so `AUG/bounding_box_test/x`
        # resolves into the source set, yet is inside AUG as the user named it
        for source, target in ((Path(data_root).resolve(), out.resolve()),
                               (Path(data_root).absolute(), out.absolute())):
            if target == source or source in target.parents:
                raise InputError(f"{out}: the output must not be the data set ({data_root}) or inside it")
    check_creatable(out.absolute(), named=out)
    return out


def check_creatable(folder: Path, named: Path) -> None:
    """`folder` exists as a folder we can write in, or can be made; refusals name `named`, what the user gave."""
    nearest = next(p for p in (folder, *folder.parents) if p.exists())
    if not nearest.is_dir():
        raise InputError(f"{named}: cannot be created, {nearest} is a file")
    try:  # a real write: permissions alone miss read-only mounts and /proc, where even root cannot create files
        tempfile.TemporaryFile(dir=nearest).close()
    except OSError as err:
        raise InputError(f"{named}: cannot write there ({nearest}: {err.strerror})") from None


def check_output_file(path: str | Path) -> Path:
    """`path` as a file this process can write: not a folder, its folder creatable."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file name")
    check_creatable(path.absolute().parent, named=path)
    return path


def lock_path(out: Path) -> Path:
    """Beside the folder it guards, keyed on its real path: two names of one folder (a link) share one lock."""
    real = out.resolve()
    return real.parent / f".{real.name}.lock"


def holder_description() -> str:
    command = " ".join(Path(sys.argv[0]).name if i == 0 else arg for i, arg in enumerate(sys.argv))
    return f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}: {command}"


def write_holder(fd: int) -> None:
    """filelock's `on_acquired` hook: the lock file names its holder, for the refusal of the next run."""
    os.ftruncate(fd, 0)  # a holder killed by kill -9 left its own description
    os.write(fd, (holder_description() + "\n").encode())


def holder_of(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:  # released and removed since our attempt
        return "another process"


@contextlib.contextmanager
def output_lock(out: str | Path) -> Iterator[None]:
    """Hold `out`'s lock for the block; another holder is refused at once with its description."""
    out = Path(out)
    path = lock_path(out)
    # checked first: where no file can be created (ENOENT in /proc), filelock would report the lock as taken
    check_creatable(path.parent, named=out)
    # kernel locks only: a soft lock (a file that exists) would outlive a run killed by kill -9
    lock = UnixFileLock(path, timeout=0, fallback_to_soft=False, on_acquired=write_holder)
    try:
        lock.acquire()
    except Timeout:
        raise InputError(f"{out}: in use by another run ({holder_of(path)}); wait for it or choose another output") \
            from None
    except OSError as err:
        raise InputError(f"{out}: cannot write beside it ({path}: {err.strerror})") from None
    try:
        yield
    finally:
        # removed while still held: a run that opened the file before finds it unlinked once its lock succeeds,
        # which filelock does not count as holding it (that run is refused as if it had come a moment earlier)
        path.unlink(missing_ok=True)
        lock.release()
