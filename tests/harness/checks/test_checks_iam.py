"""IAM checks against roles, users, groups and policies built in the emulator, and the live enforcement probe.

Each module fixture builds one account holding every case and runs the checks once (resetting moto
costs seconds); the tests then assert on each policy's or role's finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import settings as moto_settings

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.iam import (
    enforced_least_privilege,
    no_long_lived_keys,
    no_wildcard_actions,
    no_wildcard_admin,
    task_role_least_privilege,
)
from stackprobe.lifecycle.run import Run
from stackprobe.probes.iam_enforcement import iam_enforced
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

ACCOUNT = "123456789012"
# The reference app's contract (task_access) says what each task role must be able to do.
APP_DIR = Path(__file__).resolve().parents[3] / "app"
ECS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def role(backend: AwsBackend, name: str, *statements: dict[str, Any]) -> str:
    iam = backend.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TRUST))["Role"]["Arn"])
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="app", PolicyDocument=document(*statements))
    return arn


def managed(backend: AwsBackend, name: str, *statements: dict[str, Any]) -> str:
    return str(
        backend.client("iam").create_policy(PolicyName=name, PolicyDocument=document(*statements))["Policy"]["Arn"]
    )


def task_definition(
    backend: AwsBackend, family: str, role_arn: str, env: dict[str, str] | None = None, container: str = "app"
) -> str:
    return str(
        backend.client("ecs").register_task_definition(
            family=family,
            taskRoleArn=role_arn,
            containerDefinitions=[
                {
                    "name": container,
                    "image": "app:1",
                    "memory": 512,
                    "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def run(check: Any, backend: AwsBackend) -> CheckResult:
    return run_check(check, CheckContext(backend=backend, app_dir=APP_DIR))


def finding(result: CheckResult, resource: str) -> Finding:
    assert not result.error, result.error
    [found] = [f for f in result.findings if f.resource == resource]
    return found


# --- configuration checks ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_results(stacks: Run) -> dict[str, CheckResult]:
    backend = stacks.reset_emulator()
    iam = backend.client("iam")
    scoped = role(
        backend,
        "sp-api-task",
        allow("s3:GetObject", "arn:aws:s3:::sp-models/models/*"),
        allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], f"arn:aws:sqs:eu-west-1:{ACCOUNT}:sp-jobs"),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234"),
        allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:db-AbC"),
    )
    broad = role(
        backend,
        "sp-broad-task",
        {"Sid": "ReadAll", **allow("s3:GetObject", "*")},
        {"Sid": "AnyKey", **allow("kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*")},
        {"Sid": "OwnQueue", **allow("sqs:ReceiveMessage", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:sp-jobs")},
    )
    admin_role = role(backend, "sp-admin-task")
    admin = managed(backend, "sp-admin", {"Sid": "Everything", **allow("*", "*")})
    iam.attach_role_policy(RoleName="sp-admin-task", PolicyArn=admin)
    managed(backend, "sp-admin-unused", allow("*", "*"))
    boundary = managed(backend, "sp-boundary", allow("s3:GetObject", "*"))
    iam.create_role(RoleName="sp-bounded", AssumeRolePolicyDocument=json.dumps(ECS_TRUST), PermissionsBoundary=boundary)
    iam.attach_role_policy(RoleName="sp-bounded", PolicyArn=managed(backend, "sp-admin-bounded", allow("*", "*")))
    role(backend, "sp-notebook")
    iam.attach_role_policy(RoleName="sp-notebook", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    scoped_wildcard = managed(backend, "sp-s3-scoped-wildcard", allow("s3:*", "arn:aws:s3:::sp-models/*"))
    iam.attach_role_policy(RoleName="sp-api-task", PolicyArn=scoped_wildcard)
    power = managed(
        backend, "sp-power-user", {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    )
    iam.attach_role_policy(RoleName="sp-notebook", PolicyArn=power)

    iam.create_user(UserName="sp-ci")
    iam.put_user_policy(
        UserName="sp-ci",
        PolicyName="push",
        PolicyDocument=document({"Sid": "AllS3", **allow(["s3:*", "ecr:GetAuthorizationToken"], "*")}),
    )
    ci_key = iam.create_access_key(UserName="sp-ci")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="sp-retired")
    retired_key = iam.create_access_key(UserName="sp-retired")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="sp-retired", AccessKeyId=retired_key, Status="Inactive")
    iam.create_group(GroupName="sp-admins")
    iam.put_group_policy(
        GroupName="sp-admins", PolicyName="iam", PolicyDocument=document({"Sid": "Iam", **allow("iam:*", "*")})
    )

    task_definition(backend, "sp-api", scoped)
    task_definition(backend, "sp-broad", broad)
    task_definition(backend, "sp-admin", admin_role)

    context = CheckContext(backend=backend, app_dir=APP_DIR)
    # Each check finds a defect in this account; the tests assert which resource fails, and why.
    results = {
        result.check.id: result
        for result in (
            assert_check(context, no_wildcard_admin, Status.FAIL),
            assert_check(context, no_wildcard_actions, Status.FAIL),
            assert_check(context, no_long_lived_keys, Status.FAIL),
            assert_check(context, task_role_least_privilege, Status.FAIL),
        )
    }
    results["ci-key"] = CheckResult(check=no_long_lived_keys, skipped_reason=ci_key)
    return results


def test_admin_policies_fail_and_scoped_ones_pass(config_results: dict[str, CheckResult]) -> None:
    result = config_results["iam.no-wildcard-admin"]
    admin = finding(result, f"arn:aws:iam::{ACCOUNT}:policy/sp-admin")
    unused = finding(result, f"arn:aws:iam::{ACCOUNT}:policy/sp-admin-unused")
    aws_admin = finding(result, "arn:aws:iam::aws:policy/AdministratorAccess")
    scoped = finding(result, "sp-api-task:app")

    assert result.status == Status.FAIL
    assert (admin.passed, admin.evidence, admin.severity) == (
        False,
        "managed policy sp-admin: statement 'Everything' allows * on *; attached to role/sp-admin-task",
        None,
    )
    assert (unused.passed, unused.severity) == (False, Severity.MEDIUM)
    assert unused.evidence.endswith("not attached to anything")
    assert (aws_admin.passed, aws_admin.evidence) == (
        False,
        "AWS-managed policy AdministratorAccess: statement #1 allows * on *; attached to role/sp-notebook",
    )
    assert (scoped.passed, scoped.evidence) == (
        True,
        "inline policy app of role sp-api-task: no statement allows * on *",
    )
    bounded = finding(result, f"arn:aws:iam::{ACCOUNT}:policy/sp-admin-bounded")
    assert (bounded.passed, bounded.severity) == (False, Severity.MEDIUM)
    assert bounded.evidence.endswith(
        f"attached to role/sp-bounded (capped by permissions boundaries: role/sp-bounded "
        f"→ arn:aws:iam::{ACCOUNT}:policy/sp-boundary)"
    )
    assert result.worst_severity() == Severity.CRITICAL


def test_service_wildcards_graded_by_reach(config_results: dict[str, CheckResult]) -> None:
    result = config_results["iam.no-wildcard-actions"]
    ci = finding(result, "sp-ci:push")
    group = finding(result, "sp-admins:iam")
    power = finding(result, f"arn:aws:iam::{ACCOUNT}:policy/sp-power-user")
    scoped = finding(result, f"arn:aws:iam::{ACCOUNT}:policy/sp-s3-scoped-wildcard")

    assert (ci.passed, ci.severity) == (False, Severity.HIGH)
    assert ci.evidence == "inline policy push of user sp-ci: statement 'AllS3' allows s3:* on *; attached to user/sp-ci"
    assert (group.passed, group.severity) == (False, Severity.CRITICAL)
    assert (power.passed, power.severity) == (False, Severity.CRITICAL)
    assert "statement 'AllButIam' allows every action except iam:* on *" in power.evidence
    assert (scoped.passed, scoped.severity) == (False, Severity.MEDIUM)
    # "*" on "*" is the admin check's finding, not repeated here.
    assert finding(result, f"arn:aws:iam::{ACCOUNT}:policy/sp-admin").passed
    assert finding(result, "sp-api-task:app").passed


def test_active_access_keys_fail(config_results: dict[str, CheckResult]) -> None:
    result = config_results["iam.no-long-lived-keys"]
    key = config_results["ci-key"].skipped_reason

    assert result.status == Status.FAIL
    found = finding(result, key)
    assert not found.passed
    assert found.evidence.startswith(f"user sp-ci has active access key {key}, created ")
    assert finding(result, "sp-retired").evidence == "user sp-retired has no active access key (1 inactive)"
    assert finding(result, "sp-retired").passed


def test_task_roles_must_scope_data_actions(config_results: dict[str, CheckResult]) -> None:
    result = config_results["iam.task-role-least-privilege"]
    broad = finding(result, f"arn:aws:iam::{ACCOUNT}:role/sp-broad-task")
    admin = finding(result, f"arn:aws:iam::{ACCOUNT}:role/sp-admin-task")
    scoped = finding(result, f"arn:aws:iam::{ACCOUNT}:role/sp-api-task")

    assert broad.evidence == (
        "task role of sp-broad:1: inline policy app of role sp-broad-task statement 'ReadAll' allows s3:GetObject "
        "on *; inline policy app of role sp-broad-task statement 'AnyKey' allows kms:Decrypt on "
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"
    )
    assert not broad.passed
    assert not admin.passed and "statement 'Everything' allows every action on *" in admin.evidence
    # s3:* on one bucket's objects is scoped (iam.no-wildcard-actions reports the wildcard itself).
    assert (scoped.passed, scoped.evidence) == (
        True,
        "task role of sp-api:1: every data action is scoped to specific ARNs",
    )


def test_nothing_to_inspect_is_not_applicable(clean_backend: AwsBackend) -> None:
    for check in (
        no_wildcard_admin,
        no_wildcard_actions,
        no_long_lived_keys,
        task_role_least_privilege,
        enforced_least_privilege,
    ):
        assert run(check, clean_backend).status == Status.NOT_APPLICABLE, check.id


# --- live: least privilege under moto's IAM enforcement ------------------------------------------


def build_app_account(backend: AwsBackend) -> dict[str, str]:
    s3, sqs = backend.client("s3"), backend.client("sqs")
    for name in ("sp-models", "sp-uploads", "sp-logs"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": backend.region})
    # TLS-only, as the storage module writes it (moto evaluates it through the compat patch).
    s3.put_bucket_policy(
        Bucket="sp-uploads",
        Policy=document(
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::sp-uploads", "arn:aws:s3:::sp-uploads/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ),
    )
    queue = sqs.create_queue(QueueName="sp-jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # The reference stack's API role (terraform/modules/iam), minus KMS, which moto cannot scope.
    api = role(
        backend,
        "sp-api-task",
        allow("s3:ListBucket", ["arn:aws:s3:::sp-models", "arn:aws:s3:::sp-uploads"]),
        allow("s3:GetObject", "arn:aws:s3:::sp-models/models/*"),
        allow("s3:PutObject", ["arn:aws:s3:::sp-uploads/uploads/*", "arn:aws:s3:::sp-uploads/results/*"]),
        allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], queue_arn),
    )
    greedy = role(backend, "sp-greedy-task", allow(["s3:*", "sqs:*"], "*"))
    env = {"MODELS_BUCKET": "sp-models", "UPLOADS_BUCKET": "sp-uploads", "JOBS_QUEUE_URL": queue}
    ecs = backend.client("ecs")
    ecs.create_cluster(clusterName="sp")
    api_td = task_definition(backend, "sp-api", api, env, container="api")
    greedy_td = task_definition(backend, "sp-worker", greedy, env)
    target_group = f"arn:aws:elasticloadbalancing:{backend.region}:{ACCOUNT}:targetgroup/sp-api/0123456789abcdef"
    ecs.create_service(
        cluster="sp",
        serviceName="sp-api",
        taskDefinition=api_td,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": target_group, "containerName": "api", "containerPort": 8080}],
    )
    ecs.create_service(cluster="sp", serviceName="sp-worker", taskDefinition=greedy_td, desiredCount=1)
    return {"api": api, "greedy": greedy, "queue": queue}


def buckets_and_queues(backend: AwsBackend) -> tuple[set[str], set[str]]:
    buckets = {b["Name"] for b in backend.client("s3").list_buckets()["Buckets"]}
    queues = set(backend.client("sqs").list_queues().get("QueueUrls", []))
    return buckets, queues


@pytest.fixture(scope="module")
def enforcement(stacks: Run) -> Iterator[dict[str, Any]]:
    backend = stacks.reset_emulator()
    names = build_app_account(backend)
    before = buckets_and_queues(backend)
    # The greedy worker role fails; the tests assert each role's requests.
    result = assert_check(CheckContext(backend=backend, app_dir=APP_DIR), enforced_least_privilege, Status.FAIL)
    after = buckets_and_queues(backend)
    objects = backend.client("s3").list_object_versions(Bucket="sp-models")
    # A models bucket reachable only through a VPC endpoint: moto cannot evaluate StringNotEquals and
    # refuses its objects to everyone, so those parts are not judged.
    backend.client("s3").put_bucket_policy(
        Bucket="sp-models",
        Policy=document(
            {
                "Sid": "OnlyThroughVpce",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::sp-models", "arn:aws:s3:::sp-models/*"],
                "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
            }
        ),
    )
    blocked = run(enforced_least_privilege, backend)
    yield {
        **names,
        "result": result,
        "blocked": blocked,
        "before": before,
        "after": after,
        "leftover": [*objects.get("Versions", []), *objects.get("DeleteMarkers", [])],
        "backend": backend,
    }


def test_least_privilege_role_passes_with_each_request_named(enforcement: dict[str, Any]) -> None:
    found = finding(enforcement["result"], enforcement["api"])

    assert found.passed, found.evidence
    assert found.evidence.startswith(f"assumed {enforcement['api']} (services sp-api) with IAM enforced: ")
    for line in (
        "s3:GetObject s3://sp-models/models/stackprobe-iam-probe-",
        ".json → allowed",
        "s3:DeleteObject s3://sp-models/models/stackprobe-iam-probe-",
        ".json → denied (AccessDenied)",
        "s3:PutObject s3://sp-uploads/uploads/stackprobe-iam-probe-",
        f"sqs:GetQueueAttributes {enforcement['queue']} → allowed",
        "(a bucket the task does not use) → denied (AccessDenied)",
        "(a queue the task does not use) → denied (",
    ):
        assert line in found.evidence


def test_greedy_role_fails_on_what_it_should_not_do(enforcement: dict[str, Any]) -> None:
    found = finding(enforcement["result"], enforcement["greedy"])

    assert not found.passed
    assert "s3:DeleteObject s3://sp-models/models/stackprobe-iam-probe-" in found.evidence
    assert ".json → allowed, expected denied" in found.evidence
    assert "canary.txt (a bucket the task does not use) → allowed, expected denied" in found.evidence
    assert "(a queue the task does not use) → allowed, expected denied" in found.evidence
    # The worker is not behind the load balancer: it is not expected to accept uploads.
    assert "s3:PutObject" not in found.evidence


def test_unenforceable_parts_are_reported_not_judged(enforcement: dict[str, Any]) -> None:
    info = finding(enforcement["result"], "moto IAM enforcement")

    assert info.passed and info.severity == Severity.INFO
    assert 'KMS and Secrets Manager calls: moto authorises them against Resource "*" only' in info.evidence

    blocked = enforcement["blocked"]
    api = finding(blocked, enforcement["api"])
    assert api.passed and "sp-models" not in api.evidence  # the models requests were not judged...
    notes = finding(blocked, "moto IAM enforcement").evidence
    assert "sp-api-task: s3:GetObject s3://sp-models/models/stackprobe-iam-probe-" in notes  # ...but named
    assert (
        "moto refuses every object request to sp-models even without IAM enforcement: it applies the "
        "conditional Deny 'OnlyThroughVpce' (StringNotEquals aws:SourceVpce=vpce-0123456789abcdef0) without "
        "its condition" in notes
    )


def test_probe_leaves_the_account_as_it_found_it(enforcement: dict[str, Any]) -> None:
    assert enforcement["after"] == enforcement["before"]
    assert enforcement["leftover"] == []  # the seeded model object, every version, is gone
    assert float("inf") == moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    enforcement["backend"].client("s3").list_buckets()  # the dummy credentials work again


def test_enforcement_is_restored_after_an_error(clean_backend: AwsBackend) -> None:
    s3 = clean_backend.client("s3")

    with pytest.raises(RuntimeError, match="boom"), iam_enforced(clean_backend):
        with pytest.raises(ClientError) as refused:
            s3.list_buckets()
        assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        raise RuntimeError("boom")

    assert float("inf") == moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    s3.list_buckets()
