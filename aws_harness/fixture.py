"""Start and stop the AWS harness from a test, a benchmark or the demo.

    with AwsWorld.start(project_root, "dev") as world:
        subprocess.run(["shipyard", "--project-dir", root, "deploy", "dev", *world.platform_args,
                        "--service", "web", "--version", "v3"], env=world.environ())

The harness runs in its own process (moto keeps its backends per process). Leaving the block
stops it, which stops every process it started; anything still carrying its marker (a task
orphaned by a harness killed with SIGKILL) is stopped too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rollout.platforms.local.owned import stop_strays

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


@dataclass
class AwsWorld:
    facts: dict[str, Any]
    state: Path
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return str(self.facts["endpoint"])

    @property
    def outputs_file(self) -> Path:
        return Path(self.facts["outputs"])

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self.outputs_file.read_text()))

    @property
    def platform_args(self) -> list[str]:
        """What `deploy`, `rollback`, `status`... take to run on this harness."""
        return [
            "--platform",
            "aws",
            "--endpoint-url",
            self.endpoint,
            "--stack-outputs",
            str(self.outputs_file),
        ]

    def url(self, service: str) -> str:
        """The production listener, on loopback."""
        return str(self.facts["services"][service]["production"])

    def test_url(self, service: str) -> str:
        return str(self.facts["services"][service]["test"])

    def environ(self) -> dict[str, str]:
        """The environment for a shipyard process: dummy credentials, the region."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=str(self.facts["region"]),
        )
        return env

    def client(self, name: str) -> Any:
        import boto3

        return boto3.session.Session(
            region_name=str(self.facts["region"]),
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).client(name, endpoint_url=self.endpoint)

    def version(self, service: str, listener: str = "production") -> str:
        url = self.url(service) if listener == "production" else self.test_url(service)
        return str(httpx.get(f"{url}/version", timeout=5).json()["version"])

    def log(self) -> str:
        return (self.state / "harness.log").read_text(errors="replace")

    @classmethod
    @contextmanager
    def start(
        cls, project: Path, env: str = "dev", state: Path | None = None, speedup: float = 60.0
    ) -> Iterator[AwsWorld]:
        state = (state or project / ".shipyard" / "aws-harness").resolve()
        state.mkdir(parents=True, exist_ok=True)
        ready = state / "ready.json"
        ready.unlink(missing_ok=True)
        with open(state / "harness.log", "ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aws_harness",
                    "serve",
                    "--project",
                    str(project),
                    "--env",
                    env,
                    "--state",
                    str(state),
                    "--ready",
                    str(ready),
                    "--speedup",
                    f"{speedup:g}",
                    "--exit-with-parent",
                ],
                cwd=REPO,
                # Its own session: a Ctrl-C meant for the caller does not cut the world from
                # under it; leaving the block stops it, and it stops if the caller dies.
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not ready.exists():
                if process.poll() is not None:
                    tail = (state / "harness.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the AWS harness exited at start:\n{tail}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the AWS harness was not ready in {START_TIMEOUT:g} s")
                time.sleep(0.05)
            yield cls(json.loads(ready.read_text()), state, process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            stop_strays(state)
