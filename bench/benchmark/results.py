"""What one part measured: the record every part fills in and the table reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .commands import CommandLog
from .sampling import TreeStats


@dataclass
class PartResult:
    """Everything measured in one part."""

    part: str
    title: str
    seconds: float | None = None
    ok: bool = True
    status: str = ""
    steps: dict[str, float] = field(default_factory=dict)
    step_status: dict[str, int] = field(default_factory=dict)
    peak_rss_mib: float | None = None
    peak_processes: int | None = None
    provider_boots: int | None = None
    peak_providers: int | None = None
    terraform_processes: int | None = None
    invocations: int | None = None
    invocation_breakdown: dict[str, int] = field(default_factory=dict)
    invocation_seconds: dict[str, float] = field(default_factory=dict)
    invocations_by_test_file: dict[str, int] = field(default_factory=dict)
    failed_invocations: int | None = None
    refresh_false_applies: int | None = None
    terraform_cpu_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    note: str = ""

    def take_sample(self, stats: TreeStats) -> None:
        self.peak_rss_mib = round(stats.peak_rss_mib, 1)
        self.peak_processes = stats.peak_processes
        self.provider_boots = len(stats.providers)
        self.peak_providers = stats.peak_providers
        self.terraform_processes = len(stats.terraforms)

    def take_commands(self, log: CommandLog) -> None:
        self.invocations = log.total
        self.invocation_breakdown = log.by_command
        self.invocation_seconds = log.seconds_by_command
        self.invocations_by_test_file = log.by_test_file
        self.failed_invocations = log.failed
        self.refresh_false_applies = log.refresh_false_applies
        self.terraform_cpu_seconds = round(log.cpu_seconds, 1)
