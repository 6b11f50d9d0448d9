"""The quickstart's web service: standard library only.

    python3 app/web.py           serve on $PORT (8000 without it), on every interface as a container must
    python3 app/web.py --check   the container health check: exit 0 when GET /healthz answers 200

Routes: GET /healthz answers 200 {"status": "ok"}; GET / answers 200 with $GREETING; anything else 404.
SIGTERM (what ECS sends on stop) ends it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

HEALTH_PATH = "/healthz"


def port() -> int:
    return int(os.environ.get("PORT", "8000"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self.answer(200, {"status": "ok"})
        elif self.path == "/":
            self.answer(200, {"message": os.environ.get("GREETING", "hello")})
        else:
            self.answer(404, {"error": f"no route {self.path}"})

    def answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"web: {self.address_string()} {format % args}\n")


def check() -> int:
    url = f"http://127.0.0.1:{port()}{HEALTH_PATH}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"unhealthy: GET {url} failed: {exc}")
        return 1
    print(f"{'healthy' if status == 200 else 'unhealthy'}: GET {url} -> {status}")
    return 0 if status == 200 else 1


def serve() -> int:
    server = ThreadingHTTPServer(("0.0.0.0", port()), Handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"web: listening on port {server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["--check"] else serve())
