"""What a failed terraform command tells the user to do.

The emulator starts empty, so a stack that reads an object by an id it was given (a hosted zone, a VPC,
a certificate) fails with the provider's "couldn't find resource". The remedy then names the id, the var
file line that gave it, and how to create the object first; any other failure points at terraform's error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.terraform.runner import READ_THE_ERROR, failure_remedy

pytestmark = pytest.mark.harness

ZONE_NOT_FOUND = (
    "Error: reading Route 53 Hosted Zone (Z0EXAMPLEPUBLICZONE): couldn't find resource\n"
    'with module.edge.aws_route53_record.alb["A"],\n'
    'on modules/edge/main.tf line 257, in resource "aws_route53_record" "alb":'
)


def test_an_object_the_stack_expects_names_its_id_the_var_file_line_and_prerequisites(tmp_path: Path) -> None:
    var_file = tmp_path / "prod.tfvars"
    var_file.write_text('domain_name = "api.example.com"\n\nroute53_zone_id = "Z0EXAMPLEPUBLICZONE"\n')
    other = tmp_path / "common.tfvars"
    other.write_text('region = "eu-west-1"\n')

    remedy = failure_remedy(ZONE_NOT_FOUND, [other, var_file])

    assert remedy.startswith("Route 53 Hosted Zone Z0EXAMPLEPUBLICZONE (prod.tfvars:3 names it) is not in the emulator")
    assert "--prerequisites DIR" in remedy and "pytest_stackprobe_prerequisites" in remedy
    assert remedy.endswith(READ_THE_ERROR)


def test_an_id_no_var_file_names_is_still_named(tmp_path: Path) -> None:
    remedy = failure_remedy(ZONE_NOT_FOUND.replace("Z0EXAMPLEPUBLICZONE", "Z123"), [tmp_path / "absent.tfvars"])
    assert remedy.startswith("Route 53 Hosted Zone Z123 is not in the emulator")


def test_any_other_failure_points_at_terraforms_error() -> None:
    assert failure_remedy("Error: Invalid value for variable\non variables.tf line 3", []) == READ_THE_ERROR
