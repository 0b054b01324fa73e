"""What `pulumi up` (and `refresh`, `destroy`) of this program calls, per resource type.

pulumi-aws bridges terraform-provider-aws, so the calls are the ones its resource code makes
in create, read, update and delete (paths under hashicorp/terraform-provider-aws,
internal/service/). The IAM action of each call, and whether it takes a resource ARN, is in
AWS's Service Authorization Reference (SAR) for the service:
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html

Tags: every resource here carries tags; ELBv2, ECS, IAM, CloudWatch and Logs authorize tags
given at creation as their own TagResource/AddTags/TagRole action, EC2 as ec2:CreateTags
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html).
"""

from __future__ import annotations

EC2_TAGS = ("ec2:CreateTags", "ec2:DeleteTags")
# Deleting a subnet, security group or VPC waits until no network interface uses it.
ENIS = ("ec2:DescribeNetworkInterfaces",)

ACTIONS: dict[str, tuple[str, ...]] = {
    # ec2/vpc_.go: CreateVpc, ModifyVpcAttribute (DNS support/hostnames), DescribeVpcs,
    # DescribeVpcAttribute, DeleteVpc; reads the default security group, route table and NACL.
    # SAR: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
    "aws:ec2/vpc:Vpc": (
        "ec2:CreateVpc",
        "ec2:ModifyVpcAttribute",
        "ec2:DeleteVpc",
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeRouteTables",
        "ec2:DescribeNetworkAcls",
        *EC2_TAGS,
        *ENIS,
    ),
    # ec2/vpc_internet_gateway.go: Create, Attach, Detach, Delete, DescribeInternetGateways.
    "aws:ec2/internetGateway:InternetGateway": (
        "ec2:CreateInternetGateway",
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:DeleteInternetGateway",
        "ec2:DescribeInternetGateways",
        *EC2_TAGS,
    ),
    # ec2/vpc_route_table.go: CreateRouteTable, CreateRoute/ReplaceRoute/DeleteRoute for inline
    # routes, DescribeRouteTables, DeleteRouteTable.
    "aws:ec2/routeTable:RouteTable": (
        "ec2:CreateRouteTable",
        "ec2:DeleteRouteTable",
        "ec2:CreateRoute",
        "ec2:ReplaceRoute",
        "ec2:DeleteRoute",
        "ec2:DescribeRouteTables",
        *EC2_TAGS,
    ),
    # ec2/vpc_route_table_association.go: Associate, ReplaceRouteTableAssociation, Disassociate.
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "ec2:AssociateRouteTable",
        "ec2:ReplaceRouteTableAssociation",
        "ec2:DisassociateRouteTable",
        "ec2:DescribeRouteTables",
    ),
    # ec2/vpc_subnet.go: CreateSubnet, ModifySubnetAttribute (map_public_ip_on_launch),
    # DescribeSubnets, DeleteSubnet.
    "aws:ec2/subnet:Subnet": (
        "ec2:CreateSubnet",
        "ec2:ModifySubnetAttribute",
        "ec2:DeleteSubnet",
        "ec2:DescribeSubnets",
        *EC2_TAGS,
        *ENIS,
    ),
    # ec2/ec2_eip.go: AllocateAddress, DescribeAddresses, DisassociateAddress, ReleaseAddress.
    "aws:ec2/eip:Eip": (
        "ec2:AllocateAddress",
        "ec2:ReleaseAddress",
        "ec2:DisassociateAddress",
        "ec2:DescribeAddresses",
        *EC2_TAGS,
    ),
    # ec2/vpc_nat_gateway.go: CreateNatGateway, DescribeNatGateways, DeleteNatGateway.
    "aws:ec2/natGateway:NatGateway": (
        "ec2:CreateNatGateway",
        "ec2:DeleteNatGateway",
        "ec2:DescribeNatGateways",
        *EC2_TAGS,
    ),
    # ec2/vpc_security_group.go: CreateSecurityGroup, revokes the default egress rule, then
    # Authorize/Revoke Ingress/Egress for inline rules; DescribeSecurityGroups, DeleteSecurityGroup.
    "aws:ec2/securityGroup:SecurityGroup": (
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:DescribeSecurityGroups",
        *EC2_TAGS,
        *ENIS,
    ),
    # elbv2/load_balancer.go: CreateLoadBalancer, ModifyLoadBalancerAttributes, SetSecurityGroups,
    # SetSubnets, DescribeLoadBalancers, DescribeLoadBalancerAttributes, DescribeTags,
    # DeleteLoadBalancer. SAR:
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html
    "aws:lb/loadBalancer:LoadBalancer": (
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
    ),
    # elbv2/target_group.go: CreateTargetGroup, ModifyTargetGroup (health check),
    # ModifyTargetGroupAttributes (deregistration delay), Describe*, DeleteTargetGroup.
    "aws:lb/targetGroup:TargetGroup": (
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
    ),
    # elbv2/listener.go: CreateListener, ModifyListener, DescribeListeners,
    # DescribeListenerAttributes, DeleteListener.
    "aws:lb/listener:Listener": (
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
    ),
    # ecs/cluster.go: CreateCluster, UpdateCluster (settings), DescribeClusters, DeleteCluster.
    # SAR: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
    "aws:ecs/cluster:Cluster": (
        "ecs:CreateCluster",
        "ecs:UpdateCluster",
        "ecs:DeleteCluster",
        "ecs:DescribeClusters",
        "ecs:TagResource",
        "ecs:UntagResource",
        "ecs:ListTagsForResource",
    ),
    # ecs/service.go: CreateService, UpdateService, DescribeServices, DeleteService (after
    # scaling to 0 with UpdateService).
    "aws:ecs/service:Service": (
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "ecs:DescribeServices",
        "ecs:TagResource",
        "ecs:UntagResource",
        "ecs:ListTagsForResource",
    ),
    # ecs/task_definition.go: RegisterTaskDefinition (names the execution role: iam:PassRole),
    # DescribeTaskDefinition, DeregisterTaskDefinition.
    "aws:ecs/taskDefinition:TaskDefinition": (
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:TagResource",
        "ecs:UntagResource",
        "ecs:ListTagsForResource",
        "iam:PassRole",
    ),
    # iam/role.go: CreateRole, GetRole, UpdateRole, UpdateAssumeRolePolicy, Tag/UntagRole; its
    # read lists inline and attached policies; DeleteRole first detaches instance profiles.
    # SAR: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
    "aws:iam/role:Role": (
        "iam:CreateRole",
        "iam:GetRole",
        "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
    ),
    # iam/role_policy.go: PutRolePolicy (create and update), GetRolePolicy, DeleteRolePolicy.
    "aws:iam/rolePolicy:RolePolicy": (
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
    ),
    # iam/role_policy_attachment.go: AttachRolePolicy, ListAttachedRolePolicies, DetachRolePolicy.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:ListAttachedRolePolicies",
    ),
    # cloudwatch/metric_alarm.go: PutMetricAlarm (create and update), DescribeAlarms,
    # DeleteAlarms, tags. SAR: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
        "cloudwatch:ListTagsForResource",
    ),
    # logs/group.go: CreateLogGroup, PutRetentionPolicy, DescribeLogGroups, DeleteLogGroup.
    # SAR: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
    "aws:cloudwatch/logGroup:LogGroup": (
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:TagResource",
        "logs:UntagResource",
        "logs:ListTagsForResource",
    ),
}

# Granted for what the program's resources imply rather than call: the first ECS cluster and
# the first load balancer in an account create their service-linked roles, which needs
# iam:CreateServiceLinkedRole from the caller
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html,
# https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html).
IMPLIED = frozenset({"iam:CreateServiceLinkedRole"})

# Not the program's resources: `rollback --stack-version` runs `pulumi up` inside shipyard and
# records the result in the ledger, under this role (docs/aws.md, "Which role runs what").
LEDGER = frozenset({"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"})
