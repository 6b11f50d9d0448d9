"""The network.* checks against networks built in the emulator.

Emptying the emulator costs seconds (moto rebuilds and re-warms its EC2 backend), so the file resets
it once, in the module's `world` fixture, and runs the checks three times as the account grows: empty
(every check not applicable), the reference design alone (every check passes, zero failures), then
with every broken scenario beside it, one VPC each, where each test asserts the exact finding of the
resource it broke. The scenarios mirror the legacy stacks: document-api (public task with all ports
open, public database open to the world), ml-serving (tasks in public subnets without public IP, SSH
notebook, private database open to the world), plus CIDR-based ingress, an ALB that cannot reach its
targets, NACLs evaluated in order and both ways, and missing egress paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from network_builders import (
    AZS,
    CONTAINER_PORT,
    DB_PORT,
    Reference,
    all_traffic,
    allow_ingress,
    default_group,
    ecs_service,
    flow_log,
    instance,
    internet_gateway,
    load_balancer,
    nacl_entry,
    nat_gateway,
    network_acl,
    rds_instance,
    reference_network,
    route_table,
    security_group,
    subnet,
    tcp,
    vpc,
    vpc_endpoint,
)

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import CHECKS, run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

NETWORK_CHECKS = [c for c in CHECKS if c.id.startswith("network.")]
WORLD = "0.0.0.0/0"


def _run_all(context: CheckContext) -> dict[str, CheckResult]:
    return {c.id: run_check(c, context) for c in NETWORK_CHECKS}


def test_catalogue_holds_the_network_checks() -> None:
    assert sorted(c.id for c in NETWORK_CHECKS) == [
        "network.data-only-from-service",
        "network.default-sg-locked",
        "network.ecs-no-public-ip",
        "network.flow-logs",
        "network.internet-reaches-only-lb",
        "network.multi-az",
        "network.no-world-ingress",
        "network.private-egress",
        "network.service-only-from-lb",
    ]


# ---------------------------------------------------------------------------------------------------
# One account, many broken networks
# ---------------------------------------------------------------------------------------------------


@dataclass
class World:
    backend: AwsBackend
    empty_results: dict[str, CheckResult]  # before anything was built
    reference_results: dict[str, CheckResult]  # with the reference design alone
    results: dict[str, CheckResult]  # with every scenario
    ref: Reference
    context: CheckContext  # the account with every scenario, as `results` read it
    ids: dict[str, str] = field(default_factory=dict)

    def findings(self, check_id: str, resource: str) -> list[Finding]:
        found = [f for f in self.results[check_id].findings if f.resource == resource]
        assert found, f"{check_id} has no finding for {resource}: {self.results[check_id].findings}"
        return found

    def one(self, check_id: str, resource: str) -> Finding:
        (finding,) = self.findings(check_id, resource)
        return finding

    def severity(self, finding: Finding) -> Severity:
        return finding.severity or self.results[finding.check_id].check.severity

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def _public_vpc(
    backend: AwsBackend, cidr_prefix: str, ids: dict[str, str], name: str, lock_default_group: bool = True
) -> tuple[str, list[str]]:
    """A VPC with only public subnets (one per AZ) sharing one route table to an internet gateway."""
    vpc_id = vpc(backend, f"{cidr_prefix}.0.0/16", lock_default_group=lock_default_group)
    ids[f"{name}_igw"] = igw = internet_gateway(backend, vpc_id)
    table = route_table(backend, vpc_id, igw=igw)
    subnets = [subnet(backend, vpc_id, f"{cidr_prefix}.{i + 1}.0/24", az, table) for i, az in enumerate(AZS)]
    ids[f"{name}_vpc"] = vpc_id
    return vpc_id, subnets


def _document_api(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Legacy document-api: public task with every port open, public database open to the world."""
    vpc_id, (public_a, public_b) = _public_vpc(backend, "10.30", ids, "doc", lock_default_group=False)
    ids["doc_subnet"] = public_a
    ids["doc_api_sg"] = api_sg = security_group(
        backend, vpc_id, "doc-api", ingress=[tcp(0, 65535, cidr=WORLD)], egress=[all_traffic(cidr=WORLD)]
    )
    ids["doc_api"] = ecs_service(backend, [public_a], [api_sg], name="doc-api", assign_public_ip=True)
    ids["doc_db_sg"] = db_sg = security_group(backend, vpc_id, "doc-db", ingress=[tcp(DB_PORT, cidr=WORLD)])
    ids["doc_db"] = rds_instance(backend, [public_a, public_b], [db_sg], name="doc-db", publicly_accessible=True)
    ids["doc_default_sg"] = default_group(backend, vpc_id)


