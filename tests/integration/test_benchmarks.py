"""Every benchmark still runs: each one at its smallest size (`--quick`), as `make bench` runs it.

Asserts that it completes and prints its figures, never what the figures are (times depend on
the machine). A new file in benchmarks/ is picked up without touching this test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BENCHMARKS = sorted((REPO / "benchmarks").glob("*.py"))


def test_every_benchmark_is_found() -> None:
    names = {path.stem for path in BENCHMARKS}
    assert {"render", "parity", "local", "rollout", "ledger", "aws"} <= names


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda path: path.stem)
def test_the_benchmark_runs_at_its_smallest_size_and_prints_figures(benchmark: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(benchmark), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    figures = [line for line in done.stdout.splitlines() if re.search(r"\d", line)]
    assert figures, f"no figures printed:\n{done.stdout}"
