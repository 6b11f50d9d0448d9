"""The environment a container of a deployed task definition is started with here.

What ECS gives the container, resolved as the ECS agent resolves it at task start: its `environmentFiles`
from S3, then its `environment`, then its `secrets` from the emulator's Secrets Manager and SSM
(`arn:...:secret:name:json-key:stage:version` included). A task definition that forgets a variable
therefore fails here as it would on Fargate.

Then what makes it safe to run on this machine (`pinned_environment`):
- the AWS identity and endpoints are the emulator's: `AwsBackend.environ` (the guard's `pinned_environ`)
  drops every variable that selects credentials (profiles, keys, session tokens, web identity, container
  credentials) and points AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE at /dev/null, so neither the
  user's shell nor ~/.aws reaches the process (HOME is kept, for programs that need one; the SDKs read
  ~/.aws only through those two files); a region the task declares is kept, so a wrong one shows;
- of this machine's own variables only a few survive for a COMMAND (`INHERITED`: HOME, the locale, ...),
  never one the task definition could have been expected to provide, and its PATH is this machine's with
  stackprobe's Python first (so `python` is the interpreter stackprobe runs under, as in an activated
  virtualenv); an image keeps its own PATH and HOME;
- proxy variables are the network guard's (`stackprobe.probes.egress`), set when the process starts: a
  proxy the task declares is replaced, and said so.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.probes.egress import GUARD_VARIABLES, NO_PROXY, PROXY_VARIABLES

# Only these survive from this process's environment: what a program needs to run at all, never a
# setting the task definition could have been expected to provide.
INHERITED = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")


class SecretResolutionError(RuntimeError):
    """ECS could not resolve a `secrets` entry; on Fargate the task would stop before the app starts."""


def resolve_secret(backend: AwsBackend, value_from: str) -> str:
    """The value ECS would inject for one `secrets[].valueFrom` (Secrets Manager or SSM Parameter Store).

    Secrets Manager: `arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version-id>]`
    (ECS syntax: a JSON key selects one field). SSM: a parameter ARN or, in the task's region, its name.
    """
    try:
        if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
            return _secrets_manager_value(backend, value_from)
        return _ssm_value(backend, value_from)
    except (ClientError, BotoCoreError) as exc:
        raise SecretResolutionError(f"{value_from}: {_error_code(exc)}") from exc


def _secrets_manager_value(backend: AwsBackend, value_from: str) -> str:
    parts = value_from.split(":")
    secret_arn = ":".join(parts[:7])
    json_key, stage, version_id = ([*parts[7:10], "", "", ""])[:3]
    kwargs: dict[str, str] = {"SecretId": secret_arn}
    if stage:
        kwargs["VersionStage"] = stage
    if version_id:
        kwargs["VersionId"] = version_id
    client = backend.client("secretsmanager", region_name=parts[3] or None)
    secret = client.get_secret_value(**kwargs)
    text = secret.get("SecretString")
    if text is None:
        raise SecretResolutionError(f"{value_from}: binary secrets cannot be injected as environment variables")
    if not json_key:
        return str(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SecretResolutionError(f"{value_from}: JSON key {json_key!r} asked of a secret that is not JSON") from exc
    if not isinstance(document, dict) or json_key not in document:
        raise SecretResolutionError(f"{value_from}: the secret has no JSON key {json_key!r}")
    value = document[json_key]
    return value if isinstance(value, str) else json.dumps(value)


def _ssm_value(backend: AwsBackend, value_from: str) -> str:
    region: str | None = None
    candidates = [value_from]
    if value_from.startswith("arn:"):
        parts = value_from.split(":", 5)
        region = parts[3] or None
        name = parts[5].split("parameter", 1)[1] if "parameter" in parts[5] else parts[5]
        # The ARN of /a/b ends in parameter/a/b and that of a flat name c in parameter/c.
        candidates = [name] if name.count("/") > 1 else [name.lstrip("/"), name]
    client = backend.client("ssm", region_name=region)
    last: ClientError | None = None
    for candidate in candidates:
        try:
            return str(client.get_parameter(Name=candidate, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as exc:
            last = exc
    assert last is not None
    raise last


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", exc))
    return str(exc)


def _environment_files(backend: AwsBackend, container: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Variables from `environmentFiles` (S3 objects of KEY=VALUE lines), as the ECS agent reads them."""
    values: dict[str, str] = {}
    errors: list[str] = []
    for entry in container.get("environmentFiles") or []:
        arn = str(entry.get("value", ""))
        bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
        try:
            body = backend.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except (ClientError, BotoCoreError) as exc:
            errors.append(f"environmentFiles {arn}: {_error_code(exc)}")
            continue
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, _, value = line.partition("=")
                values[name.strip()] = value
    return values, errors


def task_environment(backend: AwsBackend, container: Mapping[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
    """The environment ECS would give the container (environment files, then `environment`, then resolved
    `secrets`), the secrets' names, and what could not be resolved (the task would stop before the app)."""
    task_env, secret_errors = _environment_files(backend, container)
    task_env.update({str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or []})
    secret_names: list[str] = []
    for secret in container.get("secrets") or []:
        secret_names.append(str(secret["name"]))
        try:
            task_env[str(secret["name"])] = resolve_secret(backend, str(secret["valueFrom"]))
        except SecretResolutionError as exc:
            secret_errors.append(f"{secret['name']} ← {exc}")
    return task_env, secret_names, secret_errors


def inherited_environment() -> dict[str, str]:
    """The few variables of this machine a COMMAND keeps (see INHERITED)."""
    return {key: os.environ[key] for key in INHERITED if key in os.environ}


def pinned_environment(
    backend: AwsBackend, env: Mapping[str, str], task_env: Mapping[str, str], *, local_command: bool
) -> tuple[dict[str, str], list[str]]:
    """`env` pinned to the emulator (its credentials and endpoints, the task's own region, no proxy for
    loopback) and, for a `local_command`, this machine's PATH; with a note for what replaced the task's."""
    pinned = backend.environ(dict(env))
    notes: list[str] = []
    # The region is not an identity: a task that declares its own keeps it (a wrong one must show), while
    # credentials and endpoints stay the emulator's.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if task_env.get(name):
            pinned[name] = task_env[name]
    declared_proxies = sorted(name for name in GUARD_VARIABLES if name in task_env)
    if declared_proxies:
        notes.append(f"the task's {', '.join(declared_proxies)} replaced by stackprobe's network guard")
    # Loopback traffic (the emulator, the siblings, the probe) never goes through a proxy; the guard's own
    # proxy variables are added when the process starts.
    for name in PROXY_VARIABLES:
        pinned.pop(name, None)
    pinned["NO_PROXY"] = pinned["no_proxy"] = NO_PROXY
    if local_command:
        if "PATH" in task_env:
            notes.append("the task's PATH is not used here: this machine's PATH is")
        pinned["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
        pinned.setdefault("PYTHONUNBUFFERED", "1")
    return pinned, notes
