"""scripts/record-live.sh, as the workflows run it: the recorded live state committed and
pushed (docs/environments.md regenerated with it), and nothing when nothing changed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from shipyard.config.load import StackSources
from shipyard.config.model import Color
from shipyard.config.record import record_live
from tests.conftest import REPO

FILES = ("stacks", "examples", "docs", "Pulumi.yaml", "__main__.py")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def test_the_recorded_state_is_committed_and_pushed(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = tmp_path / "work"
    work.mkdir()
    for name in FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy(source, work / name)
    for stack_file in REPO.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, work / stack_file.name)
    shutil.copytree(REPO / "scripts", work / "scripts")
    (work / ".venv").symlink_to(REPO / ".venv")
    (work / ".gitignore").write_text(".venv\n.shipyard/\n")
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "start")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "-u", "origin", "main")

    script = [str(work / "scripts" / "record-live.sh"), "dev", "web@v3 live"]
    quiet = subprocess.run(script, cwd=work, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "record-live: dev unchanged\n"

    record_live(StackSources(work), "dev", "web", Color.BLUE, {Color.BLUE: "v3"})
    done = subprocess.run(script, cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "record-live: dev recorded\n"
    pushed = git(origin, "log", "-1", "--name-only", "--format=%s", "main").split()
    assert pushed[:6] == ["Record", "web@v3", "live", "in", "dev", "[skip"]
    assert {"stacks/dev.yaml", "Pulumi.dev.yaml", "docs/environments.md"} <= set(pushed)
    assert git(work, "status", "--porcelain") == ""
