"""What a stand-in or a container health-check command printed, as evidence: without terminal noise.

Programs write for terminals: ANSI colours (uvicorn's and many loggers' levels), cursor movements, and
progress meters redrawn in place with carriage returns. The usual one in evidence is curl's: a CMD-SHELL
health check `curl -f http://localhost:8080/health` prints its progress meter on stderr whenever its
output is not a terminal and `-s` is not given, and those lines pushed the one that mattered ("curl: (22)
The requested URL returned error: 404") out of the kept tail. The command is never rewritten to be
quieter (it runs as the task definition says); the captured text is cleaned instead.
"""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves), OSC sequences (window titles, hyperlinks), and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# Control characters other than tab; carriage returns are handled before (a redraw keeps its last state).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CURL_HEADER = re.compile(r"^\s*(?:% Total\s+% Received\s+% Xferd|Dload\s+Upload\s+Total\s+Spent)")
_CLOCK = r"(?:--:--:--|\d+:\d\d:\d\d)"
_CURL_ROW = re.compile(
    rf"^\s*\d{{1,3}}(?:\s+\S+\s+\d{{1,3}}){{2}}\s+\S+(?:\s+\S+){{2}}\s+{_CLOCK}\s+{_CLOCK}\s+{_CLOCK}\s+\S+\s*$"
)


def clean_lines(text: str) -> list[str]:
    """The non-empty lines of `text` as a reader would have seen them last, without progress meters."""
    kept: list[str] = []
    for raw in _ANSI.sub("", text).split("\n"):
        # A progress meter redraws one line with \r: what counts is what it showed last.
        line = _CONTROL.sub("", raw.rstrip("\r").rsplit("\r", 1)[-1]).rstrip()
        if line.strip() and not _CURL_HEADER.match(line) and not _CURL_ROW.match(line):
            kept.append(line)
    return kept


def last_lines(text: str, count: int) -> str:
    """The last `count` clean lines of `text`, joined for one line of evidence."""
    return " | ".join(clean_lines(text)[-count:])
