"""One settings table for both front-ends: what the CLI and the plugin are given normalises to the same thing.

The CLI's parser and the plugin's options are generated from `stackprobe.settings.SETTINGS`, and both
front-ends' values go through one `normalise`. These tests feed each front-end the way a user would (an
argparse command line; a pytest config with ini lines and options) and compare what comes out: the same
StackSpec, so the same live-session key and digest, whatever the order or the form of the variables.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stackprobe.cli import build_parser
from stackprobe.lifecycle.live import session_key
from stackprobe.settings import SETTINGS, Lifetime, SettingsError, StackSpec, from_namespace, from_pytest

pytestmark = pytest.mark.harness


class FakeConfig:
    """What the plugin reads from pytest: ini values by key, options by their dest (stackprobe_<setting>)."""

    def __init__(self, root: Path, options: dict[str, Any] | None = None, ini: dict[str, Any] | None = None) -> None:
        self._root = root
        self._options = options or {}
        self._ini = ini or {}

    @property
    def rootpath(self) -> Path:
        return self._root

    def getoption(self, name: str) -> Any:
        return self._options.get(name.removeprefix("stackprobe_"))

    def getini(self, name: str) -> Any:
        setting = next(s for s in SETTINGS if s.ini == name)
        return self._ini.get(name, [] if setting.kind.value in ("paths", "pairs", "names") else "")


def cli(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_variables_in_any_order_and_from_either_front_end_name_the_same_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    up = from_namespace(cli("up", "stack", "--var", "b=2", "--var", "a=1")).stack
    verify = from_namespace(cli("verify", "stack", "--var", "a=1", "--var", "b=2")).stack
    plugin = from_pytest(FakeConfig(tmp_path, ini={"stackprobe_tf_dir": "stack", "stackprobe_vars": ["a=1", "b=2"]}))
    plugin_cli = from_pytest(
        FakeConfig(tmp_path, {"tf_dir": "stack", "variables": ["b=2"]}, {"stackprobe_vars": ["a=1"]})
    )

    assert up is not None and up.variables == (("a", "1"), ("b", "2"))
    assert up == verify == plugin.stack == plugin_cli.stack
    assert session_key(up) == session_key(plugin.stack)  # type: ignore[arg-type]


def test_the_last_value_given_for_a_variable_wins_as_with_terraform(tmp_path: Path) -> None:
    spec = from_namespace(cli("verify", str(tmp_path), "--var", "a=1", "--var", "a=2")).stack
    ini_then_cli = from_pytest(FakeConfig(tmp_path, {"variables": ["a=3"]}, {"stackprobe_vars": ["a=1"]})).stack

    assert spec is not None and spec.variables == (("a", "2"),)
    assert ini_then_cli is not None and ini_then_cli.variables == (("a", "3"),)


def test_a_stack_spec_is_normalised_whoever_builds_it(tmp_path: Path) -> None:
    one = StackSpec(tf_dir=tmp_path, variables=(("b", "2"), ("a", "1")))
    other = StackSpec(tf_dir=tmp_path / "." / "", variables={"a": "1", "b": 2})  # type: ignore[arg-type]

    assert one == other and hash(one) == hash(other)


def test_ini_paths_are_the_config_files_and_command_line_paths_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    from_ini = from_pytest(
        FakeConfig(project, ini={"stackprobe_tf_dir": "infra", "stackprobe_var_files": ["p.tfvars"]})
    )
    from_cli = from_pytest(FakeConfig(project, {"tf_dir": "infra"}, {"stackprobe_tf_dir": "ignored"}))

    assert from_ini.stack is not None and from_ini.stack.tf_dir == project / "infra"
    assert from_ini.stack.var_files == (project / "p.tfvars",)
    assert from_cli.stack is not None and from_cli.stack.tf_dir == elsewhere / "infra"


def test_the_plugins_tf_dir_defaults_to_terraform_under_the_config_file(tmp_path: Path) -> None:
    spec = from_pytest(FakeConfig(tmp_path)).stack

    assert spec is not None and spec.tf_dir == tmp_path / "terraform"


INI = {
    "stackprobe_var_files": ["terraform/environments/prod.tfvars"],
    "stackprobe_backend_var_files": ["localstack=terraform/environments/localstack-community.tfvars"],
}


@pytest.mark.parametrize(
    ("options", "expected", "reduced"),
    [
        ({}, ["prod.tfvars"], False),
        ({"backend": "moto"}, ["prod.tfvars"], False),
        ({"backend": "localstack"}, ["localstack-community.tfvars"], True),
        ({"backend": "localstack", "var_files": ["x.tfvars"]}, ["x.tfvars"], False),
    ],
)
def test_backend_var_files_replace_the_ini_ones_and_yield_to_the_command_line(
    tmp_path: Path, options: dict[str, Any], expected: list[str], reduced: bool
) -> None:
    settings = from_pytest(FakeConfig(tmp_path, options, INI))

    assert settings.stack is not None and [p.name for p in settings.stack.var_files] == expected
    assert all(p.is_absolute() for p in settings.stack.var_files)
    assert (settings.checks.reduced_stack is not None) == reduced


def test_backend_var_files_must_say_which_backend(tmp_path: Path) -> None:
    config = FakeConfig(tmp_path, {"backend": "localstack"}, {"stackprobe_backend_var_files": ["x"]})
    with pytest.raises(SettingsError, match="BACKEND=PATH"):
        from_pytest(config)


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ({"stackprobe_vars": ["no-equals-sign"]}, "stackprobe_vars expects NAME=VALUE, got 'no-equals-sign'"),
        ({"stackprobe_environment": "prod"}, "stackprobe_environment is 'prod', which is none of production"),
    ],
)
def test_an_unusable_ini_value_names_its_key_and_the_remedy(tmp_path: Path, ini: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_pytest(FakeConfig(tmp_path, ini=ini))


def test_lifetime_from_either_front_end(tmp_path: Path) -> None:
    assert from_namespace(cli("up", str(tmp_path))).run.lifetime == Lifetime.REUSE
    assert from_namespace(cli("verify", str(tmp_path), "--keep-stack")).run.lifetime == Lifetime.KEEP
    assert from_pytest(FakeConfig(tmp_path, ini={"stackprobe_reuse": True})).run.lifetime == Lifetime.REUSE
    assert from_pytest(FakeConfig(tmp_path)).run.lifetime == Lifetime.EPHEMERAL


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.cli], ids=lambda s: s.name)
def test_every_cli_setting_is_an_option_of_each_verb_that_takes_it(setting: Any) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for verb, sub in subparsers.choices.items():
        options = {action.dest: action.option_strings for action in sub._actions}
        assert (setting.name in options) == (verb in setting.verbs), f"`stackprobe {verb}` and {setting.name}"
        if verb in setting.verbs:
            assert options[setting.name] == [setting.cli]


def test_every_pytest_option_and_ini_key_is_registered(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--help"]
    helped = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120).stdout
    for setting in SETTINGS:
        for name in (setting.pytest, setting.ini):
            if name is not None:
                assert name in helped, f"{name} ({setting.name}) is not registered"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\nstackprobe_tf_dir = infra\nstackprobe_vars =\n    region=x\n"),
        ("setup.cfg", "[tool:pytest]\nstackprobe_tf_dir = infra\nstackprobe_vars =\n    region=x\n"),
        ("tox.ini", "[pytest]\nstackprobe_tf_dir = infra\nstackprobe_vars = region=x\n"),
        ("pyproject.toml", '[tool.pytest.ini_options]\nstackprobe_tf_dir = "infra"\nstackprobe_vars = ["region=x"]\n'),
    ],
)
def test_the_cli_reads_the_projects_own_pytest_configuration_for_the_stack_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    """`stackprobe audit infra` inside a project agrees with its pytest run without repeating --var, whichever file
    the project keeps pytest's settings in; a command line value still wins, and another directory gets none."""
    (tmp_path / name).write_text(text)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")

    configured = from_namespace(cli("audit", "../infra")).stack
    overridden = from_namespace(cli("audit", "../infra", "--var", "region=y")).stack
    elsewhere = from_namespace(cli("audit", "../legacy")).stack

    assert configured is not None and configured.variables == (("region", "x"),)
    assert overridden is not None and overridden.variables == (("region", "y"),)
    assert elsewhere is not None and elsewhere.variables == ()


