"""Hostile YAML and template files: alias bombs, duplicate keys, non-UTF-8 bytes, template errors.

Each ends in exit 2 with one line naming the file (and the line where known) and the fix,
with nothing written, for every YAML file shipyard reads.
"""

from __future__ import annotations

import datetime as dt
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from parity.policy import load_policy
from shipyard.config import documents
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from shipyard.config.record import record_live
from shipyard.errors import ConfigError
from smoke import load_spec
from tests.conftest import CliResult, container_ids, snapshot

# Nine levels of nine: 9^9 (387 million) strings from about 500 bytes, under a key that takes
# any value, so nothing but the alias guard stops the expansion.
LAUGHS = (
    "pulumiConfig:\n"
    + '  lol:a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(
        f"  lol:{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
)
MEMORY_LIMIT = 1 << 30
CPU_SECONDS = 60
HANG = 120
# The child's own peak: VmHWM belongs to its address space, which exec made new. Not
# getrusage's ru_maxrss: Linux carries that across fork and exec, so it would report the
# test runner's own size (hundreds of MB under coverage), not the child's.
CHILD = """
import sys
from shipyard.cli.main import main
try:
    main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(sys.argv[1], "w") as peak:
        peak.write(hwm)
"""


def one_line_refusal(result: CliResult, starts: str) -> None:
    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: {starts}"), result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def test_an_alias_bomb_is_refused_without_expanding_it(
    project: StackSources, tmp_path: Path
) -> None:
    project.overlay("dev").write_text(LAUGHS)
    project.pulumi_stack_file("staging").write_text("stale\n")
    before = snapshot(project.root)
    # A child process under a memory and CPU limit: before the guard, this document took
    # gigabytes and a minute before dying with MemoryError.
    peak_file = tmp_path / "peak-kib"
    # A child under a memory and CPU limit, reporting its own peak memory: before the guard,
    # this document took gigabytes, then died with MemoryError or hung in a pydantic-core
    # panic. The timeout only stops a hung child; the assertions are on outcome and memory.
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(peak_file)]
        + ["--project-dir", str(project.root), "stacks", "render"],
        capture_output=True,
        text=True,
        preexec_fn=_limits,
        timeout=HANG,
    )
    one_line_refusal(
        CliResult(child.returncode, child.stdout, child.stderr),
        "stacks/dev.yaml: line 6 (pulumiConfig.lol:e): aliases expand this document by more "
        "than 10,000 nodes",
    )
    assert "write the values out" in child.stderr
    assert int(peak_file.read_text()) < 400 * 1024  # KiB; a plain `stacks render` peaks at 80 MB
    assert snapshot(project.root) == before


def test_a_modest_alias_is_fine_and_a_recursive_one_is_refused() -> None:
    shared = "base: &base {path: /healthz, matcher: '200'}\n"
    uses = "".join(f"s{i}: *base\n" for i in range(100))
    doc = documents.parse_yaml(shared + uses, "x.yaml")
    assert doc["s99"] == {"path": "/healthz", "matcher": "200"}
    just_over = "a: &a [" + ", ".join(["1"] * 100) + "]\n" + "b: [" + ", ".join(["*a"] * 101) + "]"
    assert documents.MAX_ALIAS_EXPANSION < 101 * 100
    with pytest.raises(ConfigError, match="alias bomb"):
        documents.parse_yaml(just_over, "x.yaml")
    with pytest.raises(ConfigError, match=r"line 1 \(a\[1\]\): an alias refers to a node"):
        documents.parse_yaml("a: &x [1, *x]\n", "x.yaml")


DUPLICATES = [
    (
        "network:\n  cidr: 10.10.0.0/16\n  natGateways: 0\n  cidr: 10.11.0.0/16\n",
        "stacks/dev.yaml: network.cidr: key 'cidr' appears twice, at stacks/dev.yaml:2 and "
        "stacks/dev.yaml:4; keep one",
    ),
    (
        "services:\n  - name: web\n    desiredCount: 1\n    desiredCount: 3\n",
        "stacks/dev.yaml: services[0].desiredCount: key 'desiredCount' appears twice, at "
        "stacks/dev.yaml:3 and stacks/dev.yaml:4; keep one",
    ),
    (
        "deploy: {bakeSeconds: 30}\nnetwork: {cidr: 10.10.0.0/16}\ndeploy: {bakeSeconds: 5}\n",
        "stacks/dev.yaml: deploy: key 'deploy' appears twice, at stacks/dev.yaml:1 and "
        "stacks/dev.yaml:3; keep one",
    ),
]


