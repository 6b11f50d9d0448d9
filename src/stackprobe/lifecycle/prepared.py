"""One configuration, prepared to run on one emulator: its private copy, its digest, its initialised terraform.

A `PreparedStack` never applies or destroys anything (a `Deployment` does, see deployment.py). What it
offers is everything that needs no state: the workspace copy with the emulator's overrides, the digest
that keys plans and live sessions, `terraform init` (done once, lazily), and the pre-apply plan for
readers (from the plan store when one with the same digest is published, else computed here). Its
variables are the spec's own, plus what its prerequisites give it (their outputs, named like its declared
variables): the names are known from the configurations, the values only once the run has deployed the
prerequisites, which it does on the first command that needs them, so a plan the store holds needs no
prerequisites at all. Each terraform command is handed the variables; nothing mutates them.

The order a user relies on: the workspace, init and the guard come before anything talks to the
emulator; the plan is watched for calls that keep failing for something the stack does not create
(stackprobe.lifecycle.external).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from stackprobe.backends.base import AwsBackend, Emulator
from stackprobe.backends.guard import check_caller_identity, check_pinned
from stackprobe.backends.request_log import TERRAFORM, RequestLog
from stackprobe.backends.stand_ins import StandIn
from stackprobe.errors import StackprobeError, TerraformFailed
from stackprobe.lifecycle.digest import StackDigest, configuration_digest, tools_digest
from stackprobe.lifecycle.external import Watch
from stackprobe.lifecycle.plan_store import PlanStore, plan_key
from stackprobe.lifecycle.stand_ins import failure_hints, held, named_arns, stand_ins_for
from stackprobe.settings import Pairs, RunSettings, StackSpec, normalise_pairs
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.crash import ProviderCrashed
from stackprobe.terraform.fallback import ProviderFallback, fallbacks
from stackprobe.terraform.mirror import ProviderSource, ProviderSources
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.runner import TALKS_TO_AWS, TerraformRunner
from stackprobe.terraform.workspace import Workspace, create_workspace

LOG = logging.getLogger("stackprobe.lifecycle")
T = TypeVar("T")


@dataclass(frozen=True)
class Preparation:
    """How a stack is prepared: who prints terraform's lines, where plans are shared, at what CPU priority."""

    settings: RunSettings
    plans: PlanStore | None = None
    on_output: Callable[[str], None] | None = None
    # The CPU priority of this stack's terraform commands (0: the caller's; see TerraformRunner).
    niceness: int = 0
    # False when the workspace goes with the run (the CLI's temporary directory): a failure report must
    # then not send the user to it.
    workspace_outlives_run: bool = True
    # Shared by every stack prepared this way (a copy made by `replace` shares it too).
    sources: ProviderSources = field(default_factory=ProviderSources, compare=False)
    # Called before the stack's first terraform command: the run starts its emulator's warm-up then
    # (stackprobe.lifecycle.emulation), and not for a stack whose plan is only read from the store.
    before_terraform: Callable[[], None] = field(default=lambda: None, compare=False)


@dataclass(frozen=True)
class Prerequisites:
    """What a stack's prerequisites give it, as the run that orders them first offers it.

    `names`: the variables they set, known from the two configurations (their outputs that the stack
    declares and the spec does not set itself); `digest`: their configuration's and tools' digest; both
    without terraform. `outputs` deploys them (once, on the run's emulator) and returns their outputs as
    variable values: fresh ids each run, which is why a stored plan is keyed by the names and not the values.
    """

    names: tuple[str, ...]
    digest: Callable[[], StackDigest]
    outputs: Callable[[], Mapping[str, str]]


