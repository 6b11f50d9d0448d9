"""A load test that would measure WAF blocks instead of the stack.

A WAF rate-based rule counts requests per client address over a window (5 minutes by default). A load test
sends a crowd's requests from one generator (Locust's processes and workers share their host's address), so
a per-IP limit sized for real clients blocks it within seconds: every request after that is a 403 from WAF,
and the test measures the rule, not the service. The repository's own load-test configuration says what it
sends; this check compares that with every blocking rate-based rule the plan holds. A rule that exempts an IP
set (a scope-down `not` an IP set) lets the load test's generators be listed there, as the load test's
method must then say.

What is read: `locust.conf` (users, locustfile) in the configuration's repository (`loadtest/`, `load-test/`,
`loadtests/` or its root), and the locustfile's `wait_time` (between, constant, constant_pacing,
constant_throughput) for the fastest cadence; each task run is counted as one request, all from one address.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.errors import NotApplicable

CONFIG_NAMES = ("locust.conf",)
CONFIG_DIRS = ("loadtest", "load-test", "loadtests", ".")
DEFAULT_WINDOW_SECONDS = 300
_WAIT_FUNCTIONS = {"between", "constant", "constant_pacing", "constant_throughput"}


@dataclass(frozen=True)
class LoadTest:
    """What a load test sends: users, the shortest interval between one user's requests, and where it says so."""

    config: Path
    users: int
    interval: float
    source: str

    @property
    def peak_per_second(self) -> float:
        return self.users / self.interval

    def describe(self, root: Path) -> str:
        where = self.config.relative_to(root) if self.config.is_relative_to(root) else self.config
        return f"{where}: {self.users} users, one request each every {self.interval:g} s at the fastest ({self.source})"


def _repository_dirs(start: Path) -> list[Path]:
    """`start` and its parents up to the repository's root (the first with .git), at most five levels."""
    found: list[Path] = []
    for directory in [start, *start.parents][:6]:
        found.append(directory)
        if (directory / ".git").exists():
            break
    return found


def _read_conf(path: Path) -> dict[str, str]:
    settings: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "=" in line:
            key, _, value = line.partition("=")
            settings[key.strip().lower().replace("_", "-")] = value.strip()
    return settings


def _number(node: ast.expr) -> float | None:
    return float(node.value) if isinstance(node, ast.Constant) and isinstance(node.value, int | float) else None


