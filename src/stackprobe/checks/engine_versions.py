"""Engine versions that automatic minor upgrades would fight with.

With `auto_minor_version_upgrade = true`, RDS moves an instance to new minor releases in its maintenance
window. If the configuration pins the minor release it was created with (`engine_version = "16.4"`), the
first plan after such an upgrade wants the instance back on 16.4: a downgrade RDS refuses, so every plan
shows a change and every apply fails until someone edits the version by hand. Naming the major version
only (`"16"` for PostgreSQL, `"8.0"` for MySQL) lets the provider accept whatever minor RDS runs.

Read from the plan (what the configuration asks for): the API only ever reports the full version.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

# Version parts that name a major release, per engine (PostgreSQL 10+: "16"; MySQL/MariaDB: "8.0").
MAJOR_PARTS = {"postgres": 1, "mysql": 2, "mariadb": 2, "aurora-postgresql": 1, "aurora-mysql": 2}


def pinned_minor(engine: str, version: str) -> bool:
    """Whether `version` names a minor release of `engine` (None-safe for unknown engines: False)."""
    parts = MAJOR_PARTS.get(engine)
    return parts is not None and len([p for p in version.split(".") if p]) > parts


@check(
    "database.engine-version-pinning",
    "No database pins a minor engine version while automatic minor upgrades are on",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=(),
    why="RDS applies minor upgrades itself when auto_minor_version_upgrade is on; a configuration that names the "
    "minor release (16.4, 8.0.39) then asks for a downgrade on the next plan, which RDS refuses: every plan "
    "shows a change and every apply fails until the version is edited by hand.",
    fix='Name the major version only (engine_version = "16" for PostgreSQL, "8.0" for MySQL), or turn '
    "auto_minor_version_upgrade off and upgrade deliberately.",
    reference="terraform/modules/database (engine_version, precondition on pins_minor_version)",
    plan_level=True,
    reads=("aws_db_instance", "aws_rds_cluster"),
)
def engine_version_pinning(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    for resource in ctx.plan.resources("aws_db_instance") + ctx.plan.resources("aws_rds_cluster"):
        if resource.get("replicate_source_db") or resource.get("replication_source_identifier"):
            continue  # a replica runs its source's version
        engine, version = str(resource.get("engine") or ""), resource.get("engine_version")
        if not isinstance(version, str) or not version or engine not in MAJOR_PARTS:
            continue
        automatic = resource.get("auto_minor_version_upgrade")
        if resource.type == "aws_rds_cluster":
            automatic = True  # its instances upgrade by default; the cluster's version is what a plan compares
        pinned = pinned_minor(engine, version)
        if pinned and automatic is not False:
            evidence = (
                f'{resource.address}: {engine} engine_version = "{version}" pins a minor release while minor '
                "upgrades are automatic: the plan after RDS upgrades it proposes a downgrade"
            )
        elif pinned:
            evidence = f"{resource.address}: {engine} {version}, upgraded by hand (auto_minor_version_upgrade off)"
        else:
            evidence = f'{resource.address}: {engine} engine_version = "{version}" (major only; RDS picks the minor)'
        yield Finding(check_.id, not (pinned and automatic is not False), resource.address, evidence, resource.address)
