"""The tool venvs (LocalStack's runtime, checkov): the commands each installer runs, pip's settings passed on to
uv, how the installer is found, and real builds with both installers from a local wheelhouse (no network)."""

from __future__ import annotations

import base64
import hashlib
import socket
import sys
import zipfile
from pathlib import Path

import pytest

from stackprobe.backends.localstack_host import INSTALL_STEPS
from stackprobe.backends.tool_venv import BuildFailed, Installer, VenvBuild, find_installer, uv_environ

pytestmark = pytest.mark.harness

UV = Installer(Path("/opt/uv/bin/uv"), "test")
PIP = Installer(None, "test")
INTERPRETER = Path("/usr/bin/python3.13")
VENV = Path("/cache/localstack-venv")
PYTHON = "/cache/localstack-venv/bin/python"


def test_pip_creates_with_the_interpreter_and_installs_each_step_in_order_with_the_venvs_pip() -> None:
    assert PIP.commands(INTERPRETER, VENV, INSTALL_STEPS) == [
        ["/usr/bin/python3.13", "-m", "venv", "/cache/localstack-venv"],
        [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *INSTALL_STEPS[0]],
        [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *INSTALL_STEPS[1]],
    ]


def test_uv_creates_with_the_interpreter_and_installs_each_step_in_order_into_the_venv() -> None:
    assert UV.commands(INTERPRETER, VENV, INSTALL_STEPS) == [
        ["/opt/uv/bin/uv", "--version"],
        ["/opt/uv/bin/uv", "venv", "--python", "/usr/bin/python3.13", "/cache/localstack-venv"],
        ["/opt/uv/bin/uv", "pip", "install", "--python", PYTHON, *INSTALL_STEPS[0]],
        ["/opt/uv/bin/uv", "pip", "install", "--python", PYTHON, *INSTALL_STEPS[1]],
    ]


def test_localstacks_runtime_is_installed_before_the_pins_that_correct_it() -> None:
    assert INSTALL_STEPS[0] == ("localstack-core[runtime]==2026.3.0",)
    assert "cbor2<6" in INSTALL_STEPS[1] and "pyopenssl==25.3.0" in INSTALL_STEPS[1]


def test_pips_index_settings_reach_uv_in_uvs_spelling() -> None:
    pip = {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_EXTRA_INDEX_URL": "https://a.example/simple https://b.example/simple",
        "PIP_FIND_LINKS": "/wheels  /more-wheels",
        "PIP_NO_INDEX": "yes",
        "PIP_CERT": "/etc/corp-ca.pem",
    }
    env = uv_environ(pip)
    assert env["UV_DEFAULT_INDEX"] == "https://mirror.example/simple"
    assert env["UV_INDEX"] == "https://a.example/simple https://b.example/simple"
    assert env["UV_FIND_LINKS"] == "/wheels,/more-wheels"
    assert env["UV_NO_INDEX"] == "1"
    assert env["SSL_CERT_FILE"] == "/etc/corp-ca.pem"
    assert {key: env[key] for key in pip} == pip  # pip's own are left for anything that reads them


def test_uvs_own_settings_win_over_pips() -> None:
    environ = {
        "PIP_INDEX_URL": "https://pip-mirror.example/simple",
        "UV_INDEX_URL": "https://uv-mirror.example/simple",  # uv's older spelling counts as set
        "PIP_EXTRA_INDEX_URL": "https://pip-extra.example/simple",
        "UV_INDEX": "https://uv-extra.example/simple",
        "PIP_NO_INDEX": "off",
    }
    assert uv_environ(environ) == environ


def test_pip_gets_the_environment_as_it_is_and_neither_installer_gets_a_foreign_python_path() -> None:
    environ = {"PIP_INDEX_URL": "https://mirror.example/simple", "PYTHONPATH": "/elsewhere", "VIRTUAL_ENV": "/v"}
    assert PIP.environ(environ) == {"PIP_INDEX_URL": "https://mirror.example/simple"}
    assert UV.environ(environ) == {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "UV_DEFAULT_INDEX": "https://mirror.example/simple",
    }


