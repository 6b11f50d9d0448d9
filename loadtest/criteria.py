"""Judge a Locust run against brief 004's bar: python loadtest/criteria.py CSV_PREFIX --users 5000

Reads the files `locust --csv CSV_PREFIX` writes (CSV_PREFIX_stats.csv and CSV_PREFIX_stats_history.csv)
and checks, over the steady phase (every history row taken once all users had started):
- errors: fewer than 5% of requests failed (the stated error-rate objective);
- freshness: the 95th percentile of the update poll is under 1 s, so a client polling every 2-3 s
  sees each update within its cadence;
- throughput: the aggregate rate reached at least 90% of users / 2.5 s (5,000 users: 2,000 req/s);
  a struggling system polls less often, and a lower rate would hide its errors.
Prints one line per criterion and exits 0 when all pass, 1 when one fails, 2 when the files are unusable.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

POLL = "/job/[id]/results"
MAX_ERROR_PERCENT = 5.0
MAX_POLL_P95_MS = 1000.0
MIN_RATE_SHARE = 0.9
MEAN_POLL_INTERVAL_S = 2.5


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def judge(prefix: Path, users: int) -> list[Verdict]:
    """The three verdicts for the run whose CSV files start with `prefix`."""
    history = [r for r in _rows(Path(f"{prefix}_stats_history.csv")) if r.get("Name") == "Aggregated"]
    steady = [r for r in history if int(float(r.get("User Count") or 0)) >= users]
    if not steady:
        raise ValueError(f"{prefix}_stats_history.csv has no row with {users} users: the run never reached them")
    stats = {r["Name"]: r for r in _rows(Path(f"{prefix}_stats.csv"))}
    if POLL not in stats:
        raise ValueError(f"{prefix}_stats.csv has no {POLL} row: was the test run with loadtest/locustfile.py?")
    requests = int(steady[-1]["Total Request Count"]) - int(steady[0]["Total Request Count"])
    failures = int(steady[-1]["Total Failure Count"]) - int(steady[0]["Total Failure Count"])
    error_percent = 100.0 * failures / requests if requests else 100.0
    rate = sum(float(r["Requests/s"]) for r in steady) / len(steady)
    wanted = MIN_RATE_SHARE * users / MEAN_POLL_INTERVAL_S
    poll_p95 = float(stats[POLL]["95%"])
    return [
        Verdict(
            "errors",
            error_percent < MAX_ERROR_PERCENT,
            f"{failures} of {requests} requests failed in the steady phase ({error_percent:.2f}%; "
            f"the bar is < {MAX_ERROR_PERCENT:g}%)",
        ),
        Verdict(
            "freshness",
            poll_p95 < MAX_POLL_P95_MS,
            f"95% of {POLL} polls answered within {poll_p95:g} ms (the bar is < {MAX_POLL_P95_MS:g} ms)",
        ),
        Verdict(
            "throughput",
            rate >= wanted,
            f"{rate:.0f} req/s on average with {users} users (the bar is >= {wanted:.0f}: "
            f"{MIN_RATE_SHARE:.0%} of one request per user every {MEAN_POLL_INTERVAL_S:g} s)",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python loadtest/criteria.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", type=Path, help="the --csv prefix the Locust run was given")
    parser.add_argument("--users", type=int, default=5000, help="the simulated users of the steady phase")
    args = parser.parse_args(argv)
    try:
        verdicts = judge(args.prefix, args.users)
    except (OSError, KeyError, ValueError) as exc:
        print(f"criteria: cannot judge {args.prefix}: {exc}", file=sys.stderr)
        return 2
    for verdict in verdicts:
        print(f"{'PASS' if verdict.passed else 'FAIL'} {verdict.name}: {verdict.detail}")
    return 0 if all(v.passed for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
