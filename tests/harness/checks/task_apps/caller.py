"""Makes outbound HTTP requests the way an application does (urllib, which honours the proxy variables).

python caller.py URL...       # prints `URL -> STATUS BODY` per URL, then `done`, and exits 0
python caller.py --serve URL  # requests URL at start, then serves 200 on 127.0.0.1:$PORT (a container)
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def call(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return f"{url} -> {answer.status} {answer.read()[:200].decode(errors='replace')}"
    except urllib.error.HTTPError as exc:
        return f"{url} -> {exc.code} {exc.read()[:200].decode(errors='replace')}"
    except OSError as exc:
        return f"{url} -> error {exc}"


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *values: object) -> None:
        pass


if __name__ == "__main__":
    serve = sys.argv[1:2] == ["--serve"]
    for url in sys.argv[2:] if serve else sys.argv[1:]:
        print(call(url), flush=True)
    print("done", flush=True)
    if serve:
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ok).serve_forever()
