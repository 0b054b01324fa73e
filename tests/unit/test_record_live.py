"""Writing a rollout's live color and versions back into the stack config."""

from __future__ import annotations

import difflib

import pytest

from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from shipyard.config.record import record_live
from shipyard.errors import ConfigError
from shipyard.stacks import plan_stack_files
from tests.conftest import snapshot


def test_only_the_service_lines_change_and_the_stack_file_follows(project: StackSources) -> None:
    before = project.overlay("dev").read_text(encoding="utf-8")
    others = {env: project.pulumi_stack_file(env).read_bytes() for env in ("staging", "prod")}
    changed = record_live(project, "dev", "web", Color.BLUE, {Color.BLUE: "v3", Color.GREEN: None})
    assert changed == [project.overlay("dev"), project.pulumi_stack_file("dev")]
    after = project.overlay("dev").read_text(encoding="utf-8")
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert diff == ["-    activeColor: green", "+    activeColor: blue", "-      blue: v1",
                    "+      blue: v3"]  # fmt: skip
    web = load_stack(project, "dev").config.service("web")
    assert (web.active_color, web.versions.blue, web.versions.green) == (Color.BLUE, "v3", "v2")
    assert not any(f.stale for f in plan_stack_files(project))
    assert {env: project.pulumi_stack_file(env).read_bytes() for env in others} == others


def test_a_service_the_overlay_does_not_mention_gets_an_entry(project: StackSources) -> None:
    record_live(project, "staging", "api", Color.GREEN, {Color.BLUE: "v1", Color.GREEN: "v9"})
    api = load_stack(project, "staging").config.service("api")
    assert (api.active_color, api.versions.green) == (Color.GREEN, "v9")
    assert record_live(project, "staging", "api", Color.GREEN, {Color.GREEN: "v9"}) == []


def test_a_result_that_does_not_validate_changes_nothing(project: StackSources) -> None:
    files = snapshot(project.root)
    with pytest.raises(ConfigError, match="versions.blue"):
        record_live(project, "dev", "web", Color.BLUE, {Color.BLUE: "not a tag!"})
    assert snapshot(project.root) == files


ALIASED_VERSIONS = {
    "alias": (
        "  - name: web\n"
        "    activeColor: green\n"
        "    versions: &v\n"
        "      blue: v1\n"
        "      green: v2\n"
        "  - name: api\n"
        "    versions: *v\n"
    ),
    "merge key": (
        "  - name: web\n"
        "    activeColor: green\n"
        "    <<: &shared\n"
        "      versions:\n"
        "        blue: v1\n"
        "        green: v2\n"
        "  - name: api\n"
        "    <<: *shared\n"
    ),
}


@pytest.mark.parametrize("services", ALIASED_VERSIONS.values(), ids=list(ALIASED_VERSIONS))
def test_recording_one_service_leaves_another_that_aliases_its_versions(
    project: StackSources, services: str
) -> None:
    project.overlay("dev").write_text(f"network:\n  natGateways: 0\nservices:\n{services}")
    before = {s.name: s.versions for s in load_stack(project, "dev").config.services}
    assert before["web"] == before["api"]

    record_live(project, "dev", "web", Color.BLUE, {Color.BLUE: "v3", Color.GREEN: None})
    after = {s.name: s.versions for s in load_stack(project, "dev").config.services}
    assert (after["web"].blue, after["web"].green) == ("v3", "v2")
    assert after["api"] == before["api"]

    record_live(project, "dev", "api", Color.GREEN, {Color.GREEN: "v4"})
    after = {s.name: s.versions for s in load_stack(project, "dev").config.services}
    assert (after["web"].blue, after["web"].green) == ("v3", "v2")
    assert (after["api"].blue, after["api"].green) == ("v1", "v4")
