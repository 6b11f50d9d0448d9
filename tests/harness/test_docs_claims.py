"""What docs/ says about the stack is what the configuration holds.

Each figure the documents state that the configuration also holds (a timeout, a threshold, a retention, a
count, the connection-budget arithmetic, the load test's numbers) is registered below with the phrase that
states it and where the configuration keeps it; the test reads both and fails when they disagree, or when the
phrase is gone (a reworded claim must be registered again). Every file or directory the documents name must
exist. Nothing here asserts a constant: the expected value is always read from terraform/, app/ or loadtest/.

The generated parts are compared with their sources elsewhere: the layer table (tools/layers.py), the module
diagram (test_docs_diagram.py), docs/backends.md (test_generated_docs.py), docs/improvements/
(tests/integration/test_legacy_audits.py).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from stackprobe.checks import CHECKS
from stackprobe.terraform.config import Block, Body, Expression, parse_body

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
GENERATED = {DOCS / "backends.md", DOCS / "ci-step-summary.md", *(DOCS / "improvements").glob("*.md")}


# -- reading the configuration ----------------------------------------------------------------------------


@cache
def _body(path: Path) -> Body:
    return parse_body(path.read_text(encoding="utf-8"))


def _blocks(directory: Path, kind: str) -> Iterator[Block]:
    for path in sorted(directory.glob("*.tf")):
        yield from (b for b in _body(path).blocks if b.type == kind)


def default(name: str, module: str | None = None) -> Any:
    """A variable's default, in the root module or in terraform/modules/<module>."""
    directory = MODULES / module if module else TERRAFORM
    for block in _blocks(directory, "variable"):
        if block.labels == (name,):
            return block.attributes.get("default")
    raise KeyError(f"no variable {name} in {directory.relative_to(REPO)}")


def tfvars(scenario: str, name: str) -> Any:
    """What a scenario sets, else the root variable's default."""
    attributes = _body(TERRAFORM / "environments" / f"{scenario}.tfvars").attributes
    return attributes[name] if name in attributes else default(name)


def resource_literal(module: str, resource: str, attribute: str) -> Any:
    """A literal attribute of a resource (or of a block nested in it) in terraform/modules/<module>."""
    kind, _, label = resource.partition(".")
    for block in _blocks(MODULES / module, "resource"):
        if block.labels == (kind, label):
            pending: list[Body] = [block]
            while pending:
                body = pending.pop(0)
                value = body.attributes.get(attribute)
                if value is not None and not isinstance(value, Expression):
                    return value
                pending += list(body.blocks)
    raise KeyError(f"no literal {attribute} in {resource} of modules/{module}")


def in_text(path: Path, pattern: str) -> str:
    """The first group of `pattern` in a configuration file (literals inside jsonencode(), locals' arithmetic)."""
    found = re.search(pattern, path.read_text(encoding="utf-8"))
    assert found, f"{pattern!r} not found in {path.relative_to(REPO)}"
    return found.group(1)


def python_assignment(path: Path, name: str) -> Any:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError(f"{name} is not assigned in {path.relative_to(REPO)}")


def locust_setting(name: str) -> str:
    for line in (REPO / "loadtest" / "locust.conf").read_text().splitlines():
        key, sep, value = line.split("#", 1)[0].partition("=")
        if sep and key.strip() == name:
            return value.strip()
    raise KeyError(name)


def locust_wait() -> tuple[float, float]:
    source = (REPO / "loadtest" / "locustfile.py").read_text()
    found = re.search(r"wait_time = between\(([\d.]+), ([\d.]+)\)", source)
    assert found
    return float(found.group(1)), float(found.group(2))


def max_connections(instance_class: str) -> int:
    """The module's own table and formula (postgres: memory / 9531392), as the precondition computes it."""
    main = MODULES / "database" / "main.tf"
    gib = int(in_text(main, rf'"{re.escape(instance_class)}"\s*=\s*(\d+)'))
    divisor = int(in_text(main, r"gib \* 1073741824 / (\d+)\), 5000\)"))
    return min(math.floor(gib * 1073741824 / divisor), 5000)


def endpoint_list() -> str:
    return ", ".join(default("interface_endpoint_services", "network"))


def vcpu(units: Any) -> str:
    return f"{int(units) / 1024:g}"


