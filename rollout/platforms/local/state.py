"""What `shipyard local up` started, on disk under .shipyard/local/ENV/ so `down` and `status`
(and later processes) find it: ports, pids, the HAProxy socket."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config.model import Color

STATE_DIR = Path(".shipyard") / "local"
SOCKET_PATH_MAX = 90


@dataclass
class ServerSlot:
    """One app process behind HAProxy: its fixed port, and what runs there now."""

    name: str  # blue1, green2, ...
    color: Color
    port: int
    version: str | None = None
    pid: int | None = None
    started: int | None = None


@dataclass
class ServiceState:
    name: str
    port: int
    test_port: int
    active_color: Color
    servers: list[ServerSlot] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.name

    @property
    def test_backend(self) -> str:
        return f"{self.name}_test"

    def slots(self, color: Color) -> list[ServerSlot]:
        return [s for s in self.servers if s.color is color]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def test_url(self) -> str:
        return f"http://127.0.0.1:{self.test_port}"


@dataclass
class LocalState:
    env: str
    directory: Path
    haproxy_pid: int | None = None
    haproxy_started: int | None = None
    services: list[ServiceState] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        """The runtime API socket: beside the state, unless that path is too long for a unix
        socket (HAProxy allows 97 bytes), then a short name in the temp dir."""
        natural = self.directory / "haproxy.sock"
        if len(str(natural)) <= SOCKET_PATH_MAX:
            return natural
        digest = hashlib.sha256(str(self.directory.resolve()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"shipyard-{digest}.sock"

    @property
    def config_file(self) -> Path:
        return self.directory / "haproxy.cfg"

    @property
    def pid_file(self) -> Path:
        return self.directory / "haproxy.pid"

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    def service(self, name: str) -> ServiceState:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {
            "env": self.env,
            "haproxy_pid": self.haproxy_pid,
            "haproxy_started": self.haproxy_started,
            "services": [asdict(s) for s in self.services],
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, self.state_file)  # readers never see half a file

    @classmethod
    def load(cls, root: Path, env: str) -> LocalState | None:
        directory = root / STATE_DIR / env
        path = directory / "state.json"
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        services = []
        for service in data["services"]:
            slots = [
                ServerSlot(**{**slot, "color": Color(slot["color"])})
                for slot in service.pop("servers")
            ]
            services.append(
                ServiceState(
                    **{**service, "active_color": Color(service["active_color"])}, servers=slots
                )
            )
        return cls(
            env=data["env"],
            directory=directory,
            haproxy_pid=data["haproxy_pid"],
            haproxy_started=data.get("haproxy_started"),
            services=services,
        )

    @classmethod
    def fresh(cls, root: Path, env: str) -> LocalState:
        return cls(env=env, directory=root / STATE_DIR / env)
