"""What a running LocalStack can serve, what a plan needs from it, and why a container refused to run.

LocalStack says what it serves at two management endpoints:
- `/_localstack/health`: `{"services": {"s3": "running", "ecs": "available", ...}, "edition": ...}`;
- `/_localstack/info`: `{"edition": "community"|"pro", "version": ..., "is_license_activated": ...}`.
The community runtime simply does not list the paid-tier services (ECS, ELBv2, RDS, ...), so a
service that is absent is missing, and the hint for it says what would enable it. A plan needs the
services of its resource types (`RESOURCE_SERVICES`); the difference is what a run cannot prove there.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackprobe.errors import BackendError

# States in which a service answers requests (LocalStack's ServiceState values). "available" means
# loadable on first request, which is how every service starts with EAGER_SERVICE_LOADING=0.
USABLE_STATES = frozenset({"available", "initialized", "starting", "running"})

# LocalStack names services after its provider plugins, which are named after botocore's service names
# (2026.3.0's health lists "s3", "sqs", "resourcegroupstaggingapi", ... and Pro lists "elbv2",
# "application-autoscaling", ...), so a name is its own boto3 name. These are the exceptions seen in
# older releases, where one LocalStack name stood for other boto3 names.
LOCALSTACK_TO_BOTO3: Mapping[str, tuple[str, ...]] = {
    "elasticsearch": ("es",),  # before 1.0
    "timestream": ("timestream-query", "timestream-write"),  # Pro, before the two APIs were listed apart
}


def boto3_names(localstack_name: str) -> tuple[str, ...]:
    return LOCALSTACK_TO_BOTO3.get(localstack_name, (localstack_name,))


# Services LocalStack ships only in its paid tier (Pro image with an activated LOCALSTACK_AUTH_TOKEN).
PAID_TIER_SERVICES = frozenset(
    {
        "acm-pca", "amplify", "apigatewayv2", "apigatewaymanagementapi", "appconfig", "appconfigdata",
        "application-autoscaling", "appsync", "athena", "autoscaling", "backup", "batch", "bedrock",
        "bedrock-runtime", "ce", "cloudfront", "cloudtrail", "codeartifact", "codebuild", "codecommit",
        "codedeploy", "codepipeline", "cognito-identity", "cognito-idp", "docdb", "dms", "ecr", "ecs", "efs",
        "eks", "elasticache", "elasticbeanstalk", "elb", "elbv2", "emr", "emr-serverless", "glacier", "glue",
        "identitystore", "iot", "iot-data", "kafka", "kinesisanalyticsv2", "lakeformation", "mediaconvert",
        "memorydb", "mq", "mwaa", "neptune", "organizations", "pipes", "ram", "rds", "rds-data",
        "redshift-data", "s3tables", "sagemaker", "serverlessrepo", "servicediscovery", "shield",
        "sso-admin", "textract", "timestream-query", "timestream-write", "transfer", "wafv2", "xray",
    }
)  # fmt: skip

# Every plan needs STS: the provider asks GetCallerIdentity before anything else (the workspace
# override keeps skip_requesting_account_id false so that the account id is the emulator's).
PROVIDER_PSEUDO_TYPE = 'provider["aws"]'
PROVIDER_SERVICES: tuple[str, ...] = ("sts",)

# Terraform resource and data source types (data sources as "data.<type>") and the boto3 services
# their create/read/delete calls go to. Every type under terraform/ is here, plus common ones; an
# empty tuple means the provider computes it locally (no API call at all).
RESOURCE_SERVICES: Mapping[str, tuple[str, ...]] = {
    # ACM
    "aws_acm_certificate": ("acm",),
    "aws_acm_certificate_validation": ("acm",),
    # API Gateway
    "aws_api_gateway_rest_api": ("apigateway",),
    "aws_api_gateway_resource": ("apigateway",),
    "aws_api_gateway_method": ("apigateway",),
    "aws_api_gateway_integration": ("apigateway",),
    "aws_api_gateway_deployment": ("apigateway",),
    "aws_api_gateway_stage": ("apigateway",),
    "aws_apigatewayv2_api": ("apigatewayv2",),
    "aws_apigatewayv2_integration": ("apigatewayv2",),
    "aws_apigatewayv2_route": ("apigatewayv2",),
    "aws_apigatewayv2_stage": ("apigatewayv2",),
    "aws_apigatewayv2_vpc_link": ("apigatewayv2",),
    # Application Auto Scaling (ECS service scaling)
    "aws_appautoscaling_target": ("application-autoscaling",),
    "aws_appautoscaling_policy": ("application-autoscaling",),
    "aws_appautoscaling_scheduled_action": ("application-autoscaling",),
    "aws_autoscaling_group": ("autoscaling",),
    "aws_launch_template": ("ec2",),
    # Backup
    "aws_backup_vault": ("backup",),
    "aws_backup_vault_lock_configuration": ("backup",),
    "aws_backup_plan": ("backup",),
    "aws_backup_selection": ("backup",),
    # CloudFront
    "aws_cloudfront_distribution": ("cloudfront",),
    "aws_cloudfront_origin_access_control": ("cloudfront",),
    "aws_cloudfront_origin_access_identity": ("cloudfront",),
    # CloudWatch, Logs, EventBridge
    "aws_cloudwatch_metric_alarm": ("cloudwatch",),
    "aws_cloudwatch_dashboard": ("cloudwatch",),
    "aws_cloudwatch_composite_alarm": ("cloudwatch",),
    "aws_cloudwatch_log_group": ("logs",),
    "aws_cloudwatch_log_stream": ("logs",),
    "aws_cloudwatch_log_metric_filter": ("logs",),
    "aws_cloudwatch_log_subscription_filter": ("logs",),
    "aws_cloudwatch_log_resource_policy": ("logs",),
    "aws_cloudwatch_event_rule": ("events",),
    "aws_cloudwatch_event_target": ("events",),
    "aws_cloudwatch_event_bus": ("events",),
    # DynamoDB
    "aws_dynamodb_table": ("dynamodb",),
    "aws_dynamodb_table_item": ("dynamodb",),
    # EC2 and VPC
    "aws_vpc": ("ec2",),
    "aws_subnet": ("ec2",),
    "aws_internet_gateway": ("ec2",),
    "aws_nat_gateway": ("ec2",),
    "aws_eip": ("ec2",),
    "aws_route": ("ec2",),
    "aws_route_table": ("ec2",),
    "aws_route_table_association": ("ec2",),
    "aws_default_route_table": ("ec2",),
    "aws_security_group": ("ec2",),
    "aws_security_group_rule": ("ec2",),
    "aws_default_security_group": ("ec2",),
    "aws_vpc_security_group_ingress_rule": ("ec2",),
    "aws_vpc_security_group_egress_rule": ("ec2",),
    "aws_network_acl": ("ec2",),
    "aws_default_network_acl": ("ec2",),
    "aws_vpc_endpoint": ("ec2",),
    "aws_flow_log": ("ec2",),
    "aws_instance": ("ec2",),
    "aws_key_pair": ("ec2",),
    "aws_ebs_volume": ("ec2",),
    "aws_vpc_peering_connection": ("ec2",),
    "data.aws_availability_zones": ("ec2",),
    "data.aws_ami": ("ec2",),
    "data.aws_vpc": ("ec2",),
    "data.aws_subnet": ("ec2",),
    "data.aws_subnets": ("ec2",),
    # ECR and ECS
    "aws_ecr_repository": ("ecr",),
    "aws_ecr_lifecycle_policy": ("ecr",),
    "aws_ecr_repository_policy": ("ecr",),
    "aws_ecs_cluster": ("ecs",),
    "aws_ecs_cluster_capacity_providers": ("ecs",),
    "aws_ecs_capacity_provider": ("ecs",),
    "aws_ecs_service": ("ecs",),
    "aws_ecs_task_definition": ("ecs",),
    # ElastiCache
    "aws_elasticache_subnet_group": ("elasticache",),
    "aws_elasticache_replication_group": ("elasticache",),
    "aws_elasticache_user": ("elasticache",),
    "aws_elasticache_user_group": ("elasticache",),
    "aws_elasticache_cluster": ("elasticache",),
    "aws_elasticache_parameter_group": ("elasticache",),
    # Elastic Load Balancing v2 (aws_alb* are aliases of aws_lb*)
    "aws_lb": ("elbv2",),
    "aws_lb_listener": ("elbv2",),
    "aws_lb_listener_rule": ("elbv2",),
    "aws_lb_target_group": ("elbv2",),
    "aws_lb_target_group_attachment": ("elbv2",),
    "aws_alb": ("elbv2",),
    "aws_alb_listener": ("elbv2",),
    "aws_alb_target_group": ("elbv2",),
    "aws_elb": ("elb",),
    "data.aws_elb_service_account": (),
    # IAM and STS
    "aws_iam_role": ("iam",),
    "aws_iam_role_policy": ("iam",),
    "aws_iam_role_policy_attachment": ("iam",),
    "aws_iam_policy": ("iam",),
    "aws_iam_user": ("iam",),
    "aws_iam_user_policy": ("iam",),
    "aws_iam_user_policy_attachment": ("iam",),
    "aws_iam_access_key": ("iam",),
    "aws_iam_group": ("iam",),
    "aws_iam_group_policy": ("iam",),
    "aws_iam_instance_profile": ("iam",),
    "aws_iam_openid_connect_provider": ("iam",),
    "aws_iam_service_linked_role": ("iam",),
    "data.aws_iam_policy_document": (),
    "data.aws_iam_policy": ("iam",),
    "data.aws_iam_role": ("iam",),
    "data.aws_caller_identity": ("sts",),
    "data.aws_partition": (),
    "data.aws_region": (),
    # KMS
    "aws_kms_key": ("kms",),
    "aws_kms_alias": ("kms",),
    "data.aws_kms_key": ("kms",),
    # Lambda
    "aws_lambda_function": ("lambda",),
    "aws_lambda_permission": ("lambda",),
    "aws_lambda_alias": ("lambda",),
    "aws_lambda_event_source_mapping": ("lambda",),
    "aws_lambda_layer_version": ("lambda",),
    "aws_lambda_function_url": ("lambda",),
    # RDS (DB proxies are part of the RDS API)
    "aws_db_instance": ("rds",),
    "aws_db_subnet_group": ("rds",),
    "aws_db_parameter_group": ("rds",),
    "aws_db_option_group": ("rds",),
    "aws_db_proxy": ("rds",),
    "aws_db_proxy_default_target_group": ("rds",),
    "aws_db_proxy_target": ("rds",),
    "aws_rds_cluster": ("rds",),
    "aws_rds_cluster_instance": ("rds",),
    "aws_rds_cluster_parameter_group": ("rds",),
    # Route 53
    "aws_route53_zone": ("route53",),
    "aws_route53_record": ("route53",),
    "aws_route53_health_check": ("route53",),
    "data.aws_route53_zone": ("route53",),
    # S3
    "aws_s3_bucket": ("s3",),
    "aws_s3_bucket_policy": ("s3",),
    "aws_s3_bucket_public_access_block": ("s3",),
    "aws_s3_bucket_versioning": ("s3",),
    "aws_s3_bucket_server_side_encryption_configuration": ("s3",),
    "aws_s3_bucket_ownership_controls": ("s3",),
    "aws_s3_bucket_lifecycle_configuration": ("s3",),
    "aws_s3_bucket_logging": ("s3",),
    "aws_s3_bucket_cors_configuration": ("s3",),
    "aws_s3_bucket_acl": ("s3",),
    "aws_s3_bucket_notification": ("s3",),
    "aws_s3_bucket_website_configuration": ("s3",),
    "aws_s3_object": ("s3",),
    "aws_s3_account_public_access_block": ("s3control",),
    # Secrets Manager and SSM
    "aws_secretsmanager_secret": ("secretsmanager",),
    "aws_secretsmanager_secret_version": ("secretsmanager",),
    "aws_secretsmanager_secret_rotation": ("secretsmanager",),
    "aws_ssm_parameter": ("ssm",),
    "data.aws_ssm_parameter": ("ssm",),
    # SNS and SQS
    "aws_sns_topic": ("sns",),
    "aws_sns_topic_subscription": ("sns",),
    "aws_sns_topic_policy": ("sns",),
    "aws_sqs_queue": ("sqs",),
    "aws_sqs_queue_policy": ("sqs",),
    "aws_sqs_queue_redrive_policy": ("sqs",),
    "aws_sqs_queue_redrive_allow_policy": ("sqs",),
    # Step Functions, Kinesis, Firehose
    "aws_sfn_state_machine": ("stepfunctions",),
    "aws_kinesis_stream": ("kinesis",),
    "aws_kinesis_firehose_delivery_stream": ("firehose",),
    # WAFv2
    "aws_wafv2_web_acl": ("wafv2",),
    "aws_wafv2_web_acl_association": ("wafv2",),
    "aws_wafv2_web_acl_logging_configuration": ("wafv2",),
    "aws_wafv2_ip_set": ("wafv2",),
}


@dataclass(frozen=True)
class Capabilities:
    """One LocalStack's edition, version, licence and the boto3 services it can serve."""

    endpoint: str
    edition: str
    version: str
    licensed: bool | None
    services: frozenset[str]
    # Every service LocalStack listed, by its own name, with the state it reported.
    states: Mapping[str, str] = field(default_factory=dict)

    def serves(self, service: str) -> bool:
        return service in self.services

    def hint(self, service: str) -> str:
        """What would make `service` available here (only meaningful when it is not)."""
        state = self._state_of(service)
        if state == "disabled":
            return (
                f"{service} is disabled in this LocalStack: remove the SERVICES variable, or add {service} to it, "
                "and restart LocalStack"
            )
        if state is not None and state not in USABLE_STATES:
            return (
                f"{service} is in state {state!r} in this LocalStack: see its log and restart it, or use the "
                "embedded moto backend"
            )
        if service in PAID_TIER_SERVICES:
            if self.licensed is True:
                return (
                    f"{service} is not listed by this licensed LocalStack {self.edition} {self.version}: check "
                    "SERVICES and the image version, or use the embedded moto backend"
                )
            if self.edition not in ("community", "unknown") and self.licensed is False:
                return (
                    f"{service} is a paid-tier LocalStack service and this {self.edition} LocalStack has no "
                    "activated licence: set a valid LOCALSTACK_AUTH_TOKEN, or use the embedded moto backend"
                )
            return (
                f"{service} is a paid-tier LocalStack service: set LOCALSTACK_AUTH_TOKEN and use the Pro image, "
                "or use the embedded moto backend"
            )
        return f"LocalStack {self.edition} {self.version} does not list {service}: use the embedded moto backend"

    def hints(self, services: Iterable[str]) -> dict[str, str]:
        return {service: self.hint(service) for service in services if not self.serves(service)}

    def _state_of(self, service: str) -> str | None:
        for name, state in self.states.items():
            if service in boto3_names(name):
                return state
        return None

    def describe(self) -> str:
        licence = {True: "licence activated", False: "no activated licence", None: "licence unknown"}[self.licensed]
        return f"LocalStack {self.edition} {self.version} at {self.endpoint} ({licence}, {len(self.services)} services)"


