"""Container health check: ``python -m modelserve.healthcheck`` (ECS ``healthCheck`` command).

The slim base image has no curl or wget, so the probe is stdlib urllib. It reads the same APP_PORT
and HEALTH_PATH as the server, so the check and the route cannot drift apart.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO

from .config import DEFAULT_APP_PORT, DEFAULT_HEALTH_PATH

TIMEOUT_SECONDS = 3.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The ALB does not follow redirects and its default matcher accepts only 200, so a 3xx is
    # unhealthy there; the container check must judge the same response, not follow it to a 200.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def check(environ: Mapping[str, str] | None = None, out: IO[str] | None = None) -> int:
    """Return 0 when GET http://127.0.0.1:$PORT (else $APP_PORT)$HEALTH_PATH answers 200, else 1."""
    env = os.environ if environ is None else environ
    stream = out if out is not None else sys.stdout
    # PORT wins over APP_PORT, as in config.load_config: the check asks where the server listens.
    port = env.get("PORT", "").strip() or env.get("APP_PORT", "").strip() or str(DEFAULT_APP_PORT)
    path = env.get("HEALTH_PATH", "").strip() or DEFAULT_HEALTH_PATH
    if not port.isdigit() or not path.startswith("/"):
        print(f"unhealthy: bad APP_PORT={port!r} or HEALTH_PATH={path!r}", file=stream)
        return 1
    url = f"http://127.0.0.1:{port}{path}"
    # An empty ProxyHandler: an HTTP(S)_PROXY in the task environment must not route a loopback probe
    # through a proxy that cannot reach this container's 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        print(f"unhealthy: GET {url} failed: {reason}", file=stream)
        return 1
    if status == 200:
        print(f"healthy: GET {url} -> 200", file=stream)
        return 0
    print(f"unhealthy: GET {url} -> {status}", file=stream)
    return 1


def main() -> int:
    return check()


if __name__ == "__main__":
    sys.exit(main())