def gib(mib: Any) -> str:
    return f"{int(mib) / 1024:g}"


def prod_budget() -> tuple[int, int, int]:
    """(demand, max_connections, budget) of prod, from its tfvars and the database module's defaults."""
    demand = 2 * int(tfvars("prod", "api_scaling")["max"]) * int(tfvars("prod", "db_pool_size_per_task"))
    connections = max_connections(str(tfvars("prod", "db_instance_class")))
    budget = math.floor(connections * int(default("proxy_max_connections_percent", "database")) / 100)
    return demand, connections, budget


# -- the claims --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """`pattern` finds the claim in `doc`; its groups must read as `expected()` (a value or a tuple of them)."""

    id: str
    doc: str
    pattern: str
    expected: Callable[[], Any]


def _values(expected: Any) -> tuple[str, ...]:
    items = expected if isinstance(expected, tuple) else (expected,)
    return tuple(f"{v:g}" if isinstance(v, float) else str(v) for v in items)


ARCH = "ARCHITECTURE.md"
RUNBOOK = "RUNBOOK.md"
CLAIMS = [
    # The diagram and the request path.
    Claim("alb-idle-timeout", ARCH, r"idle timeout (\d+) s", lambda: default("idle_timeout", "edge")),
    Claim(
        "keep-alive",
        ARCH,
        r"keep-alive (\d+) s",
        lambda: int(default("idle_timeout", "edge")) + int(in_text(TERRAFORM / "main.tf", r"idle_timeout \+ (\d+)")),
    ),
    Claim("interface-endpoints", ARCH, r"Interface endpoints<br/>([a-z., ]+)\"\]", endpoint_list),
    Claim(
        "endpoint-cost",
        ARCH,
        r"(\d+) endpoints x (\d+) AZs x ~7.3 USD",
        lambda: (len(default("interface_endpoint_services", "network")), tfvars("prod", "az_count")),
    ),
    # Decisions.
    Claim(
        "5xx-threshold",
        ARCH,
        r"The 5xx alarm fires at (\d+)%",
        lambda: default("alb_5xx_rate_threshold_percent", "observability"),
    ),
    Claim("error-slo", ARCH, r"objective of fewer than (\d+)% errors", lambda: default("error_rate_slo_percent")),
    Claim(
        "5xx-minimum",
        ARCH,
        r"a minute with fewer than (\d+) requests",
        lambda: default("alb_5xx_min_requests_per_minute", "observability"),
    ),
    Claim(
        "rolling-factor",
        ARCH,
        r"the factor 2 is the (\d+)% rolling deployment",
        lambda: resource_literal("service", "aws_ecs_service.api", "deployment_maximum_percent"),
    ),
    Claim(
        "waf-log-retention",
        ARCH,
        r"WAF logs only blocked and counted requests, for (\d+) days",
        lambda: default("waf_log_retention_in_days", "edge"),
    ),
    Claim(
        "flow-logs",
        ARCH,
        r"VPC flow logs: ALL traffic, (\d+)-minute aggregation, (\d+)-day retention",
        lambda: (
            int(resource_literal("network", "aws_flow_log.this", "max_aggregation_interval")) // 60,
            default("flow_log_retention_in_days"),
        ),
    ),
    Claim(
        "deregistration",
        ARCH,
        r"gunicorn kills a request after (\d+) s .*?`deregistration_delay` (\d+) s",
        lambda: (
            python_assignment(REPO / "app" / "modelserve" / "gunicorn_conf.py", "timeout"),
            default("deregistration_delay", "edge"),
        ),
    ),
    Claim(
        "stop-timeout",
        ARCH,
        r"a job may run (\d+) s and ECS kills a stopping Fargate task (\d+) s after SIGTERM",
        lambda: (
            tfvars("prod", "max_job_duration_seconds"),
            int(in_text(MODULES / "service" / "main.tf", r"stopTimeout = (\d+)")),
        ),
    ),
    # Startup budget.
    Claim(
        "start-period",
        ARCH,
        r"may fail during `startPeriod` \| (\d+) s",
        lambda: int(in_text(MODULES / "service" / "main.tf", r"startPeriod = (\d+)")),
    ),
    Claim(
        "alb-healthy",
        ARCH,
        r"The ALB marks it healthy: (\d+) checks x (\d+) s",
        lambda: (
            resource_literal("edge", "aws_lb_target_group.api", "healthy_threshold"),
            default("health_check_interval", "edge"),
        ),
    ),
    Claim(
        "grace-period",
        ARCH,
        r"grace period \| (\d+) s",
        lambda: default("health_check_grace_period_seconds", "service"),
    ),
    Claim(
        "failed-checks",
        ARCH,
        r"grace period plus (\d+) x (\d+) s of failed checks",
        lambda: (
            resource_literal("edge", "aws_lb_target_group.api", "unhealthy_threshold"),
            default("health_check_interval", "edge"),
        ),
    ),
    # Capacity (sports-commentary.tfvars).
    Claim("cpu-target", ARCH, r"at the (\d+)% CPU target", lambda: default("cpu_target_percent", "service")),
    Claim(
        "api-min", ARCH, r"\| API minimum \|[^|]*\| (\d+) \|", lambda: tfvars("sports-commentary", "api_scaling")["min"]
    ),
    Claim(
        "api-max", ARCH, r"\| API maximum \|[^|]*\| (\d+) \(", lambda: tfvars("sports-commentary", "api_scaling")["max"]
    ),
    Claim(
        "requests-per-target",
        ARCH,
        r"\(the metric is per minute\) \| ([\d,]+) \|",
        lambda: f"{tfvars('sports-commentary', 'requests_per_target'):,}",
    ),
    Claim(
        "prescaling",
        ARCH,
        r"min (\d+) from 17:30 Saturday \(Europe/London\), back to (\d+) at 23:00",
        lambda: tuple(a["min"] for a in tfvars("sports-commentary", "scheduled_scaling")),
    ),
    Claim(
        "waf-rate",
        ARCH,
        r"\| WAF rate limit per IP \|[^|]*\| ([\d,]+) / 5 min \|",
        lambda: f"{tfvars('sports-commentary', 'waf_rate_limit'):,}",
    ),
    Claim(
        "replicas",
        ARCH,
        r"\| Read replicas \|[^|]*\| (\d+) \|",
        lambda: tfvars("sports-commentary", "db_replica_count"),
    ),
    Claim("pool", ARCH, r"x pool (\d+) \(`DB_POOL_SIZE`", lambda: tfvars("sports-commentary", "db_pool_size_per_task")),
    Claim(
        "load-test",
        ARCH,
        r"([\d,]+) simulated users, each polling its job's results every (\d+)-(\d+) s",
        lambda: (f"{int(locust_setting('users')):,}", *(int(w) for w in locust_wait())),
    ),
    # Cost notes.
    Claim(
        "cost-azs",
        ARCH,
        r"\| AZs / NAT gateways \| (\d+) AZs, (\d+) NAT .*\| (\d+) AZs, (\d+) NAT",
        lambda: (tfvars("dev", "az_count"), 1, tfvars("prod", "az_count"), tfvars("prod", "az_count")),
    ),
    Claim(
        "cost-database",
        ARCH,
        r"\| Database \| `([\w.]+)`, single-AZ, (\d+)-(\d+) GiB \| `([\w.]+)`, \*\*Multi-AZ\*\* "
        r".*, (\d+)-(\d+) GiB, (\d+)-day backups",
        lambda: (
            tfvars("dev", "db_instance_class"),
            tfvars("dev", "db_allocated_storage"),
            tfvars("dev", "db_max_allocated_storage"),
            tfvars("prod", "db_instance_class"),
            tfvars("prod", "db_allocated_storage"),
            tfvars("prod", "db_max_allocated_storage"),
            tfvars("prod", "db_backup_retention_period"),
        ),
    ),
    Claim(
        "cost-api",
        ARCH,
        r"\| API tasks \| (\d+)-(\d+) x \(([\d.]+) vCPU, ([\d.]+) GiB\) on-demand "
        r"\| (\d+)-(\d+) x \(([\d.]+) vCPU, ([\d.]+) GiB\)",
        lambda: (
            tfvars("dev", "api_scaling")["min"],
            tfvars("dev", "api_scaling")["max"],
            vcpu(tfvars("dev", "api_cpu")),
            gib(tfvars("dev", "api_memory")),
            tfvars("prod", "api_scaling")["min"],
            tfvars("prod", "api_scaling")["max"],
            vcpu(tfvars("prod", "api_cpu")),
            gib(tfvars("prod", "api_memory")),
        ),
    ),
    Claim(
        "cost-worker",
        ARCH,
        r"\| Worker tasks \| (\d+)-(\d+) x \(([\d.]+) vCPU, ([\d.]+) GiB\)[^|]* "
        r"\| (\d+)-(\d+) x \(([\d.]+) vCPU, ([\d.]+) GiB\)",
        lambda: (
            tfvars("dev", "worker_scaling")["min"],
            tfvars("dev", "worker_scaling")["max"],
            vcpu(tfvars("dev", "worker_cpu")),
            gib(tfvars("dev", "worker_memory")),
            tfvars("prod", "worker_scaling")["min"],
            tfvars("prod", "worker_scaling")["max"],
            vcpu(tfvars("prod", "worker_cpu")),
            gib(tfvars("prod", "worker_memory")),
        ),
    ),
    Claim(
        "cost-logs",
        ARCH,
        r"\| Logs \| (\d+)-day retention \| (\d+)-day retention for application logs; flow logs (\d+) days",
        lambda: (
            tfvars("dev", "log_retention_in_days"),
            tfvars("prod", "log_retention_in_days"),
            tfvars("prod", "flow_log_retention_in_days"),
        ),
    ),
    Claim(
        "cost-backups",
        ARCH,
        r"\| Backups \| (\d+) days \| (\d+) days in AWS Backup .*copy in ([a-z0-9-]+)\) \+ (\d+) days RDS",
        lambda: (
            tfvars("dev", "backup_retention_days"),
            tfvars("prod", "backup_retention_days"),
            tfvars("prod", "backup_copy_region"),
            tfvars("prod", "db_backup_retention_period"),
        ),
    ),
    # The runbook's alarm table and arithmetic.
    Claim(
        "rb-connections",
        RUNBOOK,
        r"`DatabaseConnections` > (\d+)% of `max_connections`",
        lambda: default("connections_alarm_percent", "database"),
    ),
    Claim(
        "rb-5xx",
        RUNBOOK,
        r"5xx \(target \+ ALB\) > (\d+)% of requests",
        lambda: default("alb_5xx_rate_threshold_percent", "observability"),
    ),
    Claim("rb-slo", RUNBOOK, r"the objective is < (\d+)%", lambda: default("error_rate_slo_percent")),
    Claim(
        "rb-borrow", RUNBOOK, r"clients wait > (\d+) ms", lambda: default("proxy_borrow_latency_alarm_ms", "database")
    ),
    Claim(
        "rb-lag",
        RUNBOOK,
        r"more than (\d+) s behind",
        lambda: default("rds_replica_lag_threshold_seconds", "observability"),
    ),
    Claim(
        "rb-oldest",
        RUNBOOK,
        r"oldest job waiting > (\d+) s",
        lambda: default("oldest_message_age_threshold_seconds", "queue"),
    ),
    Claim(
        "rb-budget",
        RUNBOOK,
        r"prod: `2 x (\d+) x (\d+) = (\d+) <= floor\((\d+) x (0\.\d+)\) =\s+(\d+)`",
        lambda: (
            tfvars("prod", "api_scaling")["max"],
            tfvars("prod", "db_pool_size_per_task"),
            prod_budget()[0],
            prod_budget()[1],
            int(default("proxy_max_connections_percent", "database")) / 100,
            prod_budget()[2],
        ),
    ),
    Claim(
        "rb-alarm-threshold",
        RUNBOOK,
        r"80% of\s+`max_connections` \((\d+) in prod\)",
        lambda: math.floor(prod_budget()[1] * int(default("connections_alarm_percent", "database")) / 100),
    ),
    Claim(
        "rb-retention",
        RUNBOOK,
        r"\((\d+) days in prod, (\d+) in dev\)",
        lambda: (tfvars("prod", "db_backup_retention_period"), tfvars("dev", "db_backup_retention_period")),
    ),
    Claim(
        "rb-backup-days",
        RUNBOOK,
        r"kept `backup_retention_days` \((\d+) in prod\)",
        lambda: tfvars("prod", "backup_retention_days"),
    ),
    Claim(
        "rb-copy-region", RUNBOOK, r"in ([a-z0-9-]+), with its own key\)", lambda: tfvars("prod", "backup_copy_region")
    ),
    Claim("rb-idle", RUNBOOK, r"ALB idle timeout \((\d+) s\)", lambda: default("idle_timeout", "edge")),
]


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_a_documented_figure_is_the_configurations(claim: Claim) -> None:
    text = " ".join((DOCS / claim.doc).read_text(encoding="utf-8").split())
    found = [m.groups() for m in re.finditer(claim.pattern.replace(r"\s+", " "), text)]
    assert found, (
        f"docs/{claim.doc} no longer states claim {claim.id!r} ({claim.pattern}): reword it back, or register the "
        "new wording in tests/harness/test_docs_claims.py"
    )
    expected = _values(claim.expected())
    wrong = [
        groups
        for groups in found
        if tuple(g.replace(",", "") for g in groups) != tuple(e.replace(",", "") for e in expected)
    ]
    assert not wrong, f"docs/{claim.doc} states {wrong} for {claim.id}; the configuration holds {expected}"


