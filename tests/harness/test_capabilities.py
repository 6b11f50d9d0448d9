"""Capability detection from LocalStack's health and info endpoints, what a plan needs, and licence messages.

The HTTP answers are served by a throwaway server on loopback, with bodies taken from real LocalStack
answers (the community runtime 2026.3.0 on this host, and a Pro instance's published output).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.capabilities import (
    PAID_TIER_SERVICES,
    PROVIDER_PSEUDO_TYPE,
    RESOURCE_SERVICES,
    Capabilities,
    detect,
    from_bodies,
    licence_error,
    licence_problem,
    missing_services,
    services_needed,
    unknown_types,
)
from stackprobe.errors import BackendError

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]

# /_localstack/health of localstack-core 2026.3.0 in host mode (verbatim, as served on this machine).
COMMUNITY_SERVICES = [
    "acm", "apigateway", "cloudformation", "cloudwatch", "config", "dynamodb", "dynamodbstreams", "ec2",
    "es", "events", "firehose", "iam", "kinesis", "kms", "lambda", "logs", "opensearch", "redshift",
    "resource-groups", "resourcegroupstaggingapi", "route53", "route53resolver", "s3", "s3control",
    "scheduler", "secretsmanager", "ses", "sns", "sqs", "ssm", "stepfunctions", "sts", "support", "swf",
    "transcribe",
]  # fmt: skip
COMMUNITY_HEALTH = {
    "services": dict.fromkeys(COMMUNITY_SERVICES, "available"),
    "edition": "unknown",
    "version": "2026.3.0",
}
COMMUNITY_INFO = {"version": "2026.3.0", "edition": "unknown", "is_license_activated": False, "is_docker": True}
PRO_HEALTH = {
    "features": {"persistence": "disabled"},
    "services": {
        **dict.fromkeys(COMMUNITY_SERVICES, "available"),
        "ecs": "running",
        "ecr": "available",
        "elbv2": "available",
        "rds": "available",
        "application-autoscaling": "available",
    },
    "edition": "pro",
    "version": "2026.7.5",
}
PRO_INFO = {"version": "2026.7.5:beafe195a", "edition": "pro", "is_license_activated": True}


class FakeLocalStack:
    """A loopback HTTP server answering GET paths with canned (status, JSON body) pairs."""

    def __init__(self, routes: Mapping[str, tuple[int, Any]]) -> None:
        self.routes = dict(routes)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = owner.routes.get(self.path, (404, {"error": "not found"}))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[FakeLocalStack] = []

    def start(routes: Mapping[str, tuple[int, Any]]) -> FakeLocalStack:
        servers.append(FakeLocalStack(routes))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def community() -> Capabilities:
    return from_bodies("http://127.0.0.1:4566", COMMUNITY_HEALTH, COMMUNITY_INFO)


# -- parsing ---------------------------------------------------------------------------------------


def test_community_health_lists_the_free_services_only() -> None:
    caps = community()
    assert {"s3", "sqs", "kms", "sts", "iam", "ec2", "logs", "cloudwatch", "secretsmanager"} <= caps.services
    assert not {"ecs", "rds", "elbv2", "ecr", "application-autoscaling"} & caps.services
    assert caps.version == "2026.3.0"
    assert caps.licensed is False


def test_pro_info_gives_edition_licence_and_plain_version(serve: Any) -> None:
    fake = serve({"/_localstack/health": (200, PRO_HEALTH), "/_localstack/info": (200, PRO_INFO)})
    caps = detect(fake.url)
    assert (caps.edition, caps.version, caps.licensed) == ("pro", "2026.7.5", True)
    assert {"ecs", "rds", "elbv2", "s3"} <= caps.services
    assert caps.endpoint == fake.url
    assert "pro 2026.7.5" in caps.describe() and "licence activated" in caps.describe()


def test_unusable_states_are_not_served() -> None:
    health = {"services": {"s3": "running", "sqs": "disabled", "kms": "error", "sns": "starting", "iam": "stopped"}}
    caps = from_bodies("http://127.0.0.1:1", health, None)
    assert caps.services == frozenset({"s3", "sns"})
    assert "SERVICES" in caps.hint("sqs")
    assert "'error'" in caps.hint("kms") and "log" in caps.hint("kms")


def test_missing_info_endpoint_leaves_the_licence_unknown(serve: Any) -> None:
    fake = serve({"/_localstack/health": (200, COMMUNITY_HEALTH)})
    caps = detect(fake.url)
    assert caps.licensed is None
    assert caps.version == "2026.3.0"  # from the health body
    assert "s3" in caps.services


def test_something_that_is_not_localstack_gives_a_remedy(serve: Any) -> None:
    fake = serve({"/_localstack/health": (200, {"status": "ok"})})  # e.g. another tool's health route
    with pytest.raises(BackendError) as error:
        detect(fake.url)
    message = str(error.value)
    assert f"No LocalStack answers at {fake.url}/_localstack/health" in message
    assert "Remedy:" in message and "--stackprobe-endpoint" in message and "moto" in message


def test_nothing_listening_gives_a_remedy() -> None:
    with pytest.raises(BackendError) as error:
        detect("http://127.0.0.1:9", timeout=1)
    assert "Remedy:" in str(error.value)


# -- hints -------------------------------------------------------------------------------------------


def test_paid_tier_hint_names_the_token_the_pro_image_and_moto() -> None:
    hint = community().hint("ecs")
    assert hint == (
        "ecs is a paid-tier LocalStack service: set LOCALSTACK_AUTH_TOKEN and use the Pro image, "
        "or use the embedded moto backend"
    )


def test_unlicensed_pro_hint_says_the_token_is_not_activated() -> None:
    caps = from_bodies(
        "http://127.0.0.1:1", {"services": {"s3": "available"}}, {"edition": "pro", "is_license_activated": False}
    )
    assert "no activated licence" in caps.hint("rds") and "LOCALSTACK_AUTH_TOKEN" in caps.hint("rds")


def test_licensed_pro_without_a_paid_service_does_not_ask_for_a_token() -> None:
    caps = from_bodies("http://127.0.0.1:1", {"services": {"s3": "available"}}, PRO_INFO)
    assert "LOCALSTACK_AUTH_TOKEN" not in caps.hint("ecs") and "2026.7.5" in caps.hint("ecs")


def test_unknown_service_hint_names_the_version() -> None:
    assert community().hint("qbusiness") == (
        "LocalStack unknown 2026.3.0 does not list qbusiness: use the embedded moto backend"
    )


def test_hints_cover_only_missing_services() -> None:
    hints = community().hints(["s3", "ecs", "rds", "sqs"])
    assert set(hints) == {"ecs", "rds"}


# -- what a plan needs -------------------------------------------------------------------------------


def test_every_resource_type_under_terraform_is_in_the_table() -> None:
    found: set[str] = set()
    for tf_file in (REPO / "terraform").rglob("*.tf"):
        for match in re.finditer(r'^\s*(resource|data)\s+"([a-z0-9_]+)"', tf_file.read_text(), re.MULTILINE):
            found.add(match.group(2) if match.group(1) == "resource" else f"data.{match.group(2)}")
    assert found, "no .tf files found under terraform/"
    assert sorted(found - set(RESOURCE_SERVICES)) == []


def test_services_needed_groups_types_and_always_includes_sts() -> None:
    needed = services_needed(
        ["aws_s3_bucket", "aws_s3_bucket_policy", "aws_ecs_service", "data.aws_iam_policy_document", "aws_lb"]
    )
    assert needed == {
        "ecs": ["aws_ecs_service"],
        "elbv2": ["aws_lb"],
        "s3": ["aws_s3_bucket", "aws_s3_bucket_policy"],
        "sts": [PROVIDER_PSEUDO_TYPE],
    }


def test_unknown_types_are_reported_not_guessed() -> None:
    assert unknown_types(["aws_s3_bucket", "aws_made_up_thing"]) == ["aws_made_up_thing"]
    assert "aws_made_up_thing" not in str(services_needed(["aws_made_up_thing"]))


def test_missing_services_for_the_repository_stack_on_community() -> None:
    types = [t for t in RESOURCE_SERVICES if not t.startswith("data.")]
    missing = missing_services(community(), types)
    assert {"ecs", "elbv2", "rds", "ecr", "application-autoscaling"} <= set(missing)
    assert missing["rds"] and all(t.startswith(("aws_db_", "aws_rds_")) for t in missing["rds"])
    assert not {"s3", "sqs", "kms", "iam", "sts", "logs"} & set(missing)
    assert set(missing) <= PAID_TIER_SERVICES | {"elb"}


def test_nothing_is_missing_on_a_licensed_pro_for_its_services() -> None:
    pro = from_bodies("http://127.0.0.1:1", PRO_HEALTH, PRO_INFO)
    assert missing_services(pro, ["aws_ecs_service", "aws_db_instance", "aws_s3_bucket"]) == {}


# -- licence messages --------------------------------------------------------------------------------

# As printed by localstack/localstack:latest (2026.3.1.dev3) started without a token.
MISSING_TOKEN_LOG = """
LocalStack version: 2026.3.1.dev3
LocalStack build date: 2026-03-23
LocalStack build git hash: 6114fb260