@pytest.mark.parametrize(("content", "message"), DUPLICATES)
def test_a_duplicate_key_names_both_lines_and_writes_nothing(
    project: StackSources, cli: Callable[..., CliResult], content: str, message: str
) -> None:
    project.overlay("dev").write_text(content)
    project.pulumi_stack_file("staging").write_text("stale\n")
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    one_line_refusal(result, message)
    assert result.err == f"shipyard: {message}\n"
    assert snapshot(project.root) == before


def test_an_impossible_date_names_the_file_and_line_and_writes_nothing(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    # A tag value YAML resolves as a timestamp: datetime refuses Feb 30 with a ValueError.
    prod = project.overlay("prod")
    prod.write_text(prod.read_text() + "tags:\n  review-by: 2027-02-30\n")
    line = len(prod.read_text().splitlines())
    project.pulumi_stack_file("staging").write_text("stale\n")
    before = snapshot(project.root)
    expected = (
        f"stacks/prod.yaml: line {line}: '2027-02-30' is not a valid date (day is out of range "
        "for month); correct it, or quote it if it is text"
    )
    for command in (["stacks", "render"], ["parity"], ["render", "prod"]):
        result = cli(*command, project=project)
        one_line_refusal(result, expected)
    assert snapshot(project.root) == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 2027-02-30\n", "'2027-02-30' is not a valid date (day is out of range for month)"),
        ("a: 2027-01-01 25:00:00\n", "'2027-01-01 25:00:00' is not a valid date (hour must be"),
        ("a: 1\n2027-13-01: x\n", "'2027-13-01' is not a valid date (month must be in 1..12)"),
        ("a: [1, 2027-04-31]\n", "'2027-04-31' is not a valid date"),
    ],
)
def test_an_impossible_date_is_a_config_error_at_its_line(text: str, problem: str) -> None:
    line = text.count("\n", 0, text.index(problem.split("'")[1])) + 1
    with pytest.raises(ConfigError) as caught:
        documents.parse_yaml(text, "x.yaml")
    assert str(caught.value).startswith(f"x.yaml: line {line}: {problem}")
    assert str(caught.value).endswith("; correct it, or quote it if it is text")


def test_real_dates_and_quoted_impossible_ones_still_load() -> None:
    doc = documents.parse_yaml("a: 2027-02-28\nb: '2027-02-30'\n", "x.yaml")
    assert doc == {"a": dt.date(2027, 2, 28), "b": "2027-02-30"}


def test_a_merge_key_overridden_by_the_mapping_is_not_a_duplicate() -> None:
    doc = documents.parse_yaml("base: &b {a: 1, b: 2}\nuse:\n  <<: *b\n  a: 3\n", "x.yaml")
    assert doc["use"] == {"a": 3, "b": 2}


def test_every_use_of_an_anchor_is_a_copy_of_its_own() -> None:
    doc = documents.parse_yaml(
        "web: {healthCheck: &hc {path: /healthz, codes: [200, 204]}}\n"
        "api: {healthCheck: *hc}\n"
        "worker:\n  <<: *hc\n  path: /work\n"
        "steps: [&s [10, 100], *s]\n",
        "x.yaml",
    )
    assert doc["api"]["healthCheck"] == doc["web"]["healthCheck"]
    ids = container_ids(doc)
    assert len(ids) == len(set(ids)), "an alias shares a node with its anchor"
    doc["web"]["healthCheck"]["path"] = "/ready"
    doc["web"]["healthCheck"]["codes"].append(500)
    doc["steps"][0].append(1000)
    assert doc["api"]["healthCheck"] == {"path": "/healthz", "codes": [200, 204]}
    assert doc["worker"] == {"path": "/work", "codes": [200, 204]}
    assert doc["steps"][1] == [10, 100]


