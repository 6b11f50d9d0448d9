"""What the first apply on a real account gets wrong, although the emulator accepts it.

An emulator applies resources in whatever order Terraform happens to pick and accepts combinations
AWS refuses, so three classes of defect pass every apply on moto and fail (or hang) the first real one:
- an ECS service registered in a target group before any listener forwards to it: AWS rejects the
  service ("The target group ... does not have an associated load balancer") unless the configuration
  makes the service wait for the listener;
- a DNS-validated certificate the stack waits for without publishing its validation records: the
  wait (`aws_acm_certificate_validation`, 75 minutes by default) ends only when someone adds them by hand;
- a read replica of a primary whose master password RDS manages in Secrets Manager: RDS refuses to
  create it (the RDS User Guide's limitations; every engine but SQL Server). stackprobe's compat patch
  `rds-replica-managed-password` makes moto refuse it too; this check names it from the plan, before
  anything is applied.

The first two read the Terraform state: its `dependencies` record what each resource waited for, which
no AWS API shows. The third reads the plan. All read resource types through `canonical_type`: a stack
that spells its load balancer resources `aws_alb*`, or mixes both spellings, is judged the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Holder, Severity, StateResource, check
from stackprobe.terraform.plan import PlannedResource, Unknown

# What AWS answers when a replica's source manages its master password (RDS for SQL Server excepted).
REPLICA_REFUSAL = (
    "Creating read replicas for source instance with engine {engine} where ManageMasterUserPassword is enabled "
    "is not supported"
)


def waits_for(resource: StateResource, resources: Sequence[StateResource]) -> set[str]:
    """Every resource (as `dependencies` names them) that `resource` is created after, transitively."""
    direct = {r.base: r.dependencies for r in resources}
    seen: set[str] = set()
    pending = list(resource.dependencies)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending += direct.get(name, ())
    return seen


def _forwarded_groups(listener: StateResource) -> set[str]:
    """Target group ARNs a listener (its default action) or a listener rule forwards to."""
    actions = listener.attributes.get("default_action") or listener.attributes.get("action") or []
    groups: set[str] = set()
    for action in actions:
        if action.get("target_group_arn"):
            groups.add(str(action["target_group_arn"]))
        for forward in action.get("forward") or []:
            groups |= {str(g["arn"]) for g in forward.get("target_group") or [] if g.get("arn")}
    return groups


@check(
    "deployment.listener-before-service",
    "Each load-balanced ECS service is created after a listener forwards to its target group",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=(),
    why='AWS refuses an ECS service whose target group no listener uses yet ("The target group ... does not '
    'have an associated load balancer"). Unless the configuration makes the service wait for the listener, '
    "the first apply fails whenever Terraform reaches the service first, which an emulator never shows: it "
    "accepts either order.",
    fix="Make the service depend on the listener: take the target group ARN from an output that depends_on the "
    "listener (or from the listener's default_action), or add depends_on = [aws_lb_listener.x] to the service.",
    reference="terraform/modules/edge (outputs target_group_arn, depends_on the HTTPS listener)",
    reads=("aws_ecs_service",),
    holder=Holder.STATE,
)
def listener_before_service(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # Types are canonical: an aws_alb_listener is an aws_lb_listener, listed once whichever spelling it has.
    resources = ctx.state_resources()
    groups = {str(r.attributes.get("arn")): r for r in resources if r.type == "aws_lb_target_group"}
    listeners = [r for r in resources if r.type in ("aws_lb_listener", "aws_lb_listener_rule")]
    for service in ctx.state_resources("aws_ecs_service"):
        for entry in service.attributes.get("load_balancer") or []:
            arn = str(entry.get("target_group_arn") or "")
            group = groups.get(arn)
            if group is None:
                continue  # a target group of another configuration: its listener already exists
            forwarding = sorted({r.base for r in listeners if arn in _forwarded_groups(r)})
            name = arn.rsplit("/", 2)[-2] if "/" in arn else arn
            if not forwarding:
                evidence = f"{service.address}: no listener of this configuration forwards to target group {name}"
                yield ctx.finding(check_, False, service.address, evidence, str(service.attributes.get("id", "")))
                continue
            before = waits_for(service, resources)
            waited = [listener for listener in forwarding if listener in before]
            if waited:
                evidence = f"{service.address} → target group {name}: created after {', '.join(waited)}"
            else:
                evidence = (
                    f"{service.address} → target group {name}: nothing makes it wait for {', '.join(forwarding)}, so "
                    "a first apply can create it before the listener, and AWS refuses it (the target group "
                    "has no associated load balancer yet)"
                )
            yield ctx.finding(check_, bool(waited), service.address, evidence, str(service.attributes.get("id", "")))


def _record_name(name: str) -> str:
    return name.rstrip(".").lower()


def _published_records(ctx: CheckContext) -> dict[tuple[str, str], set[str]]:
    """(record name, type) -> values, of every hosted zone in the account."""
    records: dict[tuple[str, str], set[str]] = {}
    for record in ctx.account.route53.record_sets():
        values = {_record_name(str(v.get("Value", ""))) for v in record.get("ResourceRecords") or []}
        records.setdefault((_record_name(record["Name"]), str(record["Type"])), set()).update(values)
    return records


@check(
    "deployment.certificate-validation-path",
    "Every DNS-validated certificate the stack requests has its validation records in a hosted zone",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("route53",),
    why="ACM issues a DNS-validated certificate only once its CNAME record resolves, and renews it only while "
    "the record stays. A stack that requests one and publishes no record waits in aws_acm_certificate_validation "
    "(75 minutes by default) on its first apply until someone adds the record by hand, and everything that "
    "uses the certificate (the HTTPS listener, the service behind it) waits with it. The emulator issues every "
    "certificate at once, so only the records show the difference.",
    fix="Publish each domain_validation_options record with aws_route53_record in the domain's hosted zone (and "
    "pass their fqdns to aws_acm_certificate_validation), or use a certificate already issued (by ARN).",
    reference="terraform/modules/edge (aws_route53_record.validation, precondition on route53_zone_id)",
    reads=("aws_acm_certificate",),
    holder=Holder.STATE,
)
def certificate_validation_path(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    certificates = ctx.state_resources("aws_acm_certificate")
    dns_validated = [c for c in certificates if str(c.attributes.get("validation_method", "")).upper() == "DNS"]
    if not dns_validated:
        return
    published = _published_records(ctx)
    for certificate in dns_validated:
        options = certificate.attributes.get("domain_validation_options") or []
        missing: list[str] = []
        found: list[str] = []
        for option in options:
            name = _record_name(str(option.get("resource_record_name", "")))
            kind = str(option.get("resource_record_type") or "CNAME")
            value = _record_name(str(option.get("resource_record_value", "")))
            (found if value in published.get((name, kind), set()) else missing).append(f"{kind} {name}")
        domain = certificate.attributes.get("domain_name", "")
        arn = str(certificate.attributes.get("arn", ""))
        if not options:
            evidence = f"{certificate.address} ({domain}): no validation record is known for it"
            yield ctx.finding(check_, False, arn or certificate.address, evidence)
        elif missing:
            evidence = (
                f"{certificate.address} ({domain}): {', '.join(sorted(set(missing)))} is in no hosted zone of the "
                "account, so ACM cannot validate it: the first apply waits for someone to publish it by hand"
            )
            yield ctx.finding(check_, False, arn or certificate.address, evidence)
        else:
            evidence = f"{certificate.address} ({domain}): validated through {', '.join(sorted(set(found)))}"
            yield ctx.finding(check_, True, arn or certificate.address, evidence)


def _source_of(replica: PlannedResource, instances: list[PlannedResource]) -> PlannedResource | None:
    source = replica.get("replicate_source_db")
    for candidate in instances:
        if candidate is replica or source is Unknown:
            continue
        if source in (candidate.get("identifier"), candidate.get("arn")):
            return candidate
    return None


@check(
    "database.replica-managed-password",
    "No read replica is planned of a primary whose master password RDS manages",
    severity=Severity.CRITICAL,
    category=Category.RELIABILITY,
    services=(),
    why="RDS refuses to create a read replica when its source manages the master password in Secrets Manager "
    '(every engine but SQL Server: "' + REPLICA_REFUSAL.format(engine="mysql") + '"). The configuration '
    "then never applies on AWS, while an unpatched emulator creates the replica without complaint.",
    fix="Give a primary with read replicas a password the stack manages (generated, written with password_wo "
    "and kept in its own Secrets Manager secret, so it never enters state), or drop the replicas; keep "
    "manage_master_user_password for primaries without replicas.",
    reference="terraform/modules/database (managed_master_password, password_wo)",
    plan_level=True,
    reads=("aws_db_instance",),
)
def replica_managed_password(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    instances = ctx.plan.resources("aws_db_instance")
    for replica in instances:
        if replica.get("replicate_source_db") in (None, ""):
            continue
        source = _source_of(replica, instances)
        if source is None:
            evidence = f"{replica.address}: replicates {replica.get('replicate_source_db')}, not planned here"
            yield Finding(check_.id, True, replica.address, evidence, replica.address)
            continue
        engine = str(source.get("engine") or "")
        managed = source.get("manage_master_user_password") is True and not engine.startswith("sqlserver")
        if managed:
            evidence = (
                f"{replica.address} replicates {source.address}, whose master password RDS manages "
                f'(manage_master_user_password = true): AWS answers "{REPLICA_REFUSAL.format(engine=engine)}"'
            )
        else:
            evidence = f"{replica.address} replicates {source.address}, whose master password RDS does not manage"
        yield Finding(check_.id, not managed, replica.address, evidence, replica.address)