def parse_health(body: Mapping[str, Any]) -> dict[str, str]:
    """LocalStack service name → state, from a /_localstack/health body (raises ValueError if it is not one)."""
    services = body.get("services")
    if not isinstance(services, Mapping):
        raise ValueError("no `services` map: this is not LocalStack's health endpoint")
    return {str(name): str(state).lower() for name, state in services.items()}


def served_services(states: Mapping[str, str]) -> frozenset[str]:
    """The boto3 services behind the usable LocalStack services."""
    served: set[str] = set()
    for name, state in states.items():
        if state in USABLE_STATES:
            served.update(boto3_names(name))
    return frozenset(served)


def from_bodies(endpoint: str, health: Mapping[str, Any], info: Mapping[str, Any] | None) -> Capabilities:
    """Capabilities from the two bodies (info may be missing: old versions, or a proxy that hides it)."""
    states = parse_health(health)
    info = info or {}
    edition = str(info.get("edition") or health.get("edition") or "unknown").lower()
    version = str(info.get("version") or health.get("version") or "unknown").split(":", 1)[0]
    activated = info.get("is_license_activated")
    licensed = activated if isinstance(activated, bool) else None
    return Capabilities(endpoint, edition, version, licensed, served_services(states), states)


def detect(endpoint: str, timeout: float = 5.0) -> Capabilities:
    """Ask a running LocalStack what it serves; BackendError (with a remedy) when it does not answer."""
    base = endpoint.rstrip("/")
    try:
        health = _get_json(f"{base}/_localstack/health", timeout)
        parse_health(health)  # fail here, with the message below, when it is not LocalStack
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BackendError(
            f"No LocalStack answers at {base}/_localstack/health",
            "start LocalStack (e.g. `docker compose up -d localstack` with LOCALSTACK_AUTH_TOKEN set), or point "
            "--stackprobe-endpoint at the one you run, or use --stackprobe-backend=moto.",
            detail=f"{type(exc).__name__}: {exc}.",
        ) from exc
    try:
        info: Mapping[str, Any] | None = _get_json(f"{base}/_localstack/info", timeout)
    except (urllib.error.URLError, OSError, ValueError):
        info = None
    return from_bodies(base, health, info)


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = json.loads(response.read())
    if not isinstance(body, dict):
        raise ValueError(f"{url} answered {type(body).__name__}, not a JSON object")
    return body


