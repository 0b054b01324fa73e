"""Webhook notifications: sent on start, outcome and a closed gate; a dead webhook never fails
a deploy."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.notify import Notifier
from rollout.platforms.local.platform import local_down
from rollout.platforms.local.processes import free_port
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200 if self.path == "/hook" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def configure(project: StackSources, env: str, url: str) -> None:
    overlay = project.overlay(env)
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    approvals = doc.get("deploy", {}).get("approvals")
    doc["deploy"] = {
        "trafficSteps": [100],
        "bakeSeconds": 0,
        "scaleDownDelaySeconds": 0,
        "analysis": {"minRequests": 0},
        "webhookUrl": url,
        **({"approvals": approvals} if approvals else {}),
    }
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))


def deploy_api_v2(project: StackSources, cli: Callable[..., CliResult]) -> CliResult:
    """`shipyard deploy dev --version v2 --service api`, dev stopped afterwards."""
    try:
        return cli(
            "deploy", "dev", "--version", "v2", "--service", "api", "--by", "ci", project=project
        )
    finally:
        local_down(project, "dev")


def test_a_deploy_announces_its_start_and_outcome(
    project: StackSources, hook: tuple[str, list[dict[str, Any]]], cli: Callable[..., CliResult]
) -> None:
    url, received = hook
    configure(project, "dev", url)
    result = deploy_api_v2(project, cli)
    assert result.code == 0, result
    assert [m["shipyard"]["event"] for m in received] == ["started", "succeeded"]
    assert received[0]["text"].startswith(":rocket: shipyard dev: deploying api@v2#unknown")
    assert received[1]["shipyard"]["version"] == "v2"


def test_the_webhook_url_comes_from_the_variable_the_config_names(
    project: StackSources,
    hook: tuple[str, list[dict[str, Any]]],
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = hook
    monkeypatch.setenv("SHIPYARD_TEST_WEBHOOK", url)
    configure(project, "dev", "${SHIPYARD_TEST_WEBHOOK}")
    assert "${SHIPYARD_TEST_WEBHOOK}" in project.pulumi_stack_file("dev").read_text()
    result = deploy_api_v2(project, cli)
    assert result.code == 0, result
    assert [m["shipyard"]["event"] for m in received] == ["started", "succeeded"]


def test_a_refused_or_unset_webhook_leaves_no_url_in_the_ledger(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, _ = hook
    secret_url = url.replace("/hook", "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX")
    ledger = SqliteLedger(tmp_path / "ledger.db")
    environ = {"HOOK": secret_url}
    assert not Notifier("${HOOK}", "dev", ledger, environ).send("started", "deploying")
    assert not Notifier("${UNSET_HOOK}", "dev", ledger, environ).send("started", "deploying")
    errors = [e.data["error"] for e in ledger.events("dev") if e.kind == "notification-failed"]
    assert errors[0].startswith("HTTPStatusError: Client error '404 Not Found'"), errors
    assert "/[secret]" in errors[0]
    assert errors[1] == "${UNSET_HOOK} is not set; export the webhook URL in it"
    assert not any("XXXXXXXX" in error or "/services/" in error for error in errors)


def test_a_closed_gate_asks_for_approval(
    project: StackSources, hook: tuple[str, list[dict[str, Any]]], cli: Callable[..., CliResult]
) -> None:
    url, received = hook
    configure(project, "staging", url)
    result = cli("deploy", "staging", "--version", "v2", "--service", "api", "--by", "ci",
                 "--author", "ada", project=project)  # fmt: skip
    assert result.code == 1
    assert [m["shipyard"]["event"] for m in received] == ["approval-needed"]
    assert "needs 1 approval(s) in staging" in received[0]["text"]


def test_a_dead_webhook_never_fails_a_deploy(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    configure(project, "dev", f"http://127.0.0.1:{free_port()}/nobody-listens")
    result = deploy_api_v2(project, cli)
    assert result.code == 0, result
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    failures = [e for e in ledger.events("dev") if e.kind == "notification-failed"]
    assert [e.data["event"] for e in failures] == ["started", "succeeded"]
    assert failures[0].data["error"].startswith("ConnectError")