def test_a_duplicate_in_the_template_names_the_template(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    project.template.write_text(project.template.read_text() + "region: eu-west-1\n")
    result = cli("stacks", "render", project=project)
    one_line_refusal(result, "stacks/template.yaml.j2: region: key 'region' appears twice, at")


def test_non_utf8_stack_file_names_the_line(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    project.overlay("prod").write_bytes(b"# prod\nnetwork:\n  cidr: 10.30.0.0/16 # caf\xe9\n")
    project.pulumi_stack_file("dev").write_text("stale\n")
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    one_line_refusal(
        result, "stacks/prod.yaml: line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    )
    assert snapshot(project.root) == before


def refused_template_addition(
    project: StackSources, cli: Callable[..., CliResult], addition: str, message: str
) -> None:
    """Append to the template: `stacks render` refuses in one line (`line 85` stands for the
    added line) and writes nothing."""
    text = project.template.read_text()
    project.template.write_text(text + addition)
    message = message.replace("line 85", f"line {len(text.splitlines()) + 1}")
    project.pulumi_stack_file("dev").write_text("stale\n")
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    one_line_refusal(result, message)
    assert snapshot(project.root) == before


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        (
            '{% include "shared.yaml" %}\n',
            "stacks/template.yaml.j2: line 85: includes 'shared.yaml', which is not in stacks/; "
            "add the file or remove the include",
        ),
        (
            "owner: {{ 1/0 }}\n",
            "stacks/template.yaml.j2: line 85: template evaluation failed: ZeroDivisionError: "
            "division by zero; fix the expression",
        ),
    ],
)
def test_template_errors_are_one_line_with_the_line(
    project: StackSources, cli: Callable[..., CliResult], addition: str, message: str
) -> None:
    refused_template_addition(project, cli, addition, message)


TOO_LARGE = (
    "would build a value over 1 MiB; a stack template renders a few KB: remove the expression"
)
SANDBOX = (
    "in the template's sandbox; it may use {{ env }}, literals, operators and plain string "
    "methods (upper, lower, split, ...)"
)
DOUBLING = '{% set ns = namespace(x="a") %}{% for i in range(60) %}{% set ns.x = ns.x OP ns.x %}'


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ('  big: "{{ "a" * 100000000 }}"\n', f"line 85: `*` {TOO_LARGE}"),
        ('  big: "{{ 2 ** 100000000 }}"\n', f"line 85: `**` {TOO_LARGE}"),
        ('  big: "{{ "%1000000000d" % 1 }}"\n', f"line 85: `%` formatting {TOO_LARGE}"),
        ('  big: "{{ [("a" * 1000000)] * 100000 }}"\n', f"line 85: `*` {TOO_LARGE}"),
        (DOUBLING.replace("OP", "~") + "{% endfor %}\n", f"line 85: joined text {TOO_LARGE}"),
        (DOUBLING.replace("OP", "+") + "{% endfor %}\n", f"line 85: `+` {TOO_LARGE}"),
        (
            '{% set b = "a" * 1000000 %}{% set c %}{% for i in range(100000) %}{{ b }}'
            "{% endfor %}{% endset %}\n",
            f"line 85: joined text {TOO_LARGE}",
        ),
        (
            '{% set b = "a" * 1000000 %}{% for i in range(100000) %}{{ b }}{% endfor %}\n',
            "the template renders past 1 MiB; a stack template renders a few KB: "
            "remove what repeats",
        ),
        (
            '  big: "{{ "a".ljust(1000000000) }}"\n',
            f"line 85: access to attribute 'ljust' of 'str' object is unsafe {SANDBOX}",
        ),
        (
            '  big: "{{ (1).to_bytes(1000000000, "big") }}"\n',
            f"line 85: access to attribute 'to_bytes' of 'int' object is unsafe {SANDBOX}",
        ),
        ('  big: "{{ "a" | center(1000000000) }}"\n', "line 85: template syntax: No filter"),
        ('  big: "{{ lipsum(1000000) }}"\n', "line 85: 'lipsum' is undefined"),
    ],
)
def test_a_template_cannot_build_a_huge_value(
    project: StackSources, cli: Callable[..., CliResult], addition: str, message: str
) -> None:
    # The refusal names the operation the sandbox stopped: the value was never built.
    refused_template_addition(project, cli, addition, f"stacks/template.yaml.j2: {message}")


