"""A stand-in HTTP server whose keep-alive the edge.keep-alive tests choose (stdlib only).

    python keepalive_server.py --idle SECONDS [--advertise N] [--close]

Listens on 127.0.0.1:$PORT, answers every GET with 200, keeps an idle HTTP/1.1 connection open for
--idle seconds (http.server ends a connection whose next request line does not come within the socket
timeout), says `Keep-Alive: timeout=N` when --advertise is given, and `Connection: close` with --close.
"""

from __future__ import annotations

import argparse
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, required=True)
    parser.add_argument("--advertise", type=int, default=None)
    parser.add_argument("--close", action="store_true")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = args.idle

        def do_GET(self) -> None:
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if args.advertise is not None:
                self.send_header("Keep-Alive", f"timeout={args.advertise}")
            if args.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *values: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()


if __name__ == "__main__":
    main()
