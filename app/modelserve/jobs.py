"""Job messages and job state, shared by the API (producer) and the worker (consumer).

Job state lives in the uploads bucket under ``results/<job_id>.json``, beside the job's result: the
worker needs no database at all (the stack gives it none), and the state survives any task.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .aws import error_code
from .model import is_valid_model_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RESULTS_PREFIX = "results/"
UPLOADS_PREFIX = "uploads/"
MAX_KEY_LENGTH = 1024  # S3's own limit on key length, in bytes

JobStatus = Literal["queued", "done", "failed"]
# A job in one of these states has its final result: it never changes again (the cache may keep it).
TERMINAL = frozenset({"done", "failed"})


def new_job_id() -> str:
    return str(uuid.uuid4())


def is_valid_job_id(job_id: object) -> bool:
    # Only canonical UUIDs are accepted so that a job id can never steer the results key elsewhere.
    if not isinstance(job_id, str):
        return False
    try:
        return str(uuid.UUID(job_id)) == job_id
    except ValueError:
        return False


def is_valid_image_key(key: object) -> bool:
    return (
        isinstance(key, str)
        and key.startswith(UPLOADS_PREFIX)
        and len(key) > len(UPLOADS_PREFIX)
        and len(key.encode()) <= MAX_KEY_LENGTH
        and key.isprintable()
    )


def result_key(job_id: str) -> str:
    return f"{RESULTS_PREFIX}{job_id}.json"


class InvalidMessageError(ValueError):
    pass


@dataclass(frozen=True)
class JobMessage:
    job_id: str
    image_key: str
    model: str

    def to_json(self) -> str:
        return json.dumps({"job_id": self.job_id, "image_key": self.image_key, "model": self.model})

    @classmethod
    def from_json(cls, body: str) -> JobMessage:
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise InvalidMessageError("message body is not JSON") from exc
        if not isinstance(doc, dict):
            raise InvalidMessageError("message body is not a JSON object")
        job_id, image_key, model = doc.get("job_id"), doc.get("image_key"), doc.get("model")
        if not is_valid_job_id(job_id):
            raise InvalidMessageError(f"invalid job_id {job_id!r}")
        if not is_valid_image_key(image_key):
            raise InvalidMessageError(f"invalid image_key {image_key!r}")
        if not is_valid_model_name(model):
            raise InvalidMessageError(f"invalid model {model!r}")
        assert isinstance(job_id, str) and isinstance(image_key, str) and isinstance(model, str)
        return cls(job_id=job_id, image_key=image_key, model=model)

    def state(self, status: JobStatus, **extra: Any) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": status,
            "image_key": self.image_key,
            "model": self.model,
            **extra,
        }


def put_state(s3: S3Client, bucket: str, state: dict[str, Any]) -> None:
    # No SSE parameters: the bucket's default encryption (SSE-KMS) applies, so the key choice stays
    # with the bucket policy (the writer still needs kms:GenerateDataKey on that key).
    s3.put_object(
        Bucket=bucket,
        Key=result_key(state["job_id"]),
        Body=json.dumps(state, sort_keys=True).encode(),
        ContentType="application/json",
    )


def get_state(s3: S3Client, bucket: str, job_id: str) -> dict[str, Any] | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=result_key(job_id))
    except Exception as exc:
        if error_code(exc) in {"NoSuchKey", "404"}:
            return None
        raise
    state = json.loads(response["Body"].read())
    if not isinstance(state, dict):
        raise ValueError(f"job state {result_key(job_id)} is not a JSON object")
    return state
