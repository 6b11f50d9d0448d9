"""A worker for health.live's tests: no port, a heartbeat file, and a healthCheck that reads it (stdlib only).

    python worker.py [--stall] [--crash-after SECONDS] [--drain SECONDS | --ignore-term]   # the worker
    python worker.py --check             # its healthCheck: exit 0 when the heartbeat is fresh

The worker writes $HEARTBEAT_FILE every 0.2 s; with --stall it runs but never writes it (a hung worker,
which only a healthCheck can see); with --crash-after it exits 3 after that many seconds, saying why. On
SIGTERM it exits 0 after --drain seconds (a job finished, a long poll returned); with --ignore-term it
goes on until SIGKILL.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

FRESH_SECONDS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--stall", action="store_true")
    parser.add_argument("--crash-after", type=float, default=None)
    parser.add_argument("--drain", type=float, default=0.0)
    parser.add_argument("--ignore-term", action="store_true")
    args = parser.parse_args()
    heartbeat = Path(os.environ["HEARTBEAT_FILE"])
    if args.check:
        age = time.time() - heartbeat.stat().st_mtime if heartbeat.exists() else None
        if age is None or age > FRESH_SECONDS:
            print(f"stale heartbeat: {heartbeat} ({'missing' if age is None else f'{age:.0f} s old'})")
            return 1
        return 0
    stopping: list[float] = []
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(time.monotonic()))
    print("worker polling", flush=True)
    started = time.monotonic()
    while True:
        if stopping and time.monotonic() - stopping[0] >= args.drain:
            return 0
        if args.crash_after is not None and time.monotonic() - started > args.crash_after:
            print("fatal: lost the queue connection", file=sys.stderr, flush=True)
            return 3
        if not args.stall:
            heartbeat.write_text(str(time.time()))
        time.sleep(0.2)


if __name__ == "__main__":
    raise SystemExit(main())