def test_the_uv_package_is_preferred_then_uv_on_path_then_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv = pytest.importorskip("uv", reason="uv (the dev extra) is not installed here")
    found = find_installer()
    assert (found.name, found.uv) == ("uv", Path(uv.find_uv_bin()))

    monkeypatch.setitem(sys.modules, "uv", None)  # type: ignore[arg-type]  # `import uv` fails, as without it
    on_path = tmp_path / "uv"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_installer() == Installer(on_path, "`uv` on PATH")

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_installer().name == "pip"


def _wheel(wheelhouse: Path, version: str) -> None:
    """A minimal pure-Python wheel of `spdummy`, whose module knows its version."""
    dist = f"spdummy-{version}.dist-info"
    files = {
        "spdummy/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: spdummy\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: stackprobe-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(text.encode())}\n"
    files[f"{dist}/RECORD"] = record + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(wheelhouse / f"spdummy-{version}-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)


def _installers() -> list[Installer]:
    found = find_installer()
    return [PIP] if found.uv is None else [PIP, found]


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip's settings for a local wheelhouse and no index (uv gets them through the mapping); no config files."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    for version in ("1.0", "2.0"):
        _wheel(wheelhouse, version)
    for name in ("UV_NO_INDEX", "UV_FIND_LINKS", "UV_OFFLINE", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_COMPILE_BYTECODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    return wheelhouse


@pytest.mark.parametrize("installer", _installers(), ids=lambda installer: installer.name)
def test_a_real_build_runs_the_steps_in_order_then_the_check(
    installer: Installer, offline: Path, tmp_path: Path
) -> None:
    """The second step downgrades what the first installed, as LocalStack's pins do; the check sees the result."""
    build = VenvBuild(
        venv=tmp_path / "venv",
        interpreter=Path(sys.executable),
        steps=[("spdummy",), ("spdummy<2",)],
        log=tmp_path / "install.log",
        title="test build",
        check=("-c", "import spdummy; assert spdummy.VERSION == '1.0', spdummy.VERSION"),
        timeout=300,
    )
    build.run(installer)
    log = build.log.read_text()
    assert log.startswith(f"# test build\n# installer: {installer.name} (")
    *_, first, second, check = [line for line in log.splitlines() if line.startswith("$ ")]
    assert first.endswith(" spdummy") and second.endswith(" spdummy<2") and check.endswith(build.check[-1])


@pytest.mark.parametrize("installer", _installers(), ids=lambda installer: installer.name)
def test_an_unreachable_index_fails_the_build_and_removes_the_venv(
    installer: Installer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PIP_INDEX_URL is honoured by both installers: the build asks the closed port, not PyPI."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        index = f"http://127.0.0.1:{probe.getsockname()[1]}/simple"
    for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("PIP_INDEX_URL", index)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    build = VenvBuild(
        venv=tmp_path / "venv",
        interpreter=Path(sys.executable),
        steps=[("spdummy==1.0",)],
        log=tmp_path / "install.log",
        title="test build",
        timeout=300,
    )
    with pytest.raises(BuildFailed) as failed:
        build.run(installer)
    assert failed.value.command[-1] == "spdummy==1.0" and failed.value.failure.startswith("exit status")
    assert index.removesuffix("/simple") in build.log.read_text()
    assert not build.venv.exists()


def test_a_command_that_cannot_start_fails_the_build(tmp_path: Path) -> None:
    build = VenvBuild(tmp_path / "venv", tmp_path / "no-python", [("spdummy",)], tmp_path / "install.log", "test")
    with pytest.raises(BuildFailed) as failed:
        build.run(PIP)
    assert "No such file" in failed.value.failure
    assert str(tmp_path / "no-python") in build.log.read_text()


def test_a_timeout_fails_the_build(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck-python"
    stuck.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck.chmod(0o755)
    build = VenvBuild(tmp_path / "venv", stuck, [], tmp_path / "install.log", "test", timeout=1.0)
    with pytest.raises(BuildFailed) as failed:
        build.run(PIP)
    assert failed.value.failure == "no result after 1 s"