# -- what a plan needs ----------------------------------------------------------------------------


def services_of(resource_type: str) -> tuple[str, ...] | None:
    """The services a resource type (or "data.<type>") needs; None when the table does not know it."""
    if resource_type == PROVIDER_PSEUDO_TYPE:
        return PROVIDER_SERVICES
    if resource_type in RESOURCE_SERVICES:
        return RESOURCE_SERVICES[resource_type]
    return None


def services_needed(plan_resource_types: Iterable[str]) -> dict[str, list[str]]:
    """boto3 service → the plan's types that need it; STS always (the provider itself calls it).

    Types the table does not know are left out rather than guessed: `unknown_types` lists them.
    """
    needed: dict[str, set[str]] = {service: {PROVIDER_PSEUDO_TYPE} for service in PROVIDER_SERVICES}
    for resource_type in plan_resource_types:
        for service in services_of(resource_type) or ():
            needed.setdefault(service, set()).add(resource_type)
    return {service: sorted(types) for service, types in sorted(needed.items())}


def unknown_types(plan_resource_types: Iterable[str]) -> list[str]:
    return sorted({t for t in plan_resource_types if services_of(t) is None})


def missing_services(capabilities: Capabilities, plan_resource_types: Iterable[str]) -> dict[str, list[str]]:
    """The needed services this LocalStack cannot serve → the plan's types that need them."""
    return {
        service: types
        for service, types in services_needed(plan_resource_types).items()
        if not capabilities.serves(service)
    }


