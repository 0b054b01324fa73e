"""Starting and stopping the processes the local platform owns, by pid."""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on right now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path) -> int:
    """Start a process in its own session (it outlives this command); its output goes to log.

    posix_spawn rather than subprocess.Popen: the process is meant to outlive any Python
    object that could track it, and it is found again by pid (and start time) from state.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        return os.posix_spawnp(
            argv[0],
            list(argv),
            dict(env),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(out)
        os.close(devnull)


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def started_at(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process
    for good (a pid alone can be reused)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(status.rsplit(")", 1)[-1].split()[19])


def stop(pid: int | None, started: int | None, timeout: float = 10.0) -> bool:
    """SIGTERM the process if it is still the one we started, wait for it to exit, SIGKILL
    after timeout. True when it is gone."""
    if not alive(pid):
        return True
    assert pid is not None
    if started is not None and started_at(pid) != started:
        return True  # the pid was reused by someone else's process: not ours to stop
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.05)
    return not alive(pid)


def _zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name in parentheses.
    state = status.rsplit(")", 1)[-1].split()[0]
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)  # reap our own child so the pid is gone
        except ChildProcessError:
            pass
        return True
    return False


def port_taken(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (binding it fails with EADDRINUSE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the apps bind
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def exited_at_start(what: str, pid: int | None, port: int, log: Path) -> str:
    """Why a process that should be serving has exited, with the fix: most often its port
    was taken by another process after `local up` chose it."""
    if port_taken(port):
        return (
            f"{what} (pid {pid}) exited at start: port {port} on 127.0.0.1 is taken by another "
            f"process (address already in use): stop that process (`ss -ltnp 'sport = :{port}'` "
            "names it), or run `shipyard local down` then `local up` to choose free ports"
        )
    return f"{what} (pid {pid}) exited at start; see {log}"
