"""CloudWatch (metric alarms, dashboards) and CloudWatch Logs (log groups)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


class CloudWatchReader(ServiceReader):
    service = "cloudwatch"

    def metric_alarms(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing(
            "metric alarms", lambda: self.paginate("describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"])
        )

    def dashboards(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("dashboards", lambda: self.paginate("list_dashboards", "DashboardEntries"))


class LogsReader(ServiceReader):
    service = "logs"

    def log_groups(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("log groups", lambda: self.paginate("describe_log_groups", "logGroups"))
