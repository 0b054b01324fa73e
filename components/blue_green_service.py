"""BlueGreenService: one ALB, two target groups and two ECS services (blue and green).

The production listener splits traffic between the colors by weight; a test listener on its own
port reaches the idle color for smoke tests before any user does.

Which color takes traffic, and which version each color runs, belong to shipyard once the
resources exist (`SHIPYARD_OWNS`): the program sets the listeners' actions and the ECS services'
task definition and size when it creates them, and `pulumi up` never touches them again, from
whatever commit it runs. The color's task definition here is the template a rollout registers
its next revision from (`taskDefinitionArns`), so a change to it reaches a color through a
blue-green rollout, never in place. docs/aws.md, "Who owns what".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.access import AccessSource, access_ingress
from components.tags import tagged
from shipyard.config.model import Color, Service, Tls, elb_weight
from shipyard.config.secret_refs import ACTIONS, SecretRef, Store
from shipyard.revision import Revision, containers_at, tags_at

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ANYWHERE = ["0.0.0.0/0"]
# Every role the program creates lives under this path, so the deployer's iam:PassRole can name
# them and nothing else (docs/iam/shipyard-deployer-policy.json). A path starts and ends with
# "/" and the ARN is role/PATH/NAME:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
ROLE_PATH = "/shipyard/"


def role_path(environment: str) -> str:
    """The path of an environment's roles: /shipyard/<env>/, inside ROLE_PATH."""
    return f"{ROLE_PATH}{environment}/"


# What a rollout changes, by resource type, as the Pulumi SDK names the inputs. `ignore_changes`
# makes the engine keep the value it last applied, so the provider sees no change there
# (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/); and the AWS provider sends
# only changed fields: ModifyListener carries DefaultActions only when `default_action` changed,
# UpdateService carries TaskDefinition and DesiredCount only when they changed
# (terraform-provider-aws, internal/service/elbv2/listener.go resourceListenerUpdate and
# internal/service/ecs/service.go resourceServiceUpdate, which pulumi-aws bridges). So another
# change to a listener (its certificate) or a service (its subnets) leaves traffic and versions
# alone. Proven in tests/unit/test_program_under_mocks.py and, against moto,
# tests/integration/test_pulumi_up_after_rollout.py.
LISTENER = "aws:lb/listener:Listener"
ECS_SERVICE = "aws:ecs/service:Service"
SHIPYARD_OWNS = {LISTENER: ("default_actions",), ECS_SERVICE: ("task_definition", "desired_count")}


@dataclass(frozen=True)
class BlueGreenServiceArgs:
    environment: str
    region: str
    service: Service
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    task_subnet_ids: pulumi.Input[Sequence[str]]
    assign_public_ip: bool
    cluster_arn: pulumi.Input[str]
    tls: Tls | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # Who may reach the test listener (components/access.py); nobody when empty.
    test_access: Sequence[AccessSource] = ()


def container_definitions(service: Service, color: Color, region: str, log_group: str) -> str:
    """The task definition's container JSON for one color (deterministic key order): the
    template below at the color's version (`shipyard.revision`, shared with the ECS fleet)."""
    template = container_template(service, color, region, log_group)
    return json.dumps(containers_at([template], revision_of(service, color)), sort_keys=True)


