"""Temporary helper for stack authors: start the embedded moto (with stackprobe's compat patches) on loopback.

Replaced by `stackprobe serve` once the CLI exists. Usage: .venv/bin/python tools/moto-serve.py [PORT]
"""

import sys
import time

from stackprobe.backends.moto import EmbeddedMoto

moto = EmbeddedMoto(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
backend = moto.start()
print(backend.endpoint, flush=True)
while True:
    time.sleep(3600)
