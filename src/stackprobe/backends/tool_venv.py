"""Private venvs for tools whose dependencies clash with the harness's: built with uv when it is there, else pip.

LocalStack's host-mode runtime (stackprobe.backends.localstack_host) lives in one, and this repository's
tests run checkov from another. On a fresh machine (CI) pip spent 40-50 CPU-s on the first and 25-30 on the
second; uv installs the same requirements for 9 and 2 (bench/README.md, "Levers"). uv is not a dependency of
stackprobe, so it is used when it is there: the binary of the `uv` package when that is importable (this
repository's dev extra installs it), else `uv` on PATH; otherwise the stdlib's venv and pip, as before. The
first lines of the install log say which.

uv reads its own settings (UV_* variables, uv.toml), never pip's. So that a machine set up for pip keeps
working, each pip variable of `PIP_TO_UV` is passed on to uv in uv's spelling when none of uv's own variables
for that setting is set (uv's win). pip's config files (pip.conf) are not translated: set UV_DEFAULT_INDEX and
UV_INDEX, or uv.toml, instead. With several indexes uv takes a package from the first index that has it (its
defence against dependency confusion), where pip took the best version across all of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def _same(value: str) -> str | None:
    return value


def _comma_separated(value: str) -> str | None:
    return ",".join(value.split())  # pip separates find-links with spaces, uv with commas


def _flag(value: str) -> str | None:
    # What pip reads as true in a boolean variable (its strtobool); uv reads "1" as true. Off means not set at all.
    return "1" if value.lower() in ("1", "true", "t", "yes", "y", "on") else None


# pip's variable -> (uv's variables for the same setting, any of which wins; the one set; the value in uv's form).
PIP_TO_UV: tuple[tuple[str, tuple[str, ...], Callable[[str], str | None]], ...] = (
    ("PIP_INDEX_URL", ("UV_DEFAULT_INDEX", "UV_INDEX_URL"), _same),
    ("PIP_EXTRA_INDEX_URL", ("UV_INDEX", "UV_EXTRA_INDEX_URL"), _same),  # both space-separated
    ("PIP_FIND_LINKS", ("UV_FIND_LINKS",), _comma_separated),
    ("PIP_NO_INDEX", ("UV_NO_INDEX",), _flag),
    ("PIP_CERT", ("SSL_CERT_FILE",), _same),  # a corporate CA bundle: uv reads SSL_CERT_FILE
)
# Not passed to a build's commands: the first three would make its interpreters import or install somewhere
# else than the new venv; the last would stop a check's imports from leaving their bytecode in the venv (uv
# compiles none, see Installer.commands), so that the tool's first start would compile them again.
NOT_PASSED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")


def uv_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ`, plus each pip setting of `PIP_TO_UV` in uv's spelling where uv's own is unset."""
    env = dict(environ)
    for pip_name, uv_names, convert in PIP_TO_UV:
        value = environ.get(pip_name, "").strip()
        if not value or any(environ.get(name) for name in uv_names):
            continue
        converted = convert(value)
        if converted:
            env[uv_names[0]] = converted
    return env


@dataclass(frozen=True)
class Installer:
    """How a venv is created and filled: uv's `venv` and `pip install` when `uv` is set, else venv and pip."""

    uv: Path | None
    origin: str  # how it was found, for the install log

    @property
    def name(self) -> str:
        return "pip" if self.uv is None else "uv"

    def commands(self, interpreter: Path, venv: Path, steps: Sequence[Sequence[str]]) -> list[list[str]]:
        """Create `venv` with `interpreter`, then one install command per step, in order."""
        python = str(venv / "bin" / "python")
        if self.uv is None:
            pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
            return [[str(interpreter), "-m", "venv", str(venv)], *([*pip, *step] for step in steps)]
        uv = str(self.uv)
        # `uv --version` first: the log then names the uv that built the venv. No --compile-bytecode: compiling
        # every module at install (what pip does) took LocalStack's build from 9 to 25 CPU-s and checkov's from
        # 1.6 to 8, to save at most 3 CPU-s once: a first start compiles only what it imports and leaves that
        # bytecode in the venv (bench/README.md, "Levers").
        commands = [[uv, "--version"], [uv, "venv", "--python", str(interpreter), str(venv)]]
        return commands + [[uv, "pip", "install", "--python", python, *step] for step in steps]

    def environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        kept = {key: value for key, value in environ.items() if key not in NOT_PASSED}
        return kept if self.uv is None else uv_environ(kept)

    def index_settings(self) -> str:
        """Where this installer's index settings come from, for an error's remedy."""
        if self.uv is None:
            return "pip's own settings apply, such as PIP_INDEX_URL and pip.conf"
        return (
            "uv's own settings apply, UV_DEFAULT_INDEX, UV_INDEX or uv.toml; PIP_INDEX_URL and PIP_EXTRA_INDEX_URL "
            "are passed on to uv when uv's are unset, pip.conf is not read"
        )


def find_installer() -> Installer:
    """uv when it can be found (the `uv` package's binary, else `uv` on PATH), else pip."""
    try:
        import uv
    except ImportError:
        pass
    else:
        try:
            return Installer(Path(uv.find_uv_bin()), "the binary of the `uv` Python package")
        except FileNotFoundError:  # the package without its binary (a broken install): PATH may still have one
            pass
    on_path = shutil.which("uv")
    if on_path:
        return Installer(Path(on_path), "`uv` on PATH")
    return Installer(None, "uv was not found (no `uv` Python package, no `uv` on PATH)")


class BuildFailed(Exception):
    """A command of a venv build failed; the half-built venv is already removed, the log kept."""

    def __init__(self, command: Sequence[str], failure: str) -> None:
        self.command = list(command)
        self.failure = failure
        super().__init__(f"`{' '.join(command)}` failed ({failure})")


@dataclass(frozen=True)
class VenvBuild:
    """A venv to build: the interpreter it runs on, its install steps in order, and where its log goes."""

    venv: Path
    interpreter: Path
    steps: Sequence[Sequence[str]]
    log: Path
    title: str  # the log's first line
    check: Sequence[str] = ()  # arguments for the venv's python once installed; a non-zero exit fails the build
    timeout: float = 900.0  # per command

    def run(self, installer: Installer) -> None:
        """Build the venv from scratch, every command's output in the log. Raises BuildFailed."""
        if self.venv.exists():
            shutil.rmtree(self.venv)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        commands = installer.commands(self.interpreter, self.venv, self.steps)
        if self.check:
            commands.append([str(self.venv / "bin" / "python"), *self.check])
        env = installer.environ(os.environ)
        with self.log.open("w") as log:
            log.write(f"# {self.title}\n# installer: {installer.name} ({installer.origin})\n")
            for command in commands:
                log.write(f"\n$ {' '.join(command)}\n")
                log.flush()
                failure = _run(command, log, env, self.timeout)
                if failure is not None:
                    shutil.rmtree(self.venv, ignore_errors=True)
                    raise BuildFailed(command, failure)


def _run(command: list[str], log: IO[str], env: Mapping[str, str], timeout: float) -> str | None:
    try:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"no result after {timeout:.0f} s"
    except OSError as error:  # the interpreter or uv vanished between finding and running it
        return str(error)
    return None if done.returncode == 0 else f"exit status {done.returncode}"