def container_template(
    service: Service, color: Color, region: str, log_group: str
) -> dict[str, Any]:
    """The app container before a version is applied: image without its tag, no SHIPYARD_*."""
    return {
        "name": service.name,
        "image": service.image,
        "essential": True,
        "portMappings": [{"containerPort": service.container_port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(service.environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(service.secrets.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": color.value,
            },
        },
    }


def revision_of(service: Service, color: Color) -> Revision:
    """What the color's task definition runs, as config says."""
    return Revision(container=service.name, color=color, version=service.version_of(color))


def task_tags(base: Mapping[str, str], name: str, service: Service, color: Color) -> dict[str, str]:
    """The task definition's tags: the base tags at the color's version (`shipyard.revision`)."""
    return tags_at(tagged(base, name, service=service.name), revision_of(service, color))


class BlueGreenService(pulumi.ComponentResource):
    """A service deployed blue-green behind one Application Load Balancer."""

    def __init__(
        self, name: str, args: BlueGreenServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("shipyard:service:BlueGreenService", name, None, opts)
        self._name = name
        self._args = args
        service = args.service
        self._child = pulumi.ResourceOptions(parent=self)
        self.alb_security_group, self.task_security_group = self._security_groups()
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[self.alb_security_group.id],
            subnets=args.public_subnet_ids,
            tags=tagged(args.tags, f"{name}-alb", service=service.name),
            opts=self._child,
        )
        self.target_groups = {color: self._target_group(color) for color in Color}
        self.production_listener, self.redirect_listener = self._production_listener()
        self.test_listener = self._test_listener()
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/shipyard/{args.environment}/{service.name}",
            retention_in_days=service.log_retention_days,
            tags=tagged(args.tags, f"{name}-logs", service=service.name),
            opts=self._child,
        )
        self.execution_role = self._execution_role()
        self.task_definitions = {color: self._task_definition(color) for color in Color}
        self.services = {color: self._ecs_service(color) for color in Color}

        scheme = "https" if args.tls else "http"
        dns = self.load_balancer.dns_name
        self.url = dns.apply(lambda host: f"{scheme}://{host}")
        self.test_url = dns.apply(lambda host: f"{scheme}://{host}:{service.test_port}")
        self.outputs: dict[str, Any] = {
            "albDnsName": dns,
            "albArnSuffix": self.load_balancer.arn_suffix,
            "url": self.url,
            "testUrl": self.test_url,
            "targetGroupArns": {c.value: tg.arn for c, tg in self.target_groups.items()},
            "targetGroupArnSuffixes": {
                c.value: tg.arn_suffix for c, tg in self.target_groups.items()
            },
            "listenerArns": {
                "production": self.production_listener.arn,
                "test": self.test_listener.arn,
            },
            "ecsServiceNames": {c.value: s.name for c, s in self.services.items()},
            # The revision each color's next rollout starts from (what `pulumi up` last made).
            "taskDefinitionArns": {c.value: t.arn for c, t in self.task_definitions.items()},
            "activeColor": service.active_color.value,
            "weights": {c.value: service.weight_of(c) for c in Color},
            "versions": {c.value: service.version_of(c) for c in Color},
        }
        self.register_outputs(self.outputs)

    def _owned_by_shipyard(
        self, token: str, depends_on: Sequence[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options for a resource whose traffic or version inputs a rollout owns after creation."""
        owned = list(SHIPYARD_OWNS[token])
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on, ignore_changes=owned)

    def _security_groups(self) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        name, args, service = self._name, self._args, self._args.service
        ports = [443, 80] if args.tls else [80]
        alb = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description=f"{service.name} load balancer: production and test listeners",
            vpc_id=args.vpc_id,
            # Production is public; the test port, which serves unreleased versions, is not.
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=port, to_port=port, cidr_blocks=ANYWHERE
                )
                for port in ports
            ]
            + access_ingress(service.test_port, args.test_access),
            egress=[_all_egress()],
            tags=tagged(args.tags, f"{name}-alb-sg", service=service.name),
            opts=self._child,
        )
        tasks = aws.ec2.SecurityGroup(
            f"{name}-task-sg",
            description=f"{service.name} tasks: the container port, from the load balancer only",
            vpc_id=args.vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=service.container_port,
                    to_port=service.container_port,
                    security_groups=[alb.id],
                )
            ],
            egress=[_all_egress()],
            tags=tagged(args.tags, f"{name}-task-sg", service=service.name),
            opts=self._child,
        )
        return alb, tasks

    def _target_group(self, color: Color) -> aws.lb.TargetGroup:
        name, args, service = self._name, self._args, self._args.service
        check = service.health_check
        return aws.lb.TargetGroup(
            f"{name}-{color.value}-tg",
            port=service.container_port,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.vpc_id,
            deregistration_delay=service.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=check.path,
                port="traffic-port",
                protocol="HTTP",
                matcher=check.matcher,
                interval=check.interval_seconds,
                timeout=check.timeout_seconds,
                healthy_threshold=check.healthy_threshold,
                unhealthy_threshold=check.unhealthy_threshold,
            ),
            tags=tagged(args.tags, f"{name}-{color.value}-tg", service=service.name, color=color),
            opts=self._child,
        )

    def _weighted_forward(self) -> aws.lb.ListenerDefaultActionArgs:
        service = self._args.service
        return aws.lb.ListenerDefaultActionArgs(
            type="forward",
            forward=aws.lb.ListenerDefaultActionForwardArgs(
                target_groups=[
                    aws.lb.ListenerDefaultActionForwardTargetGroupArgs(
                        arn=self.target_groups[color].arn,
                        weight=elb_weight(service.weight_of(color)),
                    )
                    for color in Color
                ],
                stickiness=aws.lb.ListenerDefaultActionForwardStickinessArgs(
                    enabled=False, duration=1
                ),
            ),
        )

    def _production_listener(self) -> tuple[aws.lb.Listener, aws.lb.Listener | None]:
        name, args = self._name, self._args
        if args.tls is None:
            listener = aws.lb.Listener(
                f"{name}-production",
                load_balancer_arn=self.load_balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=[self._weighted_forward()],
                tags=tagged(args.tags, f"{name}-production", service=args.service.name),
                opts=self._owned_by_shipyard(LISTENER),
            )
            return listener, None
        listener = aws.lb.Listener(
            f"{name}-production",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            certificate_arn=args.tls.certificate_arn,
            ssl_policy=args.tls.ssl_policy,
            default_actions=[self._weighted_forward()],
            tags=tagged(args.tags, f"{name}-production", service=args.service.name),
            opts=self._owned_by_shipyard(LISTENER),
        )
        redirect = aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        port="443", protocol="HTTPS", status_code="HTTP_301"
                    ),
                )
            ],
            tags=tagged(args.tags, f"{name}-http-redirect", service=args.service.name),
            opts=self._child,
        )
        return listener, redirect

    def _test_listener(self) -> aws.lb.Listener:
        name, args, service = self._name, self._args, self._args.service
        tls = args.tls
        return aws.lb.Listener(
            f"{name}-test",
            load_balancer_arn=self.load_balancer.arn,
            port=service.test_port,
            protocol="HTTPS" if tls else "HTTP",
            certificate_arn=tls.certificate_arn if tls else None,
            ssl_policy=tls.ssl_policy if tls else None,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="forward",
                    target_group_arn=self.target_groups[service.idle_color].arn,
                )
            ],
            tags=tagged(args.tags, f"{name}-test", service=service.name),
            opts=self._owned_by_shipyard(LISTENER),
        )

    def _execution_role(self) -> aws.iam.Role:
        name, args, service = self._name, self._args, self._args.service
        role = aws.iam.Role(
            f"{name}-execution-role",
            path=role_path(args.environment),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                sort_keys=True,
            ),
            tags=tagged(args.tags, f"{name}-execution-role", service=service.name),
            opts=self._child,
        )
        # A task starts only once its role may pull the image, write its logs and read its
        # secrets: the task definitions wait for these grants (and for the log group), or ECS
        # could start a task that fails with AccessDenied or ResourceNotFound.
        self.execution_grants: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-execution-policy",
                role=role.name,
                policy_arn=EXECUTION_POLICY,
                opts=self._child,
            )
        ]
        if service.secrets:
            self.execution_grants.append(
                aws.iam.RolePolicy(
                    f"{name}-read-secrets",
                    role=role.id,
                    policy=json.dumps(secrets_policy(service.secret_refs()), sort_keys=True),
                    opts=self._child,
                )
            )
        return role

    def _task_definition(self, color: Color) -> aws.ecs.TaskDefinition:
        name, args, service = self._name, self._args, self._args.service
        return aws.ecs.TaskDefinition(
            f"{name}-{color.value}-task",
            family=f"{args.environment}-{service.name}-{color.value}",
            cpu=str(service.cpu),
            memory=str(service.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=self.execution_role.arn,
            container_definitions=container_definitions(
                service, color, args.region, f"/shipyard/{args.environment}/{service.name}"
            ),
            tags=task_tags(args.tags, f"{name}-{color.value}-task", service, color),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.log_group, *self.execution_grants]
            ),
        )

    def _ecs_service(self, color: Color) -> aws.ecs.Service:
        name, args, service = self._name, self._args, self._args.service
        active = color is service.active_color or service.weight_of(color) > 0
        listeners = [self.production_listener, self.test_listener]
        return aws.ecs.Service(
            f"{name}-{color.value}-service",
            name=f"{service.name}-{color.value}",
            cluster=args.cluster_arn,
            task_definition=self.task_definitions[color].arn,
            desired_count=service.desired_count if active else service.idle_desired_count,
            launch_type="FARGATE",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.task_subnet_ids,
                security_groups=[self.task_security_group.id],
                assign_public_ip=args.assign_public_ip,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=self.target_groups[color].arn,
                    container_name=service.name,
                    container_port=service.container_port,
                )
            ],
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            health_check_grace_period_seconds=service.health_check.interval_seconds
            * service.health_check.healthy_threshold,
            propagate_tags="SERVICE",
            tags=tagged(
                args.tags, f"{name}-{color.value}-service", service=service.name, color=color
            ),
            # ECS rejects a target group that no listener forwards to yet.
            opts=self._owned_by_shipyard(ECS_SERVICE, depends_on=listeners),
        )


def _all_egress() -> aws.ec2.SecurityGroupEgressArgs:
    return aws.ec2.SecurityGroupEgressArgs(
        protocol="-1", from_port=0, to_port=0, cidr_blocks=ANYWHERE
    )


def secrets_policy(refs: Sequence[SecretRef]) -> dict[str, Any]:
    """The execution role's policy to read a service's secrets at task start: one statement per
    store, each Resource the pattern IAM matches against the secret's real ARN
    (shipyard.config.secret_refs says which form is granted how)."""
    statements = []
    for store in Store:
        grants = sorted({ref.grant for ref in refs if ref.store is store})
        if grants:
            statements.append({"Effect": "Allow", "Action": [ACTIONS[store]], "Resource": grants})
    return {"Version": "2012-10-17", "Statement": statements}