# -- licence messages from a container that quit --------------------------------------------------

# LocalStack's licence failure (exit code 55) in its two wordings: the 2026 one ("The license activation
# failed for the following reason: ...") and the older one ("License activation failed! ... Reason: ...").
_LICENCE_FAILURE = re.compile(r"license activation failed|returning with exit code 55", re.IGNORECASE)
_NO_TOKEN = re.compile(r"no credentials were found in the environment", re.IGNORECASE)
_INVALID_TOKEN = re.compile(
    r"credentials defined in your environment are invalid|auth token .{0,40}invalid|invalid auth token", re.IGNORECASE
)
_REASON = re.compile(r"(?:Reason:|the following reason:)\s*\n*\s*(?P<reason>\S[^\n]*)", re.IGNORECASE)


@dataclass(frozen=True)
class LicenceProblem:
    """Why a LocalStack image quit at start for want of a licence."""

    kind: str  # "missing-token" | "invalid-token" | "licence"
    reason: str  # LocalStack's own sentence


def licence_problem(log_text: str) -> LicenceProblem | None:
    """The licence failure in a LocalStack container's log, or None when the log shows none."""
    if not _LICENCE_FAILURE.search(log_text):
        return None
    reasons = [m.group("reason").strip() for m in _REASON.finditer(log_text)]
    reason = next((r for r in reasons if r and not r.startswith("=")), "")
    if _NO_TOKEN.search(log_text):
        return LicenceProblem("missing-token", reason or "No credentials were found in the environment.")
    if _INVALID_TOKEN.search(log_text):
        return LicenceProblem("invalid-token", reason or "The auth token was rejected.")
    return LicenceProblem("licence", reason or "The licence could not be activated.")