# -- files and directories the documents name -----------------------------------------------------------

# A backticked or linked path: starts with one of the repository's top-level entries.
TOP = (
    "terraform/",
    "app/",
    "docs/",
    "loadtest/",
    "tests/",
    "tools/",
    "bench/",
    "src/",
    ".github/",
    "examples/",
    "requirements/",
)
PATH = re.compile(r"`([^`\s]+)`|\]\(([^)\s#]+)")


def _documents() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p not in GENERATED)


def _named_paths(document: Path) -> Iterator[tuple[str, Path]]:
    text = document.read_text(encoding="utf-8")
    for match in PATH.finditer(text):
        raw = (match.group(1) or match.group(2) or "").rstrip(".,:;)")
        if any(c in raw for c in "<>*{}$") or "://" in raw:
            continue  # a placeholder, a glob, a variable or a URL
        if raw.startswith(TOP):
            yield raw, REPO / raw
        elif match.group(2) and not raw.startswith(("#", "mailto:")):
            yield raw, (document.parent / raw)  # a relative link


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_a_document_names_exists(document: Path) -> None:
    missing = sorted({raw for raw, path in _named_paths(document) if not path.exists()})
    assert not missing, f"{document.relative_to(REPO)} names what does not exist: {missing}"


def test_the_runbook_names_no_backend_file_the_repository_lacks() -> None:
    """Issue 29: RUNBOOK told operators to init with prod.s3.tfbackend, which nothing creates."""
    named = set(re.findall(r"[\w.-]+\.s3\.tfbackend", (DOCS / RUNBOOK).read_text()))
    assert all(list(REPO.rglob(name)) for name in named), named


