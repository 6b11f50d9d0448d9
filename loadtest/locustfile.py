"""Locust load test for the modelserve API, shaped like brief 004's audience (live sports commentary).

Each simulated user is a viewer: it starts once (an upload through a pre-signed URL and a job, the way
a client subscribes), then polls for updates every 2-3 s, the brief's update cadence, for as long as the
test runs. One request in ten is a prediction instead of a poll.

    locust --config loadtest/locust.conf --host https://live.staging.sports.example.com
    python loadtest/criteria.py results/run --users 5000

criteria.py judges the CSV files Locust writes; loadtest/README.md explains the method and the bar.
"""

from __future__ import annotations

import random
import uuid

from locust import HttpUser, between, task

# The toy model the reference app serves in tests; point MODEL at a model the environment holds.
MODEL = "toy"
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048  # ~2 KB, the size the capacity arithmetic assumes


class Viewer(HttpUser):
    # The brief's update cadence: every client asks for news every 2 to 3 seconds.
    wait_time = between(2, 3)

    def on_start(self) -> None:
        self.job_id: str | None = None
        with self.client.get(
            f"/upload-url?filename=viewer-{uuid.uuid4().hex[:12]}.png", name="/upload-url", catch_response=True
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"upload-url answered {answer.status_code}")
                return
            upload = answer.json()
        # Straight to S3 with the pre-signed URL, as a browser does; counted apart from the API's requests.
        self.client.put(upload["url"], data=IMAGE, name="S3 PUT (pre-signed)")
        with self.client.post(
            "/start-job", json={"image_key": upload["key"], "model": MODEL}, name="/start-job", catch_response=True
        ) as answer:
            if answer.status_code == 202:
                self.job_id = answer.json()["job_id"]
            else:
                answer.failure(f"start-job answered {answer.status_code}")

    @task(9)
    def poll(self) -> None:
        """The update poll: what 5,000 users do every 2-3 s."""
        if self.job_id is None:
            self.client.get("/health", name="/health (no job)")
            return
        with self.client.get(f"/job/{self.job_id}/results", name="/job/[id]/results", catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"results answered {answer.status_code}")

    @task(1)
    def predict(self) -> None:
        inputs = [round(random.random(), 3)]
        self.client.post("/predict", json={"model": MODEL, "inputs": inputs}, name="/predict")
