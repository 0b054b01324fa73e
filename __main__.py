"""The Pulumi program: stack config -> components. Composition only."""

import pulumi
import pulumi_aws as aws

from components import (
    Alarms,
    AlarmsArgs,
    BlueGreenService,
    BlueGreenServiceArgs,
    Network,
    NetworkArgs,
)
from components.access import access_sources
from components.tags import tagged
from shipyard.config.pulumi_config import NAMESPACE, from_pulumi_values

config = from_pulumi_values(pulumi.Config(NAMESPACE).get, pulumi.Config("aws").require("region"))
env = config.environment
tags = {**config.tags, "shipyard:environment": env}

network = Network(
    "network", NetworkArgs(environment=env, region=config.region, network=config.network, tags=tags)
)
cluster = aws.ecs.Cluster(
    "cluster",
    name=f"shipyard-{env}",
    settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
    tags=tagged(tags, "cluster"),
)

test_access = access_sources(config.network, network.nat_public_ips)
services = {}
for service in config.services:
    app = BlueGreenService(
        service.name,
        BlueGreenServiceArgs(
            environment=env,
            region=config.region,
            service=service,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            task_subnet_ids=network.task_subnet_ids,
            assign_public_ip=network.assign_public_ip,
            cluster_arn=cluster.arn,
            tls=config.tls,
            tags=tags,
            test_access=test_access,
        ),
    )
    alarms = Alarms(
        f"{service.name}-alarms",
        AlarmsArgs(
            environment=env,
            service_name=service.name,
            thresholds=config.alarms,
            load_balancer_arn_suffix=app.load_balancer.arn_suffix,
            target_group_arn_suffixes={c: tg.arn_suffix for c, tg in app.target_groups.items()},
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=app),
    )
    services[service.name] = {**app.outputs, "alarmNames": alarms.alarm_names}

pulumi.export("environment", env)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("clusterName", cluster.name)
pulumi.export("services", services)
