"""How stackprobe starts the processes it supervises: terraform, the LocalStack runtime, the app.

Each gets a process group of its own, so that a terminal's Ctrl-C reaches only stackprobe (which then
stops the child its own way, e.g. one SIGINT so terraform saves its state) and `os.killpg` ends the
child with everything it spawned. Not a session of its own: on Linux a new session is also a new
scheduler autogroup, inside which the nice level of whoever started the child no longer counts, and
each child competes with the whole test session as an equal. Measured with eleven terraform sessions
beside it (the scenario plans, the legacy audits and the parity run, all niced): the reference stack's
first plan took 123 s for 23 CPU-s; in the caller's session, where their nice level counts, 22 s.
"""

from __future__ import annotations

from typing import Final

# For `subprocess.Popen(process_group=...)`: 0 makes the child the leader of a new group.
OWN_PROCESS_GROUP: Final = 0
