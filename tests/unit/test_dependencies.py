"""Every module the shipped packages import is installed by `pip install shipyard` without extras.

The imports are read from the source (ast), so a new import cannot slip past this test: each
top-level module is in the standard library, one of the shipped packages, or provided (per the
installed distributions' metadata) by a runtime dependency declared in pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# The packages the wheel ships (tool.setuptools.packages.find include), without the globs.
SHIPPED = sorted(
    {p.rstrip("*").split(".")[0] for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"][
        "include"
    ]}
)  # fmt: skip
# PEP 508: the name, then extras, then the version specifiers.
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def canonical(name: str) -> str:
    """PEP 503 normalisation: https://peps.python.org/pep-0503/#normalized-names"""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements() -> dict[str, str]:
    """Declared runtime dependencies: canonical name -> version specifiers."""
    declared = {}
    for line in PYPROJECT["project"]["dependencies"]:
        match = REQUIREMENT.match(line.split(";")[0])
        assert match, f"unreadable dependency {line!r}"
        declared[canonical(match.group(1))] = match.group(3).strip()
    return declared


def imported_modules(package: str) -> dict[str, str]:
    """Top-level modules imported anywhere in a package (absolute imports) -> one place."""
    found: dict[str, str] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_the_scan_sees_the_shipped_packages_and_their_third_party_imports() -> None:
    assert SHIPPED == ["components", "parity", "rollout", "shipyard", "smoke"]
    seen = {name for package in SHIPPED for name in imported_modules(package)}
    assert {"pulumi", "pydantic", "click", "httpx", "yaml", "json"} <= seen


def test_every_import_of_the_shipped_packages_is_a_declared_runtime_dependency() -> None:
    declared = runtime_requirements()
    providers = packages_distributions()
    undeclared = []
    for package in SHIPPED:
        for module, where in imported_modules(package).items():
            if module in sys.stdlib_module_names or module in SHIPPED:
                continue
            # A namespace several distributions share (ruamel: ruamel.yaml and its C loader)
            # needs each declared: a transitive one may be absent on another Python.
            dists = {canonical(d) for d in providers.get(module, [])}
            if not dists or dists - declared.keys():
                undeclared.append(f"{where}: {module} (from {sorted(dists) or 'nothing'})")
    assert undeclared == [], "imported but not in [project] dependencies: " + "; ".join(undeclared)


def test_every_runtime_dependency_has_a_lower_and_an_upper_bound() -> None:
    unbounded = [
        f"{name} {spec!r}"
        for name, spec in runtime_requirements().items()
        if ">=" not in spec or "<" not in spec.replace("<=", "")
    ]
    assert unbounded == []