def test_the_sandbox_keeps_what_a_template_needs(project: StackSources) -> None:
    project.template.write_text(
        project.template.read_text()
        + '  owner: "{{ env.upper() ~ "-" ~ ("%s-%d" % ("x", 3)) ~ "-" ~ (2 ** 10) ~ "ab" * 3 }}"\n'
    )
    assert load_stack(project, "dev").config.tags["owner"] == "DEV-x-3-1024ababab"


def test_an_error_inside_an_included_file_names_that_file(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    (project.stacks_dir / "shared.j2").write_text("# shared\nowner: {{ none.attr.deeper }}\n")
    project.template.write_text(project.template.read_text() + '{% include "shared.j2" %}\n')
    result = cli("stacks", "render", project=project)
    one_line_refusal(result, "stacks/shared.j2: line 2: ")


def test_every_yaml_reader_refuses_bombs_and_duplicates(
    project: StackSources, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    policy = project.stacks_dir / "parity.yaml"
    policy.write_text("minScore: 90\nminScore: 80\n")
    with pytest.raises(ConfigError, match="stacks/parity.yaml: minScore: key 'minScore' appears"):
        load_policy(policy, "stacks/parity.yaml")
    policy.write_text(LAUGHS)
    with pytest.raises(ConfigError, match="alias bomb"):
        load_policy(policy, "stacks/parity.yaml")

    spec = tmp_path / "smoke.yaml"
    spec.write_text("checks: []\nchecks: []\n")
    with pytest.raises(ConfigError, match="smoke.yaml: checks: key 'checks' appears twice"):
        load_spec(spec, "smoke.yaml")
    spec.write_bytes(b"checks: []\n# \xff\n")
    with pytest.raises(ConfigError, match="smoke.yaml: line 2: not UTF-8 text"):
        load_spec(spec, "smoke.yaml")

    stack_file = project.pulumi_stack_file("dev")
    stack_file.write_text(LAUGHS.replace("pulumiConfig:", "config:"))
    result = cli("render", "dev", project=project)
    one_line_refusal(result, "Pulumi.dev.yaml: line 6 (config.lol:e): aliases expand")
    stack_file.write_text("config:\n  aws:region: us-east-1\n  aws:region: eu-west-1\n")
    result = cli("render", "dev", project=project)
    one_line_refusal(result, "Pulumi.dev.yaml: config.aws:region: key 'aws:region' appears")


def test_recording_live_state_refuses_a_duplicate_key_before_ruamel_reads_it(
    project: StackSources,
) -> None:
    overlay = project.overlay("dev")
    overlay.write_text(overlay.read_text() + "deploy:\n  bakeSeconds: 10\n")
    before = snapshot(project.root)
    with pytest.raises(ConfigError, match="stacks/dev.yaml: deploy: key 'deploy' appears twice"):
        record_live(project, "dev", "web", Color.BLUE, {Color.BLUE: "v3"})
    assert snapshot(project.root) == before


def test_the_child_process_limit_is_real() -> None:
    # The bomb test relies on RLIMIT_AS being enforced for its child: check it once.
    child = subprocess.run(
        [sys.executable, "-c", "b = bytearray(2 << 30)"],
        capture_output=True,
        text=True,
        preexec_fn=_limits,
        timeout=HANG,
    )
    assert child.returncode != 0
    assert "MemoryError" in child.stderr


def test_a_non_utf8_generated_stack_file_is_stale_or_refused_never_a_traceback(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    stack_file = project.pulumi_stack_file("dev")
    stack_file.write_bytes(stack_file.read_bytes() + b"# \xff\n")
    result = cli("stacks", "render", "--check", project=project)
    assert result.code == 1, result
    assert "Pulumi.dev.yaml: stale" in result.out
    result = cli("render", "dev", project=project)
    lines = stack_file.read_bytes().count(b"\n")
    one_line_refusal(result, f"Pulumi.dev.yaml: line {lines}: not UTF-8 text (byte 0xff)")
    assert "regenerate it with `shipyard stacks render`" in result.err
