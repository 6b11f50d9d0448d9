"""edge.*, deployment.*, queue.* and kms.rotation: each passes on a good resource, fails with evidence
on a bad one, and is not applicable when nothing of its kind exists."""

from __future__ import annotations

import json

import compute_builders as build
import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import by_id, run_check
from stackprobe.checks.base import CheckContext, CheckResult, Status
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness


def _run(backend: AwsBackend, check_id: str) -> tuple[Status, list[str]]:
    result = run_check(by_id(check_id), CheckContext(backend=backend))
    assert not result.error, result.error
    return result.status, [f.evidence for f in result.findings]


def _failing_evidence(result: CheckResult) -> list[str]:
    return [f.evidence for f in result.failures]


def _certificate(backend: AwsBackend) -> str:
    return str(backend.client("acm").request_certificate(DomainName="api.example.com")["CertificateArn"])


def test_edge_checks_not_applicable_without_load_balancers(clean_backend: AwsBackend) -> None:
    for check_id in ("edge.https-only", "edge.tls-policy", "edge.load-balancer-hardening"):
        assert _run(clean_backend, check_id)[0] == Status.NOT_APPLICABLE


def test_http_forwarding_listener_fails_and_redirect_passes(clean_backend: AwsBackend) -> None:
    net = build.network(clean_backend)
    alb, _ = build.load_balancer(clean_backend, net)  # HTTP:80 forwarding to the target group
    failures = _failing_evidence(assert_check(CheckContext(backend=clean_backend), "edge.https-only", Status.FAIL))
    assert "HTTP:80 default action forward serves plain HTTP" in failures
    assert any("has no HTTPS listener" in f for f in failures)

    elb = clean_backend.client("elbv2")
    listener = elb.describe_listeners(LoadBalancerArn=alb)["Listeners"][0]["ListenerArn"]
    elb.modify_listener(
        ListenerArn=listener,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    tg = elb.describe_target_groups()["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=alb,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": _certificate(clean_backend)}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    status, findings = _run(clean_backend, "edge.https-only")
    assert status == Status.PASS
    assert "HTTP:80 redirects to HTTPS" in findings
    assert _run(clean_backend, "edge.tls-policy")[0] == Status.PASS


def test_old_tls_policy_fails(clean_backend: AwsBackend) -> None:
    net = build.network(clean_backend)
    alb, tg = build.load_balancer(clean_backend, net)
    clean_backend.client("elbv2").create_listener(
        LoadBalancerArn=alb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-2016-08",
        Certificates=[{"CertificateArn": _certificate(clean_backend)}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    failures = _failing_evidence(assert_check(CheckContext(backend=clean_backend), "edge.tls-policy", Status.FAIL))
    assert failures == ["HTTPS:443 SslPolicy=ELBSecurityPolicy-2016-08"]


def test_hardening_names_each_missing_setting(clean_backend: AwsBackend) -> None:
    net = build.network(clean_backend)
    alb, _ = build.load_balancer(clean_backend, net)
    elb = clean_backend.client("elbv2")
    elb.add_tags(ResourceArns=[alb], Tags=[{"Key": "Environment", "Value": "prod"}])
    failures = _failing_evidence(
        assert_check(CheckContext(backend=clean_backend), "edge.load-balancer-hardening", Status.FAIL)
    )
    assert failures == [
        "drop_invalid_header_fields disabled; access logs disabled; "
        "deletion protection off (production: tag Environment=prod)"
    ]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=alb,
        Attributes=[
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": "alb-logs"},
            {"Key": "deletion_protection.enabled", "Value": "true"},
        ],
    )
    assert _run(clean_backend, "edge.load-balancer-hardening")[0] == Status.PASS


def test_deployment_settings(clean_backend: AwsBackend) -> None:
    assert _run(clean_backend, "deployment.circuit-breaker")[0] == Status.NOT_APPLICABLE
    net = build.network(clean_backend)
    _, tg = build.load_balancer(clean_backend, net)
    resources = build.app_resources(clean_backend)
    cluster = build.cluster(clean_backend)
    task = build.api_task_definition(clean_backend, resources)
    build.service(clean_backend, net, cluster, "api", task, target_group=tg, maximum_percent=200)
    failures = _failing_evidence(
        assert_check(CheckContext(backend=clean_backend), "deployment.circuit-breaker", Status.FAIL)
    )
    assert failures == ["sp-test/api: circuit breaker enable=False rollback=False"]
    assert _run(clean_backend, "deployment.zero-downtime")[0] == Status.PASS

    clean_backend.client("ecs").update_service(
        cluster=cluster,
        service="api",
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "minimumHealthyPercent": 50,
            "maximumPercent": 100,
        },
    )
    assert _run(clean_backend, "deployment.circuit-breaker")[0] == Status.PASS
    failures = _failing_evidence(
        assert_check(CheckContext(backend=clean_backend), "deployment.zero-downtime", Status.FAIL)
    )
    assert failures == ["sp-test/api: minimumHealthyPercent=50 maximumPercent=100"]


def test_queue_checks(clean_backend: AwsBackend) -> None:
    assert _run(clean_backend, "queue.dead-letter")[0] == Status.NOT_APPLICABLE
    sqs = clean_backend.client("sqs")
    dlq = sqs.create_queue(QueueName="jobs-dlq", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(
        QueueName="jobs",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
            "KmsMasterKeyId": "alias/aws/sqs",
        },
    )
    status, findings = _run(clean_backend, "queue.dead-letter")
    assert status == Status.PASS
    assert findings == [f"redrive to {dlq_arn} after 3 receives"]
    assert _run(clean_backend, "queue.encryption")[0] == Status.PASS

    sqs.create_queue(QueueName="orphan", Attributes={"SqsManagedSseEnabled": "false"})
    failures = _failing_evidence(assert_check(CheckContext(backend=clean_backend), "queue.dead-letter", Status.FAIL))
    assert failures == ["no RedrivePolicy: failing messages are retried forever"]
    failures = _failing_evidence(assert_check(CheckContext(backend=clean_backend), "queue.encryption", Status.FAIL))
    assert failures == ["no server-side encryption"]


def test_kms_rotation(clean_backend: AwsBackend) -> None:
    assert _run(clean_backend, "kms.rotation")[0] == Status.NOT_APPLICABLE
    kms = clean_backend.client("kms")
    rotated = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=rotated)
    assert _run(clean_backend, "kms.rotation")[0] == Status.PASS
    kms.create_key()
    failures = _failing_evidence(assert_check(CheckContext(backend=clean_backend), "kms.rotation", Status.FAIL))
    assert failures == ["rotation disabled"]


def test_service_behind_load_balancer(clean_backend: AwsBackend) -> None:
    assert _run(clean_backend, "edge.service-behind-load-balancer")[0] == Status.NOT_APPLICABLE
    net = build.network(clean_backend)
    _, tg = build.load_balancer(clean_backend, net)
    resources = build.app_resources(clean_backend)
    cluster = build.cluster(clean_backend)
    task = build.api_task_definition(clean_backend, resources)
    build.service(clean_backend, net, cluster, "api", task, target_group=tg)
    assert _run(clean_backend, "edge.service-behind-load-balancer")[0] == Status.PASS
    build.service(clean_backend, net, cluster, "direct", task)
    failures = _failing_evidence(
        assert_check(CheckContext(backend=clean_backend), "edge.service-behind-load-balancer", Status.FAIL)
    )
    assert failures == ["sp-test/direct serves port(s) 8080 with no load balancer"]
