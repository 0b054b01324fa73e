"""The local platform's figures: `local up` time, weight-change-to-traffic time, requests/s.

- `shipyard local up` as a fresh process for one service with 2 processes per color (target
  under 3 s), median of --repeat runs (each followed by `local down`).
- From a weight change (blue 100 -> green 100) until every request lands on green (target
  under 100 ms): requests run back to back; the figure is the time from the change until the
  first of 50 consecutive green answers was sent.
- Requests per second through HAProxy to the sample service, and to one app process directly,
  with --clients threads sending --requests requests in all (bounded; 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from rollout.platforms.local.platform import local_down, local_up  # noqa: E402
from rollout.platforms.local.router import HaproxyRouter  # noqa: E402
from rollout.platforms.local.runtime_api import RuntimeApi  # noqa: E402
from shipyard.config.load import StackSources  # noqa: E402
from shipyard.config.model import Color  # noqa: E402

SHIPYARD = [sys.executable, "-m", "shipyard.cli.main"]


def make_project(root: Path) -> Path:
    """One service (web), two processes per color, dev live on blue v1 / idle green v2."""
    project = root / "project"
    shutil.copytree(REPO / "stacks", project / "stacks")
    shutil.copytree(REPO / "examples", project / "examples")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    template = project / "stacks" / "template.yaml.j2"
    doc = yaml.safe_load(template.read_text().replace("{{ env }}", "ENV"))
    doc["services"] = [doc["services"][0]]
    template.write_text(yaml.safe_dump(doc, sort_keys=False).replace("ENV", "{{ env }}"))
    for env in ("staging", "prod"):
        overlay = project / "stacks" / f"{env}.yaml"
        data = yaml.safe_load(overlay.read_text())
        data.pop("services", None)
        overlay.write_text(yaml.safe_dump(data, sort_keys=False))
    (project / "stacks" / "dev.yaml").write_text(
        yaml.safe_dump(
            {
                "network": {"cidr": "10.10.0.0/16", "natGateways": 0},
                "services": [
                    {"name": "web", "desiredCount": 2, "versions": {"blue": "v1", "green": "v2"}}
                ],
            }
        )
    )
    subprocess.run(
        [*SHIPYARD, "--project-dir", str(project), "stacks", "render"],
        check=True,
        capture_output=True,
    )
    return project


def time_up(project: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(
            [*SHIPYARD, "--project-dir", str(project), "local", "up", "dev"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - began)
        subprocess.run(
            [*SHIPYARD, "--project-dir", str(project), "local", "down", "dev"],
            check=True,
            capture_output=True,
        )
    return statistics.median(times)


def time_shift(url: str, router: HaproxyRouter, repeat: int) -> float:
    results = []
    with httpx.Client() as client:
        for _ in range(repeat):
            router.set_weights({Color.BLUE: 100, Color.GREEN: 0})
            while client.get(url).headers["X-App-Version"] != "v1":
                pass
            changed = time.perf_counter()
            router.set_weights({Color.BLUE: 0, Color.GREEN: 100})
            streak_start, streak = None, 0
            while streak < 50:
                sent = time.perf_counter()
                if client.get(url).headers["X-App-Version"] == "v2":
                    streak_start = sent if streak == 0 else streak_start
                    streak += 1
                else:
                    streak = 0
            assert streak_start is not None
            results.append(max(0.0, streak_start - changed))
    return statistics.median(results)


def requests_per_second(url: str, total: int, clients: int) -> float:
    per_client = total // clients
    failures: list[int] = []

    def worker() -> None:
        with httpx.Client() as client:
            for _ in range(per_client):
                if client.get(url).status_code != 200:
                    failures.append(1)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        print(f"  ({len(failures)} failed requests)")
    return per_client * clients / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size, one run: proves the benchmark still works (tests run this)",
    )
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.requests = 1, 200
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        project = make_project(Path(tmp))
        up = time_up(project, args.repeat)
        print(
            f"local up (1 service, 2 processes per color, fresh process): {up:.2f} s "
            f"({'meets' if up < 3 else 'misses'} < 3 s)"
        )
        sources = StackSources(project)
        state = local_up(sources, "dev").state
        try:
            web = state.service("web")
            router = HaproxyRouter(RuntimeApi(state.socket), web)
            shift = time_shift(web.url + "/version", router, args.repeat * 3)
            print(
                f"weight change until all traffic moved: {1000 * shift:.1f} ms "
                f"({'meets' if shift < 0.1 else 'misses'} < 100 ms)"
            )
            router.set_weights({Color.BLUE: 50, Color.GREEN: 50})
            through = requests_per_second(web.url + "/version", args.requests, args.clients)
            direct_url = f"http://127.0.0.1:{web.servers[0].port}/version"
            direct = requests_per_second(direct_url, args.requests // 2, args.clients)
            print(
                f"requests/s through HAProxy ({args.clients} clients, {args.requests} requests, "
                f"4 app processes): {through:.0f}"
            )
            print(f"requests/s to one app process directly: {direct:.0f}")
        finally:
            local_down(sources, "dev")


if __name__ == "__main__":
    main()
