"""The table of moto patches, known drift and known gaps (data only; the patches live beside it).

Every patch module imports moto only when its patch installs or its canary runs, so importing the table
imports no moto module.
"""

from __future__ import annotations

from stackprobe.backends.compat import (
    appautoscaling_policy_alarms,
    appautoscaling_tags,
    autoscaling_zone_balance,
    backup_list_tags_path,
    backup_selections,
    cloudfront_absent_settings,
    ec2_default_network_acl,
    ec2_sg_rule_descriptions,
    ecs_deployment_configuration,
    ecs_network_configuration,
    elasticache_member_clusters,
    elasticache_subnet_group_delete,
    elasticache_user_groups,
    elbv2_default_scheme,
    iam_managed_policies_load,
    kms_default_keys_aws_managed,
    kms_rotation_period,
    rds_instance_identity,
    rds_managed_secret_username,
    rds_parameter_source,
    rds_performance_insights,
    rds_replica_managed_password,
    s3_logging_policy,
    s3_secure_transport_condition,
    secretsmanager_create_idempotent,
    sqs_redrive_allow_policy,
    sqs_redrive_policy_json,
)
from stackprobe.backends.compat.base import GapKind, KnownDrift, KnownGap, MotoPatch

PATCHES: list[MotoPatch] = [
    iam_managed_policies_load.PATCH,
    appautoscaling_tags.PATCH,
    appautoscaling_policy_alarms.PATCH,
    autoscaling_zone_balance.PATCH,
    rds_instance_identity.PATCH,
    sqs_redrive_allow_policy.PATCH,
    sqs_redrive_policy_json.PATCH,
    backup_selections.PATCH,
    backup_list_tags_path.PATCH,
    elasticache_member_clusters.PATCH,
    elasticache_subnet_group_delete.PATCH,
    elasticache_user_groups.PATCH,
    s3_logging_policy.PATCH,
    s3_secure_transport_condition.PATCH,
    ecs_deployment_configuration.PATCH,
    ecs_network_configuration.PATCH,
    rds_parameter_source.PATCH,
    rds_performance_insights.PATCH,
    rds_performance_insights.CREATE,
    kms_rotation_period.PATCH,
    ec2_sg_rule_descriptions.PATCH,
    cloudfront_absent_settings.PATCH,
    cloudfront_absent_settings.ORIGIN_ACCESS_CONTROL,
    ec2_default_network_acl.PATCH,
    elbv2_default_scheme.PATCH,
    rds_replica_managed_password.PATCH,
    rds_managed_secret_username.PATCH,
    kms_default_keys_aws_managed.PATCH,
    secretsmanager_create_idempotent.PATCH,
]

KNOWN_DRIFT: list[KnownDrift] = []

KNOWN_GAPS: list[KnownGap] = [
    KnownGap(
        name="elb-target-health-faked",
        kind=GapKind.FAKED,
        resource_types=("aws_lb_target_group", "aws_lb_target_group_attachment"),
        gap="moto reports every registered target as healthy and runs no health check.",
        consequence="Target health read from moto is not evidence; stackprobe runs the health check live.",
    ),
    KnownGap(
        name="ecs-tasks-never-run",
        kind=GapKind.FAKED,
        resource_types=("aws_ecs_service", "aws_ecs_task_definition"),
        gap="moto accepts ECS services but starts no container.",
        consequence="Container behaviour is probed by running the app locally with the task definition's env.",
    ),
    KnownGap(
        name="s3-access-logs-delivered-at-once",
        kind=GapKind.FAKED,
        resource_types=("aws_s3_bucket_logging", "aws_s3_bucket"),
        gap="moto writes an S3 server access log object into the target bucket synchronously with every "
        "request to a logged bucket; AWS delivers access logs best-effort, minutes to hours later.",
        consequence="A log bucket fills during apply, so destroying it without force_destroy fails with "
        "BucketNotEmpty at once, which in AWS would only happen once logs have arrived.",
    ),
    KnownGap(
        name="elasticache-member-cluster-nodes",
        kind=GapKind.FAKED,
        resource_types=("aws_elasticache_replication_group",),
        gap="The member cache clusters stackprobe's patch creates for a replication group carry the group's "
        "settings but no cache nodes, endpoints or engine: nothing listens on them.",
        consequence="Replication group settings are checked from the API; cache behaviour (failover, "
        "encryption in transit) cannot be probed against moto.",
    ),
    KnownGap(
        name="backup-selection-not-evaluated",
        kind=GapKind.FAKED,
        resource_types=("aws_backup_selection",),
        gap="Backup selections are stored as given: the IAM role is not checked to be assumable by AWS "
        "Backup, and no backup job ever runs against the selected resources.",
        consequence="A selection that reads back is not evidence that resources are backed up; check the "
        "selection's resources and tags against the stack's inventory instead.",
    ),
]
