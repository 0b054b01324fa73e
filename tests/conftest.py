"""Fixtures shared by every tier: the repository's project, and throwaway copies of it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parity.render import RenderedStack, render_stack
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py")


@pytest.fixture(scope="session", autouse=True)
def ledger_key_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ledger's key file (rollout/ledger_head.py) lands in a throwaway config folder, never
    in the home of whoever runs the tests; subprocesses inherit it."""
    config = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(config))
        patch.delenv("SHIPYARD_LEDGER_KEY", raising=False)
        yield config


@pytest.fixture(scope="session")
def repo_sources() -> StackSources:
    """The repository itself: read it, never write it."""
    return StackSources(REPO)


@pytest.fixture(scope="session")
def rendered(repo_sources: StackSources) -> dict[str, RenderedStack]:
    """Every committed stack rendered once per session, all in one process."""
    return {env: render_stack(repo_sources, env) for env in repo_sources.environments()}


@pytest.fixture
def project(tmp_path: Path) -> StackSources:
    """A writable copy of the project: stacks/, Pulumi.yaml, __main__.py, Pulumi.<env>.yaml."""
    return copy_project(tmp_path / "project")


def copy_project(root: Path) -> StackSources:
    """Copy the project's stacks/, examples/, project files and stack files to root."""
    shutil.copytree(REPO / "stacks", root / "stacks")
    shutil.copytree(REPO / "examples", root / "examples")
    for name in PROJECT_FILES:
        shutil.copy(REPO / name, root / name)
    for stack_file in REPO.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, root / stack_file.name)
    return StackSources(root)


@pytest.fixture
def rerender(project: StackSources) -> Callable[[str], RenderedStack]:
    """Regenerate the copy's stack files from its stacks/, then render one environment."""

    def run(env: str) -> RenderedStack:
        write_stack_files(project, plan_stack_files(project))
        return render_stack(project, env)

    return run


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: compare before and after to prove nothing changed."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def container_ids(tree: Any) -> list[int]:
    """The id of every mapping and list in a parsed document, once per place it appears: a
    repeated id is one object reachable from two places, so editing one edits the other."""
    found: list[int] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(id(node))
            stack.extend(node.values())
        elif isinstance(node, list):
            found.append(id(node))
            stack.extend(node)
    return found


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-400:]!r}, err={self.err[-400:]!r})"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `shipyard ARGS...` in-process, as main() would, and capture what it says."""
    from shipyard.cli.main import main

    def run(*args: str, project: StackSources | None = None) -> CliResult:
        argv = (["--project-dir", str(project.root)] if project else []) + list(args)
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