@dataclass
class PreparedStack:
    """A spec's workspace on one backend, initialised on first need; see the module docstring."""

    spec: StackSpec
    backend: AwsBackend
    work_dir: Path
    how: Preparation
    emulator: Emulator | None = None
    # What the run gives this stack beyond its spec (see Prerequisites); the spec's own variables win.
    prerequisites: Prerequisites | None = None
    _given: Pairs | None = field(default=None, init=False, repr=False)
    _workspace: Workspace | None = field(default=None, init=False, repr=False)
    _runner: TerraformRunner | None = field(default=None, init=False, repr=False)
    _digest: StackDigest | None = field(default=None, init=False, repr=False)
    _configuration: str | None = field(default=None, init=False, repr=False)
    _plan_json: Plan | None = field(default=None, init=False, repr=False)
    _own_plan: Plan | None = field(default=None, init=False, repr=False)
    _named_arns: dict[str, str] | None = field(default=None, init=False, repr=False)
    # What the configuration names but does not create, and what became of each (stackprobe.lifecycle.stand_ins).
    stand_ins: list[StandIn] = field(default_factory=list, init=False, repr=False)

    @property
    def given(self) -> Pairs:
        """The prerequisites' outputs this stack is given (deploying them on first call, see Prerequisites)."""
        if self._given is None:
            if self.prerequisites is None:
                self._given = ()
            else:
                outputs = self.prerequisites.outputs()
                names = self.prerequisites.names
                self._given = normalise_pairs({name: outputs[name] for name in names if name in outputs})
                passed = ", ".join(name for name, _ in self._given) or "no variable"
                LOG.info("prerequisites %s give %s", self.spec.prerequisites, passed)
        return self._given

    @property
    def variables(self) -> dict[str, str]:
        """Every -var this stack's commands get: what the run gave, under the spec's own."""
        self.given  # noqa: B018 - deploys the prerequisites if their values are not known yet
        return self.known_variables()

    def known_variables(self) -> dict[str, str]:
        """The variables as far as they are known without deploying anything (for a report after a failure)."""
        return dict(normalise_pairs([*(self._given or ()), *self.spec.variables]))

    # -- the copy and its digest (no terraform) -------------------------------------------------------
    def workspace(self) -> Workspace:
        """The copy of the configuration with the emulator's overrides (no terraform runs here)."""
        if self._workspace is None:
            missing = [p for p in self.spec.var_files if not p.is_file()]
            if missing:
                raise StackprobeError(
                    f"Variable file {missing[0]} does not exist",
                    "pass an existing .tfvars file with --var-file (paths are relative to the current directory).",
                )
            self.work_dir.mkdir(parents=True, exist_ok=True)
            workspace = create_workspace(
                self.spec.tf_dir,
                self.work_dir,
                endpoint=self.backend.endpoint,
                access_key=self.backend.access_key,
                secret_key=self.backend.secret_key,
                include=self.spec.include,
            )
            # Taken now, from the pristine copy: init adds a lock file and `.terraform` to it.
            self._configuration = configuration_digest(workspace, self.spec)
            self._workspace = workspace
        return self._workspace

    def adopt(self, workspace: Workspace, digest: StackDigest) -> None:
        """Take a workspace made earlier (a live session's kept one) instead of copying afresh."""
        self._workspace = workspace
        self._configuration = digest.configuration
        self._digest = digest
        # A live session's stand-ins were made when it started; its emulator lists them.
        self.stand_ins = held(self.backend.endpoint) if self.how.settings.stand_ins else []

    @property
    def provider_source(self) -> ProviderSource:
        return self.how.sources.resolve(self.how.settings.provider_mirror)  # resolved once per run

    def digest(self) -> StackDigest:
        """The configuration's and the tools' digest, as this stack's workspace was copied."""
        if self._digest is None:
            self.workspace()
            assert self._configuration is not None, "set when the workspace is copied"
            tools = tools_digest(self.how.settings.terraform_binary, self.provider_source.mirror)
            self._digest = StackDigest(configuration=self._configuration, tools=tools)
        return self._digest

    def plan_key(self) -> str:
        settings = self.how.settings
        given = self.prerequisites
        return plan_key(
            self.digest(),
            self.backend.name,
            self.backend.region,
            stand_ins=settings.stand_ins,
            provider_fallback=settings.provider_fallback,
            prerequisites=(given.digest(), given.names) if given is not None else None,
        )

    # -- terraform ---------------------------------------------------------------------------------------
    def runner(self) -> TerraformRunner:
        """The initialised terraform of this workspace (init runs on first call). Nothing here talks to the
        emulator except the identity check of the guard."""
        if self._runner is None:
            self.how.before_terraform()
            runner = TerraformRunner(
                self.workspace(),
                find_binary(self.how.settings.terraform_binary),
                self.backend,
                self.provider_source,
                self.how.settings.cache_dir,
                var_files=list(self.spec.var_files),
                timeouts={"apply": self.how.settings.apply_timeout, "destroy": self.how.settings.apply_timeout},
                parallelism=self.how.settings.parallelism,
                on_output=self.how.on_output,
                niceness=self.how.niceness,
                provider_fallback=self.how.settings.provider_fallback,
            )
            runner.init()
            self._runner = runner
        return self._runner

    @property
    def initialised(self) -> bool:
        return self._runner is not None

    def provider_fallbacks(self) -> list[ProviderFallback]:
        """The providers this stack is tested with at another version than it asks (--provider-fallback only).

        What init pinned; without an init (a live session's kept copy, taken as it is, runs no terraform), what
        init decides from the same configuration, lock file and mirror.
        """
        if self._runner is not None:
            return list(self._runner.fallbacks)
        return fallbacks(self.workspace(), self.provider_source) if self.how.settings.provider_fallback else []

    def check_guard(self) -> None:
        check_pinned(self.backend, self.runner().environ())
        check_caller_identity(self.backend)

    def watched(self, command: Callable[[], T]) -> T:
        """Run a terraform command, stopped early if it keeps asking for something the stack does not
        create (see stackprobe.lifecycle.external); only an emulator in this process has the log to read."""
        log = getattr(self.emulator, "request_log", None)
        if not isinstance(log, RequestLog):
            return command()
        runner = self.runner()
        if self._named_arns is None:
            self._named_arns = named_arns(self.spec, self.variables, self.backend)
        with Watch(log, time.time(), self.backend.account_id, runner.interrupt, self._named_arns) as watch:
            try:
                return command()
            except TerraformFailed as exc:
                if watch.found is not None:
                    raise watch.found.error_for(self.spec.name) from exc
                raise

    # -- the pre-apply plan ----------------------------------------------------------------------------
    def _plan_here(self) -> Plan:
        runner = self.runner()
        check_caller_identity(self.backend)
        if self.how.settings.stand_ins and self.emulator is not None:
            # Before every plan of its own, not once: emptying the emulator before a first apply (see
            # Emulation.ready_for_apply) takes the stand-ins along, and the plan made after it needs them again.
            # A copy for plans has no emulator of its own: it plans against its original's stand-ins.
            self.stand_ins = stand_ins_for(self.spec, self.variables, self.backend, self.emulator)
        return self.watched(lambda: runner.plan(self.variables))

    def own_plan(self, *, fresh: bool = False) -> Plan:
        """A plan computed in this workspace (saved beside it, so a deployment of it may apply it), published to
        the plan store for other readers; `fresh`: plan again (the emulator was emptied since)."""
        if self._own_plan is None or fresh:
            plans = self.how.plans
            self._own_plan = plans.planned(self.plan_key(), self._plan_here) if plans else self._plan_here()
            self._plan_json = self._own_plan
        return self._own_plan

    def plan_json(self) -> Plan:
        """The pre-apply plan's JSON: this workspace's, or one the plan store holds for the same digest.

        For callers that read the plan and never apply it: a warm store answers without terraform, and
        without deploying the prerequisites (the stored plan was made with the same ones, at other ids).
        """
        if self._plan_json is None:
            if self.how.plans is None:
                return self.own_plan()
            self._plan_json = self.how.plans.plan_json(self.plan_key(), self.own_plan)
        return self._plan_json

    def plan_in_progress_elsewhere(self) -> bool:
        """Whether another process is planning this configuration right now (waiting for it is cheap)."""
        return self.how.plans is not None and self.how.plans.in_progress(self.plan_key())

    def planned_regions(self) -> list[str]:
        """The regions the provider blocks name in a plan already at hand (none is made for this)."""
        return sorted(self._plan_json.provider_regions()) if self._plan_json is not None else []

    def regions(self) -> list[str]:
        """Where to look for the stack's resources: the run's region, us-east-1 (global services keep
        their resources there) and every region the configuration's provider blocks name."""
        return list(dict.fromkeys([self.backend.region, "us-east-1", *self.planned_regions()]))

    def plan_variant(self, files: Sequence[tuple[str, str]], variables: Mapping[str, Any]) -> Plan:
        """A plan (no refresh) of this configuration with `files` added and `variables` set, which are gone
        again afterwards. For a copy that is never applied (see `copy_for_plans`)."""
        with planted(self.workspace().module_dir, files):
            return self.runner().plan({**self.variables, **variables}, refresh=False)

    def copy_for_plans(self, name: str) -> PreparedStack:
        """The same stack, with the same variables, in a workspace of its own: for plans only (never applied),
        so its plans may run while a deployment of this one applies."""
        return PreparedStack(self.spec, self.backend, self.work_dir / name, self.how, prerequisites=self.prerequisites)

    # -- reporting ---------------------------------------------------------------------------------------
    def failure_context(self, exc: BaseException | None, command: str, *, talked: bool = False) -> str:
        """What a user needs after a failure: the error with its remedy, the line that reproduces it with the
        `command` the user ran, and, when the emulator was talked to, its last requests (each piece once:
        terraform's diagnostics are in the error). `talked`: something of this stack was applied."""
        parts = [str(exc)] if isinstance(exc, StackprobeError) else []
        log = getattr(self.emulator, "request_log", None)
        if isinstance(exc, ProviderCrashed) and isinstance(log, RequestLog):
            # A log in this process knows who made each request: the remedy names the one the provider crashed on.
            crashed_on = log.last_request(TERRAFORM)
            parts = [exc.naming(crashed_on.line())] if crashed_on is not None else parts
        known = self.known_variables()
        parts += failure_hints(self.spec, known, self.backend, self.stand_ins, self.how.settings.stand_ins)
        parts.append(f"Reproduce: stackprobe {command} {self.spec.cli_arguments()}")
        runner = self._runner
        last = runner.transcript.commands[-1].args[0] if runner and runner.transcript.commands else ""
        if runner is not None:
            if self.how.workspace_outlives_run:
                parts.append(f"Terraform by hand: {runner.command_line(last or 'plan', known)}")
            errors = runner.transcript.errors()
            if errors and not isinstance(exc, TerraformFailed):
                parts.append("Terraform error:\n" + errors)
        if self.emulator is not None and (talked or last in TALKS_TO_AWS):
            parts.append("Last requests served by the emulator:\n" + self.emulator.request_log.render_tail(15))
            exceptions = self.emulator.request_log.render_exceptions()
            if exceptions:
                parts.append("Emulator exceptions:\n" + exceptions)
        return "\n\n".join(parts)