def test_a_pyproject_without_pytest_settings_is_passed_over_like_pytest_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nstackprobe_tf_dir = infra\nstackprobe_vars = a=1\n")
    monkeypatch.chdir(tmp_path)

    spec = from_namespace(cli("verify", "infra")).stack

    assert spec is not None and spec.variables == (("a", "1"),)


# -- --datastore-sql: the operator's setup SQL, a file checked when the settings are read ----------------------
def test_datastore_sql_paths_are_the_working_directorys_on_the_command_line_and_the_ini_files_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "sql").mkdir(parents=True)
    (elsewhere / "sql").mkdir(parents=True)
    (project / "sql" / "roles.sql").write_text("CREATE ROLE app;\n")
    (elsewhere / "sql" / "audit.sql").write_text("CREATE ROLE auditor;\n")
    monkeypatch.chdir(elsewhere)

    from_ini = from_pytest(
        FakeConfig(project, ini={"stackprobe_datastores": ["auto"], "stackprobe_datastore_sql": ["main=sql/roles.sql"]})
    )
    both = from_pytest(
        FakeConfig(
            project,
            {"datastore_sql": ["audit=sql/audit.sql"]},
            {"stackprobe_datastores": ["auto"], "stackprobe_datastore_sql": ["main=sql/roles.sql"]},
        )
    )
    from_cli = from_namespace(
        cli("verify", "stack", "--datastore", "auto", "--datastore-sql", "audit=sql/audit.sql")
    ).checks.datastore_sql

    assert from_ini.checks.datastore_sql == (("main", project / "sql" / "roles.sql"),)
    # Given by both, each pair keeps its own source's directory.
    assert both.checks.datastore_sql == (
        ("audit", elsewhere / "sql" / "audit.sql"),
        ("main", project / "sql" / "roles.sql"),
    )
    assert from_cli == (("audit", elsewhere / "sql" / "audit.sql"),)


