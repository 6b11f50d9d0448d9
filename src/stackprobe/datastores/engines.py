"""Which engine a deployed datastore runs, which major version, and how this machine can run the same.

A deployed engine (`postgres`, `aurora-postgresql`, `mysql`, `mariadb`, `aurora-mysql`, `redis`, `valkey`)
belongs to a family whose local server speaks its protocol; the major version is what must match
(PostgreSQL `15`, MySQL `8.0`, MariaDB `10.11`, Redis `7`): minor releases are applied by AWS itself.

This machine runs one from its own binaries (`HostBinaries`: `initdb`/`pg_ctl`/`postgres` of each PostgreSQL
major under /usr/lib/postgresql/*/bin or on PATH, `mysqld`/`mariadbd`, `redis-server`), or through
testcontainers where a Docker engine answers (`docker_available`). Neither: `Runner.missing` says what to
install (Debian's package for the engine where one exists, else Docker). `--datastore ADDRESS=ENGINE:installed`
asks for the newest major this machine's binaries run (`newest_installed`), else the deployed major.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path


class Family(StrEnum):
    """The protocol a local server must speak."""

    POSTGRES = "postgres"
    MYSQL = "mysql"
    REDIS = "redis"


FAMILIES = tuple(family.value for family in Family)
# Deployed engine name -> family. Aurora speaks its base engine's protocol; Valkey speaks Redis's.
_ENGINE_FAMILIES = {
    "postgres": Family.POSTGRES,
    "aurora-postgresql": Family.POSTGRES,
    "mysql": Family.MYSQL,
    "aurora-mysql": Family.MYSQL,
    "aurora": Family.MYSQL,
    "mariadb": Family.MYSQL,
    "redis": Family.REDIS,
    "valkey": Family.REDIS,
}
# The Debian package of each family's server (the engine a deployed `mysql` needs is MySQL's, which Debian
# does not ship: MariaDB is another server).
DEBIAN_PACKAGES = {Family.POSTGRES: "postgresql", Family.REDIS: "redis-server", "mariadb": "mariadb-server"}
# Where Debian puts each PostgreSQL major's binaries (postgresql-NN).
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def family_of(engine: str) -> Family | None:
    """The family of a deployed engine name (None: an engine no local server here speaks, e.g. memcached)."""
    return _ENGINE_FAMILIES.get(engine.strip().lower())


def flavour_of(engine: str) -> str:
    """The server a deployed engine needs: `postgres`, `mysql`, `mariadb` or `redis` (Aurora is its base engine;
    Valkey is served by Redis, whose protocol and commands it keeps)."""
    engine = engine.strip().lower()
    if engine == "mariadb":
        return "mariadb"
    family = family_of(engine)
    return family.value if family is not None else engine


def major_of(family: Family, version: str, flavour: str = "") -> str:
    """The major version that must match: PostgreSQL `15` (`9.6` before 10), MySQL/MariaDB `8.0`/`10.11`,
    Redis `7`. An Aurora version (`15.4`, `8.0.mysql_aurora.3.05.2`) reads as its engine's."""
    numbers = re.findall(r"\d+", version)
    if not numbers:
        return ""
    if family is Family.REDIS:
        return str(numbers[0])
    if family is Family.POSTGRES:
        return f"{numbers[0]}.{numbers[1]}" if int(numbers[0]) < 10 and len(numbers) > 1 else numbers[0]
    del flavour
    return f"{numbers[0]}.{numbers[1]}" if len(numbers) > 1 else numbers[0]


