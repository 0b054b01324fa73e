"""The sample service shipyard deploys on the local platform: a real HTTP/1.1 server process.

    python examples/app/server.py --port 8080 --version v2 --color green

Routes: `/healthz` (readiness), `/version` (`{"version", "color"}`), `/` (a greeting). Every
response carries `X-App-Version` and `X-App-Color`. SIGTERM stops accepting, lets in-flight
requests finish, then exits 0.

Fault knobs (environment variables), for tests and the demo:

    APP_FAIL_HEALTH=1       /healthz answers 503
    APP_ERROR_RATE=0.3      that share of `/` and `/version` requests answer 500
    APP_LATENCY_MS=250      every response waits this long first
    APP_CRASH_AFTER=5       the process exits (code 3) this many seconds after start
    APP_SLOW_START=2        the port opens only after this many seconds

Any knob may name the versions it applies to: APP_ERROR_RATE=0.3@v3 (or @v3,v4).

Built on the standard library's ThreadingHTTPServer: no dependencies, starts in tens of
milliseconds, speaks keep-alive HTTP/1.1, one thread per connection.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Knobs:
    """Fault knobs from the environment. A value may name the versions it applies to,
    `0.3@v3` or `1@v3,v4`, so one stack config can hold a faulty release for the demo."""

    def __init__(self, environ: dict[str, str], version: str) -> None:
        def knob(name: str) -> str:
            value, _, versions = environ.get(name, "").partition("@")
            if versions and version not in versions.split(","):
                return ""
            return value

        self.fail_health = knob("APP_FAIL_HEALTH") not in ("", "0", "false")
        self.error_rate = float(knob("APP_ERROR_RATE") or 0)
        self.latency = float(knob("APP_LATENCY_MS") or 0) / 1000
        self.crash_after = float(knob("APP_CRASH_AFTER") or 0)
        self.slow_start = float(knob("APP_SLOW_START") or 0)


def make_handler(
    version: str, color: str, knobs: Knobs, stopping: threading.Event
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "shipyard-sample/1"
        # Headers and body go out as two writes: without TCP_NODELAY a keep-alive client
        # waits out a delayed ACK (~40 ms) on every response.
        disable_nagle_algorithm = True
        # An idle keep-alive connection gives up after this long, so a shutdown never waits
        # on a client that keeps its connection open between requests.
        timeout = 2

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if knobs.latency:
                time.sleep(knobs.latency)
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                if knobs.fail_health:
                    self.reply(503, {"status": "failing", "version": version})
                else:
                    self.reply(200, {"status": "ok", "version": version})
                return
            if path in ("/", "/version"):
                if knobs.error_rate and random.random() < knobs.error_rate:
                    self.reply(500, {"error": "injected failure", "version": version})
                    return
                if path == "/version":
                    self.reply(200, {"version": version, "color": color})
                else:
                    self.reply(200, {"message": f"hello from {color} {version}"})
                return
            self.reply(404, {"error": "not found", "path": path})

        def reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-App-Version", version)
            self.send_header("X-App-Color", color)
            if stopping.is_set():
                # Shutting down: this answer is the connection's last.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def handle(self) -> None:
            # Load balancer health probes close their connection early: not worth a traceback.
            try:
                super().handle()
            except (ConnectionResetError, BrokenPipeError, TimeoutError):
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for in-flight requests
    block_on_close = True
    allow_reuse_address = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="shipyard's sample service")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--version", default=os.environ.get("APP_VERSION", "v1"))
    parser.add_argument("--color", default=os.environ.get("APP_COLOR", "blue"))
    args = parser.parse_args(argv)
    knobs = Knobs(dict(os.environ), args.version)
    if knobs.slow_start:
        time.sleep(knobs.slow_start)
    stopping = threading.Event()
    server = Server((args.host, args.port), make_handler(args.version, args.color, knobs, stopping))

    def stop(_signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return: call it off the main thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if knobs.crash_after:
        timer = threading.Timer(knobs.crash_after, lambda: os._exit(3))
        timer.daemon = True
        timer.start()
    server.serve_forever(poll_interval=0.05)
    server.server_close()  # stop accepting; join the threads still answering
    return 0


if __name__ == "__main__":
    sys.exit(main())
