"""The installed `shipyard` command, run as a real process, the way users and CI run it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.config.load import StackSources
from tests.conftest import REPO, snapshot

SHIPYARD = Path(sys.executable).parent / "shipyard"


def shipyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHIPYARD), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    if not SHIPYARD.exists():
        pytest.fail(f"{SHIPYARD} missing: install the project (make install) before testing")


def test_render_is_byte_identical_across_processes(repo_sources: StackSources) -> None:
    first = shipyard("render", "prod", cwd=repo_sources.root)
    second = shipyard("render", "prod", cwd=repo_sources.root)
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stderr == ""


def test_bad_config_in_a_real_process_is_one_line_and_changes_nothing(
    project: StackSources,
) -> None:
    overlay = project.overlay("prod")
    overlay.write_text(overlay.read_text().replace("azCount: 3", "azCount: three"))
    before = snapshot(project.root)
    result = shipyard("stacks", "render", cwd=project.root / "stacks")
    assert result.returncode == 2
    assert result.stderr == (
        "shipyard: stacks/prod.yaml: network.azCount: must be a valid integer (got 'three')\n"
    )
    assert result.stdout == ""
    assert snapshot(project.root) == before


def test_demo_runs_from_anywhere_inside_the_project(repo_sources: StackSources) -> None:
    result = shipyard("demo", "--no-local", cwd=repo_sources.root / "components")
    assert result.returncode == 0, result.stderr
    assert "3 stacks," in result.stdout
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "rendered dev",
        "rendered staging",
        "rendered prod",
    ]


def test_check_fails_a_real_process_with_exit_1(project: StackSources) -> None:
    stack_file = project.pulumi_stack_file("staging")
    stack_file.write_text(stack_file.read_text().replace("required: 1", "required: 0"))
    result = shipyard("stacks", "render", "--check", cwd=project.root)
    assert result.returncode == 1
    assert "Pulumi.staging.yaml: stale (first differing key: config.shipyard:deploy" in (
        result.stdout
    )


# The built wheel, installed WITHOUT extras into a fresh virtualenv: what `pip install shipyard`
# gives a user. Building and installing takes a minute or two (the pip cache is warm).
WHEEL_SOURCES = (
    "pyproject.toml",
    "README.md",
    "components",
    "parity",
    "rollout",
    "shipyard",
    "smoke",
)
PROJECT = ("stacks", "examples", "Pulumi.yaml", "__main__.py")


def copy_tree(names: tuple[str, ...], into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", ".shipyard")
    for name in names:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy(source, into / name)
    for stack_file in REPO.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, into / stack_file.name)


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `shipyard` command of a fresh virtualenv holding only the wheel and its dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    source, dist, venv = root / "source", root / "dist", root / "venv"
    source.mkdir()
    copy_tree(WHEEL_SOURCES, source)  # a copy: building writes build/ and *.egg-info
    env = clean_env()
    pip = ("-m", "pip", "--disable-pip-version-check", "--quiet")
    built = subprocess.run(
        [sys.executable, *pip, "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("shipyard-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=env)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), *pip, "install", str(wheel)],
        capture_output=True, text=True, timeout=900, check=False, env=env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return venv / "bin" / "shipyard"


def clean_env() -> dict[str, str]:
    """This environment without anything that would let the repository's code be imported."""
    skip = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in skip and not k.startswith("APP_")}


Runs = dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def wheel_runs(wheel_install: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """What a user of the installed wheel runs, in a copy of the project: `make demo`'s commands."""
    project = tmp_path_factory.mktemp("wheel-project")
    copy_tree(PROJECT, project)
    env = clean_env()

    def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(wheel_install), *args],
            cwd=project, capture_output=True, text=True, timeout=timeout, check=False, env=env,
        )  # fmt: skip

    where = subprocess.run(
        [str(wheel_install.parent / "python"), "-c", "import shipyard; print(shipyard.__file__)"],
        cwd=project, capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    assert where.stdout.startswith(str(wheel_install.parents[1])), where.stdout
    return {
        "help": run("--help"),
        "check": run("stacks", "render", "--check"),
        "demo": run("demo", timeout=300),
    }


def test_the_wheel_without_extras_starts_renders_and_runs_the_demo(wheel_runs: Runs) -> None:
    helped, checked, demo = wheel_runs["help"], wheel_runs["check"], wheel_runs["demo"]
    assert helped.returncode == 0, helped.stderr
    assert "demo" in helped.stdout
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert demo.returncode == 0, demo.stderr
    assert "deploy v3 (30% 5xx)" in demo.stdout
    assert "rolled-back" in demo.stdout
    assert "Traceback" not in demo.stderr


README_SAMPLE = "<!-- make demo's output"


def shape(line: str) -> str:
    """A line without what changes from run to run: paths, numbers, column widths, spacing."""
    line = re.sub(r"/\S*", "/…", line)
    line = re.sub(r"\d+(\.\d+)?", "9", line)
    line = re.sub(r"[━─]+", "─", line)
    return " ".join(line.split())


def readme_sample() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text[text.index(README_SAMPLE) :].split("```", 2)[1]
    return [line for line in after.splitlines()[1:] if line.strip() not in ("", "...")]


def test_the_readme_sample_is_what_make_demo_prints(wheel_runs: Runs) -> None:
    """Every line of the README's sample, in order, in a real run (numbers and paths aside)."""
    check, demo = wheel_runs["check"], wheel_runs["demo"]
    printed = [shape(line) for line in (check.stdout + demo.stderr + demo.stdout).splitlines()]
    sample = readme_sample()
    assert len(sample) > 20
    position = 0
    for line in sample:
        assert shape(line) in printed[position:], (
            f"README sample line not printed (in this order) by make demo: {line!r}\n"
            f"make demo printed:\n{check.stdout}{demo.stderr}{demo.stdout}"
        )
        position = printed.index(shape(line), position) + 1
