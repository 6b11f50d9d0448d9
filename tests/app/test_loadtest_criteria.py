"""loadtest/criteria.py judges a Locust run by brief 004's bar; fed here with the CSV files Locust writes."""

from __future__ import annotations

import ast
import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.app

LOADTEST = Path(__file__).resolve().parents[2] / "loadtest"
HISTORY_FIELDS = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    "95%",
    "Total Request Count",
    "Total Failure Count",
]
STATS_FIELDS = ["Type", "Name", "Request Count", "Failure Count", "Requests/s", "95%"]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("loadtest_criteria", LOADTEST / "criteria.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadtest_criteria"] = module
    spec.loader.exec_module(module)
    return module


criteria = _load()


def _run(tmp_path: Path, *, rate: float, failures_per_sample: int, poll_p95: float, users: int = 5000) -> Path:
    """A run that ramps for two samples, then holds `users` for ten at `rate` requests/s."""
    prefix = tmp_path / "run"
    total = failed = 0
    rows = []
    for second, user_count in enumerate([1000, 3000] + [users] * 10):
        total += int(rate * 10)
        failed += failures_per_sample
        rows.append([second * 10, user_count, "", "Aggregated", rate, failures_per_sample / 10, 250, total, failed])
    with Path(f"{prefix}_stats_history.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_FIELDS)
        writer.writerows(rows)
    with Path(f"{prefix}_stats.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(STATS_FIELDS)
        writer.writerow(["GET", criteria.POLL, total, failed, rate * 0.9, poll_p95])
        writer.writerow(["", "Aggregated", total, failed, rate, 300])
    return prefix


def test_a_run_at_the_cadence_with_few_errors_passes(tmp_path: Path) -> None:
    prefix = _run(tmp_path, rate=2000, failures_per_sample=100, poll_p95=420)  # 0.5% errors

    verdicts = criteria.judge(prefix, 5000)

    assert [(v.name, v.passed) for v in verdicts] == [("errors", True), ("freshness", True), ("throughput", True)]
    assert criteria.main([str(prefix)]) == 0


def test_errors_are_counted_in_the_steady_phase_only(tmp_path: Path) -> None:
    prefix = _run(tmp_path, rate=2000, failures_per_sample=1000, poll_p95=420)  # 5% of each sample

    errors = criteria.judge(prefix, 5000)[0]

    assert errors.passed is False
    assert errors.detail.startswith("9000 of 180000 requests failed in the steady phase (5.00%")


def test_slow_polls_fail_freshness(tmp_path: Path) -> None:
    verdicts = criteria.judge(_run(tmp_path, rate=2000, failures_per_sample=0, poll_p95=1800), 5000)
    assert [v.name for v in verdicts if not v.passed] == ["freshness"]


def test_a_system_polled_less_often_than_the_cadence_fails_throughput(tmp_path: Path) -> None:
    verdict = criteria.judge(_run(tmp_path, rate=1500, failures_per_sample=0, poll_p95=400), 5000)[2]
    assert verdict.passed is False
    assert "1500 req/s on average with 5000 users (the bar is >= 1800" in verdict.detail


def test_a_run_that_never_reached_the_users_cannot_be_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _run(tmp_path, rate=2000, failures_per_sample=0, poll_p95=400, users=4000)

    assert criteria.main([str(prefix), "--users", "5000"]) == 2
    assert "has no row with 5000 users: the run never reached them" in capsys.readouterr().err


def test_the_locustfile_polls_under_the_name_the_criteria_judge() -> None:
    source = (LOADTEST / "locustfile.py").read_text()
    ast.parse(source)  # a syntax error fails here, without locust installed
    assert f'name="{criteria.POLL}"' in source
    assert "wait_time = between(2, 3)" in source
