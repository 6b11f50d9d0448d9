"""Partial audits that know what failed: an apply that stopped part-way is judged without drawing a verdict
from what it did not create.

Seen before: with the HTTPS listener failed, the partial audit reported "no HTTPS listener" and flagged the
load balancer's port 443 as open to the world on a port without a listener. Now a check whose verdict depends
on a resource the apply did not create (of a type it reads, or referring to one) is "not checked", naming
it, and a failed listener's port counts as intended. Three levels: what the plan and the partial state say
was not created (pure), the run loop on an account built with boto3, and a real stack whose listener fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from network_builders import AZS, internet_gateway, load_balancer, route_table, security_group, subnet, tcp, vpc

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import by_id, run_checks
from stackprobe.checks.base import CheckContext, Status
from stackprobe.lifecycle.verify import configuration_references, unapplied_resources, verify
from stackprobe.report.model import RunOutcome, RunReport
from stackprobe.report.render import to_json, to_junit, to_terminal
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

STACKS = Path(__file__).parent.parent / "stacks"
WORLD = "0.0.0.0/0"


def _resource(address: str, **values: Any) -> dict[str, Any]:
    kind, name = address.split(".")[-2:]
    return {"address": address, "mode": "managed", "type": kind, "name": name, "values": values}


def _written(address: str, references: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    """A resource of the plan's `configuration` section, each argument given by the references it makes."""
    expressions = {name: {"references": refs} for name, refs in (references or {}).items()}
    return {"address": address, "mode": "managed", "expressions": expressions, **extra}


def _modular_plan() -> Plan:
    """A listener in module `edge` (given the root's load balancer through a variable), a record that reads the
    listener through the module's output, and a bucket that refers to nothing."""
    listener = _resource("module.edge.aws_lb_listener.https", port=443)
    return Plan(
        {
            "planned_values": {
                "root_module": {
                    "resources": [
                        _resource("aws_lb.main"),
                        _resource("aws_route53_record.api"),
                        _resource("aws_s3_bucket.logs"),
                    ],
                    "child_modules": [{"address": "module.edge", "resources": [listener]}],
                }
            },
            "configuration": {
                "root_module": {
                    "resources": [
                        _written("aws_lb.main"),
                        _written("aws_route53_record.api", {"alias": ["module.edge.listener_arn", "module.edge"]}),
                        _written("aws_s3_bucket.logs"),
                    ],
                    "module_calls": {
                        "edge": {
                            "expressions": {"lb_arn": {"references": ["aws_lb.main.arn", "aws_lb.main"]}},
                            "module": {
                                "resources": [_written("aws_lb_listener.https", {"load_balancer_arn": ["var.lb_arn"]})],
                                "outputs": {
                                    "listener_arn": {
                                        "expression": {
                                            "references": ["aws_lb_listener.https.arn", "aws_lb_listener.https"]
                                        }
                                    }
                                },
                            },
                        }
                    },
                }
            },
        }
    )


def test_references_are_followed_through_module_variables_and_outputs() -> None:
    references = configuration_references(_modular_plan().configuration())
    assert references["module.edge.aws_lb_listener.https"] == {"aws_lb.main"}
    assert references["aws_route53_record.api"] == {"module.edge.aws_lb_listener.https"}
    assert references["aws_s3_bucket.logs"] == frozenset()


def test_what_was_not_created_names_the_failure_it_needed() -> None:
    failed = ["module.edge.aws_lb_listener.https: creating ELBv2 Listener: TargetGroupNotFound"]
    unapplied = {u.address: u for u in unapplied_resources(_modular_plan(), ["aws_lb.main"], failed)}
    assert set(unapplied) == {"module.edge.aws_lb_listener.https", "aws_route53_record.api", "aws_s3_bucket.logs"}
    listener = unapplied["module.edge.aws_lb_listener.https"]
    assert (listener.why, listener.references, listener.values["port"]) == ("failed to apply", ("aws_lb.main",), 443)
    assert listener.touches("aws_lb") and listener.touches("aws_lb_listener") and not listener.touches("aws_s3_bucket")
    assert unapplied["aws_route53_record.api"].describe() == (
        "`aws_route53_record.api` was not created (it needs `module.edge.aws_lb_listener.https`, which failed to apply)"
    )
    assert unapplied["aws_s3_bucket.logs"].why == "was not created (the apply stopped before it)"


# -- the run loop on a load balancer whose HTTPS listener is missing -----------------------------------------------


def _listener_plan(alb_arn: str, alb_sg: str) -> tuple[Plan, dict[str, Any]]:
    """The plan of an ALB with listeners on 80 and 443, and the state of an apply that created all but 443."""
    plan = Plan(
        {
            "planned_values": {
                "root_module": {
                    "resources": [
                        _resource("aws_security_group.alb"),
                        _resource("aws_lb.main"),
                        _resource("aws_lb_listener.http", port=80),
                        _resource("aws_lb_listener.https", port=443),
                    ]
                }
            },
            "configuration": {
                "root_module": {
                    "resources": [
                        _written("aws_security_group.alb"),
                        _written("aws_lb.main", {"security_groups": ["aws_security_group.alb.id"]}),
                        _written("aws_lb_listener.http", {"load_balancer_arn": ["aws_lb.main.arn", "aws_lb.main"]}),
                        _written("aws_lb_listener.https", {"load_balancer_arn": ["aws_lb.main.arn", "aws_lb.main"]}),
                    ]
                }
            },
        }
    )
    created = {"aws_security_group": ("alb", alb_sg), "aws_lb": ("main", alb_arn), "aws_lb_listener": ("http", "l-80")}
    state = {
        "resources": [
            {"mode": "managed", "type": kind, "name": name, "instances": [{"attributes": {"id": ident, "arn": ident}}]}
            for kind, (name, ident) in created.items()
        ]
    }
    return plan, state


