"""One `local up` or `local down` of an environment at a time, and a clear word when its state
cannot be written.

The lock is flock(2) on .shipyard/local/ENV.lock: the kernel releases it when its holder exits,
however it exits, so it is never stale (https://man7.org/linux/man-pages/man2/flock.2.html).
It is separate from the ledger's lock, which a deploy holds while it starts the platform.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rollout.platforms.local.state import STATE_DIR
from shipyard.errors import CheckFailed, UsageError


class StateNotWritable(UsageError):
    """The local platform's state directory cannot be written: nothing was started."""


class StateLeftBehind(CheckFailed):
    """`local down` stopped everything but could not remove its state files."""


def unwritable(directory: Path, error: OSError) -> str:
    return (
        f"cannot write {directory} ({error.strerror or error}): make it writable "
        f"(chmod -R u+w {directory}) or remove it, then run the command again"
    )


@contextmanager
def platform_lock(root: Path, env: str, *, required: bool = True) -> Iterator[bool]:
    """Hold the environment's platform lock, waiting for another `up`/`down` to finish.
    Yields whether the lock is held: without `required`, a lock file that cannot be created
    (a read-only .shipyard) yields False instead of refusing, so `down` still stops."""
    path = root / STATE_DIR / f"{env}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Read-only is enough for flock, and works on a lock file left read-only.
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as error:
        if required:
            raise StateNotWritable(unwritable(path.parent, error)) from None
        yield False
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(descriptor)  # releases the lock


def require_writable(*directories: Path) -> None:
    """Refuse, before anything starts, when a directory the platform writes to is read-only."""
    for directory in directories:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            raise StateNotWritable(unwritable(directory, error)) from None
