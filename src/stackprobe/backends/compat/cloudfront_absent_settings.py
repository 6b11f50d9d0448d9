"""CloudFront: a distribution's settings read back as given, not as moto's filler values.

moto 5.2 fills what a DistributionConfig leaves out, and drops some of what it is given; the provider
reads both back as configuration:
- A viewer certificate without an ACM or IAM certificate gets empty `ACMCertificateArn` and
  `IAMCertificateId` elements; the provider reads `ssl_support_method` (and the certificate id) whenever
  either element is present, so a distribution on the CloudFront default certificate reads back
  `ssl_support_method = "sni-only"`.
- A viewer certificate with an ACM or IAM certificate reads back `CloudFrontDefaultCertificate=true`
  (moto's default when the element is absent); AWS says false, and the provider plans to unset it.
- A cache behaviour that uses a cache policy (no legacy `ForwardedValues`) gets a default
  `ForwardedValues` block, which the provider reads back as a `forwarded_values` block to remove.
All drift on every plan. AWS omits the elements it was not given and returns the ones it was.

moto before 5.2.6 also dropped an origin's `OriginAccessControlId`: that gap has its own record
(`ORIGIN_ACCESS_CONTROL`, fixed upstream in 5.2.6), so it stays off on the releases that store it.
"""

from __future__ import annotations

from typing import Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.cloudfront.models import DefaultCacheBehaviour, ViewerCertificate

    original_certificate_init = ViewerCertificate.__init__
    original_behaviour_init = DefaultCacheBehaviour.__init__

    def certificate_init(self: Any, config: dict[str, Any]) -> None:
        original_certificate_init(self, config)
        # None is left out of the response; "" is serialised as a present, empty element.
        self.iam_certificate_id = config.get("IAMCertificateId") or None
        self.acm_certificate_arn = config.get("ACMCertificateArn") or None
        if "CloudFrontDefaultCertificate" not in config and (self.iam_certificate_id or self.acm_certificate_arn):
            self.cloud_front_default_certificate = False

    def behaviour_init(self: Any, config: dict[str, Any]) -> None:
        had_forwarded_values = "ForwardedValues" in config
        original_behaviour_init(self, config)
        if not had_forwarded_values:
            self.forwarded_values = None

    replace(ViewerCertificate, "__init__", certificate_init)
    # CacheBehaviour calls this through super(), so ordered cache behaviours are covered too.
    replace(DefaultCacheBehaviour, "__init__", behaviour_init)


def _apply_origin_access_control() -> None:
    from moto.cloudfront.models import Origin

    original_origin_init = Origin.__init__

    def origin_init(self: Any, origin: dict[str, Any]) -> None:
        original_origin_init(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    replace(Origin, "__init__", origin_init)


def _distribution_config(reference: str, viewer_certificate: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Comment": "canary",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "origin", **origin}]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
        "ViewerCertificate": viewer_certificate,
    }


def _read_back(moto: MotoEndpoint) -> dict[str, dict[str, Any]]:
    """Two distributions (CloudFront's default certificate; an ACM certificate and an S3 origin behind
    origin access control), both with a cache-policy behaviour, read back with GetDistribution."""
    cloudfront = moto.client("cloudfront")
    control = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "canary-oac",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    custom_origin = {
        "DomainName": "example.com",
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
    }
    s3_origin = {
        "DomainName": "canary.s3.eu-west-1.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
        "OriginAccessControlId": control,
    }
    acm = "arn:aws:acm:us-east-1:123456789012:certificate/canary"
    configs = {
        "default": _distribution_config("canary-default", {"CloudFrontDefaultCertificate": True}, custom_origin),
        "acm": _distribution_config(
            "canary-acm", {"ACMCertificateArn": acm, "SSLSupportMethod": "sni-only"}, s3_origin
        ),
    }
    read: dict[str, dict[str, Any]] = {"control": {"Id": control}}
    for key, config in configs.items():
        created = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
        read[key] = cloudfront.get_distribution(Id=created)["Distribution"]["DistributionConfig"]
    return read


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """The certificate elements and the cache behaviour of both distributions, as read back."""
    read = _read_back(moto)
    default_certificate = read["default"]["ViewerCertificate"]
    acm_certificate = read["acm"]["ViewerCertificate"]
    behaviour = read["default"]["DefaultCacheBehavior"]
    return [
        Symptom(
            "the default certificate reads back with ACM/IAM certificate elements",
            "ACMCertificateArn" in default_certificate or "IAMCertificateId" in default_certificate,
            f"ViewerCertificate={default_certificate}",
        ),
        Symptom(
            "a distribution with an ACM certificate reads back CloudFrontDefaultCertificate=true",
            acm_certificate.get("CloudFrontDefaultCertificate") is not False,
            f"CloudFrontDefaultCertificate={acm_certificate.get('CloudFrontDefaultCertificate')!r}",
        ),
        Symptom(
            "a cache-policy behaviour reads back a ForwardedValues block",
            "ForwardedValues" in behaviour,
            f"ForwardedValues={behaviour.get('ForwardedValues')!r}",
        ),
    ]


def reproduce_origin_access_control(moto: MotoEndpoint) -> list[Symptom]:
    """The S3 origin's origin access control id, as read back."""
    read = _read_back(moto)
    control = read["control"]["Id"]
    origin = read["acm"]["Origins"]["Items"][0]
    return [
        Symptom(
            "an origin's OriginAccessControlId is not stored",
            origin.get("OriginAccessControlId") != control,
            f"OriginAccessControlId={origin.get('OriginAccessControlId')!r}",
        )
    ]


PATCH = MotoPatch(
    name="cloudfront-absent-settings",
    kind=GapKind.DRIFT,
    resource_types=("aws_cloudfront_distribution",),
    gap="Absent ACM/IAM certificate ids come back as empty elements (ssl_support_method reads 'sni-only' "
    "on the default certificate), a distribution with its own certificate reads CloudFrontDefaultCertificate=true, "
    "and cache behaviours using a cache policy come back with a default ForwardedValues block; all drift on every "
    "plan.",
    fix="Leaves the certificate ids and ForwardedValues out when they were not given, and reports the default "
    "certificate off when one of the distribution's own is set, as AWS does.",
    install=_apply,
    canary=reproduce,
)

ORIGIN_ACCESS_CONTROL = MotoPatch(
    name="cloudfront-origin-access-control",
    kind=GapKind.DRIFT,
    resource_types=("aws_cloudfront_distribution",),
    gap="An origin's OriginAccessControlId is dropped, so an S3 origin behind origin access control (the way AWS "
    "recommends) reads back without it and drifts on every plan.",
    fix="Keeps the origin access control id the origin was given.",
    install=_apply_origin_access_control,
    canary=reproduce_origin_access_control,
    # moto 5.2.6 stores the id (seen by the canary on 5.2.6).
    fixed_in="5.2.6",
)
