"""Which processes belong to one local environment, found again without its state file.

Every process `local up` spawns (HAProxy and the apps) carries SHIPYARD_LOCAL=<the
environment's state directory> in its environment, so a `local up` killed before it wrote a
pid down (SIGKILL, Ctrl-C mid-start) leaves nothing `local down` cannot find: /proc/PID/environ
holds a process's initial environment (https://man7.org/linux/man-pages/man5/proc_pid_environ.5.html).
HAProxy is also recognised by its command line (`haproxy -db -f <dir>/haproxy.cfg`).
"""

from __future__ import annotations

from pathlib import Path

from rollout.platforms.local.processes import alive, stop

MARKER = "SHIPYARD_LOCAL"
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column (https://docs.kernel.org/networking/proc_net_tcp.html)


def marker(directory: Path) -> dict[str, str]:
    """The environment entry that marks a process as this environment's."""
    return {MARKER: str(directory.resolve())}


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # gone meanwhile, or another user's
        return b""


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def strays(directory: Path) -> list[int]:
    """Live processes of the environment whose state is in `directory`, recorded or not."""
    tag = f"{MARKER}={directory.resolve()}".encode()
    config = f"{directory.resolve() / 'haproxy.cfg'}".encode()
    found = []
    for pid in _pids():
        environ = _read(f"/proc/{pid}/environ").split(b"\0")
        argv = _read(f"/proc/{pid}/cmdline").split(b"\0")
        haproxy = bool(argv) and argv[0].endswith(b"haproxy") and config in argv
        if (tag in environ or haproxy) and alive(pid):
            found.append(pid)
    return found


def stop_strays(directory: Path) -> list[int]:
    """Stop what the environment runs that its state does not know; the pids stopped."""
    pids = strays(directory)
    for pid in pids:
        stop(pid, None)
    return pids


def listener(port: int) -> int | None:
    """The pid listening on TCP `port` (any local address), when this user can see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _read(table).decode().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for pid in _pids():
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if str(descriptor.readlink()) in inodes:
                    return pid
            except OSError:
                continue
    return None


def command_of(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace").strip()
