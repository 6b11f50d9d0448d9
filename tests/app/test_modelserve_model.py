"""The toy model format and its deterministic scoring."""

from __future__ import annotations

import hashlib
import json

import pytest
from modelserve.model import InvalidModelError, is_valid_model_name, parse_model
from modelserve_testlib import TOY_MODEL

pytestmark = pytest.mark.app


def toy() -> bytes:
    return json.dumps(TOY_MODEL).encode()


def test_predict_is_a_plain_linear_score() -> None:
    model = parse_model("toy", toy())
    assert model.input_size == 2
    assert model.predict([0.2, 0.9]) == {"label": "dog", "scores": {"cat": 0.2, "dog": 0.9, "fox": 0.65}}
    assert model.predict([0.8, 0.1])["label"] == "cat"
    assert model.predict([0.5, 0.5])["label"] == "fox"


def test_ties_go_to_the_first_label_and_bias_defaults_to_zero() -> None:
    model = parse_model("tie", json.dumps({"labels": ["a", "b"], "weights": [[1], [1]]}).encode())
    assert model.predict([3]) == {"label": "a", "scores": {"a": 3.0, "b": 3.0}}


def test_predict_rejects_wrong_input_length() -> None:
    with pytest.raises(ValueError, match="expects 2 inputs, got 3"):
        parse_model("toy", toy()).predict([1, 2, 3])


def test_classify_bytes_derives_features_from_the_digest() -> None:
    model = parse_model("toy", toy())
    data = b"\x89PNG fake image bytes"
    digest = hashlib.sha256(data).digest()
    a, b = digest[0] / 255, digest[1] / 255
    expected = {"cat": round(a, 6), "dog": round(b, 6), "fox": round((a + b) / 2 + 0.1, 6)}
    result = model.classify_bytes(data)
    assert result["scores"] == expected
    assert result["label"] == max(expected, key=lambda k: expected[k])
    assert result["sha256"] == digest.hex()
    assert result["size"] == len(data)
    assert model.classify_bytes(data) == result
    assert model.classify_bytes(data + b"!")["sha256"] != result["sha256"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"labels": [], "weights": []}', "'labels' must be a non-empty list"),
        (b'{"labels": ["a", "b"], "weights": [[1]]}', "'weights' must be 2 equally long"),
        (b'{"labels": ["a", "b"], "weights": [[1], [1, 2]]}', "'weights' must be 2 equally long"),
        (b'{"labels": ["a"], "weights": [[true]]}', "'weights' must be 1 equally long"),
        (b'{"labels": ["a"], "weights": [[1]], "bias": [1, 2]}', "'bias' must be a list of 1 numbers"),
    ],
)
def test_invalid_model_documents_are_rejected(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidModelError, match=message):
        parse_model("m", raw)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("toy", True),
        ("resnet-50_v2.1", True),
        ("", False),
        ("../etc", False),
        ("a/b", False),
        ("a..b", False),
        (7, False),
    ],
)
def test_model_names(name: object, valid: bool) -> None:
    assert is_valid_model_name(name) is valid
