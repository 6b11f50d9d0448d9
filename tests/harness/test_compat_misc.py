"""Drift fixes read back the way the provider reads them: KMS rotation period, security group rule
descriptions, and CloudFront viewer certificates."""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = (
    "kms-rotation-period",
    "ec2-sg-rule-descriptions",
    "cloudfront-absent-settings",
    "cloudfront-origin-access-control",
)


def test_kms_rotation_period_reads_back(backend: AwsBackend) -> None:
    kms = backend.client("kms")
    custom = kms.create_key()["KeyMetadata"]["KeyId"]
    default = kms.create_key()["KeyMetadata"]["KeyId"]
    off = kms.create_key()["KeyMetadata"]["KeyId"]

    kms.enable_key_rotation(KeyId=custom, RotationPeriodInDays=90)
    kms.enable_key_rotation(KeyId=default)
    custom_status = kms.get_key_rotation_status(KeyId=custom)
    default_status = kms.get_key_rotation_status(KeyId=default)
    off_status = kms.get_key_rotation_status(KeyId=off)

    assert (custom_status["KeyRotationEnabled"], custom_status["RotationPeriodInDays"]) == (True, 90)
    assert "NextRotationDate" in custom_status
    assert default_status["RotationPeriodInDays"] == 365
    assert off_status["KeyRotationEnabled"] is False
    assert "RotationPeriodInDays" not in off_status


@pytest.fixture(scope="module")
def groups(backend: AwsBackend) -> tuple[str, str]:
    ec2 = backend.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    app = ec2.create_security_group(GroupName="compat-app", Description="app", VpcId=vpc)["GroupId"]
    lb = ec2.create_security_group(GroupName="compat-lb", Description="lb", VpcId=vpc)["GroupId"]
    return app, lb


def _rule(backend: AwsBackend, group_id: str, port: int) -> dict[str, Any]:
    rules = backend.client("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return next(r for r in rules["SecurityGroupRules"] if r.get("FromPort") == port)


def test_sg_to_sg_rule_description_reads_back(backend: AwsBackend, groups: tuple[str, str]) -> None:
    ec2 = backend.client("ec2")
    app, lb = groups

    created = ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": lb, "Description": "from lb"}],
            }
        ],
    )["SecurityGroupRules"][0]
    rule = _rule(backend, app, 8080)
    pairs = ec2.describe_security_groups(GroupIds=[app])["SecurityGroups"][0]["IpPermissions"][0]["UserIdGroupPairs"]

    assert created["Description"] == "from lb"
    assert (rule["Description"], rule["ReferencedGroupInfo"]["GroupId"]) == ("from lb", lb)
    assert pairs[0]["Description"] == "from lb"


def test_modified_sg_to_sg_rule_description_reads_back(backend: AwsBackend, groups: tuple[str, str]) -> None:
    ec2 = backend.client("ec2")
    app, lb = groups
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 9090, "ToPort": 9090, "UserIdGroupPairs": [{"GroupId": lb}]}],
    )
    rule_id = _rule(backend, app, 9090)["SecurityGroupRuleId"]

    ec2.modify_security_group_rules(
        GroupId=app,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 9090,
                    "ToPort": 9090,
                    "ReferencedGroupId": lb,
                    "Description": "metrics from lb",
                },
            }
        ],
    )
    permissions = ec2.describe_security_groups(GroupIds=[app])["SecurityGroups"][0]["IpPermissions"]
    metrics = next(p for p in permissions if p["FromPort"] == 9090)

    assert _rule(backend, app, 9090)["Description"] == "metrics from lb"
    assert metrics["UserIdGroupPairs"][0]["Description"] == "metrics from lb"
    assert metrics["IpRanges"] == []


def test_prefix_list_rule_description_reads_back(backend: AwsBackend, groups: tuple[str, str]) -> None:
    ec2 = backend.client("ec2")
    app, _ = groups
    prefix_list = ec2.create_managed_prefix_list(PrefixListName="compat-pl", MaxEntries=2, AddressFamily="IPv4")
    pl_id = prefix_list["PrefixList"]["PrefixListId"]

    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": pl_id, "Description": "office"}],
            }
        ],
    )
    permissions = ec2.describe_security_groups(GroupIds=[app])["SecurityGroups"][0]["IpPermissions"]
    https = next(p for p in permissions if p["FromPort"] == 443)

    assert _rule(backend, app, 443)["Description"] == "office"
    assert https["PrefixListIds"] == [{"PrefixListId": pl_id, "Description": "office"}]


def test_cidr_rule_description_is_unchanged(backend: AwsBackend, groups: tuple[str, str]) -> None:
    ec2 = backend.client("ec2")
    app, _ = groups
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "vpn"}],
            }
        ],
    )

    assert _rule(backend, app, 22)["Description"] == "vpn"


def _distribution(viewer_certificate: dict[str, Any]) -> dict[str, Any]:
    return {
        "CallerReference": str(id(viewer_certificate)),
        "Comment": "compat",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": "example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
        "ViewerCertificate": viewer_certificate,
    }


def test_default_certificate_reads_back_without_certificate_fields(backend: AwsBackend) -> None:
    cloudfront = backend.client("cloudfront")
    created = cloudfront.create_distribution(
        DistributionConfig=_distribution({"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1"})
    )

    read = cloudfront.get_distribution(Id=created["Distribution"]["Id"])["Distribution"]["DistributionConfig"]

    assert read["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True
    assert "ACMCertificateArn" not in read["ViewerCertificate"]
    assert "IAMCertificateId" not in read["ViewerCertificate"]


def test_cache_policy_behaviour_reads_back_without_forwarded_values(backend: AwsBackend) -> None:
    cloudfront = backend.client("cloudfront")
    created = cloudfront.create_distribution(DistributionConfig=_distribution({"CloudFrontDefaultCertificate": True}))

    read = cloudfront.get_distribution(Id=created["Distribution"]["Id"])["Distribution"]["DistributionConfig"]

    assert read["DefaultCacheBehavior"]["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    assert "ForwardedValues" not in read["DefaultCacheBehavior"]


def test_acm_certificate_reads_back_with_its_ssl_support_method(backend: AwsBackend) -> None:
    cloudfront = backend.client("cloudfront")
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    created = cloudfront.create_distribution(
        DistributionConfig=_distribution(
            {"ACMCertificateArn": arn, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"}
        )
    )

    read = cloudfront.get_distribution(Id=created["Distribution"]["Id"])["Distribution"]["DistributionConfig"]

    assert read["ViewerCertificate"]["ACMCertificateArn"] == arn
    assert read["ViewerCertificate"]["SSLSupportMethod"] == "sni-only"
    assert "IAMCertificateId" not in read["ViewerCertificate"]
    # AWS says the default certificate is not in use when a certificate of one's own is; moto said it was.
    assert read["ViewerCertificate"]["CloudFrontDefaultCertificate"] is False


def test_origin_access_control_reads_back_on_its_origin(backend: AwsBackend) -> None:
    cloudfront = backend.client("cloudfront")
    control = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "compat-oac",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    config = _distribution({"CloudFrontDefaultCertificate": True})
    config["Origins"]["Items"] = [
        {
            "Id": "assets",
            "DomainName": "assets.s3.eu-west-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": control,
        }
    ]
    config["DefaultCacheBehavior"]["TargetOriginId"] = "assets"
    created = cloudfront.create_distribution(DistributionConfig=config)

    read = cloudfront.get_distribution(Id=created["Distribution"]["Id"])["Distribution"]["DistributionConfig"]

    assert read["Origins"]["Items"][0]["OriginAccessControlId"] == control
