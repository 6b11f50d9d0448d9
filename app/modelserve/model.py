"""A deliberately tiny "model": a linear scorer stored as JSON in the models bucket.

Object ``models/<name>.json``::

    {"labels": ["cat", "dog"], "weights": [[0.5, -0.2], [0.1, 0.9]], "bias": [0.0, 0.1]}

``weights`` has one row per label, each row as long as the input vector; ``bias`` is optional.
Score of label i = dot(weights[i], inputs) + bias[i]; the prediction is the highest score, the
first label winning ties. Everything is pure arithmetic so a probe can compute the expected answer.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MODELS_PREFIX = "models/"
# Keeps the derived S3 key inside models/ and free of characters that need URL-encoding thought.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Scores are rounded so that the JSON a probe compares against does not hinge on float formatting.
_SCORE_DIGITS = 6


class ModelNotFoundError(Exception):
    pass


class InvalidModelError(Exception):
    """The object exists but is not a usable model document (a deployment problem, not a client one)."""


def is_valid_model_name(name: object) -> bool:
    return isinstance(name, str) and bool(_NAME_RE.match(name)) and ".." not in name


def model_key(name: str) -> str:
    return f"{MODELS_PREFIX}{name}.json"


def is_number(value: object) -> bool:
    # bool is an int subclass, and json.loads accepts NaN/Infinity; neither is a meaningful input.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Model:
    name: str
    labels: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]

    @property
    def input_size(self) -> int:
        return len(self.weights[0])

    def predict(self, inputs: Sequence[float]) -> dict[str, Any]:
        if len(inputs) != self.input_size:
            raise ValueError(f"model {self.name!r} expects {self.input_size} inputs, got {len(inputs)}")
        scores = [
            round(sum(w * x for w, x in zip(row, inputs, strict=True)) + b, _SCORE_DIGITS)
            for row, b in zip(self.weights, self.bias, strict=True)
        ]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        return {"label": self.labels[best], "scores": dict(zip(self.labels, scores, strict=True))}

    def classify_bytes(self, data: bytes) -> dict[str, Any]:
        """Stand-in for image classification: features are the SHA-256 digest bytes scaled to [0, 1].

        Any change to the uploaded bytes changes the digest, so a probe can tell that the worker
        really read the object it was pointed at.
        """
        digest = hashlib.sha256(data).digest()
        features = [digest[i % len(digest)] / 255 for i in range(self.input_size)]
        result = self.predict(features)
        result["sha256"] = digest.hex()
        result["size"] = len(data)
        return result


def parse_model(name: str, raw: bytes) -> Model:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InvalidModelError(f"model {name!r} is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise InvalidModelError(f"model {name!r} must be a JSON object")
    labels = doc.get("labels")
    weights = doc.get("weights")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise InvalidModelError(f"model {name!r}: 'labels' must be a non-empty list of strings")
    if (
        not isinstance(weights, list)
        or len(weights) != len(labels)
        or not all(isinstance(row, list) and row and all(is_number(v) for v in row) for row in weights)
        or len({len(row) for row in weights}) != 1
    ):
        raise InvalidModelError(
            f"model {name!r}: 'weights' must be {len(labels)} equally long, non-empty lists of numbers"
        )
    bias = doc.get("bias", [0.0] * len(labels))
    if not isinstance(bias, list) or len(bias) != len(labels) or not all(is_number(v) for v in bias):
        raise InvalidModelError(f"model {name!r}: 'bias' must be a list of {len(labels)} numbers")
    return Model(
        name=name,
        labels=tuple(labels),
        weights=tuple(tuple(float(v) for v in row) for row in weights),
        bias=tuple(float(v) for v in bias),
    )


def load_model(s3: S3Client, bucket: str, name: str) -> Model:
    """Fetch and parse a model on every call.

    No cache on purpose: a probe that replaces or deletes a model object must see the effect on the
    very next request, and the objects are a few hundred bytes.
    """
    try:
        response = s3.get_object(Bucket=bucket, Key=model_key(name))
    except s3.exceptions.NoSuchKey as exc:
        raise ModelNotFoundError(name) from exc
    except Exception as exc:
        # Without s3:ListBucket on the bucket, S3 reports a missing key as AccessDenied rather than
        # NoSuchKey; that surfaces as an upstream error, which is what a probe of the IAM policy wants.
        if error_code(exc) in {"NoSuchKey", "404"}:
            raise ModelNotFoundError(name) from exc
        raise
    return parse_model(name, response["Body"].read())
