"""RDS settings AWS rejects or retires, although the emulator accepts them.

- Allocated storage under the storage type's minimum: RDS refuses the instance ("Invalid storage size for
  engine name postgres and storage type gp2: 10"); the emulator creates it.
- An engine version past the end of RDS standard support (AWS moves the instance to paid RDS Extended
  Support, then upgrades it in a maintenance window), or one RDS retired altogether (it can no longer be
  created); an instance class of a retired generation (db.m3, db.r3, db.t1...).

Read from the plan (what the configuration asks for). The calendar is data (END_OF_STANDARD_SUPPORT, from
the RDS release calendars); a version is judged against today's date, so a stack that passes today fails
once its version's date passes, which is the point.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.terraform.plan import PlannedResource

# Minimum allocated storage in GiB, per storage type and engine family (RDS User Guide, "DB instance storage").
MINIMUM_STORAGE: Mapping[str, Mapping[str, int]] = {
    "gp2": {"mysql": 20, "mariadb": 20, "postgres": 20, "oracle": 20, "sqlserver": 20, "db2": 20},
    "gp3": {"mysql": 20, "mariadb": 20, "postgres": 20, "oracle": 20, "sqlserver": 20, "db2": 20},
    "io1": {"mysql": 100, "mariadb": 100, "postgres": 100, "oracle": 100, "sqlserver": 20, "db2": 100},
    "io2": {"mysql": 100, "mariadb": 100, "postgres": 100, "oracle": 100, "sqlserver": 20, "db2": 100},
    "standard": {"mysql": 5, "mariadb": 5, "postgres": 5, "oracle": 10, "sqlserver": 20},
}
# (engine, major version) -> the end of RDS standard support. Before the first version listed per engine,
# RDS retired the major version entirely (RETIRED_BEFORE).
END_OF_STANDARD_SUPPORT: Mapping[tuple[str, str], datetime.date] = {
    ("postgres", "11"): datetime.date(2024, 2, 29),
    ("postgres", "12"): datetime.date(2025, 2, 28),
    ("postgres", "13"): datetime.date(2026, 2, 28),
    ("postgres", "14"): datetime.date(2027, 2, 28),
    ("postgres", "15"): datetime.date(2028, 2, 29),
    ("postgres", "16"): datetime.date(2029, 2, 28),
    ("mysql", "5.7"): datetime.date(2024, 2, 29),
    ("mysql", "8.0"): datetime.date(2026, 7, 31),
    ("mysql", "8.4"): datetime.date(2029, 7, 31),
}
# Major versions RDS no longer creates at all (their Extended Support, if any, has ended too).
RETIRED_BEFORE: Mapping[str, tuple[int, ...]] = {"postgres": (11,), "mysql": (5, 7), "mariadb": (10, 4)}
# Instance class generations RDS retired (no new instance of them can be created).
RETIRED_CLASSES = re.compile(r"^db\.(t1|m1|m2|m3|r3|cr1)\.")


def _major(engine: str, version: str) -> str:
    parts = version.split(".")
    return parts[0] if engine == "postgres" and parts[0].isdigit() and int(parts[0]) >= 10 else ".".join(parts[:2])


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def _engine_family(engine: str) -> str:
    for family in ("sqlserver", "oracle", "postgres", "mariadb", "mysql", "db2"):
        if engine.startswith(family):
            return family
    return engine


def _is_replica(resource: PlannedResource) -> bool:
    return resource.get("replicate_source_db") not in (None, "")


def _text(resource: PlannedResource, path: str) -> str:
    """A string attribute as planned; "" when unset or known only after apply (a replica's engine, inherited from
    its primary, is unknown until RDS creates it)."""
    value = resource.get(path)
    return value if isinstance(value, str) else ""


@check(
    "database.storage-minimum",
    "Allocated storage is at least the storage type's minimum",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=(),
    why="RDS refuses an instance whose allocated storage is under its storage type's minimum (20 GiB on gp2 and "
    "gp3, 100 GiB on io1/io2 for most engines): the apply fails on AWS with InvalidParameterCombination, while "
    "the emulator creates the instance.",
    fix="Set allocated_storage to at least the minimum (20 for gp3/gp2, 100 for io1/io2), and max_allocated_storage "
    "above it for storage autoscaling.",
    reference="terraform/modules/database (allocated_storage = 20, max_allocated_storage)",
    plan_level=True,
    reads=("aws_db_instance",),
)
def storage_minimum(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    for db in ctx.plan.resources("aws_db_instance"):
        # A replica's storage is its primary's, which this check judges.
        size, engine = db.get("allocated_storage"), _text(db, "engine")
        if _is_replica(db) or not isinstance(size, int) or not engine or engine.startswith("aurora"):
            continue
        kind = db.get("storage_type")
        if not isinstance(kind, str) or not kind:
            # AWS's default: io1 when iops are given, else General Purpose SSD (gp2; gp3 has the same minimum).
            kind = "io1" if isinstance(db.get("iops"), int) and db.get("iops") else "gp2"
        minimum = MINIMUM_STORAGE.get(kind, {}).get(_engine_family(engine))
        if minimum is None:
            continue
        if size < minimum:
            evidence = (
                f"{db.address}: {engine} on {kind} with allocated_storage = {size} GiB, under the {minimum} GiB "
                f"minimum: AWS answers InvalidParameterCombination (the emulator creates it)"
            )
        else:
            evidence = f"{db.address}: {engine} on {kind} with {size} GiB (minimum {minimum})"
        yield Finding(check_.id, size >= minimum, db.address, evidence, db.address)


def version_problem(engine: str, version: str, today: datetime.date) -> tuple[Severity, str] | None:
    """What is wrong with running `engine` `version` on RDS on `today`, with how serious it is; None if nothing."""
    family = _engine_family(engine)
    retired = RETIRED_BEFORE.get(family)
    if retired is not None and _numbers(version) and _numbers(version) < retired:
        return Severity.HIGH, f"{engine} {version} is retired on RDS: no new instance of it can be created"
    ended = END_OF_STANDARD_SUPPORT.get((family, _major(family, version)))
    if ended is not None and ended <= today:
        return (
            Severity.MEDIUM,
            f"{engine} {_major(family, version)} left RDS standard support on {ended.isoformat()}: AWS charges for "
            "RDS Extended Support and upgrades it in a maintenance window when that ends",
        )
    return None


@check(
    "database.supported-engine-and-class",
    "Databases run an engine version and instance class RDS still supports",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=(),
    why="A major version past the end of RDS standard support moves to paid RDS Extended Support and is "
    "upgraded by AWS when that ends, on AWS's schedule; a retired version or instance class cannot be created "
    "at all, so a new environment (or a restore) fails on AWS while the emulator accepts it.",
    fix='Move to a supported major version (engine_version = "16" for PostgreSQL, "8.4" for MySQL) with '
    "allow_major_version_upgrade for the upgrade, and to a current instance class generation (db.t4g, db.m7g, "
    "db.r7g).",
    reference='terraform/modules/database (engine_version = "16", db.m7g classes)',
    plan_level=True,
    reads=("aws_db_instance",),
)
def supported_engine_and_class(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    today = datetime.date.today()
    for db in ctx.plan.resources("aws_db_instance"):
        engine, version, klass = _text(db, "engine"), _text(db, "engine_version"), _text(db, "instance_class")
        problems: list[tuple[Severity, str]] = []
        # A replica runs its primary's engine version, which this check judges.
        if version and engine and not _is_replica(db):
            found = version_problem(engine, version, today)
            if found is not None:
                problems.append(found)
        if klass and RETIRED_CLASSES.match(klass):
            problems.append(
                (Severity.HIGH, f"{klass} is a retired instance class: no new instance of it can be created")
            )
        if not problems:
            on = klass or "an instance class known after apply"
            if _is_replica(db):
                shown = f"a replica (its primary's engine and version) on {on}"
            else:
                shown = f"{engine} {version or '(default version)'} on {on}"
            yield Finding(check_.id, True, db.address, f"{db.address}: {shown}, supported", db.address)
            continue
        severity = max(s for s, _ in problems)
        evidence = f"{db.address}: " + "; ".join(text for _, text in problems)
        yield Finding(check_.id, False, db.address, evidence, db.address, severity=severity)