Localstack returning with exit code 55. Reason:
===============================================
The license activation failed for the following reason:

No credentials were found in the environment. Please make sure to either set the LOCALSTACK_AUTH_TOKEN variable to a valid auth token. If you are using the CLI, you can also run `localstack auth set-token`.

LocalStack requires an account to run.
"""  # noqa: E501
# The wording of an image that rejects the token it was given.
INVALID_TOKEN_LOG = """
===============================================
License activation failed! 🔑❌

Reason: The credentials defined in your environment are invalid. Please make sure to either set the LOCALSTACK_AUTH_TOKEN variable to a valid auth token, or the LOCALSTACK_API_KEY variable to a valid LocalStack API key.

Due to this error, Localstack has quit. LocalStack pro features can only be used with a valid license.
"""  # noqa: E501


def test_missing_token_is_recognised_and_explained() -> None:
    problem = licence_problem(MISSING_TOKEN_LOG)
    assert problem is not None and problem.kind == "missing-token"
    assert problem.reason.startswith("No credentials were found in the environment.")
    message = str(licence_error(problem, "localstack/localstack:latest"))
    assert message.startswith("The LocalStack image localstack/localstack:latest quit at start because no auth token")
    assert "Remedy: set LOCALSTACK_AUTH_TOKEN" in message
    assert "host mode" in message and "--stackprobe-backend=moto" in message


def test_a_single_log_line_is_enough() -> None:
    line = "License activation failed! Reason: No credentials were found in the environment."
    problem = licence_problem(line)
    assert problem is not None and problem.kind == "missing-token"


def test_invalid_token_is_recognised_and_explained() -> None:
    problem = licence_problem(INVALID_TOKEN_LOG)
    assert problem is not None and problem.kind == "invalid-token"
    assert problem.reason.startswith("The credentials defined in your environment are invalid.")
    message = str(licence_error(problem, "localstack/localstack-pro:latest"))
    assert "auth token was rejected" in message and "check LOCALSTACK_AUTH_TOKEN" in message


def test_other_licence_failures_are_still_named() -> None:
    log = "Localstack returning with exit code 55. Reason:\n====\nThe license activation failed for the following reason:\n\nNo license assigned to this workspace.\n"  # noqa: E501
    problem = licence_problem(log)
    assert problem is not None and problem.kind == "licence"
    assert problem.reason == "No license assigned to this workspace."
    assert "licence could not be activated" in str(licence_error(problem, "img"))


def test_an_ordinary_log_is_not_a_licence_problem() -> None:
    assert licence_problem("LocalStack version: 2026.3.0\nReady.\n") is None