def test_the_cli_reads_the_projects_datastore_sql_from_the_config_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "roles.sql").write_text("CREATE ROLE app;\n")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nstackprobe_tf_dir = infra\nstackprobe_datastores = auto\n"
        "stackprobe_datastore_sql = main=sql/roles.sql\n"
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")

    assert from_namespace(cli("audit", "../infra")).checks.datastore_sql == (("main", tmp_path / "sql" / "roles.sql"),)


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_a_datastore_sql_file_that_is_not_there_names_the_path_as_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    if where == "cli":
        config = FakeConfig(project, {"datastores": ["auto"], "datastore_sql": ["main=sql/roles.sql"]})
        option, resolved = "--stackprobe-datastore-sql", elsewhere / "sql" / "roles.sql"
    else:
        config = FakeConfig(
            project, ini={"stackprobe_datastores": ["auto"], "stackprobe_datastore_sql": ["main=sql/roles.sql"]}
        )
        option, resolved = "stackprobe_datastore_sql", project / "sql" / "roles.sql"
    with pytest.raises(SettingsError) as raised:
        from_pytest(config)
    assert str(raised.value).startswith(f"{option} for main: {resolved} does not exist.")
    assert "give the path of a readable SQL file" in raised.value.remedy


def test_a_datastore_sql_file_that_is_a_directory_or_unreadable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sql").mkdir()
    with pytest.raises(SettingsError, match=rf"--datastore-sql for main: {tmp_path}/sql is not a file"):
        from_namespace(cli("verify", "stack", "--datastore", "auto", "--datastore-sql", "main=sql"))

    locked = tmp_path / "locked.sql"
    locked.write_text("CREATE ROLE app;\n")
    locked.chmod(0)
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == locked:  # as root, mode 0 does not stop a read: refuse it as the kernel refuses anyone else
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(SettingsError, match=rf"{locked} cannot be read \(Permission denied\)"):
        from_namespace(cli("verify", "stack", "--datastore", "auto", "--datastore-sql", "main=locked.sql"))


def test_datastore_sql_without_any_datastore_says_to_add_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roles.sql").write_text("CREATE ROLE app;\n")
    with pytest.raises(SettingsError) as raised:
        from_namespace(cli("verify", "stack", "--datastore-sql", "aws_db_instance.main=roles.sql"))
    assert "--datastore-sql is given without --datastore" in str(raised.value)
    assert "--datastore aws_db_instance.main=postgres" in raised.value.remedy


@pytest.mark.parametrize("item", ["main=", "=roles.sql", "roles.sql"])
def test_datastore_sql_must_be_address_equals_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, item: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="--datastore-sql"):
        from_namespace(cli("verify", "stack", "--datastore", "auto", "--datastore-sql", item))


def test_a_bad_datastore_sql_is_input_the_cli_refuses_with_exit_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stackprobe.cli import main
    from stackprobe.errors import InputError

    assert issubclass(SettingsError, InputError)
    monkeypatch.chdir(tmp_path)
    status = main(["verify", "stack", "--datastore", "auto", "--datastore-sql", "main=missing.sql"])
    assert status == 2
    assert f"{tmp_path}/missing.sql does not exist" in capsys.readouterr().err
