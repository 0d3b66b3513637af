"""Small helpers shared by tests: auth headers and reading data files."""

import base64
import glob
import json
import os
import threading
import time

from werkzeug.serving import make_server

from receiver.core import jsonl, layout
from receiver.forwarder import backlog as backlog_mod

# The checkout the tests run from (tests/support/helpers.py is two folders down): its deploy/, examples/, setup.cfg.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USER, PASSWORD = "smartech", "s3cret"
SETTING_PREFIXES = ("DUMPER_", "REDIS_URL")


def basic(user=USER, password=PASSWORD):
    """Return an Authorization header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def append_records(data_dir, kind, records, day):
    """Append ``records`` to the ``kind`` file of ``day``, as the receiver and the worker write them."""
    jsonl.ensure_dir(data_dir)
    path = layout.day_path(data_dir, kind, day)
    jsonl.append_lines(path, [jsonl.encode_line(record) for record in records])
    return path


def read_kind(data_dir, kind):
    """Return every record of every ``kind`` file (captures, events, rejects) in ``data_dir``."""
    records = []
    for path in sorted(glob.glob(os.path.join(data_dir, kind, "*.jsonl"))):
        with open(path, encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle)
    return records


def failing_jobs_environment(monkeypatch, env, tmp_path):
    """Set only the test settings, with no retries and the data dir under a regular file, so every job fails."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DUMPER_RETRY_INTERVALS", "none")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be\n")
    monkeypatch.setenv("DUMPER_DATA_DIR", str(blocker / "var"))
    return monkeypatch


def all_text(data_dir):
    """Return the concatenated text of every file under ``data_dir``."""
    chunks = []
    for root, _, files in os.walk(data_dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                chunks.append(handle.read().decode("utf-8", "replace"))
    return "\n".join(chunks)


def wait_until(predicate, timeout=20.0, interval=0.05):
    """Poll ``predicate`` until it returns a true value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {predicate.__doc__ or predicate}")


def backlog(data_dir):
    """Return how many captures in ``data_dir`` still wait for the forwarder."""
    return backlog_mod.pending(data_dir)[0]


def serve(app):
    """Serve the WSGI ``app`` on a free port in a thread; yield its base URL, then stop it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll: shutdown() waits for it, and every test that serves an app pays it once.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def read_terminal(leader):
    """Read everything written to the pseudo-terminal ``leader`` until it closes, then close it."""
    return read_terminal_bytes(leader).decode()


def read_terminal_bytes(leader):
    """Return the bytes written to the pseudo-terminal ``leader`` until it closes, then close it."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO once the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks)
