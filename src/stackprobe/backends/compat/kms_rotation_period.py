"""KMS: the key rotation period is stored and read back.

EnableKeyRotation takes an optional `RotationPeriodInDays` (90-2560, 365 when not given) and AWS reports
it, with the next rotation date, from GetKeyRotationStatus while rotation is on. moto 5.2 drops it and
answers only `KeyRotationEnabled`, so an `aws_kms_key` with `rotation_period_in_days` re-plans it forever.
"""

from __future__ import annotations

import json
from typing import Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

DEFAULT_ROTATION_PERIOD_DAYS = 365


def _key(response: Any) -> Any:
    backend = response.kms_backend
    return backend.keys[backend.get_key_id(response._get_param("KeyId"))]


def _apply() -> None:
    from moto.core.utils import unix_time
    from moto.kms.responses import KmsResponse

    original_enable = KmsResponse.enable_key_rotation
    original_status = KmsResponse.get_key_rotation_status

    def enable_key_rotation(self: Any) -> str:
        body = original_enable(self)
        key = _key(self)
        key.rotation_period_in_days = int(self._get_param("RotationPeriodInDays") or DEFAULT_ROTATION_PERIOD_DAYS)
        key.rotation_enabled_at = unix_time()
        return body

    def get_key_rotation_status(self: Any) -> str:
        answer: dict[str, Any] = json.loads(original_status(self))
        key = _key(self)
        answer["KeyId"] = key.arn
        if answer.get("KeyRotationEnabled"):
            period = getattr(key, "rotation_period_in_days", DEFAULT_ROTATION_PERIOD_DAYS)
            enabled_at = getattr(key, "rotation_enabled_at", unix_time())
            answer["RotationPeriodInDays"] = period
            answer["NextRotationDate"] = enabled_at + period * 86400
        return json.dumps(answer)

    replace(KmsResponse, "enable_key_rotation", enable_key_rotation)
    replace(KmsResponse, "get_key_rotation_status", get_key_rotation_status)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """EnableKeyRotation with a 90-day period, then GetKeyRotationStatus."""
    kms = moto.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    return [
        Symptom(
            "GetKeyRotationStatus does not return the RotationPeriodInDays EnableKeyRotation was given",
            status.get("RotationPeriodInDays") != 90,
            f"RotationPeriodInDays={status.get('RotationPeriodInDays')!r}",
        )
    ]


PATCH = MotoPatch(
    name="kms-rotation-period",
    kind=GapKind.DRIFT,
    resource_types=("aws_kms_key",),
    gap="EnableKeyRotation drops RotationPeriodInDays and GetKeyRotationStatus does not return it, so "
    "rotation_period_in_days drifts on every plan.",
    fix="Stores the period (365 days by default) and returns it with NextRotationDate while rotation is on.",
    install=_apply,
    canary=reproduce,
)
