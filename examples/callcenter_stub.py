"""A stand-in for a call centre's task API: print every task an http sink sends, and answer 200.

    python examples/callcenter_stub.py --port 9000
    flask --app examples/callcenter_stub run --port 9000

Point an http sink at it (``url = "http://127.0.0.1:9000/tasks"``) to see what
the worker sends: the method, the path, the ``Idempotency-Key`` (the event
id: a real API should ignore a key it has seen) and the JSON body.
"""

import argparse
import json
import sys

from flask import Flask, request

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def printable(text):
    """Return ``text`` with control characters escaped, so a payload cannot drive the terminal."""
    return "".join(ch if ch.isprintable() or ch == "\n" else ch.encode("unicode_escape").decode() for ch in text)


def describe(method, path, key, body, raw):
    """Return the lines printed for one task."""
    shown = json.dumps(body, ensure_ascii=False, indent=2) if body is not None else raw
    return printable(f"{method} {path} Idempotency-Key: {key or '-'}\n{shown}")


def create_app(out=None):
    """Return the stub: every path takes any method, prints the task to ``out`` (stdout) and answers 200."""
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def task(path):
        line = describe(
            request.method,
            request.path,
            request.headers.get("Idempotency-Key"),
            request.get_json(silent=True),
            request.get_data(as_text=True),
        )
        print(line, file=out or sys.stdout, flush=True)
        return {"status": "ok"}

    return app


app = create_app()


def main(argv=None):
    """Serve the stub until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    options = parser.parse_args(argv)
    app.run(host=options.host, port=options.port)


if __name__ == "__main__":
    main()
