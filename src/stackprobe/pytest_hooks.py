"""Hooks the stackprobe pytest plugin calls, for a conftest.py to implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackprobe.aws.clients import AwsClients
    from stackprobe.settings import StackSpec


def pytest_stackprobe_prerequisites(aws: AwsClients, spec: StackSpec) -> None:
    """Create, with boto3, what the stack under test expects to exist already (an existing VPC, a
    certificate, a hosted zone), before its first plan. Called once per session; what it creates is
    part of the account the stack is deployed into, and is not judged as the stack's own.
    """
