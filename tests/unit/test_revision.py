"""shipyard.revision (what a version changes in a task definition) and the ECS fleet's next
revision built from it. The moto round trip is in tests/integration/test_aws_platform.py."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from rollout.platforms.aws.fleet import EcsFleet
from shipyard.aws import MissingResource
from shipyard.config.model import Color
from shipyard.revision import Revision, containers_at, repository_of, tag_of, tags_at, version_in

GREEN = Color.GREEN
APP = {
    "name": "web",
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shipyard-web:v1",
    "environment": [
        {"name": "APP_ENV", "value": "staging"},
        {"name": "SHIPYARD_COLOR", "value": "green"},
        {"name": "SHIPYARD_VERSION", "value": "v1"},
    ],
    "essential": True,
}
SIDECAR = {"name": "log-router", "image": "public.ecr.aws/aws-observability/fluent-bit:2.1"}


@pytest.mark.parametrize(
    ("image", "repository", "tag"),
    [
        ("repo/app:v1", "repo/app", "v1"),
        ("repo/app", "repo/app", None),
        ("registry.local:5000/app:v1", "registry.local:5000/app", "v1"),
        ("registry.local:5000/app", "registry.local:5000/app", None),
        ("repo/app@sha256:" + "a" * 64, "repo/app", None),
        ("repo/app:v1@sha256:" + "a" * 64, "repo/app", "v1"),
    ],
)
def test_an_image_reference_splits_as_docker_reads_it(
    image: str, repository: str, tag: str | None
) -> None:
    assert (repository_of(image), tag_of(image)) == (repository, tag)


def test_the_rule_sets_image_environment_and_tags_and_nothing_else() -> None:
    revision = Revision("web", GREEN, "v2")
    [app, sidecar] = containers_at([APP, SIDECAR], revision)
    assert app == {
        **APP,
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shipyard-web:v2",
        "environment": [
            {"name": "APP_ENV", "value": "staging"},
            {"name": "SHIPYARD_COLOR", "value": "green"},
            {"name": "SHIPYARD_VERSION", "value": "v2"},
        ],
    }
    assert sidecar == SIDECAR  # another container's image is not the app's version
    assert version_in([app, sidecar], "web") == "v2"
    tags = tags_at({"Name": "web-green-task", "shipyard:version": "v1", "team": "x"}, revision)
    assert tags == {
        "Name": "web-green-task",
        "shipyard:color": "green",
        "shipyard:version": "v2",
        "team": "x",
    }


def test_the_rule_refuses_a_task_definition_without_the_app_container() -> None:
    with pytest.raises(ValueError, match=r"no container named 'api' \(containers: web\)"):
        containers_at([APP], Revision("api", GREEN, "v2"))


class FakeEcs:
    """Just enough ECS for `EcsFleet.next_revision`: one service, one described revision."""

    def __init__(self, task: dict[str, Any], tags: list[dict[str, str]]) -> None:
        self.task, self.tags = task, tags
        self.meta = (
            boto3.session.Session(
                region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
            )
            .client("ecs")
            .meta
        )  # the real RegisterTaskDefinition input shape
        self.include: list[str] | None = None

    def describe_services(self, **_: Any) -> dict[str, Any]:
        return {"services": [{"status": "ACTIVE", "taskDefinition": "td:3"}]}

    def describe_task_definition(
        self, taskDefinition: str, include: list[str] | None = None
    ) -> dict[str, Any]:
        self.include = include
        return {"taskDefinition": self.task, **({"tags": self.tags} if include else {})}


DESCRIBED = {
    # What ECS records itself: RegisterTaskDefinition refuses these.
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-web-green:3",
    "revision": 3,
    "status": "ACTIVE",
    "compatibilities": ["EC2", "FARGATE"],
    "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-eni"}],
    "registeredAt": "2026-01-01T00:00:00Z",
    "registeredBy": "arn:aws:iam::123456789012:role/pulumi",
    # What the revision is: all of it carried over.
    "family": "staging-web-green",
    "containerDefinitions": [APP, SIDECAR],
    "cpu": "256",
    "memory": "512",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution-role",
    "taskRoleArn": "arn:aws:iam::123456789012:role/web-task-role",
    "volumes": [{"name": "scratch"}],
    "placementConstraints": [],
    "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
    "ephemeralStorage": {"sizeInGiB": 30},
    "pidMode": "task",
}


def test_the_next_revision_is_the_described_one_at_the_version_with_its_tags() -> None:
    ecs = FakeEcs(
        dict(DESCRIBED),
        [
            {"key": "Name", "value": "web-green-task"},
            {"key": "shipyard:version", "value": "v1"},
            {"key": "shipyard:color", "value": "green"},
            # Reserved for AWS: RegisterTaskDefinition would refuse to set it.
            # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html
            {"key": "aws:cloudformation:stack-name", "value": "x"},
        ],
    )
    fleet = EcsFleet(ecs, "shipyard-staging", {GREEN: "web-green"}, 1, container="web")
    request = fleet.next_revision(GREEN, "v2")
    assert ecs.include == ["TAGS"]  # without it, DescribeTaskDefinition returns no tags
    recorded = {"taskDefinitionArn", "revision", "status", "compatibilities",
                "requiresAttributes", "registeredAt", "registeredBy"}  # fmt: skip
    kept = {k: v for k, v in DESCRIBED.items() if k not in recorded | {"containerDefinitions"}}
    assert request == {
        **kept,
        "containerDefinitions": containers_at([APP, SIDECAR], Revision("web", GREEN, "v2")),
        "tags": [
            {"key": "Name", "value": "web-green-task"},
            {"key": "shipyard:color", "value": "green"},
            {"key": "shipyard:version", "value": "v2"},
        ],
    }


def test_a_revision_without_the_app_container_asks_for_pulumi_up() -> None:
    ecs = FakeEcs(dict(DESCRIBED, containerDefinitions=[SIDECAR]), [])
    fleet = EcsFleet(ecs, "c", {GREEN: "web-green"}, 1, container="web", environment="staging")
    with pytest.raises(MissingResource, match=r"not the one the Pulumi program made .*"
                       r"run `pulumi up -s staging`"):  # fmt: skip
        fleet.next_revision(GREEN, "v2")
