"""bench/run's entry point: the benchmark is the package bench/benchmark/ (see bench/README.md)."""

from benchmark.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
