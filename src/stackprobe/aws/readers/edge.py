"""What sits at the edge of a stack: Route 53 hosted zones and records, CloudFront distributions, ACM
certificates and regional WAF web ACLs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader

# CloudFront is global, and its API is served from us-east-1.
CLOUDFRONT_REGION = "us-east-1"


class Route53Reader(ServiceReader):
    service = "route53"

    def hosted_zones(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("hosted zones", lambda: self.paginate("list_hosted_zones", "HostedZones"))

    def record_sets(self) -> tuple[Mapping[str, Any], ...]:
        """Every record set of every hosted zone."""
        return self.listing(
            "record sets",
            lambda: [
                record
                for zone in self.hosted_zones()
                for record in self.paginate("list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["Id"])
            ],
        )


class CloudFrontReader(ServiceReader):
    service = "cloudfront"

    def distributions(self) -> tuple[Mapping[str, Any], ...]:
        def read() -> list[Mapping[str, Any]]:
            pages = self.client(CLOUDFRONT_REGION).get_paginator("list_distributions").paginate()
            return [item for page in pages for item in (page.get("DistributionList") or {}).get("Items") or []]

        return self.listing("distributions", read)


class AcmReader(ServiceReader):
    service = "acm"

    def certificates(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("certificates", lambda: self.paginate("list_certificates", "CertificateSummaryList"))


class Wafv2Reader(ServiceReader):
    service = "wafv2"

    def regional_web_acls(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("regional web acls", lambda: self.paginate("list_web_acls", "WebACLs", Scope="REGIONAL"))
