"""The one place a CheckContext is built from a deployed stack.

The CLI's pipeline, the pytest plugin's `check_context` fixture and the mutation runner all judge a
deployed stack with the same inputs: its backend, plan, state and outputs, the configuration it came
from (declared requirements, configuration-level checks), how the user asked for its containers to be
run locally, and the stand-ins the emulator holds (never judged as the stack's own). Built here, none
of them can leave one out.
"""

from __future__ import annotations

from stackprobe.backends.stand_ins import registered
from stackprobe.checks.base import CheckContext
from stackprobe.lifecycle.datastores import datastores_for
from stackprobe.lifecycle.deployment import DeployedStack
from stackprobe.settings import CheckSettings, load_requirements


def build_context(deployed: DeployedStack, settings: CheckSettings) -> CheckContext:
    """A CheckContext for `deployed` as it is now (the state is read again on each call: mutants change it)."""
    deployment = deployed.owner
    return CheckContext(
        backend=deployed.backend,
        plan=deployed.plan,
        state=deployment.state(),
        outputs=deployed.outputs,
        source_dir=deployment.spec.tf_dir,
        var_files=deployment.spec.var_files,
        work_dir=deployment.prepared.workspace().module_dir,
        app_dir=settings.app_dir,
        container_commands=dict(settings.container_commands),
        environment=settings.environment,
        requirements=load_requirements(deployment.spec.tf_dir),
        reduced_stack=settings.reduced_stack,
        # Every stand-in the emulator holds, this stack's or another's (a plan of another configuration made some).
        stand_ins={name: made.reason() for made in registered(deployed.backend.endpoint) for name in made.identifiers},
        datastores=datastores_for(deployed, settings),
    )
