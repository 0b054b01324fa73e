"""docs/architecture.md matches the code: every package has its box in the data-flow
diagram and its row in the table, and every module and class the diagrams name exists."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

DOC = REPO / "docs" / "architecture.md"
ROOTS = ("shipyard", "components", "parity", "rollout", "smoke")
FILE_SUFFIXES = ("md", "py", "yaml", "json", "j2", "html")
DOTTED = re.compile(r"\b(?:shipyard|components|parity|rollout|smoke)(?:\.[a-z_]+)*\b")


def diagrams() -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def packages() -> list[str]:
    """Every package: the roots and the folders below them with an __init__.py."""
    found = []
    for root in ROOTS:
        for init in sorted((REPO / root).rglob("__init__.py")):
            found.append(".".join(init.parent.relative_to(REPO).parts))
    return found


def modules() -> set[str]:
    names = set(packages())
    for root in ROOTS:
        for path in (REPO / root).rglob("*.py"):
            if path.name != "__init__.py":
                names.add(".".join(path.with_suffix("").relative_to(REPO).parts))
    return names


def classes() -> set[str]:
    names = set()
    for root in ROOTS:
        for path in (REPO / root).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    return names


def test_every_package_is_in_the_data_flow_diagram() -> None:
    flow = diagrams()[0]
    for package in packages():
        assert package in flow, f"{package} has no box in the data-flow diagram"


def test_every_module_and_package_has_a_row_in_the_package_table() -> None:
    """Modules directly in shipyard, parity and rollout; packages holding modules."""
    table = DOC.read_text(encoding="utf-8").split("## Packages", 1)[1]
    wanted = [
        name
        for name in sorted(modules())
        if name.count(".") == 1
        and name.split(".")[0] in ("shipyard", "parity", "rollout")
        and (REPO / (name.replace(".", "/") + ".py")).is_file()
    ]
    wanted += [
        package
        for package in packages()
        if package not in ROOTS
        and any(p.name != "__init__.py" for p in (REPO / package.replace(".", "/")).glob("*.py"))
    ]
    for name in wanted:
        assert f"`{name}`" in table, f"{name} is missing from the package table"


def test_every_module_the_document_names_exists() -> None:
    known = modules()
    for name in set(DOTTED.findall(DOC.read_text(encoding="utf-8"))):
        if name.rsplit(".", 1)[-1] in FILE_SUFFIXES:
            continue  # parity.md, a file name
        assert name in known, f"docs/architecture.md names {name}, which does not exist"


def test_every_class_in_the_interface_diagram_exists_and_implements_its_protocol() -> None:
    interfaces = diagrams()[1]
    pairs = re.findall(r"^\s*(\w+) <\|\.\. (\w+)$", interfaces, re.M)
    assert len(pairs) >= 15
    known = classes()
    for protocol, implementation in pairs:
        assert protocol in known and implementation in known, (protocol, implementation)
    declared = set(re.findall(r"^\s*class (\w+) \{", interfaces, re.M))
    assert {protocol for protocol, _ in pairs} == declared
