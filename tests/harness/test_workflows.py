"""The GitHub workflows, the stackprobe action (action.yml), the workflow template for users
(examples/github/stackprobe.yml) and the pre-commit config: schema-valid, zizmor-clean, pinned, OIDC-only.

Each property is a checker returning the problems it finds. Every checker is run twice: on the committed
file, where it must find nothing, and on a copy broken in exactly the way the checker exists to catch, where
it must find something. So a checker that silently stopped looking fails here too.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # (types-PyYAML is not a dev dependency)

pytestmark = pytest.mark.harness
# AWS's documented example key ids, assembled here so that secret scanners do not flag the repository.
EXAMPLE_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
EXAMPLE_SESSION_KEY = "ASIA" + "IOSFODNN7EXAMPLE"

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
INFRA_PR = WORKFLOWS_DIR / "infra-pr.yml"
DEPLOY = WORKFLOWS_DIR / "deploy.yml"
UPSTREAM = WORKFLOWS_DIR / "upstream.yml"
WORKFLOW_FILES = (INFRA_PR, DEPLOY, UPSTREAM)
ACTION = REPO_ROOT / "action.yml"
EXAMPLE = REPO_ROOT / "examples" / "github" / "stackprobe.yml"
CI_DOC = REPO_ROOT / "docs" / "ci.md"
# Every file whose `uses:` lines must be pinned and say which release they pin.
PINNED_FILES = (*WORKFLOW_FILES, ACTION, EXAMPLE)
PRE_COMMIT_CONFIG = REPO_ROOT / ".pre-commit-config.yaml"

Workflow = dict[str, Any]
Checker = Callable[[Workflow], list[str]]

SHA_PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
PINNED_LINE = re.compile(r"^\s*-?\s*uses:\s*(?P<ref>\S+@[0-9a-f]{40})(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+){0,2}\b")
STATIC_CREDENTIALS = re.compile(
    r"aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AKIA[0-9A-Z]*"
)
CONFIGURE_AWS = "aws-actions/configure-aws-credentials@"


# -- loading and walking ----------------------------------------------------------------------------------


def load(path: Path) -> Workflow:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def dump(workflow: Workflow) -> str:
    return str(yaml.safe_dump(workflow, sort_keys=False))


def jobs(workflow: Workflow) -> dict[str, dict[str, Any]]:
    found = workflow.get("jobs")
    return found if isinstance(found, dict) else {}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found = job.get("steps")
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def all_steps(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step of every job; for a composite action (action.yml), its `runs.steps` as job "runs"."""
    for job_id, job in jobs(workflow).items():
        for step in steps(job):
            yield job_id, step
    runs = workflow.get("runs")
    if isinstance(runs, dict):
        for step in steps(runs):
            yield "runs", step


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(str(step["run"]) for step in steps(job) if "run" in step)


def job_running(workflow: Workflow, needle: str) -> tuple[str, dict[str, Any]] | None:
    for job_id, job in jobs(workflow).items():
        if needle in scripts(job):
            return job_id, job
    return None


