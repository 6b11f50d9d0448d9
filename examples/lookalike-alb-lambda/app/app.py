import os
import socket
import time

from flask import Flask, jsonify

app = Flask(__name__)
STARTED = time.time()


@app.route("/healthz")
def healthz():
    return jsonify(status="ok")


@app.route("/")
def index():
    return jsonify(
        service="status-board",
        host=socket.gethostname(),
        uptime=int(time.time() - STARTED),
        region=os.environ.get("AWS_REGION", "unknown"),
    )


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
