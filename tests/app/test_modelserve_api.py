"""HTTP API against an in-process moto account (Flask test client)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from modelserve.api import create_app
from modelserve.config import ConfigError, load_config
from modelserve_testlib import MODELS_BUCKET, UPLOADS_BUCKET, MemoryJobStore, Stack

pytestmark = pytest.mark.app


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


@pytest.fixture
def app(stack: Stack, store: MemoryJobStore) -> Flask:
    return create_app(store=store)  # type: ignore[arg-type]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_health_is_ok_without_touching_dependencies(stack: Stack, client: FlaskClient) -> None:
    # Remove every dependency: liveness must not notice.
    stack.s3.delete_object(Bucket=MODELS_BUCKET, Key="models/toy.json")
    for bucket in (MODELS_BUCKET, UPLOADS_BUCKET):
        stack.s3.delete_bucket(Bucket=bucket)
    stack.sqs.delete_queue(QueueUrl=stack.queue_url)
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_health_route_follows_health_path(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_PATH", "/internal/healthz")
    client = create_app().test_client()
    assert client.get("/internal/healthz").get_json() == {"status": "ok"}
    assert client.get("/health").status_code == 404


@pytest.mark.parametrize("path", ["/ready", "/predict", "/job/x/results"])
def test_health_path_may_not_shadow_an_api_route(stack: Stack, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.setenv("HEALTH_PATH", path)
    with pytest.raises(ConfigError, match="collides with an API route"):
        create_app()


def test_ready_reports_each_dependency_with_the_database_it_queried(stack: Stack, client: FlaskClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["models_bucket"] == {"ok": True, "target": MODELS_BUCKET}
    assert body["checks"]["uploads_bucket"] == {"ok": True, "target": UPLOADS_BUCKET}
    assert body["checks"]["jobs_queue"] == {"ok": True, "target": stack.queue_url}
    assert body["checks"]["database"] == {"primary memory": {"ok": True, "user": "modelserve_app"}}
    assert body["checks"]["cache"] == {"configured": False}


def test_ready_is_503_when_the_database_cannot_be_reached(client: FlaskClient, store: MemoryJobStore) -> None:
    store.unavailable = "could not connect on db as modelserve_app: OperationalError: refused"
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["primary memory"]["ok"] is False


def test_ready_is_503_naming_the_broken_dependency(stack: Stack, client: FlaskClient) -> None:
    stack.s3.delete_bucket(Bucket=UPLOADS_BUCKET)
    stack.sqs.delete_queue(QueueUrl=stack.queue_url)
    response = client.get("/ready")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert response.get_json()["status"] == "not_ready"
    assert checks["models_bucket"]["ok"] is True
    assert checks["uploads_bucket"] == {"ok": False, "target": UPLOADS_BUCKET, "error": "404"}
    assert checks["jobs_queue"]["ok"] is False
    assert "NonExistentQueue" in checks["jobs_queue"]["error"]


def test_predict_scores_with_the_stored_model(client: FlaskClient) -> None:
    response = client.post("/predict", json={"model": "toy", "inputs": [0.2, 0.9]})
    assert response.status_code == 200
    assert response.get_json() == {
        "model": "toy",
        "label": "dog",
        "scores": {"cat": 0.2, "dog": 0.9, "fox": 0.65},
    }


def test_predict_reads_the_model_on_every_request(stack: Stack, client: FlaskClient) -> None:
    assert client.post("/predict", json={"model": "toy", "inputs": [1, 0]}).get_json()["label"] == "cat"
    stack.put_model("toy", {"labels": ["only"], "weights": [[1, 1]]})
    assert client.post("/predict", json={"model": "toy", "inputs": [1, 0]}).get_json()["label"] == "only"


def test_predict_unknown_model_is_404(client: FlaskClient) -> None:
    response = client.post("/predict", json={"model": "nope", "inputs": [1.0, 2.0]})
    assert response.status_code == 404
    assert response.get_json() == {"error": "model 'nope' not found"}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"inputs": [1, 2]}),
        json.dumps({"model": "../toy", "inputs": [1, 2]}),
        json.dumps({"model": "toy"}),
        json.dumps({"model": "toy", "inputs": []}),
        json.dumps({"model": "toy", "inputs": ["1", 2]}),
        json.dumps({"model": "toy", "inputs": [True, 2]}),
        '{"model": "toy", "inputs": [NaN, 2]}',
        json.dumps({"model": "toy", "inputs": [1, 2, 3]}),
    ],
)
def test_predict_bad_input_is_400(client: FlaskClient, body: str) -> None:
    response = client.post("/predict", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]


def test_predict_with_a_corrupt_model_object_is_a_server_error(stack: Stack, client: FlaskClient) -> None:
    stack.put_model("broken", "{not json")
    response = client.post("/predict", json={"model": "broken", "inputs": [1]})
    assert response.status_code == 500
    assert "not valid JSON" in response.get_json()["error"]


def test_upload_url_is_a_presigned_put_without_sse_headers(client: FlaskClient) -> None:
    response = client.get("/upload-url?filename=cat.jpg")
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 300
    prefix, upload_id, filename = body["key"].split("/")
    assert (prefix, filename) == ("uploads", "cat.jpg")
    assert str(uuid.UUID(upload_id)) == upload_id
    url = urlsplit(body["url"])
    query = parse_qs(url.query)
    assert url.path.endswith(f"/{body['key']}")
    assert UPLOADS_BUCKET in url.netloc + url.path
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert "x-amz-server-side-encryption" not in body["url"].lower()


@pytest.mark.parametrize("query", ["", "?filename=", "?filename=a/b.jpg", "?filename=../x.jpg", "?filename=.hidden"])
def test_upload_url_rejects_bad_filenames(client: FlaskClient, query: str) -> None:
    assert client.get(f"/upload-url{query}").status_code == 400


def test_start_job_records_the_job_then_enqueues(stack: Stack, client: FlaskClient, store: MemoryJobStore) -> None:
    response = client.post("/start-job", json={"image_key": "uploads/abc/cat.jpg", "model": "toy"})
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    assert str(uuid.UUID(job_id)) == job_id
    assert response.headers["Location"] == f"/job/{job_id}/results"

    messages = stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [
        {"job_id": job_id, "image_key": "uploads/abc/cat.jpg", "model": "toy"}
    ]
    expected = {"job_id": job_id, "status": "queued", "image_key": "uploads/abc/cat.jpg", "model": "toy"}
    assert store.records[job_id] == expected
    # The API writes nothing to S3: the worker writes the outcome there.
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=UPLOADS_BUCKET, Prefix="results/")

    result = client.get(f"/job/{job_id}/results")
    assert result.status_code == 200
    assert result.get_json() == expected


def test_results_prefer_the_workers_outcome_to_the_record(stack: Stack, client: FlaskClient) -> None:
    job_id = client.post("/start-job", json={"image_key": "uploads/abc/cat.jpg", "model": "toy"}).get_json()["job_id"]
    done = {"job_id": job_id, "status": "done", "image_key": "uploads/abc/cat.jpg", "model": "toy", "result": {}}
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"results/{job_id}.json", Body=json.dumps(done).encode())
    assert client.get(f"/job/{job_id}/results").get_json() == done


def test_start_job_without_the_database_is_503_and_enqueues_nothing(
    stack: Stack, client: FlaskClient, store: MemoryJobStore
) -> None:
    store.unavailable = "could not record the job on db as modelserve_app: OperationalError: refused"
    response = client.post("/start-job", json={"image_key": "uploads/abc/cat.jpg", "model": "toy"})
    assert response.status_code == 503
    assert response.get_json() == {"error": "the database is unavailable", "detail": store.unavailable}
    assert stack.queue_depth(stack.queue_url) == (0, 0)


def test_history_lists_the_newest_submissions_first(client: FlaskClient) -> None:
    ids = [
        client.post("/start-job", json={"image_key": f"uploads/a/{n}.jpg", "model": "toy"}).get_json()["job_id"]
        for n in range(3)
    ]
    body = client.get("/jobs?limit=2").get_json()
    assert [entry["job_id"] for entry in body["jobs"]] == ids[::-1][:2]
    assert client.get("/jobs?limit=0").status_code == 400
    assert client.get("/jobs?limit=101").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"image_key": "cat.jpg", "model": "toy"},
        {"image_key": "uploads/", "model": "toy"},
        {"image_key": "uploads/a/cat.jpg"},
        {"image_key": "uploads/a/cat.jpg", "model": "a/b"},
    ],
)
def test_start_job_bad_input_is_400_and_enqueues_nothing(
    stack: Stack, client: FlaskClient, body: dict[str, str]
) -> None:
    assert client.post("/start-job", json=body).status_code == 400
    assert stack.queue_depth(stack.queue_url) == (0, 0)


def test_start_job_enqueue_failure_is_502_and_recorded(stack: Stack, store: MemoryJobStore) -> None:
    missing_queue = stack.queue_url.rsplit("/", 1)[0] + "/does-not-exist"
    config = dataclasses.replace(load_config(), jobs_queue_url=missing_queue)
    client = create_app(config, store=store).test_client()  # type: ignore[arg-type]
    response = client.post("/start-job", json={"image_key": "uploads/a/cat.jpg", "model": "toy"})
    assert response.status_code == 502
    assert "NonExistentQueue" in response.get_json()["code"]
    [state] = store.records.values()
    assert state["status"] == "failed"
    assert state["error"].startswith("enqueue: ")


# Fixed ids: xdist workers must collect identical parameter sets.
@pytest.mark.parametrize(
    "job_id", ["0f8e6c1e-4d7b-4a8e-9c51-2b7f3a9d6e10", "not-a-uuid", "7A1C9E2B-5D3F-4E6A-8B0C-9D2E4F6A1B3C"]
)
def test_unknown_job_is_404(client: FlaskClient, job_id: str) -> None:
    response = client.get(f"/job/{job_id}/results")
    assert response.status_code == 404
    assert response.get_json() == {"error": f"job {job_id!r} not found"}


def test_unknown_route_answers_json(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert "error" in response.get_json()
