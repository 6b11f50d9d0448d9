"""Where the benchmark finds what it measures: the repository, its venv, the reference stack, the native peer.

Every part reads these; nothing here depends on another module of the package.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
VENV_BIN = REPO / ".venv" / "bin"
TF_DIR = REPO / "terraform"
PROD_VARS = TF_DIR / "environments" / "prod.tfvars"
TEARDOWN_VAR = "allow_destroy_for_tests=true"
# prod.tfvars names a public hosted zone: the emulator gets it from this configuration, applied first.
PREREQUISITE_ARGS = ["--prerequisites", str(TF_DIR / "prerequisites" / "public-zone")]
NATIVE = BENCH / "native"
COMMAND_LOG_ENV = "STACKPROBE_COMMAND_LOG"
