"""The shipyard commands a GitHub workflow runs, read from its YAML and made runnable here.

Every line of a `run:` script that calls `.venv/bin/shipyard` is taken, in order, either as a
command or as `NAME=$(.venv/bin/shipyard ... | jq -r .path)` (a value captured for later
lines). Shell variables are filled in from the values a test gives (a variable nobody gave
fails the test: the workflow would have used something the test did not think of); output
redirections are dropped; `--platform aws` becomes the local platform (the AWS platform's
own tests run against moto server). Nothing else in the scripts (git, pulumi, gh) runs.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SHIPYARD = ".venv/bin/shipyard"
CAPTURE = re.compile(r"^(\w+)=\$\((\.venv/bin/shipyard .+?) \| jq -r (\.[\w.]+)\)$")
VARIABLE = re.compile(r"\$\{?(\w+)\}?")


@dataclass(frozen=True)
class Command:
    job: str
    step: str
    line: str
    capture: tuple[str, str] | None = None  # (variable, jq path)

    def argv(self, values: dict[str, str]) -> list[str]:
        """The command's arguments after `shipyard`, filled in and made local."""
        words = shlex.split(self.line)
        assert words[0] == SHIPYARD, self.line
        args: list[str] = []
        skip = False
        for word in words[1:]:
            if skip:
                skip = False
                continue
            if word in (">", ">>"):
                break  # a redirection: the rest is where output went
            if word == "--platform":
                skip = True  # aws in CI; the local platform here
                continue
            args.append(VARIABLE.sub(lambda m: _value(m.group(1), values, self.line), word))
        return args

    def captured(self, output: str) -> str:
        assert self.capture is not None
        value: Any = json.loads(output)
        for key in self.capture[1].strip(".").split("."):
            value = value[key]
        return str(value)


def _value(name: str, values: dict[str, str], line: str) -> str:
    assert name in values, f"the test gives no value for ${name} in: {line}"
    return values[name]


def workflow_commands(workflow: Path, job: str | None = None) -> list[Command]:
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    commands = []
    for name, spec in doc["jobs"].items():
        if job is not None and name != job:
            continue
        for step in spec["steps"]:
            for raw in step.get("run", "").splitlines():
                line = raw.strip()
                captured = CAPTURE.match(line)
                if captured:
                    commands.append(
                        Command(
                            name,
                            step.get("name", ""),
                            captured.group(2),
                            (captured.group(1), captured.group(3)),
                        )
                    )
                elif line.startswith(SHIPYARD):
                    commands.append(Command(name, step.get("name", ""), line))
    return commands