@pytest.fixture
def half_listened(clean_backend: AwsBackend) -> tuple[CheckContext, CheckContext]:
    """(the partial audit's context, the same account judged as if the apply had been whole)."""
    vpc_id = vpc(clean_backend)
    table = route_table(clean_backend, vpc_id, igw=internet_gateway(clean_backend, vpc_id))
    subnets = [subnet(clean_backend, vpc_id, f"10.0.{i}.0/24", az, table) for i, az in enumerate(AZS)]
    alb_sg = security_group(clean_backend, vpc_id, "alb", ingress=[tcp(80, cidr=WORLD), tcp(443, cidr=WORLD)])
    alb_arn, _ = load_balancer(clean_backend, vpc_id, subnets, [alb_sg], name="half", listeners=(80,))
    plan, state = _listener_plan(alb_arn, alb_sg)
    failed = ["aws_lb_listener.https: creating ELBv2 Listener: TargetGroupNotFound"]
    partial = CheckContext(
        backend=clean_backend,
        plan=plan,
        state=state,
        unapplied=unapplied_resources(plan, ["aws_security_group.alb", "aws_lb.main", "aws_lb_listener.http"], failed),
    )
    return partial, CheckContext(backend=clean_backend, plan=plan, state=state)


CHECKED = ("edge.https-only", "edge.tls-policy", "network.no-world-ingress")


def test_a_failed_listener_is_not_checked_and_its_port_is_intended(
    half_listened: tuple[CheckContext, CheckContext],
) -> None:
    partial, whole = half_listened
    results = {r.check.id: r for r in run_checks(partial, [by_id(i) for i in CHECKED])}
    for check_id in ("edge.https-only", "edge.tls-policy"):
        assert results[check_id].status is Status.NOT_CHECKED
        assert results[check_id].not_checked_reason == "`aws_lb_listener.https` failed to apply"
        assert results[check_id].findings == []
    world = results["network.no-world-ingress"]
    assert world.status is Status.PASS, [f.evidence for f in world.findings]
    assert any(
        "listener ports of alb half (443: `aws_lb_listener.https` failed to apply, counted as intended)" in f.evidence
        for f in world.findings
    )
    # What the partial audit used to say: verdicts drawn from the listener's absence.
    judged_whole = {r.check.id: r for r in run_checks(whole, [by_id(i) for i in CHECKED])}
    assert any("has no HTTPS listener" in f.evidence for f in judged_whole["edge.https-only"].failures)
    assert any(":443 (on alb half)" in f.evidence for f in judged_whole["network.no-world-ingress"].failures)


def test_reports_render_not_checked_distinctly(half_listened: tuple[CheckContext, CheckContext]) -> None:
    partial, _ = half_listened
    report = RunReport(title="audit", stack="half", backend="moto", outcome=RunOutcome.PARTIAL)
    report.failed_resources = ["aws_lb_listener.https: creating ELBv2 Listener: TargetGroupNotFound"]
    report.results = run_checks(partial, [by_id("edge.https-only")])
    text = to_terminal(report)
    assert "[NCHK] edge.https-only" in text
    assert "- not checked: `aws_lb_listener.https` failed to apply" in text
    assert "Result: PARTIAL — 1 not checked" in text
    (check,) = json.loads(to_json(report))["checks"]
    assert (check["status"], check["not_checked_reason"]) == ("not checked", "`aws_lb_listener.https` failed to apply")
    assert '<skipped message="not checked: `aws_lb_listener.https` failed to apply"' in to_junit(report)


# -- a real apply that fails on its HTTPS listener ---------------------------------------------------------------------


def test_a_stack_whose_https_listener_fails_reports_what_depends_on_it_not_checked(tmp_path: Path) -> None:
    """tests/harness/stacks/listener_fails: the ALB and its HTTP listener apply, the HTTPS listener does not.

    Its `environment` variable says "challenge", which names no non-production environment: production rules
    apply, and the header says so. Its `Tier` tags name no environment."""
    spec = StackSpec(tf_dir=(STACKS / "listener_fails").resolve())
    checks = [by_id(i) for i in (*CHECKED, "network.internet-reaches-only-lb")]
    report = verify(spec, RunSettings(), tmp_path, title="audit", checks=checks)
    results = {r.check.id: r for r in report.results}
    reproduce = f"stackprobe audit {spec.tf_dir}"
    assert report.outcome is RunOutcome.PARTIAL, f"{reproduce}:\n{to_terminal(report)}"
    assert [line.split(":")[0] for line in report.failed_resources] == ["aws_lb_listener.https"]
    assert report.environment == (
        'environment: challenge (variable environment = "challenge"): production rules apply, '
        "`challenge` is not a non-production name"
    )
    for check_id in ("edge.https-only", "edge.tls-policy", "network.internet-reaches-only-lb"):
        assert results[check_id].status is Status.NOT_CHECKED, f"{reproduce}:\n{to_terminal(report)}"
        assert results[check_id].not_checked_reason == "`aws_lb_listener.https` failed to apply"
    world = results["network.no-world-ingress"]
    assert world.status is Status.PASS, f"{reproduce}:\n{to_terminal(report)}"
    assert any(
        "(443: `aws_lb_listener.https` failed to apply, counted as intended)" in f.evidence for f in world.findings
    )
