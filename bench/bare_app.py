"""The baseline for the ack path: a bare Flask app that answers the webhook route with an empty 200.

Served by the same gunicorn command and config as the receiver:
``gunicorn --config python:receiver.web.gunicorn_conf 'bench.bare_app:app'``.
"""

from flask import Flask

app = Flask(__name__)


@app.route("/webhook", methods=["POST"])
def webhook():
    """Answer and do nothing else."""
    return "", 200


@app.route("/healthz", methods=["GET"])
def healthz():
    """Answer the readiness poll of the bench."""
    return "", 200