def _fastest_interval(locustfile: Path) -> tuple[float, str] | None:
    """The shortest time between two requests of one user, from `wait_time = between(2, 3)` and its kin."""
    tree = ast.parse(locustfile.read_text(encoding="utf-8", errors="replace"))
    found: list[tuple[float, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "wait_time" for t in node.targets):
            continue
        call = node.value
        name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
        values = [_number(a) for a in call.args]
        if name not in _WAIT_FUNCTIONS or not values or values[0] is None:
            continue
        first = values[0]
        interval = 1 / first if name == "constant_throughput" and first else first
        if interval > 0:
            found.append((interval, f"{locustfile.name}: wait_time = {ast.unparse(call)}"))
    return min(found) if found else None


def find_load_test(start: Path) -> LoadTest | None:
    """The repository's Locust configuration, read from `start` (the configuration's directory) upwards."""
    for directory in _repository_dirs(start.resolve()):
        for sub in CONFIG_DIRS:
            for name in CONFIG_NAMES:
                config = (directory / sub / name).resolve()
                if not config.is_file():
                    continue
                settings = _read_conf(config)
                users = settings.get("users")
                locustfile = settings.get("locustfile", "locustfile.py")
                candidates = [directory / locustfile, config.parent / locustfile, config.parent / Path(locustfile).name]
                script = next((c for c in candidates if c.is_file()), None)
                if users is None or not users.isdigit() or script is None:
                    continue
                interval = _fastest_interval(script)
                if interval is not None:
                    return LoadTest(config, int(users), interval[0], interval[1])
    return None


def _find(value: Any, key: str) -> list[Any]:
    """Every value under `key` anywhere in a planned attribute tree (nested blocks are lists of objects)."""
    found: list[Any] = []
    if isinstance(value, Mapping):
        for name, item in value.items():
            if name == key:
                found.append(item)
            found += _find(item, key)
    elif isinstance(value, list):
        for item in value:
            found += _find(item, key)
    return found


def _first(value: Any) -> Mapping[str, Any]:
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    return value if isinstance(value, Mapping) else {}


def _blocks(rule: Mapping[str, Any]) -> bool:
    action = _first(rule.get("action"))
    return bool(action.get("block")) or not action  # a rule group reference has no action: assume it blocks


def _exempt_ip_sets(statement: Mapping[str, Any]) -> bool:
    """Does the rate statement's scope-down leave out an IP set (`not` an ip_set_reference_statement)?"""
    scope = statement.get("scope_down_statement")
    return any(_find(negated, "ip_set_reference_statement") for negated in _find(scope, "not_statement"))


@check(
    "edge.waf-load-test",
    "The repository's load test is not blocked by the stack's own WAF rate limit",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=(),
    why="A load test sends thousands of users' requests from one generator address. Against a per-IP rate "
    "limit sized for real clients, WAF blocks it within seconds and every later request is a 403: the test "
    "then measures the rule, and the capacity it was meant to confirm stays unconfirmed.",
    fix="Exempt the generators from the rate-based rule in the environment under test (a scope-down statement "
    "that leaves out an IP set listing them, e.g. waf_rate_limit_exempt_cidrs), and say so in the load test's "
    "method; or run the test from at least as many addresses as load / limit.",
    reference="terraform/modules/edge (aws_wafv2_ip_set.rate_limit_exempt), loadtest/README.md",
    plan_level=True,
    reads=("aws_wafv2_web_acl",),
)
def waf_load_test(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    if ctx.source_dir is None:
        raise NotApplicable("the configuration's directory is not known, so neither is its repository's load test")
    load = find_load_test(ctx.source_dir)
    if load is None:
        raise NotApplicable("the repository has no load-test configuration (locust.conf with users and a locustfile)")
    root = _repository_dirs(ctx.source_dir.resolve())[-1]
    applied = {r.address: r.attributes for r in ctx.state_resources("aws_wafv2_web_acl")}
    for acl in ctx.plan.resources("aws_wafv2_web_acl"):
        rules = acl.get("rule")
        if not isinstance(rules, list):
            # A set of rules holding a value known only after apply (an IP set's ARN) is unknown as a whole
            # in a plan made before the apply; the state holds it once applied.
            rules = applied.get(acl.address, {}).get("rule")
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, Mapping) or not _blocks(rule):
                continue
            for statement in _find(rule.get("statement"), "rate_based_statement"):
                rate = _first(statement)
                limit = rate.get("limit")
                if not isinstance(limit, int | float):
                    continue
                window = rate.get("evaluation_window_sec")
                window = window if isinstance(window, int | float) and window else DEFAULT_WINDOW_SECONDS
                sent = round(load.peak_per_second * window)
                head = (
                    f"{acl.address} rule {rule.get('name')}: limit {int(limit):,} per {int(window)} s per address; "
                    f"the load test sends up to {sent:,} from one generator ({load.describe(root)})"
                )
                if sent <= limit:
                    yield Finding(check_.id, True, acl.address, f"{head}: within the limit", acl.address)
                elif _exempt_ip_sets(rate):
                    evidence = f"{head}; the rule leaves out an IP set, where the generators are listed for a run"
                    yield Finding(check_.id, True, acl.address, evidence, acl.address)
                else:
                    evidence = f"{head}, and no exemption: WAF blocks the test within seconds, which then measures 403s"
                    yield Finding(check_.id, False, acl.address, evidence, acl.address)