def needs_of(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def environment_name(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, dict):
        name = environment.get("name")
        return str(name) if name is not None else None
    return str(environment) if environment is not None else None


def venv_tool(name: str) -> str | None:
    """A console script from this interpreter's bin directory, else from PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.is_file() else shutil.which(name)


# -- checkers ---------------------------------------------------------------------------------------------


def unpinned_actions(workflow: Workflow) -> list[str]:
    problems = []
    uses = [step["uses"] for _, step in all_steps(workflow) if "uses" in step]
    uses += [job["uses"] for job in jobs(workflow).values() if "uses" in job]  # reusable workflows
    for ref in uses:
        if ref.startswith("./"):
            continue
        if ref.startswith("docker://"):
            if "@sha256:" not in ref:
                problems.append(f"{ref}: docker image not pinned by digest")
        elif not SHA_PINNED.match(ref):
            problems.append(f"{ref}: not pinned to a full 40-character commit SHA")
    return problems


def missing_version_comments(workflow: Workflow, text: str | None = None) -> list[str]:
    """Every SHA pin says which release it is (`# vX.Y.Z`), so upgrades can be reviewed."""
    source = text if text is not None else dump(workflow)
    return [
        f"{match['ref']}: no `# vX.Y.Z` comment"
        for line in source.splitlines()
        if (match := PINNED_LINE.match(line)) and not VERSION_COMMENT.search(match["rest"])
    ]


def static_credentials(text: str) -> list[str]:
    return [f"static AWS credential reference: {m.group(0)!r}" for m in STATIC_CREDENTIALS.finditer(text)]


def effective_permissions(workflow: Workflow, job: dict[str, Any]) -> dict[str, Any]:
    permissions = job.get("permissions", workflow.get("permissions"))
    if permissions == "write-all":
        return {"id-token": "write", "contents": "write"}
    return permissions if isinstance(permissions, dict) else {}


def oidc_problems(workflow: Workflow) -> list[str]:
    problems = []
    deploy_role_used = False
    for job_id, job in jobs(workflow).items():
        aws_steps = [s for s in steps(job) if str(s.get("uses", "")).startswith(CONFIGURE_AWS)]
        if not aws_steps:
            continue
        if effective_permissions(workflow, job).get("id-token") != "write":
            problems.append(f"job {job_id}: assumes an AWS role without `id-token: write`")
        for step in aws_steps:
            inputs = step.get("with") or {}
            if not inputs.get("role-to-assume"):
                problems.append(f"job {job_id}: configure-aws-credentials without role-to-assume")
            for key in ("aws-access-key-id", "aws-secret-access-key", "aws-session-token"):
                if key in inputs:
                    problems.append(f"job {job_id}: configure-aws-credentials with static {key}")
            deploy_role_used |= "vars.AWS_DEPLOY_ROLE_ARN" in str(inputs.get("role-to-assume", ""))
    if not deploy_role_used:
        problems.append("no configure-aws-credentials step assumes ${{ vars.AWS_DEPLOY_ROLE_ARN }}")
    return problems


def deploy_gate_problems(workflow: Workflow) -> list[str]:
    """The job that applies runs in the `prod` environment and never overlaps or cancels another deploy."""
    found = job_running(workflow, "terraform apply")
    if found is None:
        return ["no job runs `terraform apply`"]
    job_id, job = found
    problems = []
    if environment_name(job) != "prod":
        problems.append(f"job {job_id} applies outside `environment: prod` (required reviewers)")
    concurrency = job.get("concurrency")
    if not isinstance(concurrency, dict) or concurrency.get("group") != "deploy-prod":
        problems.append(f"job {job_id}: no `concurrency: {{group: deploy-prod}}`")
    elif concurrency.get("cancel-in-progress") is not False:
        problems.append(f"job {job_id}: a deploy in progress could be cancelled (cancel-in-progress)")
    if "curl --fail" not in scripts(job) or "--retry" not in scripts(job):
        problems.append(f"job {job_id}: no post-deploy smoke test (`curl --fail --retry ...`)")
    return problems


def image_problems(workflow: Workflow) -> list[str]:
    problems = []
    text = dump(workflow)
    if re.search(r":latest\b", text):
        problems.append("an image is referenced as :latest")
    build = job_running(workflow, "docker push")
    if build is None:
        problems.append("no job pushes the image")
    else:
        job_id, job = build
        env_values = " ".join(str(v) for s in steps(job) for v in (s.get("env") or {}).values())
        if "${{ github.sha }}" not in env_values:
            problems.append(f"job {job_id}: the pushed image is not tagged with ${{{{ github.sha }}}}")
    return problems


def plan_problems(workflow: Workflow) -> list[str]:
    triggers = workflow.get("on") or {}
    problems = [] if "pull_request" in triggers else ["deploy.yml does not run on pull_request"]
    found = job_running(workflow, "terraform plan")
    if found is None:
        return [*problems, "no job runs `terraform plan`"]
    job_id, job = found
    if not re.search(r"terraform plan[^\n]*(\\\n[^\n]*)*-out[= ]", scripts(job)):
        problems.append(f"job {job_id}: terraform plan without -out")
    if not any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in steps(job)):
        problems.append(f"job {job_id}: the plan is not uploaded as an artifact")
    return problems


def concurrency_problems(workflow: Workflow) -> list[str]:
    concurrency = workflow.get("concurrency")
    if isinstance(concurrency, dict) and concurrency.get("group"):
        return []
    return ["no workflow-level concurrency group"]


def ci_test_job_problems(workflow: Workflow) -> list[str]:
    problems = []
    unit = job_running(workflow, "pytest -m unit")
    integration = job_running(workflow, "pytest -m integration")
    if unit is None:
        problems.append("no job runs `pytest -m unit`")
    if integration is None:
        problems.append("no job runs `pytest -m integration`")
    if unit and integration:
        if unit[0] not in needs_of(integration[1]):
            problems.append(f"job {integration[0]} does not need {unit[0]}")
        matrix = (integration[1].get("strategy") or {}).get("matrix") or {}
        flavours = {str(entry.get("flavour")) for entry in matrix.get("include", []) if isinstance(entry, dict)}
        if not {"terraform", "tofu"} <= flavours:
            problems.append(f"job {integration[0]}: matrix does not cover both Terraform and OpenTofu")
    return problems


def locked_install_problems(workflow: Workflow) -> list[str]:
    """Jobs that run pytest install what requirements/dev.lock pins (hashes required), as `make setup` does."""
    problems = []
    for job_id, job in jobs(workflow).items():
        script = scripts(job)
        if "pytest" not in script:
            continue
        if "--require-hashes" not in script or "requirements/dev.lock" not in script:
            problems.append(f"job {job_id} runs pytest without installing requirements/dev.lock (--require-hashes)")
    return problems


def upstream_problems(workflow: Workflow) -> list[str]:
    """The newest versions are tested on a schedule, through `make test-latest`, and a failure opens an issue."""
    problems = []
    triggers = workflow.get("on") or {}
    if not (isinstance(triggers, dict) and triggers.get("schedule")):
        problems.append("upstream drift is not tested on a schedule")
    latest = job_running(workflow, "make test-latest")
    if latest is None:
        problems.append("no job runs `make test-latest`")
    elif "gh issue create" not in scripts(latest[1]):
        problems.append(f"job {latest[0]}: a failure opens no issue")
    return problems


def localstack_problems(workflow: Workflow) -> list[str]:
    found = job_running(workflow, "--stackprobe-backend=localstack")
    if found is None:
        return ["no job runs the tests with --stackprobe-backend=localstack"]
    job_id, job = found
    condition = str(job.get("if", ""))
    if "secrets." in condition:
        return [f"job {job_id}: secrets cannot be used in a job-level if"]
    match = re.search(r"needs\.([A-Za-z0-9_-]+)\.outputs\.", condition)
    if match is None:
        return [f"job {job_id} is not conditional on the LocalStack token (no needs.<job>.outputs in its if)"]
    gate = jobs(workflow).get(match.group(1), {})
    if "secrets.LOCALSTACK_AUTH_TOKEN" not in dump(gate):
        return [f"job {job_id}: its gate job {match.group(1)} does not look at secrets.LOCALSTACK_AUTH_TOKEN"]
    if match.group(1) not in needs_of(job):
        return [f"job {job_id} does not need its gate job {match.group(1)}"]
    return []


def hardening_problems(workflow: Workflow) -> list[str]:
    """Least privilege, no persisted checkout credentials, no expressions in scripts, timeouts."""
    problems = []
    permissions = workflow.get("permissions")
    if not isinstance(permissions, dict):
        problems.append(f"workflow-level permissions must be an explicit mapping, got {permissions!r}")
    else:
        writes = sorted(k for k, v in permissions.items() if v == "write" and k != "id-token")
        if writes:
            problems.append(f"workflow-level write permissions {writes}: grant them per job")
    for job_id, job in jobs(workflow).items():
        if "timeout-minutes" not in job:
            problems.append(f"job {job_id}: no timeout-minutes")
        for step in steps(job):
            is_checkout = str(step.get("uses", "")).startswith("actions/checkout@")
            if is_checkout and (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"job {job_id}: checkout persists credentials")
            if "${{" in str(step.get("run", "")):
                problems.append(f"job {job_id}: an expression inside a run script (pass it through env)")
    return problems


# -- the committed workflows, and each checker against a broken copy --------------------------------------


def _first(workflow: Workflow, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _, step in all_steps(workflow):
        if predicate(step):
            return step
    raise AssertionError("the committed workflow has no such step to mutate")


def _unpin(wf: Workflow) -> None:
    step = _first(wf, lambda s: "uses" in s)
    step["uses"] = step["uses"].split("@")[0] + "@v4"


def _static_keys(wf: Workflow) -> None:
    step = _first(wf, lambda s: str(s.get("uses", "")).startswith(CONFIGURE_AWS))
    step["with"] = {"aws-access-key-id": "${{ secrets.KEY }}", "aws-region": "eu-west-1"}


def _drop_id_token(wf: Workflow) -> None:
    for job in jobs(wf).values():
        if isinstance(job.get("permissions"), dict):
            job["permissions"].pop("id-token", None)
    wf["permissions"] = {"contents": "read"}


def _drop_environment(wf: Workflow) -> None:
    found = job_running(wf, "terraform apply")
    assert found is not None
    found[1].pop("environment")


def _cancellable_deploys(wf: Workflow) -> None:
    found = job_running(wf, "terraform apply")
    assert found is not None
    found[1]["concurrency"]["cancel-in-progress"] = True


def _no_smoke_test(wf: Workflow) -> None:
    for _, step in all_steps(wf):
        if "curl --fail" in str(step.get("run", "")):
            step["run"] = "echo deployed"


def _latest_tag(wf: Workflow) -> None:
    step = _first(wf, lambda s: "docker push" in str(s.get("run", "")))
    step["env"]["IMAGE_TAG"] = "latest"
    step["run"] += '\ndocker push "${ECR_REPOSITORY_URL}:latest"'


def _plan_without_out(wf: Workflow) -> None:
    step = _first(wf, lambda s: "terraform plan" in str(s.get("run", "")))
    step["run"] = "terraform plan -input=false -var-file=environments/prod.tfvars"


def _no_concurrency(wf: Workflow) -> None:
    wf.pop("concurrency")


def _no_unit_tests(wf: Workflow) -> None:
    for _, step in all_steps(wf):
        if "pytest -m unit" in str(step.get("run", "")):
            step["run"] = "pytest"


def _integration_without_tofu(wf: Workflow) -> None:
    found = job_running(wf, "pytest -m integration")
    assert found is not None
    matrix = found[1]["strategy"]["matrix"]
    matrix["include"] = [e for e in matrix["include"] if e["flavour"] != "tofu"]


def _unconditional_localstack(wf: Workflow) -> None:
    found = job_running(wf, "--stackprobe-backend=localstack")
    assert found is not None
    found[1].pop("if")


def _secret_in_if(wf: Workflow) -> None:
    found = job_running(wf, "--stackprobe-backend=localstack")
    assert found is not None
    found[1]["if"] = "secrets.LOCALSTACK_AUTH_TOKEN != ''"


def _persist_credentials(wf: Workflow) -> None:
    step = _first(wf, lambda s: str(s.get("uses", "")).startswith("actions/checkout@"))
    step["with"] = {}


def _inject_event(wf: Workflow) -> None:
    step = _first(wf, lambda s: "run" in s)
    step["run"] = 'echo "${{ github.event.pull_request.title }}"\n' + step["run"]


def _write_all(wf: Workflow) -> None:
    wf["permissions"] = {"contents": "write", "id-token": "write"}


def _no_timeout(wf: Workflow) -> None:
    next(iter(jobs(wf).values())).pop("timeout-minutes")


def _unlocked_install(wf: Workflow) -> None:
    for _, step in all_steps(wf):
        if "requirements/dev.lock" in str(step.get("run", "")):
            step["run"] = "python -m pip install -e '.[dev]'"


def _unscheduled(wf: Workflow) -> None:
    wf["on"] = {"workflow_dispatch": None}


def _inject_input(action: Workflow) -> None:
    step = _first(action, lambda s: "run" in s)
    step["run"] = 'echo "${{ inputs.directory }}"\n' + step["run"]


def _undeclare_input(action: Workflow) -> None:
    action["inputs"]["region"] = {"description": "an input the check does not know", "required": False}


def _verify_without_action(wf: Workflow) -> None:
    step = _first(wf, lambda s: s.get("uses") == "./")
    step.pop("uses")
    step.pop("with")
    step["run"] = "stackprobe verify terraform"


def _template_without_action(wf: Workflow) -> None:
    step = _first(wf, lambda s: "/stackprobe@" in str(s.get("uses", "")))
    step.pop("uses")
    step.pop("with")
    step["run"] = "echo verify"


def action_problems(action: Workflow) -> list[str]:
    """A composite action: every script names its shell and takes inputs through `env:`, never `${{ }}`."""
    problems = []
    if (action.get("runs") or {}).get("using") != "composite":
        problems.append("action.yml is not a composite action")
    for _, step in all_steps(action):
        if "run" not in step:
            continue
        name = step.get("name") or step.get("id") or "a step"
        if "${{" in str(step["run"]):
            problems.append(f"{name}: an expression inside a run script (pass it through env)")
        if not step.get("shell"):
            problems.append(f"{name}: a run step without shell")
    return problems


def declared_inputs(action: Workflow) -> list[str]:
    inputs = action.get("inputs")
    return list(inputs) if isinstance(inputs, dict) else []


def step_by_id(document: Workflow, step_id: str) -> dict[str, Any]:
    for _, step in all_steps(document):
        if step.get("id") == step_id:
            return step
    raise AssertionError(f"no step with id {step_id!r}")


def input_check_problems(action: Workflow) -> list[str]:
    """The input check refuses unknown inputs by name: its list of known inputs is exactly the declared one."""
    script = str(step_by_id(action, "inputs").get("run", ""))
    match = re.search(r'^\s*known=" (?P<names>[^"]*) "$', script, re.MULTILINE)
    if match is None:
        return ['the input check has no `known=" ... "` list']
    known, declared = match["names"].split(), declared_inputs(action)
    return [] if known == declared else [f"the input check knows {known}, action.yml declares {declared}"]


def own_action_problems(workflow: Workflow) -> list[str]:
    """This repository verifies its reference stack through its own action, as a user's workflow would."""
    for _, step in all_steps(workflow):
        if step.get("uses") == "./" and (step.get("with") or {}).get("directory") == "terraform":
            return []
    return ["no step verifies the reference stack through `uses: ./` (this repository's action.yml)"]


def template_problems(workflow: Workflow) -> list[str]:
    """The users' template runs on pull requests touching Terraform: plan-level tests, then the action."""
    problems = []
    trigger = (workflow.get("on") or {}).get("pull_request") if isinstance(workflow.get("on"), dict) else None
    if not isinstance(trigger, dict) or not trigger.get("paths"):
        problems.append("the template does not run on pull requests filtered by paths")
    if job_running(workflow, "pytest -m unit") is None:
        problems.append("no job runs the plan-level tests (`pytest -m unit`)")
    action_steps = [s for _, s in all_steps(workflow) if re.match(r"[^./][^@]*/stackprobe@", str(s.get("uses", "")))]
    if not any((s.get("with") or {}).get("directory") for s in action_steps):
        problems.append("no step runs the stackprobe action on a directory")
    return problems


PROPERTIES: list[tuple[str, Path, Checker, Callable[[Workflow], None]]] = [
    ("infra-pr pinned", INFRA_PR, unpinned_actions, _unpin),
    ("deploy pinned", DEPLOY, unpinned_actions, _unpin),
    ("deploy static keys", DEPLOY, lambda wf: static_credentials(dump(wf)) + oidc_problems(wf), _static_keys),
    ("deploy id-token", DEPLOY, oidc_problems, _drop_id_token),
    ("deploy environment", DEPLOY, deploy_gate_problems, _drop_environment),
    ("deploy concurrency", DEPLOY, deploy_gate_problems, _cancellable_deploys),
    ("deploy smoke test", DEPLOY, deploy_gate_problems, _no_smoke_test),
    ("deploy image tag", DEPLOY, image_problems, _latest_tag),
    ("deploy plan -out", DEPLOY, plan_problems, _plan_without_out),
    ("infra-pr concurrency", INFRA_PR, concurrency_problems, _no_concurrency),
    ("deploy workflow concurrency", DEPLOY, concurrency_problems, _no_concurrency),
    ("infra-pr unit tests", INFRA_PR, ci_test_job_problems, _no_unit_tests),
    ("infra-pr tofu matrix", INFRA_PR, ci_test_job_problems, _integration_without_tofu),
    ("infra-pr localstack gated", INFRA_PR, localstack_problems, _unconditional_localstack),
    ("infra-pr localstack no secret in if", INFRA_PR, localstack_problems, _secret_in_if),
    ("infra-pr checkout", INFRA_PR, hardening_problems, _persist_credentials),
    ("deploy checkout", DEPLOY, hardening_problems, _persist_credentials),
    ("infra-pr injection", INFRA_PR, hardening_problems, _inject_event),
    ("deploy injection", DEPLOY, hardening_problems, _inject_event),
    ("infra-pr permissions", INFRA_PR, hardening_problems, _write_all),
    ("deploy permissions", DEPLOY, hardening_problems, _write_all),
    ("deploy timeouts", DEPLOY, hardening_problems, _no_timeout),
    ("infra-pr verifies through the action", INFRA_PR, own_action_problems, _verify_without_action),
    ("infra-pr installs the lock", INFRA_PR, locked_install_problems, _unlocked_install),
    ("upstream scheduled", UPSTREAM, upstream_problems, _unscheduled),
    ("upstream pinned", UPSTREAM, unpinned_actions, _unpin),
    ("upstream checkout", UPSTREAM, hardening_problems, _persist_credentials),
    ("upstream injection", UPSTREAM, hardening_problems, _inject_event),
    ("upstream permissions", UPSTREAM, hardening_problems, _write_all),
    ("upstream timeouts", UPSTREAM, hardening_problems, _no_timeout),
    ("upstream concurrency", UPSTREAM, concurrency_problems, _no_concurrency),
    ("action pinned", ACTION, unpinned_actions, _unpin),
    ("action injection", ACTION, action_problems, _inject_input),
    ("action refuses unknown inputs", ACTION, input_check_problems, _undeclare_input),
    ("example pinned", EXAMPLE, unpinned_actions, _unpin),
    ("example runs the action", EXAMPLE, template_problems, _template_without_action),
    ("example injection", EXAMPLE, hardening_problems, _inject_event),
    ("example checkout", EXAMPLE, hardening_problems, _persist_credentials),
    ("example permissions", EXAMPLE, hardening_problems, _write_all),
    ("example timeouts", EXAMPLE, hardening_problems, _no_timeout),
    ("example concurrency", EXAMPLE, concurrency_problems, _no_concurrency),
]


@pytest.mark.parametrize(("path", "checker"), [(p[1], p[2]) for p in PROPERTIES], ids=[p[0] for p in PROPERTIES])
def test_committed_workflow_has_the_property(path: Path, checker: Checker) -> None:
    assert checker(load(path)) == []


@pytest.mark.parametrize(("path", "checker", "mutate"), [p[1:] for p in PROPERTIES], ids=[p[0] for p in PROPERTIES])
def test_property_check_catches_a_broken_copy(path: Path, checker: Checker, mutate: Callable[[Workflow], None]) -> None:
    workflow = copy.deepcopy(load(path))
    mutate(workflow)
    assert checker(workflow), "the checker found nothing wrong with a workflow broken on purpose"


@pytest.mark.parametrize("path", PINNED_FILES, ids=lambda p: p.name)
def test_no_static_aws_credentials_anywhere(path: Path) -> None:
    assert static_credentials(path.read_text(encoding="utf-8")) == []
    assert static_credentials(f"with:\n  aws-access-key-id: {EXAMPLE_KEY}\n")


@pytest.mark.parametrize("path", PINNED_FILES, ids=lambda p: p.name)
def test_every_pin_names_its_release(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert missing_version_comments(load(path), text) == []
    stripped = re.sub(r"(uses: \S+@[0-9a-f]{40})\s*#.*", r"\1", text)
    assert missing_version_comments(load(path), stripped), "a pin without its version comment went unnoticed"


# -- external validators ---------------------------------------------------------------------------------


def _require(tool: str) -> str:
    path = venv_tool(tool)
    if path is None:
        pytest.skip(f"`{tool}` is not installed in {Path(sys.executable).parent} nor on PATH (pip install {tool})")
    return path


def _check_jsonschema(files: list[Path], schema: str) -> subprocess.CompletedProcess[str]:
    tool = _require("check-jsonschema")
    argv = [tool, "--builtin-schema", schema, *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_match_the_github_workflow_schema(schema: str) -> None:
    result = _check_jsonschema([*WORKFLOW_FILES, EXAMPLE], schema)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_invalid_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: echo no runs-on\n", encoding="utf-8")
    assert _check_jsonschema([broken], "vendor.github-workflows").returncode != 0


def _zizmor(target: Path) -> list[dict[str, Any]]:
    tool = _require("zizmor")
    argv = [tool, "--offline", "--format", "json", "--no-exit-codes", str(target)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout or "[]")
    assert isinstance(findings, list)
    return findings


def _severity(finding: dict[str, Any]) -> str:
    return str(finding.get("determinations", {}).get("severity", "")).lower()


def _describe(finding: dict[str, Any]) -> str:
    return f"{finding.get('ident')} ({_severity(finding)}): {finding.get('desc')}"


def test_zizmor_finds_nothing_of_high_severity() -> None:
    findings = _zizmor(WORKFLOWS_DIR)
    high = [_describe(f) for f in findings if _severity(f) == "high"]
    assert high == [], "\n".join(high)
    for finding in findings:
        if _severity(finding) == "medium":
            warnings.warn(f"zizmor: {_describe(finding)}", stacklevel=1)


def test_zizmor_flags_an_unsafe_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "unsafe.yml").write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    idents = {f.get("ident") for f in _zizmor(workflows) if _severity(f) == "high"}
    assert {"template-injection", "unpinned-uses"} <= idents


def test_action_matches_the_github_action_schema(tmp_path: Path) -> None:
    result = _check_jsonschema([ACTION], "vendor.github-actions")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "action.yml"
    action = load(ACTION)
    action["runs"]["using"] = "node99"
    broken.write_text(dump(action), encoding="utf-8")
    assert _check_jsonschema([broken], "vendor.github-actions").returncode != 0


@pytest.mark.parametrize("path", [ACTION, EXAMPLE], ids=lambda p: p.name)
def test_zizmor_finds_nothing_of_medium_or_high_severity(path: Path) -> None:
    findings = [_describe(f) for f in _zizmor(path) if _severity(f) in ("medium", "high")]
    assert findings == [], "\n".join(findings)


# -- the action's scripts, run as the runner runs them (bash -eo pipefail), without GitHub --------------------


def _run_step(
    step: dict[str, Any], env: dict[str, str], cwd: Path, outputs: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one step's script with `env` (every variable its `env:` block names must be given) and return the
    process and what it wrote to $GITHUB_OUTPUT."""
    missing = set(step.get("env") or {}) - set(env)
    assert not missing, f"the test gives no value for {sorted(missing)}"
    script = cwd / "step.sh"
    script.write_text(str(step["run"]), encoding="utf-8")
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "GITHUB_OUTPUT": str(outputs), **env}
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    written = outputs.read_text(encoding="utf-8") if outputs.exists() else ""
    return result, dict(line.split("=", 1) for line in written.splitlines() if "=" in line)


def _input_check_env(workspace: Path, **given: str) -> dict[str, str]:
    """The input check's environment for a caller who passed `given` (as `with:` keys), as the runner builds it:
    declared inputs with their defaults, plus whatever else the caller passed, in ALL_INPUTS."""
    action = load(ACTION)
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(given)
    names = {"directory": "DIRECTORY", "command": "COMMAND", "var-files": "VAR_FILES", "vars": "VARS"}
    names |= {"teardown-vars": "TEARDOWN_VARS", "backend": "BACKEND", "fail-on": "FAIL_ON", "containers": "CONTAINERS"}
    names |= {
        "prerequisites": "PREREQUISITES",
        "app-dir": "APP_DIR",
        "upload-sarif": "UPLOAD_SARIF",
        "artifact-name": "ARTIFACT_NAME",
        "baseline": "BASELINE",
        "write-baseline": "WRITE_BASELINE",
    }
    env = {variable: inputs.get(name, "") for name, variable in names.items()}
    env |= {
        "ALL_INPUTS": json.dumps(inputs, indent=2),  # toJSON's layout: two-space indent, one key per line
        "PR_HEAD_REPOSITORY": "acme/infra",
        "REPOSITORY": "acme/infra",
        "ACTOR": "octocat",
        "RUNNER_TEMP": str(workspace / "runner-temp"),
    }
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout with one root module and one var file."""
    (tmp_path / "infra" / "prod").mkdir(parents=True)
    (tmp_path / "infra" / "prod" / "main.tf").write_text('resource "aws_s3_bucket" "b" {}\n')
    (tmp_path / "infra" / "prod" / "prod.tfvars").write_text('env = "prod"\n')
    (tmp_path / "infra" / "prod" / "baseline.json").write_text('{"stackprobe_baseline": 1}\n')
    (tmp_path / "infra" / "empty").mkdir()
    return tmp_path


def test_input_check_accepts_valid_inputs_and_names_the_reports(workspace: Path) -> None:
    step = step_by_id(load(ACTION), "inputs")
    env = _input_check_env(
        workspace,
        directory="infra/prod",
        command="audit",
        **{
            "fail-on": "medium",
            "var-files": "infra/prod/prod.tfvars\n",
            "vars": "a=1\nb=x=y",
            "containers": "api=run",
            "prerequisites": "infra/prod",
            "app-dir": "infra",
            "baseline": "infra/prod/baseline.json",
            "write-baseline": "infra/prod/next-baseline.json",
            "Upload-SARIF": "true",  # input names are case-insensitive, as the runner reads them
        },
    )
    result, outputs = _run_step(step, env, workspace, workspace / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["report-dir"] == str(workspace / "runner-temp" / "stackprobe-audit-infra-prod")
    assert outputs["artifact-name"] == "stackprobe-audit-infra-prod"
    assert outputs["code-scanning"] == "upload"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"directroy": "infra/prod"}, "unknown input 'directroy'"),
        ({"directory": "infra/staging"}, "input 'directory': 'infra/staging' is not a directory"),
        ({"directory": "infra/empty"}, "input 'directory': 'infra/empty' holds no .tf"),
        ({"directory": ""}, "input 'directory' is empty"),
        ({"command": "plan"}, "input 'command' must be verify or audit"),
        ({"backend": "aws"}, "input 'backend' must be moto or localstack"),
        ({"fail-on": "severe", "command": "audit"}, "input 'fail-on' must be one of"),
        ({"fail-on": "high"}, "input 'fail-on' applies to command audit only"),
        ({"var-files": "infra/prod/staging.tfvars"}, "input 'var-files': 'infra/prod/staging.tfvars' is not a file"),
        ({"vars": "a=1\nnot a pair"}, "input 'vars': 'not a pair' is not NAME=VALUE"),
        ({"teardown-vars": "=true"}, "input 'teardown-vars': '=true' is not NAME=VALUE"),
        ({"containers": "api"}, "input 'containers': 'api' is not NAME=VALUE"),
        ({"upload-sarif": "yes"}, "input 'upload-sarif' must be true or false"),
        ({"app-dir": "app"}, "input 'app-dir': 'app' is not a directory"),
        ({"prerequisites": "infra/zone"}, "input 'prerequisites': 'infra/zone' is not a directory"),
        ({"baseline": "infra/prod/gone.json"}, "input 'baseline': 'infra/prod/gone.json' is not a file"),
        ({"write-baseline": "baseline.json"}, "input 'write-baseline' applies to command audit only"),
    ],
)
def test_input_check_fails_naming_the_input(workspace: Path, given: dict[str, str], message: str) -> None:
    step = step_by_id(load(ACTION), "inputs")
    env = _input_check_env(workspace, **{"directory": "infra/prod", **given})
    result, outputs = _run_step(step, env, workspace, workspace / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"::error title=stackprobe action::{message}" in result.stdout, result.stdout
    assert "report-dir" not in outputs


@pytest.mark.parametrize(
    ("head", "actor", "reason"),
    [("someone/infra", "someone", "fork someone/infra"), ("acme/infra", "dependabot[bot]", "Dependabot")],
)
def test_input_check_skips_code_scanning_where_the_token_is_read_only(
    workspace: Path, head: str, actor: str, reason: str
) -> None:
    step = step_by_id(load(ACTION), "inputs")
    env = _input_check_env(workspace, directory="infra/prod") | {"PR_HEAD_REPOSITORY": head, "ACTOR": actor}
    result, outputs = _run_step(step, env, workspace, workspace / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["code-scanning"] == "skip"
    assert "::notice title=stackprobe::SARIF not uploaded to code scanning" in result.stdout
    assert reason in result.stdout


def _fake_stackprobe(venv: Path, status: int) -> Path:
    """A stand-in for the installed console script: records its arguments, exits with `status`."""
    (venv / "bin").mkdir(parents=True)
    record = venv / "argv"
    script = venv / "bin" / "stackprobe"
    script.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > "{record}"\nexit {status}\n', encoding="utf-8")
    script.chmod(0o755)
    return record


@pytest.mark.parametrize("status", [0, 1, 3])
def test_run_step_passes_every_input_and_records_the_exit_status(workspace: Path, status: int) -> None:
    step = step_by_id(load(ACTION), "run")
    record = _fake_stackprobe(workspace / "venv", status)
    env = {
        "DIRECTORY": "infra/prod",
        "COMMAND": "audit",
        "VAR_FILES": "infra/prod/a.tfvars\n\ninfra/prod/b.tfvars",
        "VARS": "region=eu-west-1",
        "TEARDOWN_VARS": "allow_destroy_for_tests=true",
        "PREREQUISITES": "infra/zone",
        "BACKEND": "moto",
        "FAIL_ON": "medium",
        "CONTAINERS": "api=python -m app\nworker=python -m worker",
        "APP_DIR": "services",
        "BASELINE": "infra/prod/baseline.json",
        "WRITE_BASELINE": "infra/prod/next-baseline.json",
        "REPORTS": str(workspace / "reports"),
        "VENV": str(workspace / "venv"),
        "TF_PLUGIN_CACHE_DIR": str(workspace / "plugins"),
    }
    result, outputs = _run_step(step, env, workspace, workspace / "out")
    assert result.returncode == 0, result.stdout + result.stderr  # the status is reported, not raised, here
    assert outputs["exit-code"] == str(status)
    reports = env["REPORTS"]
    assert record.read_text().splitlines() == [
        "audit",
        "infra/prod",
        "--backend",
        "moto",
        "--format",
        "text",
        "--output",
        f"{reports}/report.md",
        "--output",
        f"{reports}/report.json",
        "--output",
        f"{reports}/junit.xml",
        "--output",
        f"{reports}/stackprobe.sarif",
        "--var-file",
        "infra/prod/a.tfvars",
        "--var-file",
        "infra/prod/b.tfvars",
        "--var",
        "region=eu-west-1",
        "--teardown-var",
        "allow_destroy_for_tests=true",
        "--container",
        "api=python -m app",
        "--container",
        "worker=python -m worker",
        "--prerequisites",
        "infra/zone",
        "--app-dir",
        "services",
        "--fail-on",
        "medium",
        "--baseline",
        "infra/prod/baseline.json",
        "--write-baseline",
        "infra/prod/next-baseline.json",
    ]


@pytest.mark.parametrize(("status", "expected"), [("0", 0), ("1", 1), ("2", 2), ("", 3)])
def test_last_step_exits_with_stackprobes_status(tmp_path: Path, status: str, expected: int) -> None:
    step = next(s for _, s in all_steps(load(ACTION)) if s.get("name") == "Exit with stackprobe's status")
    result, _ = _run_step(step, {"STATUS": status}, tmp_path, tmp_path / "out")
    assert result.returncode == expected, result.stdout + result.stderr


def _git(repo: Path, *argv: str) -> None:
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t"}
    identity |= {"GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    subprocess.run(["git", "-C", str(repo), *argv], env=identity, check=True, capture_output=True, timeout=30)


@pytest.mark.parametrize(
    ("changed", "roots"),
    [
        ("infra/prod/main.tf", '["infra/prod"]'),
        ("infra/modules/vpc/main.tf", '["infra/prod","infra/staging"]'),
        ("infra/production-notes.md", "[]"),
        ("README.md", "[]"),
    ],
)
def test_template_verifies_the_changed_roots(tmp_path: Path, changed: str, roots: str) -> None:
    """The template's `changes` job on a pull request's merge commit (HEAD^1 is the base branch)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("base\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / changed).parent.mkdir(parents=True, exist_ok=True)
    (repo / changed).write_text("changed\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "change")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge", "feature")
    workflow = load(EXAMPLE)
    env = {k: str(v) for k, v in workflow["env"].items()} | {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    result, outputs = _run_step(step_by_id(workflow, "roots"), env, repo, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["roots"] == roots
    assert outputs["any"] == ("false" if roots == "[]" else "true")


# -- docs/ci.md documents every input as action.yml declares it --------------------------------------------


def inputs_table(action: Workflow) -> list[str]:
    """The Markdown table docs/ci.md must hold, generated from action.yml."""
    lines = ["| Input | Required | Default | Description |", "|---|---|---|---|"]
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", ""))
        lines.append(
            f"| `{name}` | {'yes' if spec.get('required') else 'no'} | {f'`{default}`' if default else ''} | "
            f"{' '.join(str(spec['description']).split())} |"
        )
    return lines


def test_ci_doc_documents_every_input_as_declared() -> None:
    expected = "\n".join(inputs_table(load(ACTION)))
    assert expected in CI_DOC.read_text(encoding="utf-8"), (
        f"docs/ci.md's inputs table differs from action.yml; replace it with:\n\n{expected}\n"
    )


def test_inputs_table_changes_with_the_action() -> None:
    action = load(ACTION)
    before = inputs_table(action)
    action["inputs"]["directory"]["description"] = "something else"
    assert inputs_table(action) != before


# -- pre-commit ------------------------------------------------------------------------------------------

REQUIRED_HOOKS = {
    "https://github.com/antonbabenko/pre-commit-terraform": {
        "terraform_fmt",
        "terraform_validate",
        "terraform_tflint",
        "terraform_checkov",
    },
    "https://github.com/astral-sh/ruff-pre-commit": {"ruff", "ruff-format"},
    "local": {"mypy"},
}


def pre_commit_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    repos = {str(r.get("repo")): r for r in config.get("repos", []) if isinstance(r, dict)}
    for url, wanted in REQUIRED_HOOKS.items():
        repo = repos.get(url)
        if repo is None:
            problems.append(f"{url}: not configured")
            continue
        ids = {str(h.get("id")) for h in repo.get("hooks", []) if isinstance(h, dict)}
        if missing := sorted(wanted - ids):
            problems.append(f"{url}: hooks {missing} missing")
        if url != "local":
            rev = str(repo.get("rev", ""))
            if not re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", rev):
                problems.append(f"{url}: rev {rev!r} is not a release tag or commit SHA")
    return problems


def test_pre_commit_config_has_the_hooks() -> None:
    config = yaml.safe_load(PRE_COMMIT_CONFIG.read_text(encoding="utf-8"))
    assert pre_commit_problems(config) == []
    broken = copy.deepcopy(config)
    broken["repos"][0]["rev"] = "master"
    broken["repos"][1]["hooks"] = [{"id": "ruff"}]
    assert len(pre_commit_problems(broken)) == 2
