"""Real events, captures, sinks and a recording HTTP endpoint for the routing tests."""

import copy
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, request

from receiver.capture.analyse import analyse_capture
from receiver.replay import samples
from receiver.routes import config
from tests.support.capture_factory import make_capture
from tests.support.helpers import serve

BIG_NUMBER = 9007199254740993123  # over 2**53: a double (or a lenient JSON reader) would change it
ROUTE = "test-route"
ROUTES_FILE = "routes.toml"


def capture_with(count):
    """Return a capture received now holding one Smartech batch of ``count`` events with fresh guids."""
    made = []
    for index, template in enumerate(itertools.islice(itertools.cycle(samples.CHANNEL_EVENTS), count)):
        event = copy.deepcopy(template)
        event["event_params"].update(guid=str(uuid.uuid4()), TRANSID=BIG_NUMBER + index)
        made.append(event)
    return make_capture(datetime.now(UTC), samples.encode_body(samples.payload(made)))


def events_of(capture, route=ROUTE):
    """Return the normalised events the worker makes of ``capture``, each sent by ``route``, as a plan does."""
    return [{**event, "route": route} for event in analyse_capture(capture).events]


def fresh_events(count):
    """Return ``count`` normalised events of a fresh capture."""
    return events_of(capture_with(count))


def sink(table, name="target"):
    """Return the sink a routes file's ``[sinks.NAME]`` table makes, validated as the worker does."""
    return config.read_sink(name, table, ROUTES_FILE)


def toml_value(value):
    """Return ``value`` as TOML (strings, numbers, lists and tables are enough here)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)


def write_routes(directory, sinks, routes):
    """Write a routes file of ``sinks`` (name -> table) and ``routes`` (tables) in ``directory``; return its path."""
    lines = []
    for name, table in sinks.items():
        lines.append(f"[sinks.{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    for route in routes:
        lines.append("[[routes]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in route.items()]
    path = directory / ROUTES_FILE
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@dataclass
class Received:
    """One request the endpoint received."""

    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        """Return the body as JSON."""
        return json.loads(self.body)


class Endpoint:
    """A real HTTP server on a free port that records every request and answers each path as told."""

    def __init__(self):
        self.received = []
        self.scripts = {}  # path -> answers still to give, in order: (status, body[, headers]); then 200
        self.hang = {}  # path -> seconds to wait before answering
        self.down_until = {}  # path -> monotonic time until which it answers 503
        self.lock = threading.Lock()
        self.app = Flask(__name__)
        self.app.add_url_rule("/<path:path>", "any", self.answer, methods=["POST", "PUT", "GET"])
        self.server = serve(self.app)
        self.url = next(self.server)

    def will_answer(self, path, *answers):
        """Answer the next requests to ``/path`` with ``answers`` (a status, or (status, body[, headers])), then 200."""
        self.scripts.setdefault("/" + path, []).extend(
            a if isinstance(a, tuple) else (a, f"status {a}") for a in answers
        )

    def answer(self, path):
        """Record the request and give the scripted answer."""
        with self.lock:
            self.received.append(Received(request.method, request.path, dict(request.headers), request.get_data()))
            self.received[-1].at = time.monotonic()
            script = self.scripts.get(request.path)
            status, body, *headers = script.pop(0) if script else (200, '{"status": "ok"}')
            if time.monotonic() < self.down_until.get(request.path, 0):
                status, body, headers = 503, "down", []
            self.received[-1].status = status
        time.sleep(self.hang.get(request.path, 0))
        return body, status, (headers[0] if headers else {})

    def to(self, path=""):
        """Return the URL of ``/path`` on this server."""
        return f"{self.url}/{path}"

    def requests_to(self, path):
        """Return the requests received at ``/path``."""
        return [r for r in self.received if r.path == "/" + path]

    def keys(self, path):
        """Return the Idempotency-Key of every request to ``/path``, in order."""
        return [r.headers.get("Idempotency-Key") for r in self.requests_to(path)]

    def close(self):
        """Stop the server."""
        self.server.close()
