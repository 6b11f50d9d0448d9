"""A web container for health.live's tests: healthy while its sibling answers at $SIDECAR_URL (stdlib only).

The task definition says SIDECAR_URL=http://localhost:6379/ping, as a container reaches its sibling in an
awsvpc task; GET /health answers 200 when that address answers `pong`, 503 with the error otherwise.
"""

from __future__ import annotations

import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            with urllib.request.urlopen(os.environ["SIDECAR_URL"], timeout=2) as answer:
                ok = answer.read() == b"pong"
                said = "pong"
        except OSError as exc:
            ok, said = False, str(exc)
        body = f"sidecar at {os.environ['SIDECAR_URL']}: {said}".encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *values: object) -> None:
        pass


if __name__ == "__main__":
    print(f"web listening on {os.environ['PORT']}, sidecar at {os.environ['SIDECAR_URL']}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