def licence_error(problem: LicenceProblem, image: str) -> BackendError:
    """The user-facing error for a container that quit over its licence."""
    fallback = (
        "without a Docker engine stackprobe runs LocalStack's open-source runtime itself (host mode), and "
        "--stackprobe-backend=moto needs no LocalStack at all"
    )
    if problem.kind == "missing-token":
        return BackendError(
            f"The LocalStack image {image} quit at start because no auth token was given",
            f"set LOCALSTACK_AUTH_TOKEN (https://app.localstack.cloud/settings/auth-tokens) in the environment "
            f"stackprobe runs in; it is passed to the container. Otherwise: {fallback}.",
            detail=f"Since 2026-03-23 every localstack/localstack image needs one. LocalStack said: {problem.reason}",
        )
    if problem.kind == "invalid-token":
        return BackendError(
            f"The LocalStack image {image} quit at start because its auth token was rejected",
            "check LOCALSTACK_AUTH_TOKEN against https://app.localstack.cloud/settings/auth-tokens (a rotated or "
            f"expired token is refused). Otherwise: {fallback}.",
            detail=f"LocalStack said: {problem.reason}",
        )
    return BackendError(
        f"The LocalStack image {image} quit at start because its licence could not be activated",
        "check that a licence is assigned to the user or workspace of LOCALSTACK_AUTH_TOKEN and that the container "
        f"can reach LocalStack's licence server. Otherwise: {fallback}.",
        detail=f"LocalStack said: {problem.reason}",
    )
