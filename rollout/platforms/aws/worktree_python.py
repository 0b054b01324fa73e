"""A Python environment in which Pulumi can run the program of an earlier commit.

Pulumi's pip toolchain runs the program with `<virtualenv>/bin/python` from Pulumi.yaml's
`runtime.options.virtualenv`, and refuses a folder without that interpreter
(`ValidateVenv`/`IsVirtualEnv` in
https://github.com/pulumi/pulumi/blob/master/sdk/python/toolchain/pip.go); left to create
it, it would install only what a `requirements.txt` names, which this project has none of
(https://www.pulumi.com/docs/iac/languages-sdks/python/#virtual-environments). A checked-out
commit has no `.venv` (it is git-ignored). So shipyard makes one at the path that commit's
Pulumi.yaml names: no pip, no network, and a `.pth` file whose first line is the worktree
(its own `shipyard`, `components`, `__main__`), then the running environment's
site-packages (pulumi, pulumi_aws and the rest, at the versions installed here). Path lines
in a `.pth` are added as they are; `.pth` files inside those folders are not run
(https://docs.python.org/3/library/site.html), so this environment's editable install of
shipyard never shadows the worktree's. Pulumi's Python language host finds the program's
plugins (pulumi_aws's provider) with `python -m pip list --format json` in that environment
(`ListPackages` in pip.go, called by `GetRequiredPackages` in
sdk/python/cmd/pulumi-language-python/main.go), so pip has to be importable there too: it is,
from this environment's site-packages.
"""

from __future__ import annotations

import importlib.util
import site
import sysconfig
import venv
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from shipyard.errors import UsageError

PTH = "shipyard-worktree.pth"


def check_project(text: str, commit: str) -> str:
    """The virtualenv a commit's Pulumi.yaml (its text) tells Pulumi to use, as written;
    refused when Pulumi would not use one shipyard can make (another runtime or toolchain,
    none, or outside the checkout)."""
    where = f"Pulumi.yaml at {commit[:12]}"
    try:
        project: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: cannot read it ({exc}): choose another update") from None
    runtime = project.get("runtime") if isinstance(project, dict) else None
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    options = (runtime.get("options") if isinstance(runtime, dict) else None) or {}
    if name != "python":
        raise UsageError(f"{where}: runtime is {name!r}; shipyard redeploys Python programs only")
    toolchain = options.get("toolchain", "pip")
    if toolchain != "pip":
        raise UsageError(
            f"{where}: runtime.options.toolchain is {toolchain!r}; shipyard prepares pip "
            "virtualenvs only: run that commit by hand (`pulumi up` in a checkout of it)"
        )
    named = options.get("virtualenv")
    if not isinstance(named, str) or not named:
        raise UsageError(
            f"{where}: runtime.options.virtualenv is not set, so Pulumi would run whatever "
            "python3 is on PATH; set `virtualenv: .venv` there, or run that commit by hand"
        )
    inside = PurePosixPath(named)
    if inside.is_absolute() or ".." in inside.parts:
        raise UsageError(
            f"{where}: runtime.options.virtualenv {named!r} lies outside the checkout; "
            "shipyard makes the environment inside it only: use a relative path like .venv"
        )
    return named


def virtualenv_of(worktree: Path, commit: str) -> Path:
    """The virtualenv path in the checked-out worktree (check_project says which)."""
    try:
        text = (worktree / "Pulumi.yaml").read_text(encoding="utf-8")
    except OSError as exc:
        where = f"Pulumi.yaml at {commit[:12]}"
        raise UsageError(f"{where}: cannot read it ({exc}): choose another update") from None
    path = (worktree / check_project(text, commit)).resolve()
    if not path.is_relative_to(worktree.resolve()):  # a symlink out of the checkout
        raise UsageError(
            f"Pulumi.yaml at {commit[:12]}: runtime.options.virtualenv lies outside the "
            "checkout; shipyard makes the environment inside it only: use a relative path"
        )
    return path


def prepare_python(worktree: Path, commit: str) -> Path:
    """Make the virtualenv Pulumi will run the worktree's program with; return its path."""
    path = virtualenv_of(worktree, commit)
    if importlib.util.find_spec("pip") is None:
        raise UsageError(
            "Pulumi lists the program's packages with `python -m pip list`, and the Python "
            "environment shipyard runs in has no pip: install pip in it (python -m ensurepip)"
        )
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(path)
    where = {"base": str(path), "platbase": str(path)}
    target = Path(sysconfig.get_path("purelib", scheme="venv", vars=where))  # as venv lays out
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    lines = [str(worktree.resolve()), *ours]
    (target / PTH).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