def _ml_serving(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Legacy ml-serving: tasks in public subnets without public IP, SSH notebook, private DB open to all."""
    vpc_id, public = _public_vpc(backend, "10.20", ids, "ml", lock_default_group=False)
    ids["ml_subnets"] = ",".join(public)
    alb_sg = security_group(backend, vpc_id, "ml-alb", ingress=[tcp(80, cidr=WORLD)], egress=[all_traffic(cidr=WORLD)])
    ids["ml_alb_sg"] = alb_sg
    ids["ml_web"], target_group = load_balancer(backend, vpc_id, public, [alb_sg], name="ml-web", listeners=(80,))
    inference_sg = security_group(
        backend, vpc_id, "ml-inference", ingress=[tcp(CONTAINER_PORT, group=alb_sg)], egress=[all_traffic(cidr=WORLD)]
    )
    ids["ml_inference"] = ecs_service(backend, public, [inference_sg], name="ml-inference", target_group=target_group)
    ids["ml_notebook_sg"] = notebook_sg = security_group(backend, vpc_id, "ml-notebook", ingress=[tcp(22, cidr=WORLD)])
    ids["ml_notebook"] = instance(backend, public[0], [notebook_sg], public_ip=True, name="notebook")
    ids["ml_db_sg"] = db_sg = security_group(backend, vpc_id, "ml-db", ingress=[tcp(DB_PORT, cidr=WORLD)])
    # No explicit group list in the legacy config: the database also carries the VPC's default group.
    ids["ml_default_sg"] = default_sg = default_group(backend, vpc_id)
    ids["ml_db"] = rds_instance(backend, public, [db_sg, default_sg], name="ml-db")


def _cidr_ingress(backend: AwsBackend, ids: dict[str, str]) -> Reference:
    """The reference design plus address-based ingress everywhere, and a stray world-open group."""
    ref = reference_network(backend, cidr="10.40.0.0/16", name="cidr", with_cache=True)
    allow_ingress(backend, ref.service_sg, tcp(CONTAINER_PORT, cidr="10.40.0.0/16"))
    allow_ingress(backend, ref.db_sg, tcp(DB_PORT, cidr="10.40.0.0/16"))
    ids["cidr_bastion_sg"] = bastion_sg = security_group(backend, ref.vpc_id, "cidr-bastion")
    allow_ingress(backend, ref.db_sg, tcp(DB_PORT, group=bastion_sg))
    allow_ingress(backend, ref.extra["cache_sg"], tcp(6379, cidr="10.40.0.0/16"))
    ids["cidr_old_ssh_sg"] = security_group(backend, ref.vpc_id, "cidr-old-ssh", ingress=[tcp(22, cidr=WORLD)])
    return ref


def _blocked(backend: AwsBackend, ids: dict[str, str]) -> Reference:
    """The reference design whose ALB lost its egress rule, plus instances behind NACLs."""
    ref = reference_network(backend, cidr="10.50.0.0/16", name="blocked")
    backend.client("ec2").revoke_security_group_egress(
        GroupId=ref.alb_sg, IpPermissions=[tcp(CONTAINER_PORT, group=ref.service_sg)]
    )
    ssh_sg = security_group(backend, ref.vpc_id, "blocked-ssh", ingress=[tcp(22, cidr=WORLD)])
    ids["blocked_ssh_sg"] = ssh_sg
    for name, entries in {
        # Rule 90 denies SSH before rule 100 allows everything: not reachable.
        "denied": [
            nacl_entry(90, egress=False, allow=False, ports=(22, 22)),
            nacl_entry(100, egress=False, protocol="-1"),
            nacl_entry(100, egress=True, protocol="-1"),
        ],
        # Rule 100 allows SSH before rule 200 denies it: reachable.
        "allowed": [
            nacl_entry(100, egress=False, ports=(22, 22)),
            nacl_entry(200, egress=False, allow=False, ports=(22, 22)),
            nacl_entry(100, egress=True, ports=(1024, 65535)),
        ],
        # SSH allowed in, but replies to ephemeral ports denied out: not reachable (NACLs are stateless).
        "noreply": [nacl_entry(100, egress=False, ports=(22, 22)), nacl_entry(100, egress=True, ports=(443, 443))],
    }.items():
        cidr = {"denied": "10.50.200.0/24", "allowed": "10.50.201.0/24", "noreply": "10.50.202.0/24"}[name]
        box_subnet = subnet(backend, ref.vpc_id, cidr, AZS[0], ref.public_table)
        ids[f"nacl_{name}_acl"] = network_acl(backend, ref.vpc_id, box_subnet, entries)
        ids[f"nacl_{name}_subnet"] = box_subnet
        ids[f"nacl_{name}"] = instance(backend, box_subnet, [ssh_sg], public_ip=True, name=f"box-{name}")
    return ref


def _egress(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Private subnets without a NAT route, a NAT gateway placed in a private subnet, a one-AZ DB group."""
    ids["egress_vpc"] = vpc_id = vpc(backend, "10.60.0.0/16")
    internet_gateway(backend, vpc_id)
    isolated_table = route_table(backend, vpc_id)
    isolated = [subnet(backend, vpc_id, f"10.60.{i + 1}.0/24", az, isolated_table) for i, az in enumerate(AZS)]
    ids["egress_isolated"] = ",".join(isolated)
    task_sg = security_group(backend, vpc_id, "egress-task", egress=[tcp(443, cidr=WORLD)])
    ids["egress_none"] = ecs_service(backend, isolated, [task_sg], name="egress-none")
    ids["egress_nat_subnet"] = nat_subnet = subnet(backend, vpc_id, "10.60.10.0/24", AZS[0], isolated_table)
    flow_log(backend, nat_subnet, kind="Subnet")
    ids["egress_nat"] = nat = nat_gateway(backend, nat_subnet)
    ids["egress_badnat_subnet"] = badnat_subnet = subnet(
        backend, vpc_id, "10.60.11.0/24", AZS[0], route_table(backend, vpc_id, nat=nat)
    )
    ids["egress_badnat"] = ecs_service(backend, [badnat_subnet], [task_sg], name="egress-badnat")
    ids["solo_db"] = rds_instance(backend, [isolated[0]], [security_group(backend, vpc_id, "solo-db")], name="solo-db")


def _endpoints(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Private subnets served by VPC endpoints only: enough for ECR images, not for Docker Hub ones."""
    vpc_id = vpc(backend, "10.70.0.0/16")
    table = route_table(backend, vpc_id)
    private = [subnet(backend, vpc_id, f"10.70.{i + 1}.0/24", az, table) for i, az in enumerate(AZS)]
    ids["ep_subnets"] = ",".join(private)
    vpce_sg = security_group(backend, vpc_id, "ep-vpce", ingress=[tcp(443, cidr="10.70.0.0/16")])
    for service in ("ecr.api", "ecr.dkr", "logs"):
        ids[f"ep_{service}"] = vpc_endpoint(backend, vpc_id, service, subnets=private, groups=[vpce_sg])
    ids["ep_s3"] = vpc_endpoint(backend, vpc_id, "s3", route_tables=[table])
    task_sg = security_group(backend, vpc_id, "ep-task", egress=[tcp(443, cidr=WORLD)])
    ids["ep_api"] = ecs_service(backend, private, [task_sg], name="ep-api")
    ids["ep_hub"] = ecs_service(backend, private, [task_sg], name="ep-hub", image="nginx:1.27")


def _external_app(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Databases whose application is deployed elsewhere: its group is admitted, and nothing here carries it.
    Every subnet has a flow log of its own."""
    ids["ext_vpc"] = vpc_id = vpc(backend, "10.90.0.0/16")
    table = route_table(backend, vpc_id)
    subnets = [subnet(backend, vpc_id, f"10.90.{i + 1}.0/24", az, table) for i, az in enumerate(AZS)]
    for subnet_id in subnets:
        flow_log(backend, subnet_id, kind="Subnet")
    ids["ext_app_sg"] = app_sg = security_group(backend, vpc_id, "ext-app", egress=[tcp(DB_PORT, cidr="10.90.0.0/16")])
    ids["ext_db_sg"] = db_sg = security_group(backend, vpc_id, "ext-db", ingress=[tcp(DB_PORT, group=app_sg)])
    wide_sg = security_group(backend, vpc_id, "ext-wide", ingress=[tcp(0, 65535, group=app_sg)])
    ids["ext_orders"] = rds_instance(backend, subnets, [db_sg], name="ext-orders")
    ids["ext_reports"] = rds_instance(
        backend, subnets, [wide_sg], name="ext-reports", subnet_group="ext-orders-subnets"
    )


def _odd_listener(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Load balancers whose groups open more than their listeners: a stray port, and everything."""
    vpc_id, public = _public_vpc(backend, "10.80", ids, "odd")
    ids["odd_alb_sg"] = alb_sg = security_group(
        backend, vpc_id, "odd-alb", ingress=[tcp(8443, cidr=WORLD), tcp(22, cidr=WORLD)]
    )
    ids["odd_web"], _ = load_balancer(backend, vpc_id, public, [alb_sg], name="odd-web", listeners=(8443,))
    ids["wide_alb_sg"] = wide_sg = security_group(backend, vpc_id, "wide-alb", ingress=[all_traffic(cidr=WORLD)])
    ids["wide_web"], _ = load_balancer(backend, vpc_id, public, [wide_sg], name="wide-web", listeners=(443,))


@pytest.fixture(scope="module")
def world(stacks: Run) -> Iterator[World]:
    backend = stacks.reset_emulator()
    empty_results = _run_all(CheckContext(backend=backend))
    ids: dict[str, str] = {}
    ref = reference_network(backend, name="ref", with_cache=True)
    reference_results = _run_all(CheckContext(backend=backend))
    _document_api(backend, ids)
    _ml_serving(backend, ids)
    cidr = _cidr_ingress(backend, ids)
    blocked = _blocked(backend, ids)
    _egress(backend, ids)
    _endpoints(backend, ids)
    _odd_listener(backend, ids)
    _external_app(backend, ids)
    for name, built in (("cidr", cidr), ("blocked", blocked)):
        ids.update({f"{name}_{key}": str(value) for key, value in vars(built).items() if isinstance(value, str)})
        ids.update({f"{name}_{key}": value for key, value in built.extra.items()})
    context = CheckContext(backend=backend)
    yield World(backend, empty_results, reference_results, _run_all(context), ref, context, ids)


def test_empty_account_is_not_applicable(world: World) -> None:
    # moto's default VPC, subnets and default security group are there, and must be ignored.
    results = world.empty_results
    assert {i: (r.status, r.error) for i, r in results.items()} == {i: (Status.NOT_APPLICABLE, "") for i in results}


def test_reference_design_passes_every_check(world: World) -> None:
    ref, results = world.ref, world.reference_results
    failures = {i: [f.evidence for f in r.failures] for i, r in results.items() if r.failures or r.error}
    assert failures == {}
    assert {i: r.status for i, r in results.items()} == {i: Status.PASS for i in results}
    alb, svc = (f"{g} (ref-{n})" for g, n in ((ref.alb_sg, "alb"), (ref.service_sg, "svc")))
    evidence = {f.resource: f.evidence for f in results["network.service-only-from-lb"].findings}
    assert evidence[ref.service_arn].startswith(f"admits only {alb} on 8080: {alb} → {svc}:8080 [ecs service ref-api, ")
    evidence = {f.resource: f.evidence for f in results["network.data-only-from-service"].findings}
    assert evidence[ref.db_arn] == f"admits only {svc} on 5432"
    assert evidence[ref.extra["cache_arn"]] == f"admits only {svc} on 6379"
    evidence = {f.resource: f.evidence for f in results["network.internet-reaches-only-lb"].findings}
    assert evidence[ref.alb_arn] == "internet reaches it only on 80, 443"
    assert evidence[ref.db_arn] == "not reachable from the internet: no security group rule admits 0.0.0.0/0 or ::/0"
    evidence = {f.resource: f.evidence for f in results["network.private-egress"].findings}
    assert evidence[ref.service_arn] == " | ".join(
        f"{s}: 0.0.0.0/0 → {nat} (in {pub} → {ref.igw})"
        # In AZ order, as the builder creates them: findings list subnets by placement, not by minted id.
        for s, nat, pub in zip(ref.app_subnets, ref.nat_gateways, ref.public_subnets, strict=True)
    )


def test_world_checks_ran_without_errors(world: World) -> None:
    assert {i: r.error for i, r in world.results.items() if r.error} == {}
    assert {i: r.status for i, r in world.results.items()} == {i: Status.FAIL for i in world.results}


def test_reference_resources_pass_next_to_broken_ones(world: World) -> None:
    ref = world.ref
    resources = {
        ref.alb_arn,
        ref.service_arn,
        ref.db_arn,
        ref.extra["cache_arn"],
        ref.alb_sg,
        ref.service_sg,
        ref.db_sg,
        ref.extra["cache_sg"],
        "ref-db-subnets",
    }
    failing = [
        (f.check_id, f.resource, f.evidence)
        for r in world.results.values()
        for f in r.failures
        if f.resource in resources
    ]
    assert failing == []


# -- network.internet-reaches-only-lb ----------------------------------------------------------------


CHECK = "network.internet-reaches-only-lb"


def test_public_task_with_every_port_open_is_critical(world: World) -> None:
    assert_check(world.context, "network.internet-reaches-only-lb", Status.FAIL)
    finding = world.one(CHECK, world["doc_api"])
    assert not finding.passed
    assert world.severity(finding) is Severity.CRITICAL
    acl = _acl_of(world, world["doc_subnet"])
    assert finding.evidence == (
        f"{WORLD} → {world['doc_api_sg']} (doc-api):0-65535 [ecs service doc-api, {world['doc_subnet']} public via "
        f"{world['doc_igw']}, assignPublicIp=ENABLED, {acl} allows]"
    )


def test_publicly_accessible_database_open_to_the_world_is_critical(world: World) -> None:
    finding = world.one(CHECK, world["doc_db"])
    assert not finding.passed and world.severity(finding) is Severity.CRITICAL
    assert finding.evidence.startswith(f"{WORLD} → {world['doc_db_sg']} (doc-db):5432 [rds instance doc-db, ")
    assert f"public via {world['doc_igw']}, PubliclyAccessible=true, " in finding.evidence


def test_ssh_on_a_public_instance_is_critical(world: World) -> None:
    finding = world.one(CHECK, world["ml_notebook"])
    assert not finding.passed and world.severity(finding) is Severity.CRITICAL
    assert finding.evidence.startswith(
        f"{WORLD} → {world['ml_notebook_sg']} (ml-notebook):22 [ec2 instance {world['ml_notebook']} (notebook), "
    )
    assert ", public IP " in finding.evidence


def test_world_rule_on_a_private_database_is_not_an_internet_path(world: World) -> None:
    finding = world.one(CHECK, world["ml_db"])
    assert finding.passed
    assert finding.evidence == (
        f"not reachable from the internet: {WORLD} → {world['ml_db_sg']} (ml-db):5432 admitted, "
        "but the rds instance has no public address"
    )


def test_load_balancer_on_80_passes_and_on_another_port_is_medium(world: World) -> None:
    assert world.one(CHECK, world["ml_web"]).evidence == "internet reaches it only on 80"
    finding = world.one(CHECK, world["odd_web"])
    assert not finding.passed and world.severity(finding) is Severity.MEDIUM
    assert finding.evidence.startswith(f"{WORLD} → {world['odd_alb_sg']} (odd-alb):8443 [alb odd-web, ")


def test_nacls_are_evaluated_in_rule_order_and_both_ways(world: World) -> None:
    denied = world.one(CHECK, world["nacl_denied"])
    assert denied.passed
    assert denied.evidence == (
        f"not reachable from the internet: {world['nacl_denied_acl']} denies tcp/22 from {WORLD}"
    )
    noreply = world.one(CHECK, world["nacl_noreply"])
    assert noreply.passed
    assert noreply.evidence == (
        f"not reachable from the internet: {world['nacl_noreply_acl']} denies the replies (ephemeral ports) to {WORLD}"
    )
    allowed = world.one(CHECK, world["nacl_allowed"])
    assert not allowed.passed and world.severity(allowed) is Severity.CRITICAL
    assert allowed.evidence.endswith(
        f"{world['nacl_allowed_subnet']} public via {world['blocked_igw']}, public IP "
        + allowed.evidence.split("public IP ")[1].split(",")[0]
        + f", {world['nacl_allowed_acl']} allows]"
    )


# -- network.service-only-from-lb --------------------------------------------------------------------


def test_vpc_cidr_ingress_on_a_service_behind_the_alb_is_medium(world: World) -> None:
    finding = world.one("network.service-only-from-lb", world["cidr_service_arn"])
    assert not finding.passed and world.severity(finding) is Severity.MEDIUM
    assert finding.evidence == (
        f"10.40.0.0/16 → {world['cidr_service_sg']} (cidr-svc):8080 [ecs service cidr-api] "
        "(address-based ingress bypasses the load balancer)"
    )


def test_alb_without_egress_to_the_service_is_high(world: World) -> None:
    finding = world.one("network.service-only-from-lb", world["blocked_service_arn"])
    assert not finding.passed and world.severity(finding) is Severity.HIGH
    assert finding.evidence == (
        f"alb blocked-web cannot reach the tasks on 8080: no egress rule of {world['blocked_alb_sg']} (blocked-alb) "
        "allows 8080 to ecs service blocked-api"
    )


def test_service_admitting_only_the_alb_passes_even_in_public_subnets(world: World) -> None:
    finding = world.one("network.service-only-from-lb", world["ml_inference"])
    assert finding.passed
    assert finding.evidence.startswith(f"admits only {world['ml_alb_sg']} (ml-alb) on 8080: ")


def test_services_without_a_load_balancer_are_not_judged(world: World) -> None:
    judged = {f.resource for f in world.results["network.service-only-from-lb"].findings}
    assert world["doc_api"] not in judged and world["egress_none"] not in judged


# -- network.data-only-from-service ------------------------------------------------------------------


def test_public_database_open_to_the_world_fails_critical_twice(world: World) -> None:
    assert_check(world.context, "network.data-only-from-service", Status.FAIL)
    finding = world.one("network.data-only-from-service", world["doc_db"])
    assert not finding.passed and world.severity(finding) is Severity.CRITICAL
    parts = finding.evidence.split("; ")
    assert parts[0].startswith(f"PubliclyAccessible=true with a public address in {world['doc_subnet']} public via ")
    assert parts[1].startswith(
        f"{WORLD} → {world['doc_db_sg']} (doc-db):5432 [rds instance doc-db] (internet-reachable now: {WORLD} → "
    )


def test_private_database_open_to_the_world_is_critical(world: World) -> None:
    finding = world.one("network.data-only-from-service", world["ml_db"])
    assert not finding.passed and world.severity(finding) is Severity.CRITICAL
    assert finding.evidence == (
        f"{WORLD} → {world['ml_db_sg']} (ml-db):5432 [rds instance ml-db] (not internet-reachable today: "
        f"{WORLD} → {world['ml_db_sg']} (ml-db):5432 admitted, but the rds instance has no public address)"
    )


def test_vpc_cidr_and_foreign_groups_on_data_stores_are_medium(world: World) -> None:
    db = world.one("network.data-only-from-service", world["cidr_db_arn"])
    assert not db.passed and world.severity(db) is Severity.MEDIUM
    assert sorted(db.evidence.split("; ")) == sorted(
        [
            f"10.40.0.0/16 → {world['cidr_db_sg']} (cidr-db):5432 [rds instance cidr-db] "
            "(address-based: any host in the range)",
            # A group nothing here is attached to: a note on the intent, not a defect (issue 16, item 4).
            f"note: {world['cidr_bastion_sg']} (cidr-bastion) → {world['cidr_db_sg']} (cidr-db):5432 "
            "[rds instance cidr-db] (nothing in this configuration is attached to "
            f"{world['cidr_bastion_sg']} (cidr-bastion): presumably compute deployed elsewhere, admitted by group "
            "as the rule intends)",
        ]
    )
    cache = world.one("network.data-only-from-service", world["cidr_cache_arn"])
    assert not cache.passed and world.severity(cache) is Severity.MEDIUM
    assert cache.evidence == (
        f"10.40.0.0/16 → {world['cidr_cache_sg']} (cidr-cache):6379 [elasticache cidr-cache] "
        "(address-based: any host in the range)"
    )


def test_a_data_store_admitting_only_a_group_used_elsewhere_passes_with_a_note(world: World) -> None:
    """Issue 16, item 4: a database that admits only the application's group, whose tasks are deployed by
    another configuration, follows the rule as written; nothing here carries the group, so it is a note."""
    app, db = world["ext_app_sg"], world["ext_db_sg"]
    orders = world.one("network.data-only-from-service", world["ext_orders"])
    assert orders.passed, orders.evidence
    assert orders.evidence == (
        f"admits only {app} (ext-app) on 5432; note: {app} (ext-app) → {db} (ext-db):5432 "
        f"[rds instance ext-orders] (nothing in this configuration is attached to {app} (ext-app): "
        "presumably compute deployed elsewhere, admitted by group as the rule intends)"
    )
    # The same group on every port is not the rule as written: still a finding.
    reports = world.one("network.data-only-from-service", world["ext_reports"])
    assert not reports.passed and world.severity(reports) is Severity.MEDIUM
    assert reports.evidence.endswith("(that group is on nothing, not application compute)")


# -- network.flow-logs -------------------------------------------------------------------------------


def test_flow_logs_pass_on_the_reference_and_fail_where_missing(world: World) -> None:
    reference = world.one("network.flow-logs", world.ref.vpc_id)
    assert reference.passed
    assert reference.evidence.startswith(f"{world.ref.vpc_id}: fl-")
    assert reference.evidence.endswith(f"(ALL to cloud-watch-logs /flow/{world.ref.vpc_id})")
    missing = world.one("network.flow-logs", world["doc_vpc"])
    assert not missing.passed and missing.evidence == f"{world['doc_vpc']}: no flow log on the VPC"


def test_flow_logs_on_every_subnet_count_and_on_some_do_not(world: World) -> None:
    covered = world.one("network.flow-logs", world["ext_vpc"])
    assert covered.passed and covered.evidence == f"{world['ext_vpc']}: a flow log on each of its 2 subnets"
    partial = world.one("network.flow-logs", world["egress_vpc"])
    assert not partial.passed
    assert partial.evidence == f"{world['egress_vpc']}: no flow log on the VPC (only 1 of its 4 subnets have one)"


# -- network.no-world-ingress ------------------------------------------------------------------------


def test_world_rules_are_judged_by_what_the_group_is_on(world: World) -> None:
    check_id = "network.no-world-ingress"
    expected = {
        world["doc_api_sg"]: (
            Severity.CRITICAL,
            f"{WORLD} → {world['doc_api_sg']} (doc-api):0-65535 (on ecs service doc-api)",
        ),
        world["ml_notebook_sg"]: (
            Severity.CRITICAL,
            f"{WORLD} → {world['ml_notebook_sg']} (ml-notebook):22 (on ec2 instance {world['ml_notebook']} (notebook))",
        ),
        world["ml_db_sg"]: (Severity.CRITICAL, f"{WORLD} → {world['ml_db_sg']} (ml-db):5432 (on rds instance ml-db)"),
        world["cidr_old_ssh_sg"]: (
            Severity.MEDIUM,
            f"{WORLD} → {world['cidr_old_ssh_sg']} (cidr-old-ssh):22 (on nothing (unattached))",
        ),
    }
    for group_id, (severity, evidence) in expected.items():
        finding = world.one(check_id, group_id)
        assert (finding.passed, world.severity(finding), finding.evidence) == (False, severity, evidence)


def test_load_balancer_listener_ports_are_exempt_and_other_ports_are_not(world: World) -> None:
    check_id = "network.no-world-ingress"
    alb = world.one(check_id, world["ml_alb_sg"])
    assert alb.passed
    assert alb.evidence == f"{WORLD} → {world['ml_alb_sg']} (ml-alb):80: listener ports of alb ml-web"
    stray = world.one(check_id, world["odd_alb_sg"])  # 8443 is its listener, 22 is not
    assert (stray.passed, world.severity(stray), stray.evidence) == (
        False,
        Severity.MEDIUM,
        f"{WORLD} → {world['odd_alb_sg']} (odd-alb):22 (on alb odd-web)",
    )
    wide = world.one(check_id, world["wide_alb_sg"])
    assert (wide.passed, world.severity(wide), wide.evidence) == (
        False,
        Severity.HIGH,
        f"{WORLD} → {world['wide_alb_sg']} (wide-alb):all (on alb wide-web)",
    )


def test_load_balancer_reached_only_on_its_listener_despite_an_all_traffic_rule(world: World) -> None:
    finding = world.one(CHECK, world["wide_web"])
    assert (finding.passed, finding.evidence) == (True, "internet reaches it only on 443")


def test_default_vpc_groups_are_ignored(world: World) -> None:
    default_vpc = next(v["VpcId"] for v in world.backend.client("ec2").describe_vpcs()["Vpcs"] if v["IsDefault"])
    judged = {f.resource for f in world.results["network.no-world-ingress"].findings}
    assert default_group(world.backend, default_vpc) not in judged


# -- network.private-egress --------------------------------------------------------------------------


def test_private_subnets_without_nat_or_endpoints_fail(world: World) -> None:
    assert_check(world.context, "network.private-egress", Status.FAIL)
    finding = world.one("network.private-egress", world["egress_none"])
    assert not finding.passed and world.severity(finding) is Severity.HIGH
    first = _first_placed(world, world["egress_isolated"])
    assert finding.evidence.split(" | ")[0] == (
        f"{first}: no 0.0.0.0/0 route (no NAT gateway); VPC endpoints missing ecr.api, ecr.dkr, logs, s3"
    )


def test_nat_gateway_in_a_private_subnet_is_no_egress(world: World) -> None:
    finding = world.one("network.private-egress", world["egress_badnat"])
    assert not finding.passed
    assert finding.evidence.startswith(
        f"{world['egress_badnat_subnet']}: 0.0.0.0/0 → {world['egress_nat']}, but {world['egress_nat_subnet']} "
        "(the NAT's subnet) has no route to an internet gateway; "
    )


def _first_placed(world: World, subnet_ids: str) -> str:
    """The subnet a finding lists first: by AZ then CIDR (what the configuration chose), never by the
    id the emulator minted, so that evidence reads the same on every run."""
    subnets = world.backend.client("ec2").describe_subnets(SubnetIds=subnet_ids.split(","))["Subnets"]
    return str(min(subnets, key=lambda s: (s["AvailabilityZone"], s["CidrBlock"], s["SubnetId"]))["SubnetId"])


def test_tasks_in_public_subnets_without_public_ip_cannot_pull(world: World) -> None:
    finding = world.one("network.private-egress", world["ml_inference"])
    assert not finding.passed
    first = _first_placed(world, world["ml_subnets"])
    assert finding.evidence.startswith(
        f"{first}: 0.0.0.0/0 → {world['ml_igw']}, but tasks get no public IP (assignPublicIp=DISABLED), "
        "so they cannot use it; "
    )


def test_vpc_endpoints_serve_ecr_images_but_not_docker_hub(world: World) -> None:
    finding = world.one("network.private-egress", world["ep_api"])
    assert finding.passed
    first = _first_placed(world, world["ep_subnets"])
    assert finding.evidence.split(" | ")[0] == (
        f"{first}: VPC endpoints ecr.api ({world['ep_ecr.api']}), ecr.dkr ({world['ep_ecr.dkr']}), "
        f"logs ({world['ep_logs']}), s3 ({world['ep_s3']})"
    )
    hub = world.one("network.private-egress", world["ep_hub"])
    assert not hub.passed
    assert hub.evidence.split(" | ")[0] == (
        f"{first}: no 0.0.0.0/0 route (no NAT gateway); VPC endpoints cannot serve nginx:1.27 (not this region's ECR)"
    )


def test_public_ip_with_internet_gateway_is_an_egress_path(world: World) -> None:
    finding = world.one("network.private-egress", world["doc_api"])
    assert finding.passed
    assert finding.evidence == f"{world['doc_subnet']}: 0.0.0.0/0 → {world['doc_igw']} with assignPublicIp=ENABLED"


# -- network.multi-az --------------------------------------------------------------------------------


def test_single_subnet_service_and_db_subnet_group_fail(world: World) -> None:
    service = world.one("network.multi-az", world["doc_api"])
    assert not service.passed and world.severity(service) is Severity.HIGH
    assert service.evidence == f"ecs service doc-api spans eu-west-1a ({world['doc_subnet']})"
    group = world.one("network.multi-az", "solo-db-subnets")
    assert not group.passed
    assert group.evidence == "DB subnet group solo-db-subnets (used by rds instance solo-db) spans eu-west-1a"
    assert world.one("network.multi-az", "doc-db-subnets").passed


# -- network.default-sg-locked -----------------------------------------------------------------------


def test_default_group_rules_are_low_and_medium_when_used(world: World) -> None:
    unused = world.one("network.default-sg-locked", world["doc_default_sg"])
    assert not unused.passed and world.severity(unused) is Severity.LOW
    assert unused.evidence == f"egress {world['doc_default_sg']} (default) → {WORLD}:all"
    used = world.one("network.default-sg-locked", world["ml_default_sg"])
    assert not used.passed and world.severity(used) is Severity.MEDIUM
    assert used.evidence == f"egress {world['ml_default_sg']} (default) → {WORLD}:all (attached)"


# -- network.ecs-no-public-ip ------------------------------------------------------------------------


def test_public_ip_is_high_and_public_subnets_medium(world: World) -> None:
    public_ip = world.one("network.ecs-no-public-ip", world["doc_api"])
    assert not public_ip.passed and world.severity(public_ip) is Severity.HIGH
    assert public_ip.evidence == (
        f"ecs service doc-api: assignPublicIp=ENABLED; ecs service doc-api runs in {world['doc_subnet']} public via "
        f"{world['doc_igw']}"
    )
    public_subnets = world.one("network.ecs-no-public-ip", world["ml_inference"])
    assert not public_subnets.passed and world.severity(public_subnets) is Severity.MEDIUM
    assert public_subnets.evidence.startswith("ecs service ml-inference runs in ")


def _acl_of(world: World, subnet_id: str) -> str:
    acls = world.backend.client("ec2").describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )["NetworkAcls"]
    return str(acls[0]["NetworkAclId"])
