"""`python -m stackprobe` is the CLI."""

from stackprobe.cli import main

raise SystemExit(main())
