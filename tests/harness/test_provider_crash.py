"""A provider crash reads as one, and the request it crashed on is printed with it.

The AWS provider panics on some emulator answers AWS would never give (an empty ECS networkConfiguration
did: `ecs-service-empty-network-configuration`). Terraform's Error paragraphs then say only "Plugin did not
respond" and "the plugin crashed!", which sends the user to the provider's bug tracker; the panic itself is
outside them. A stand-in `terraform` prints what the real one printed for that crash
(tests/fixtures/provider_crash/apply_ecs_service.txt), and the embedded moto serves requests with the real
provider's user agent, so no provider has to crash here.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.moto import EmbeddedMoto
from stackprobe.backends.request_log import ERRORS_KEPT, TERRAFORM, RequestLog, RequestRecord
from stackprobe.errors import TerraformFailed
from stackprobe.lifecycle.prepared import Preparation, PreparedStack
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.binary import TerraformBinary
from stackprobe.terraform.crash import FRAMES_SHOWN, ProviderCrashed, provider_crash
from stackprobe.terraform.mirror import ProviderSource
from stackprobe.terraform.runner import TerraformRunner
from stackprobe.terraform.workspace import create_workspace

pytestmark = pytest.mark.harness

CRASH_OUTPUT = Path(__file__).parents[1] / "fixtures" / "provider_crash" / "apply_ecs_service.txt"
# The user agent the AWS provider 5.100 sends (recorded from a real apply).
PROVIDER_AGENT = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) terraform-provider-aws/5.100.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.23.10"
)


def _runner(tmp_path: Path, apply_prints: Path) -> TerraformRunner:
    """A runner whose terraform prints `apply_prints` to stderr and exits 1 from apply."""
    script = tmp_path / "terraform"
    script.write_text(f'#!/bin/sh\ncase "$1" in apply) cat {apply_prints} >&2; exit 1;; esac\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    source = tmp_path / "config"
    source.mkdir()
    (source / "main.tf").write_text('resource "aws_ecs_service" "web" {}\n')
    backend = AwsBackend(name="moto", endpoint="http://127.0.0.1:1", region="eu-west-1", account_id="123456789012")
    workspace = create_workspace(source, tmp_path / "work", endpoint=backend.endpoint, access_key="x", secret_key="y")
    return TerraformRunner(
        workspace, TerraformBinary(str(script), "terraform", (1, 11, 4)), backend, ProviderSource(None), tmp_path
    )


def test_a_provider_crash_says_so_with_the_panic_and_its_first_frames(tmp_path: Path) -> None:
    with pytest.raises(ProviderCrashed) as raised:
        _runner(tmp_path, CRASH_OUTPUT).apply({})

    error = raised.value
    assert error.problem == (
        "`terraform apply` failed (exit 1): "
        "the provider terraform-provider-aws_v5.100.0_x5 crashed on an emulator answer"
    )
    assert error.detail.startswith(
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "  at ecs.flattenNetworkConfiguration (ecs/service.go:2141)\n"
        "  at ecs.resourceServiceRead (ecs/service.go:1388)\n"
        "  at ecs.resourceServiceCreate (ecs/service.go:1315)\n"
    )
    assert len(error.crash.frames) == FRAMES_SHOWN
    # Each interrupted resource is still named (the partial report lists them), without terraform's boilerplate.
    assert "Error: Plugin did not respond\nwith aws_ecs_service.web," in error.detail
    assert "The plugin encountered an error" not in error.detail
    assert "report the crash with the plugin's maintainers" not in str(error)
    assert "nothing to fix in the stack" in error.remedy and "emulator's request log" in error.remedy
    assert "goroutine 129 [running]:" in error.output, "the whole trace stays in the transcript"


def test_an_explicit_panic_shows_the_provider_frames_not_gos_runtime() -> None:
    output = (
        "Stack trace from the terraform-provider-aws_v5.100.0_x5 plugin:\n\n"
        "panic: interface conversion: interface {} is nil, not map[string]interface {}\n\n"
        "goroutine 7 [running]:\n"
        "panic({0x1a2b3c4, 0xc0001})\n\t/usr/local/go/src/runtime/panic.go:791 +0x132\n"
        "github.com/hashicorp/terraform-provider-aws/internal/service/sqs.flattenRedrive(...)\n"
        "\tgithub.com/hashicorp/terraform-provider-aws/internal/service/sqs/queue.go:880 +0x1c\n"
        "created by google.golang.org/grpc.(*Server).serveStreams.func2 in goroutine 26\n"
        "\tgoogle.golang.org/grpc@v1.72.0/server.go:1046 +0x125\n\n"
        "Error: The terraform-provider-aws_v5.100.0_x5 plugin crashed!\n"
    )

    crash = provider_crash(output)

    assert crash is not None
    assert crash.panic == "panic: interface conversion: interface {} is nil, not map[string]interface {}"
    assert crash.frames == ("sqs.flattenRedrive (sqs/queue.go:880)",)


def test_an_error_of_the_stack_is_no_crash(tmp_path: Path) -> None:
    output = tmp_path / "error.txt"
    output.write_text(
        "Error: creating ECS Service (web): operation error ECS: CreateService, ClusterNotFoundException\n\n"
        '  with aws_ecs_service.web,\n  on main.tf line 1, in resource "aws_ecs_service" "web":\n'
    )

    with pytest.raises(TerraformFailed) as raised:
        _runner(tmp_path, output).apply({})

    assert not isinstance(raised.value, ProviderCrashed)
    assert provider_crash(raised.value.output) is None


@pytest.fixture
def moto() -> Iterator[EmbeddedMoto]:
    emulator = EmbeddedMoto()
    emulator.start()
    yield emulator
    emulator.stop()


def _as_provider(backend: AwsBackend, service: str) -> Any:
    """A client that identifies itself as the AWS provider does."""
    return backend.session().client(  # type: ignore[call-overload]
        service, endpoint_url=backend.endpoint, config=Config(user_agent=PROVIDER_AGENT)
    )


def test_the_failure_names_the_request_the_provider_crashed_on_after_stackprobes_own_reads(
    moto: EmbeddedMoto, tmp_path: Path
) -> None:
    """After a failed apply, stackprobe judges the partial stack with many reads before the failure is printed:
    they must not push the provider's last request out of the tail."""
    assert moto.backend is not None
    ecs = _as_provider(moto.backend, "ecs")
    ecs.create_cluster(clusterName="crash")
    ecs.describe_clusters(clusters=["crash"])
    for _ in range(30):
        moto.backend.client("ec2").describe_vpcs()
    prepared = PreparedStack(StackSpec(tf_dir=tmp_path), moto.backend, tmp_path, Preparation(RunSettings()), moto)
    crash = provider_crash(CRASH_OUTPUT.read_text())
    assert crash is not None

    context = prepared.failure_context(ProviderCrashed(crash, "apply failed", "", ""), "verify", talked=True)

    crashed_on = "AmazonEC2ContainerServiceV20141113.DescribeClusters (0."
    remedy = context.split("Remedy:", 1)[1].split("\n\n", 1)[0]
    assert "answer to its last request `" in remedy and crashed_on in remedy and "[terraform]" in remedy
    tail = context.split("Last requests served by the emulator:\n", 1)[1].splitlines()
    assert crashed_on in tail[0] and tail[0].endswith("[terraform]"), tail
    assert tail[1] == "  ... 15 requests not shown (boto3: 15)", tail
    assert len(tail) == 2 + 15 and all("DescribeVpcs (" in line and line.endswith("[boto3]") for line in tail[2:])


