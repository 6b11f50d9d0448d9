"""Run the patches' canaries: each gap reproduced on an unpatched moto, then checked fixed with the patches.

    python -m stackprobe.backends.compat.canaries [--patch NAME ...]

prints one JSON document (see `run`). The run starts moto's server on loopback in *this* process and
changes its classes (the second phase applies the patches), so it is meant to run in a process of its
own: tests/harness/test_compat_canaries.py starts it as a subprocess, because patches are process-wide
and the test process (or another test's deployed stack in it) must never see an unpatched moto.

Every canary starts from a reset emulator, so canaries do not see each other's resources.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
import urllib.request
from dataclasses import asdict
from typing import Any

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.compat.base import MotoPatch, moto_version
from stackprobe.backends.compat.registry import PATCHES
from stackprobe.backends.guard import check_pinned, pin_process_environ

REGION = "eu-west-1"
# Settings moto reads from the environment when it builds a backend. Both are off because no canary needs
# them and each reset would rebuild them: AWS-managed IAM policies (about 0.4 s per IAM backend) and the
# default AMIs of every EC2 backend (about 40% of the run's CPU time).
MOTO_ENVIRONMENT = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "false", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


class LocalMoto:
    """The canaries' moto server, reached with its backend's dummy identity and no retries.

    No retries: an unimplemented action answers 500, and botocore's backoff would only make that slow.
    """

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self._session = backend.session()
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return self.backend.region

    def client(self, service: str) -> Any:
        from botocore.config import Config

        if service not in self._clients:
            config = Config(
                retries={"max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
            )
            self._clients[service] = self._session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.backend.endpoint, config=config
            )
        return self._clients[service]

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.backend.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()


def _run_canary(patch: MotoPatch, moto: LocalMoto) -> dict[str, Any]:
    started = time.monotonic()
    moto.reset()
    try:
        symptoms = patch.canary(moto)
    except Exception:
        return {"error": traceback.format_exc()}
    return {"symptoms": [asdict(symptom) for symptom in symptoms], "seconds": round(time.monotonic() - started, 3)}


def _install_all() -> dict[str, str]:
    """Apply every patch of the table that covers this moto, as the harness does; name -> install error."""
    errors: dict[str, str] = {}
    installed = moto_version()
    for patch in PATCHES:
        if patch.applies_to(installed):
            try:
                patch.apply()
            except Exception as error:  # MotoShapeChanged, or moto failing to import: reported per patch
                errors[patch.name] = f"{type(error).__name__}: {error}"
    return errors


def run(selected: list[MotoPatch]) -> dict[str, Any]:
    """Each selected canary, unpatched then patched.

    Returns {"moto": version, "seconds": wall time, "results": {patch name: {phase: {"symptoms": [...]}
    or {"error": traceback}}}}; in the patched phase a patch that could not install has {"error": message}.
    """
    os.environ.update(MOTO_ENVIRONMENT)
    # werkzeug logs every request, and a traceback for each unimplemented action the unpatched phase calls.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    started = time.monotonic()
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        backend = AwsBackend("moto (canaries)", f"http://{host}:{port}", REGION, DEFAULT_ACCOUNT_ID)
        # Like every run of the harness: nothing in this process can reach real AWS.
        pin_process_environ(backend)
        check_pinned(backend, os.environ)
        moto = LocalMoto(backend)
        results: dict[str, dict[str, Any]] = {patch.name: {} for patch in selected}
        for patch in selected:
            results[patch.name]["unpatched"] = _run_canary(patch, moto)
        install_errors = _install_all()
        for patch in selected:
            if patch.name in install_errors:
                results[patch.name]["patched"] = {"error": install_errors[patch.name]}
            else:
                results[patch.name]["patched"] = _run_canary(patch, moto)
    finally:
        server.stop()
    return {"moto": moto_version(), "seconds": round(time.monotonic() - started, 2), "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stackprobe.backends.compat.canaries",
        description="Reproduce each moto gap without its patch, then check the patch fixes it (JSON on stdout).",
    )
    names = [patch.name for patch in PATCHES]
    parser.add_argument(
        "--patch", action="append", choices=names, metavar="NAME", help="only this patch's canary (repeatable)"
    )
    args = parser.parse_args(argv)
    selected = [patch for patch in PATCHES if not args.patch or patch.name in args.patch]
    json.dump(run(selected), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
