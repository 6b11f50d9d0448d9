"""Which server software an image or a command evidently is, to say when a measurement measured another one.

A live probe measures the process it started, not the task's image. When the two are evidently different
servers (a Go gateway's image, and `uvicorn main:app` run here), what the probe saw of the server itself
(its keep-alive, its timeouts) belongs to the stand-in: a Python stand-in for a Go gateway once produced a
High `edge.keep-alive` finding about uvicorn's idle timeout, against a Go server that has none.

"Evidently" is deliberately narrow: a family is named only by a word of the image's repository path
(`golang`, `node`, `nginx`, ...: its last path component, without the tag) or by the program a command
starts (`python`, `uvicorn`, `node`, `java`, ...), and only two named, different families are a mismatch.
An image called `modelserve` names nothing, so it is never said to differ from anything.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import PurePosixPath

# Family -> words that name it in an image's repository path.
_IMAGE_WORDS = {
    "Go": ("go", "golang"),
    "Node.js": ("node", "nodejs", "bun", "deno"),
    "nginx": ("nginx", "openresty"),
    "Java": ("java", "openjdk", "jdk", "jre", "temurin", "corretto", "tomcat", "jetty"),
    "Python": ("python", "uvicorn", "gunicorn", "django", "flask", "fastapi"),
    "Ruby": ("ruby", "rails", "puma"),
    ".NET": ("dotnet", "aspnet"),
    "PHP": ("php",),
}
# Family -> programs that start it (the first word of a command, its directory dropped).
_PROGRAMS = {
    "Go": ("go",),
    "Node.js": ("node", "nodejs", "npm", "npx", "yarn", "pnpm", "bun", "deno", "ts-node"),
    "nginx": ("nginx", "openresty"),
    "Java": ("java", "mvn", "gradle", "./gradlew", "./mvnw"),
    "Python": ("python", "uvicorn", "gunicorn", "hypercorn", "daphne", "flask", "granian", "waitress-serve"),
    "Ruby": ("ruby", "bundle", "rails", "puma"),
    ".NET": ("dotnet",),
    "PHP": ("php", "php-fpm"),
}
_PYTHON = re.compile(r"^python\d*(?:\.\d+)?$")


def image_family(image: str) -> str | None:
    """The server family the image's repository name names (`golang:1.22`, `acme/gateway-go` -> Go), else None."""
    # The last path component only: the registry host and the organisation name a company, the tag a version.
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    words = {word for word in re.split(r"[^a-z0-9]+", name.lower()) if word}
    found = [family for family, names in _IMAGE_WORDS.items() if words & set(names)]
    return found[0] if len(found) == 1 else None


def command_family(argv: Sequence[str]) -> str | None:
    """The server family the program of a command line is (`uvicorn app:main` -> Python), else None."""
    words = [word for word in argv if "=" not in word or word.startswith(("-", "/", "."))]
    while words and words[0] in ("exec", "env", "nice", "nohup", "time"):
        words = words[1:]
    if not words:
        return None
    program = words[0] if words[0].startswith("./") else PurePosixPath(words[0]).name
    if _PYTHON.match(program):
        return "Python"
    return next((family for family, names in _PROGRAMS.items() if program in names), None)


def evident_mismatch(task_image: str, command: str = "", image: str = "") -> str | None:
    """Why the process run here is evidently not the server of `task_image`, or None when nothing says so."""
    expected = image_family(task_image)
    if expected is None:
        return None
    if image:
        found, what = image_family(image), f"the image {image} run here"
    else:
        try:
            found, what = command_family(shlex.split(command)), f"`{command}`"
        except ValueError:
            return None
    if found is None or found == expected:
        return None
    return (
        f"the task's image {task_image} is a {expected} server and {what} is a {found} one: evidently different servers"
    )