def test_the_tail_keeps_older_error_answers(moto: EmbeddedMoto) -> None:
    assert moto.backend is not None
    sqs = _as_provider(moto.backend, "sqs")
    for index in range(ERRORS_KEPT + 1):
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName=f"missing-{index}")
    for _ in range(20):
        sqs.list_queues()

    tail = moto.request_log.render_tail(10).splitlines()

    errors = [line for line in tail if " 400 " in line]
    assert len(errors) == ERRORS_KEPT, tail
    assert all("QueueDoesNotExist" in line or "NonExistentQueue" in line for line in errors), errors
    assert tail[ERRORS_KEPT].startswith("  ... 10 requests not shown (terraform: 10)"), tail
    assert len(tail) == ERRORS_KEPT + 1 + 10


def test_the_last_request_of_a_client_is_found_and_a_full_tail_has_no_gap() -> None:
    log = RequestLog()
    for index, client in enumerate([TERRAFORM, TERRAFORM, "boto3"]):
        log.add(RequestRecord(time.time(), "POST", "h", "/", f"Op{index}", 200, 0.0, client=client))

    last = log.last_request(TERRAFORM)

    assert last is not None and last.operation == "Op1"
    assert log.last_request("curl") is None
    assert [line.split()[4] for line in log.render_tail(5).splitlines()] == ["Op0", "Op1", "Op2"]
