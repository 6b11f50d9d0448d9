"""CloudFront: settings a distribution was not given read back absent, not as moto's filler values.

moto 5.2 fills what a DistributionConfig leaves out, and the provider reads the filler as configured:
- A viewer certificate without an ACM or IAM certificate gets empty `ACMCertificateArn` and
  `IAMCertificateId` elements; the provider reads `ssl_support_method` (and the certificate id) whenever
  either element is present, so a distribution on the CloudFront default certificate reads back
  `ssl_support_method = "sni-only"`.
- A cache behaviour that uses a cache policy (no legacy `ForwardedValues`) gets a default
  `ForwardedValues` block, which the provider reads back as a `forwarded_values` block to remove.
Both drift on every plan. AWS omits the elements it was not given.
"""

from __future__ import annotations

from typing import Any

from moto.cloudfront.models import DefaultCacheBehaviour, ViewerCertificate

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoPatch

_applied = False


def _apply() -> None:
    global _applied
    if _applied:
        return
    original_certificate_init = ViewerCertificate.__init__
    original_behaviour_init = DefaultCacheBehaviour.__init__

    def certificate_init(self: Any, config: dict[str, Any]) -> None:
        original_certificate_init(self, config)
        # None is left out of the response; "" is serialised as a present, empty element.
        self.iam_certificate_id = config.get("IAMCertificateId") or None
        self.acm_certificate_arn = config.get("ACMCertificateArn") or None

    def behaviour_init(self: Any, config: dict[str, Any]) -> None:
        had_forwarded_values = "ForwardedValues" in config
        original_behaviour_init(self, config)
        if not had_forwarded_values:
            self.forwarded_values = None

    replace(ViewerCertificate, "__init__", certificate_init)
    # CacheBehaviour calls this through super(), so ordered cache behaviours are covered too.
    replace(DefaultCacheBehaviour, "__init__", behaviour_init)
    _applied = True


PATCH = MotoPatch(
    name="cloudfront-absent-settings",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.DRIFT,
    resource_types=("aws_cloudfront_distribution",),
    gap="Absent ACM/IAM certificate ids come back as empty elements (ssl_support_method reads 'sni-only' "
    "on the default certificate) and cache behaviours using a cache policy come back with a default "
    "ForwardedValues block; both drift on every plan.",
    fix="Leaves the certificate ids and ForwardedValues out of the response when they were not given, as AWS does.",
    apply=_apply,
)