# -- where the reference stack implements each check's fix ----------------------------------------------

REFERENCE_PATH = re.compile(r"(terraform/[\w./-]+)(?: \(([^)]*)\))?")


def _references() -> list[tuple[str, str, str]]:
    """(check id, a terraform/ path a check's `reference` names, the identifiers it names there)."""
    found = []
    for check in CHECKS:
        for match in REFERENCE_PATH.finditer(check.reference):
            found.append((check.id, match.group(1).rstrip("."), match.group(2) or ""))
    return found


@pytest.mark.parametrize(("check_id", "path", "names"), _references(), ids=lambda v: str(v))
def test_a_checks_reference_names_what_the_module_holds(check_id: str, path: str, names: str) -> None:
    """The improvement reports say where the reference stack implements each fix; what they name must be there.

    Only identifiers are compared (names with an underscore: `kms_key_id`, `aws_cloudwatch_log_group.this`);
    free text in the parentheses is not a claim about a name."""
    target = REPO / path
    assert target.exists(), f"{check_id}: its reference names {path}, which does not exist"
    files = [target] if target.is_file() else sorted(target.rglob("*.tf")) + sorted(target.rglob("*.tfvars"))
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    identifiers = [n for n in re.findall(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*", names) if "_" in n]
    absent = [n for n in identifiers if n.split(".")[-1] not in text]
    assert not absent, f"{check_id}: its reference says {path} holds {absent}, which it does not"
