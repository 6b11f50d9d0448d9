"""Missing binaries, unsupported versions and unreachable providers end in a remedy, not a stack trace."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stackprobe.errors import ProviderUnavailable, TerraformNotFound
from stackprobe.terraform import mirror
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.mirror import ProviderSource, resolve_provider_source

pytestmark = pytest.mark.harness


def _fake_binary(directory: Path, name: str, version: str, platform: str | None = None) -> Path:
    script = directory / name
    payload = json.dumps({"terraform_version": version, **({"platform": platform} if platform else {})})
    script.write_text(f"#!/bin/sh\necho '{payload}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_missing_binary_names_the_remedy() -> None:
    with pytest.raises(TerraformNotFound) as error:
        find_binary("terraform-that-does-not-exist")
    assert "not found on PATH" in str(error.value)
    assert "--stackprobe-terraform" in str(error.value)


def test_unsupported_version_is_refused(tmp_path: Path) -> None:
    old = _fake_binary(tmp_path, "terraform", "1.2.9")
    with pytest.raises(TerraformNotFound, match=r"1\.2\.9 .* older than the supported 1\.6\.0"):
        find_binary(str(old))


def test_opentofu_is_recognised(tmp_path: Path) -> None:
    tofu = _fake_binary(tmp_path, "tofu", "1.9.1")
    found = find_binary(str(tofu))
    assert (found.flavour, found.version) == ("tofu", (1, 9, 1))


def test_the_platform_is_the_one_terraform_reports(tmp_path: Path) -> None:
    """Lock-file checksums and mirror packages are per platform: the remedies name terraform's own."""
    assert find_binary(str(_fake_binary(tmp_path, "terraform", "1.11.4", "darwin_arm64"))).platform == "darwin_arm64"
    assert find_binary(str(_fake_binary(tmp_path, "tf-old", "1.6.0"))).platform is None


def test_mirror_versions_reads_both_layouts(tmp_path: Path) -> None:
    """Unpacked (VERSION/OS_ARCH/) and packed (terraform-provider-TYPE_VERSION_OS_ARCH.zip) mirrors."""
    aws = tmp_path / "registry.terraform.io" / "hashicorp" / "aws"
    (aws / "5.100.0" / "linux_amd64").mkdir(parents=True)
    (aws / "5.9.1" / "darwin_arm64").mkdir(parents=True)
    (aws / "terraform-provider-aws_5.100.0_darwin_arm64.zip").write_bytes(b"")
    (aws / "terraform-provider-aws_4.67.0_linux_amd64.zip").write_bytes(b"")
    (aws / "terraform-provider-random_3.6.0_linux_amd64.zip").write_bytes(b"")  # misplaced: not aws
    source = ProviderSource(mirror=tmp_path, namespaces=("hashicorp",))
    assert source.versions("hashicorp/aws") == {
        "4.67.0": ("linux_amd64",),
        "5.9.1": ("darwin_arm64",),
        "5.100.0": ("darwin_arm64", "linux_amd64"),
    }
    assert source.versions("registry.terraform.io/HashiCorp/aws") == source.versions("hashicorp/aws")
    assert source.versions("hashicorp/random") == {}
    assert ProviderSource(mirror=None).versions("hashicorp/aws") == {}


def test_real_terraform_is_found() -> None:
    found = find_binary()
    assert found.flavour == "terraform"
    assert found.version >= (1, 6, 0)


def test_explicit_mirror_without_a_registry_tree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailable, match=r"has no `registry\.terraform\.io/<namespace>/<type>` tree"):
        resolve_provider_source(str(tmp_path))


def test_explicit_mirror_is_used(tmp_path: Path) -> None:
    (tmp_path / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0").mkdir(parents=True)
    source = resolve_provider_source(str(tmp_path))
    assert source.mirror == tmp_path.resolve()
    assert source.namespaces == ("hashicorp",)
    config = source.cli_config()
    assert f'path    = "{tmp_path.resolve()}"' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in config


def test_no_mirror_and_no_registry_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(mirror.MIRROR_ENV, raising=False)
    monkeypatch.setattr(mirror, "implied_mirror_dirs", lambda: [tmp_path / "nothing-here"])
    monkeypatch.setattr(mirror, "SEARCH_ROOTS", (str(tmp_path),))
    monkeypatch.setattr(mirror, "search_mirrors", lambda: iter(()))
    monkeypatch.setattr(mirror, "registry_reachable", lambda timeout=3.0: False)
    with pytest.raises(ProviderUnavailable) as error:
        resolve_provider_source()
    message = str(error.value)
    assert "No provider mirror was found and registry.terraform.io is unreachable" in message
    assert "terraform providers mirror DIR" in message


def test_registry_is_the_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(mirror.MIRROR_ENV, raising=False)
    monkeypatch.setattr(mirror, "implied_mirror_dirs", lambda: [])
    monkeypatch.setattr(mirror, "search_mirrors", lambda: iter(()))
    monkeypatch.setattr(mirror, "registry_reachable", lambda timeout=3.0: True)
    source = resolve_provider_source()
    assert source == ProviderSource(mirror=None)
    assert "provider_installation" not in source.cli_config()


def test_the_machine_mirror_is_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    """On these machines the provider lives in an unpacked mirror that no CLI config names."""
    monkeypatch.delenv(mirror.MIRROR_ENV, raising=False)
    source = resolve_provider_source()
    assert source.mirror is not None
    assert (source.mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir()