@dataclass(frozen=True)
class HostServer:
    """A server binary of this machine: its flavour and full version, and where its programs are."""

    flavour: str  # postgres | mysql | mariadb | redis
    version: str  # as the binary says: 15.18, 8.0.36, 10.11.6, 7.0.15
    bin_dir: Path
    program: str  # the server program (postgres, mysqld, mariadbd, redis-server)

    def major(self) -> str:
        family = family_of(self.flavour) or Family.MYSQL
        return major_of(family, self.version, self.flavour)

    def describe(self) -> str:
        names = {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB", "redis": "Redis"}
        return f"{names.get(self.flavour, self.flavour)} {self.version} ({self.bin_dir / self.program})"


def _version(program: Path, pattern: str) -> str | None:
    try:
        completed = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(pattern, completed.stdout + completed.stderr)
    return match.group(1) if match else None


def _path_dirs() -> list[Path]:
    return [Path(entry) for entry in os.environ.get("PATH", os.defpath).split(os.pathsep) if entry]


@cache
def host_servers() -> tuple[HostServer, ...]:
    """Every server binary this machine has (read once per process)."""
    found: list[HostServer] = []
    seen: set[Path] = set()
    postgres_dirs = [Path(d) for d in sorted(glob.glob(POSTGRES_BIN_GLOB))] + _path_dirs()
    for directory in postgres_dirs:
        program = directory / "postgres"
        if not (program.is_file() and (directory / "initdb").is_file()):
            continue
        real = program.resolve()
        if real in seen:
            continue
        seen.add(real)
        version = _version(program, r"PostgreSQL\)?\s+(\d+(?:\.\d+)*)")
        if version:
            found.append(HostServer("postgres", version, real.parent, "postgres"))
    for name in ("mariadbd", "mysqld"):
        path = shutil.which(name) or next(
            (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/libexec") / name) if p.is_file()), None
        )
        if path is None or Path(path).resolve() in seen:
            continue
        seen.add(Path(path).resolve())
        version = _version(Path(path), r"Ver\s+(\d+(?:\.\d+)*)(-MariaDB)?")
        text = _version(Path(path), r"(Ver\s+\S+)") or ""
        if version:
            flavour = "mariadb" if "MariaDB" in text or name == "mariadbd" else "mysql"
            found.append(HostServer(flavour, version, Path(path).parent, name))
    redis = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
    )
    if redis is not None:
        version = _version(Path(redis), r"v=(\d+(?:\.\d+)*)")
        if version:
            found.append(HostServer("redis", version, Path(redis).parent, "redis-server"))
    return tuple(found)


@cache
def docker_available() -> bool:
    """Whether a Docker engine answers here (a client alone is not enough), and testcontainers is installed."""
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        return False
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        completed = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return completed.returncode == 0 and bool(completed.stdout.strip())


# The image testcontainers runs for each flavour, tagged with the major version.
IMAGES = {
    "postgres": "postgres:{major}",
    "mysql": "mysql:{major}",
    "mariadb": "mariadb:{major}",
    "redis": "redis:{major}",
}


@dataclass(frozen=True)
class Runner:
    """How this machine runs one flavour and major: host binaries, a container image, or neither (`missing`)."""

    flavour: str
    major: str
    host: HostServer | None = None
    image: str | None = None
    missing: str = ""

    @property
    def available(self) -> bool:
        return self.host is not None or self.image is not None

    def describe(self) -> str:
        if self.host is not None:
            return f"host binaries: {self.host.describe()}"
        if self.image is not None:
            return f"testcontainers image {self.image}"
        return f"nothing here runs it: {self.missing}"


def what_to_install(flavour: str, major: str, installed: tuple[HostServer, ...]) -> str:
    """The remedy when nothing here runs `flavour` `major`: the package (or server) to install, or Docker."""
    others = [server.describe() for server in installed if server.flavour == flavour]
    have = f" (this machine has {', '.join(others)}: another major version)" if others else ""
    if flavour == "postgres":
        package = f"postgresql-{major} (Debian's `postgresql` installs the distribution's major)"
    elif flavour == "redis":
        package = "redis-server"
    elif flavour == "mariadb":
        package = f"mariadb-server {major}"
    else:
        package = f"MySQL {major}'s server (mysqld; Debian ships only MariaDB, which is another server)"
    image = IMAGES[flavour].format(major=major)
    return f"install {package}{have}, or run where a Docker engine answers (testcontainers {image})"


# `ENGINE:installed`: the newest major of the engine this machine's binaries run (else the deployed one).
INSTALLED = "installed"


def _major_key(major: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", major))


def newest_installed(flavour: str) -> str | None:
    """The newest major of `flavour` this machine's host binaries run (None: it has none)."""
    majors = [server.major() for server in host_servers() if server.flavour == flavour]
    return max(majors, key=_major_key) if majors else None


def runner_for(flavour: str, major: str, *, docker: bool | None = None) -> Runner:
    """How to run `flavour` at `major` here: the host's binaries of that major first, then a container."""
    installed = host_servers()
    for server in installed:
        if server.flavour == flavour and server.major() == major:
            return Runner(flavour, major, host=server)
    if docker if docker is not None else docker_available():
        return Runner(flavour, major, image=IMAGES[flavour].format(major=major))
    return Runner(flavour, major, missing=what_to_install(flavour, major, installed))
