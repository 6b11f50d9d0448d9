"""The policy evaluator: every spelling of one meaning agrees, and look-alikes are told apart."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from stackprobe.aws.policy import (
    PolicyError,
    covers_everything_under,
    denies_insecure_transport,
    grants_everything,
    is_public_grant,
    parse_policy,
    wildcard_match,
)

pytestmark = pytest.mark.harness

BUCKET = "arn:aws:s3:::acme-data"
TLS_DENY: dict[str, Any] = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [BUCKET, f"{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def tls(**changes: Any) -> dict[str, Any]:
    statement = {**TLS_DENY, **changes}
    return {k: v for k, v in statement.items() if v is not None}


# --- parsing and matching -----------------------------------------------------------------------


def test_a_single_statement_object_and_scalars_parse_like_lists() -> None:
    single = parse_policy({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET + "/*"}})
    listed = parse_policy({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [BUCKET + "/*"]}]})

    assert single[0].actions == listed[0].actions == ("s3:GetObject",)
    assert single[0].resources == listed[0].resources == (f"{BUCKET}/*",)


def test_url_encoded_documents_are_decoded() -> None:
    statements = parse_policy(urllib.parse.quote(policy(TLS_DENY)))

    assert statements[0].sid == "DenyInsecureTransport"


@pytest.mark.parametrize(
    "document", ["not json", "[1, 2]", '{"Statement": ["text"]}', '{"Statement": [{"Effect": "Maybe", "Action": "*"}]}']
)
def test_malformed_policies_raise_policy_error(document: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy(document)


def test_wildcards_cross_slashes_and_colons_and_actions_ignore_case() -> None:
    assert wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c.txt")
    assert wildcard_match("arn:aws:s3:::b?", "arn:aws:s3:::bc")
    assert not wildcard_match("arn:aws:s3:::b?", "arn:aws:s3:::b")
    assert not wildcard_match("arn:aws:s3:::B/*", "arn:aws:s3:::b/x")  # resources are case-sensitive
    [statement] = parse_policy(policy({"Effect": "Allow", "Action": "S3:getobject", "Resource": "*"}))
    assert statement.covers_action("s3:GetObject")
    assert not statement.covers_action("s3:PutObject")


def test_covers_everything_under_a_prefix() -> None:
    assert covers_everything_under("arn:aws:s3:::b/*", "arn:aws:s3:::b/")
    assert covers_everything_under("arn:aws:s3:::b*", "arn:aws:s3:::b/")
    assert covers_everything_under("*", "arn:aws:s3:::b/")
    assert covers_everything_under("arn:*:s3:::*", "arn:aws:s3:::b/")
    assert not covers_everything_under("arn:aws:s3:::b/uploads/*", "arn:aws:s3:::b/")
    assert not covers_everything_under("arn:aws:s3:::b/x", "arn:aws:s3:::b/")
    assert not covers_everything_under("arn:aws:s3:::other/*", "arn:aws:s3:::b/")


def test_not_action_covers_a_service_only_when_no_exception_can_name_its_actions() -> None:
    [except_iam] = parse_policy(policy({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}))
    [except_get] = parse_policy(policy({"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}))

    assert except_iam.covers_all_actions("s3")
    assert not except_get.covers_all_actions("s3")
    assert except_get.covers_action("s3:PutObject") and not except_get.covers_action("s3:GetObject")


# --- TLS-only ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(TLS_DENY, id="canonical"),
        pytest.param(tls(Principal={"AWS": "*"}), id="principal-aws-star"),
        pytest.param(tls(Principal={"AWS": ["*"]}), id="principal-aws-star-list"),
        pytest.param(tls(Action="*"), id="action-star"),
        pytest.param(tls(Action=["s3:*"]), id="action-list"),
        pytest.param(tls(Action="S3:*"), id="action-upper-case"),
        pytest.param(tls(Resource=f"{BUCKET}*"), id="one-pattern-for-bucket-and-objects"),
        pytest.param(tls(Resource="*"), id="resource-star"),
        pytest.param(tls(Resource=["arn:aws:s3:::acme-*", "arn:aws:s3:::acme-*/*"]), id="resource-wildcard-name"),
        pytest.param(tls(Condition={"Bool": {"aws:SecureTransport": False}}), id="json-false"),
        pytest.param(tls(Condition={"Bool": {"aws:SecureTransport": ["false"]}}), id="value-list"),
        pytest.param(tls(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}), id="bool-if-exists"),
        pytest.param(tls(Condition={"Bool": {"aws:securetransport": "False"}}), id="key-and-value-case"),
    ],
)
def test_tls_only_policies_in_every_spelling_hold(statement: dict[str, Any]) -> None:
    verdict = denies_insecure_transport(parse_policy(policy(statement)), BUCKET)

    assert verdict.holds, verdict.evidence


def test_tls_only_may_be_split_over_two_statements() -> None:
    statements = parse_policy(policy(tls(Sid="Bucket", Resource=BUCKET), tls(Sid="Objects", Resource=f"{BUCKET}/*")))

    verdict = denies_insecure_transport(statements, BUCKET)

    assert verdict.holds
    assert "'Bucket', 'Objects'" in verdict.evidence


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        pytest.param(tls(Effect="Allow"), "is Allow, not Deny", id="allow-not-deny"),
        pytest.param(tls(Action="s3:GetObject"), "covers only s3:GetObject, not s3:*", id="single-action"),
        pytest.param(
            tls(Action=["s3:GetObject", "s3:PutObject"]), "covers only s3:GetObject, s3:PutObject", id="two-actions"
        ),
        pytest.param(
            tls(Principal={"AWS": "arn:aws:iam::123456789012:role/app"}),
            "applies only to arn:aws:iam::123456789012:role/app, not every principal",
            id="one-role",
        ),
        pytest.param(
            tls(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::123456789012:role/app"}),
            "applies only to every principal except",
            id="not-principal",
        ),
        pytest.param(
            tls(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
            "has condition Bool aws:MultiFactorAuthPresent=false",
            id="other-condition-key",
        ),
        pytest.param(
            tls(Condition={"Bool": {"aws:SecureTransport": "true"}}),
            "has condition Bool aws:SecureTransport=true",
            id="secure-transport-true",
        ),
        pytest.param(
            tls(Condition={"StringEquals": {"aws:SecureTransport": "false"}}),
            "has condition StringEquals aws:SecureTransport=false",
            id="string-operator",
        ),
        pytest.param(
            tls(
                Condition={
                    "Bool": {"aws:SecureTransport": "false"},
                    "StringEquals": {"aws:PrincipalAccount": "123456789012"},
                }
            ),
            "StringEquals aws:PrincipalAccount=123456789012",
            id="extra-narrowing-condition",
        ),
        pytest.param(tls(Condition=None), "has condition no condition", id="no-condition"),
        pytest.param(
            tls(Action=None, NotAction="s3:GetObject"), "every action except s3:GetObject", id="not-action-exempts-get"
        ),
    ],
)
def test_tls_look_alikes_do_not_count(statement: dict[str, Any], reason: str) -> None:
    verdict = denies_insecure_transport(parse_policy(policy(statement)), BUCKET)

    assert not verdict.holds
    assert reason in verdict.evidence


def test_tls_deny_on_objects_only_misses_the_bucket() -> None:
    verdict = denies_insecure_transport(parse_policy(policy(tls(Resource=f"{BUCKET}/*"))), BUCKET)

    assert not verdict.holds
    assert verdict.evidence == (
        "statement 'DenyInsecureTransport' denies non-TLS requests but not on arn:aws:s3:::acme-data"
    )


def test_tls_deny_on_a_prefix_misses_the_other_objects() -> None:
    verdict = denies_insecure_transport(parse_policy(policy(tls(Resource=[BUCKET, f"{BUCKET}/uploads/*"]))), BUCKET)

    assert not verdict.holds
    assert "not on arn:aws:s3:::acme-data/*" in verdict.evidence


def test_tls_deny_for_another_bucket_does_not_count() -> None:
    other = "arn:aws:s3:::acme-logs"
    verdict = denies_insecure_transport(parse_policy(policy(tls(Resource=[other, f"{other}/*"]))), BUCKET)

    assert not verdict.holds


def test_not_resource_deny_counts_only_when_the_exceptions_cannot_touch_the_bucket() -> None:
    elsewhere = tls(Resource=None, NotResource="arn:aws:s3:::acme-logs/*")
    here = tls(Resource=None, NotResource=f"{BUCKET}/public/*")

    assert denies_insecure_transport(parse_policy(policy(elsewhere)), BUCKET).holds
    assert not denies_insecure_transport(parse_policy(policy(here)), BUCKET).holds


def test_no_tls_statement_at_all() -> None:
    verdict = denies_insecure_transport(
        parse_policy(
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{BUCKET}/*",
                }
            )
        ),
        BUCKET,
    )

    assert verdict == verdict.__class__(False, "no statement denies requests with aws:SecureTransport=false")


# --- public grants and administrators ----------------------------------------------------------


def statement_of(**fields: Any) -> Any:
    return parse_policy(policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*", **fields}))[0]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"Principal": "*"}, id="star"),
        pytest.param({"Principal": {"AWS": "*"}}, id="aws-star"),
        pytest.param({"Principal": {"AWS": ["*"]}}, id="aws-star-list"),
        pytest.param({"NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}}, id="allow-not-principal"),
        pytest.param({"Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, id="tls-only-cond"),
        pytest.param(
            {"Principal": "*", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}, id="negated-condition"
        ),
        pytest.param(
            {"Principal": "*", "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}},
            id="if-exists-condition",
        ),
        pytest.param({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}, id="any-ip"),
        pytest.param({"Principal": "*", "Condition": {"StringLike": {"aws:SourceArn": "*"}}}, id="wildcard-value"),
    ],
)
def test_public_grants(fields: dict[str, Any]) -> None:
    assert is_public_grant(statement_of(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}}, id="one-role"),
        pytest.param(
            {
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::1:distribution/D"}},
            },
            id="service",
        ),
        pytest.param({"Principal": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}, id="vpce"),
        pytest.param({"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}, id="org"),
        pytest.param(
            {"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}}, id="narrow-ip"
        ),
        pytest.param({"Principal": "*", "Effect": "Deny"}, id="deny"),
    ],
)
def test_not_public_grants(fields: dict[str, Any]) -> None:
    assert not is_public_grant(statement_of(**fields))


@pytest.mark.parametrize(
    ("fields", "admin"),
    [
        ({"Action": "*", "Resource": "*"}, True),
        ({"Action": ["*"], "Resource": ["*"]}, True),
        ({"Action": "*:*", "Resource": "*"}, True),
        ({"Action": "*", "Resource": "arn:aws:s3:::b/*"}, False),
        ({"Action": "s3:*", "Resource": "*"}, False),
        ({"Action": "*", "Resource": "*", "Effect": "Deny"}, False),
        ({"NotAction": "iam:*", "Resource": "*"}, False),  # power user: reported as a wildcard, not admin
    ],
)
def test_grants_everything(fields: dict[str, Any], admin: bool) -> None:
    [statement] = parse_policy(policy({"Effect": "Allow", **fields}))

    assert grants_everything(statement) is admin


def test_service_wildcards_are_listed_and_partial_wildcards_are_not() -> None:
    [statement] = parse_policy(
        policy({"Effect": "Allow", "Resource": "*", "Action": ["s3:*", "IAM:*", "ec2:Describe*", "*", "sqs:**"]})
    )

    assert statement.service_wildcards() == ["s3:*", "IAM:*", "sqs:**"]
