"""The GitHub workflows and the pre-commit config: schema-valid, zizmor-clean, pinned, OIDC-only.

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
WORKFLOW_FILES = (INFRA_PR, DEPLOY)
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
    for job_id, job in jobs(workflow).items():
        for step in steps(job):
            yield job_id, step


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
]


@pytest.mark.parametrize(("path", "checker"), [(p[1], p[2]) for p in PROPERTIES], ids=[p[0] for p in PROPERTIES])
def test_committed_workflow_has_the_property(path: Path, checker: Checker) -> None:
    assert checker(load(path)) == []


@pytest.mark.parametrize(("path", "checker", "mutate"), [p[1:] for p in PROPERTIES], ids=[p[0] for p in PROPERTIES])
def test_property_check_catches_a_broken_copy(path: Path, checker: Checker, mutate: Callable[[Workflow], None]) -> None:
    workflow = copy.deepcopy(load(path))
    mutate(workflow)
    assert checker(workflow), "the checker found nothing wrong with a workflow broken on purpose"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_static_aws_credentials_anywhere(path: Path) -> None:
    assert static_credentials(path.read_text(encoding="utf-8")) == []
    assert static_credentials(f"with:\n  aws-access-key-id: {EXAMPLE_KEY}\n")


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
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
    result = _check_jsonschema(list(WORKFLOW_FILES), schema)
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