@contextlib.contextmanager
def planted(root: Path, files: Sequence[tuple[str, str]]) -> Iterator[list[Path]]:
    """`files` (path relative to `root`, text) written for the `with` block and removed after it.

    Refuses to overwrite a file that exists: a variant adds to a configuration, it never edits the copy of
    a user's file (a name collision is the caller's bug, and would lose the copy's content).
    """
    written: list[Path] = []
    try:
        for relative, text in files:
            path = root / relative
            if path.exists():
                raise StackprobeError(
                    f"A variant's file {relative} would overwrite the configuration's own",
                    "name the variant's files so they cannot collide (stackprobe's mutants prefix theirs).",
                )
            path.write_text(text, encoding="utf-8")
            written.append(path)
        yield written
    finally:
        for path in written:
            path.unlink(missing_ok=True)


def stack_region(state: Mapping[str, Any], default: str) -> str:
    """The region most of the stack's ARNs name (a stack may set its own region, e.g. from a variable).

    Checks query one region; pointing them at the stack's own region, read from what was deployed,
    works for third-party configurations whose provider region the harness cannot evaluate.
    """
    regions: Counter[str] = Counter()
    for resource in state.get("resources", []):
        for instance in resource.get("instances", []):
            arn = (instance.get("attributes") or {}).get("arn")
            if isinstance(arn, str) and arn.startswith("arn:"):
                parts = arn.split(":")
                if len(parts) > 3 and parts[3]:
                    regions[parts[3]] += 1
    return regions.most_common(1)[0][0] if regions else default
