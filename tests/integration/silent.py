"""A TCP port on 127.0.0.1 that never answers a connect: what a security group does to an
address it does not admit, made on loopback without sending a packet anywhere else."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_port() -> Iterator[int]:
    """A listening socket with backlog 0 that never accepts, its queue filled: Linux then drops
    further SYNs (net.ipv4.tcp_abort_on_overflow=0, the default), so a client's connect times
    out instead of being refused."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            filler.connect_ex(("127.0.0.1", port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()
