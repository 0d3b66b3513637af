"""replay: --to a real receiver over HTTP, --enqueue into real RQ, dry runs, resume, and every bad input."""

import json
import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from werkzeug.utils import redirect

from receiver.core.queues import get_queue
from receiver.core.settings import load
from receiver.procs.stack import free_port
from receiver.web import create_app
from scripts.replay.command import PASSWORD_ENVVAR, USER_ENVVAR, replay
from tests.support.capture_factory import (
    body_bytes,
    days_ago,
    make_capture,
    read_all,
    smartech_body,
    write_captures,
    write_gz,
)
from tests.support.helpers import PASSWORD, USER, serve

COUNT = 12


class Gate:
    """Wrap a WSGI app: count requests and, once closed, answer 503 without passing them on."""

    def __init__(self, app):
        self.app, self.lock = app, threading.Lock()
        self.count, self.open_for = 0, None

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
            refused = self.open_for is not None and self.count > self.open_for
        if refused:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        return self.app(environ, start_response)


@pytest.fixture(autouse=True)
def no_replay_env(monkeypatch):
    """Keep credentials from the outer environment out of every test."""
    monkeypatch.delenv(USER_ENVVAR, raising=False)
    monkeypatch.delenv(PASSWORD_ENVVAR, raising=False)


@pytest.fixture
def captures(data_dir):
    """Write COUNT distinct captures: a third two days ago (gzipped), the rest yesterday, one not UTF-8."""
    older = [make_capture(days_ago(2, hour=1 + i), smartech_body("EMAIL_OPEN")) for i in range(COUNT // 3)]
    write_gz(data_dir, "captures", older[0]["received_at"][:10], older)
    newer = [
        make_capture(days_ago(1, hour=1 + i), smartech_body("SMS_CLICK", foreignkey=str(i % 2)), source="crm")
        for i in range(COUNT - len(older) - 1)
    ]
    newer.append(make_capture(days_ago(1, hour=23), b"data=\xff\xfe not utf-8", content_type="text/plain"))
    write_captures(data_dir, newer)
    return older + newer


@pytest.fixture
def staging(env, tmp_path):
    """Serve a second real receiver (its own data dir) behind a Gate; yield (webhook URL, data dir, gate)."""
    staging_dir = str(tmp_path / "staging")
    gate = Gate(create_app({**env, "DUMPER_DATA_DIR": staging_dir, "DUMPER_QUEUE": "staging"}))
    for base in serve(gate):
        yield f"{base}/webhook/", staging_dir, gate


def run(data_dir, *args, env=None, input=None):
    """Invoke replay with ``--data-dir`` and return the result."""
    return CliRunner(env=env).invoke(replay, ["--data-dir", data_dir, *args], input=input)


def to(url, *args):
    """Return the arguments of an authenticated --to replay."""
    return ["--to", url, "--user", USER, "--password", PASSWORD, *args]


def arrived(staging_dir):
    """Return a Counter of (body bytes, content type) received by the staging receiver."""
    return Counter((body_bytes(r), r["content_type"]) for r in read_all(staging_dir, "captures"))


def expected(records):
    """Return the Counter ``arrived`` should equal after replaying ``records`` once."""
    return Counter((body_bytes(r), r["content_type"]) for r in records)


def test_replay_to_a_receiver_sends_every_body_byte_for_byte(captures, staging, data_dir):
    url, staging_dir, _ = staging
    result = run(data_dir, *to(url))
    assert result.exit_code == 0, result.output
    assert arrived(staging_dir) == expected(captures)
    assert result.stdout.splitlines() == [
        f"sent {COUNT} to POST {url}: ok {COUNT} (200×{COUNT}), other status 0, connection errors 0"
    ]
    assert {r["source"] for r in read_all(staging_dir, "captures")} == {"default"}


def test_filters_select_what_is_replayed_and_keep_path_keeps_the_source(captures, staging, data_dir):
    url, staging_dir, _ = staging
    result = run(data_dir, *to(url, "--since", "yesterday", "--until", "today", "--foreignkey", "1", "--keep-path"))
    assert result.exit_code == 0, result.output
    chosen = [r for r in captures if r["source"] == "crm" and b"%22foreignkey%22%3A%221%22" in body_bytes(r)]
    assert len(chosen) == 3 and arrived(staging_dir) == expected(chosen)
    assert {r["source"] for r in read_all(staging_dir, "captures")} == {"crm"}


def test_dry_run_lists_and_sends_nothing(captures, staging, data_dir):
    url, staging_dir, gate = staging
    result = run(data_dir, *to(url, "--dry-run", "--source", "crm"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    crm = [r for r in captures if r["source"] == "crm"]
    assert [line.split()[0] for line in lines[:-1]] == [r["id"] for r in crm]
    assert lines[0].endswith(f"would send to POST {url}")
    assert lines[-1] == f"dry run: {len(crm)} captures would be sent to POST {url}; nothing was sent"
    rows = [json.loads(line) for line in run(data_dir, *to(url, "--dry-run", "--json")).stdout.splitlines()]
    assert [row["id"] for row in rows[:-1]] == [r["id"] for r in captures]
    assert rows[0]["outcome"] == "dry-run" and rows[-1]["summary"]["would_send"] == COUNT
    assert gate.count == 0 and read_all(staging_dir, "captures") == []


def test_ids_files_and_stdin_select_captures(captures, staging, data_dir):
    url, staging_dir, _ = staging
    result = run(data_dir, *to(url, "--id", captures[0]["id"], "--id", captures[-1]["id"].lower()))
    assert result.exit_code == 0, result.output
    assert arrived(staging_dir) == expected([captures[0], captures[-1]])
    result = run(data_dir, *to(url, "--ids-from", "-"), input=f"{captures[1]['id']}\n\n{captures[2]['id']}\n")
    assert result.exit_code == 0, result.output
    assert arrived(staging_dir) == expected(captures[:3] + [captures[-1]])
    gz = os.path.join(data_dir, "captures", captures[0]["received_at"][:10] + ".jsonl.gz")
    result = run(data_dir, *to(url, "--file", gz, "-q"))
    assert result.exit_code == 0, result.output
    assert arrived(staging_dir) == expected(captures[:3] + [captures[-1]] + captures[: COUNT // 3])


def test_verbose_and_json_print_every_capture_quiet_only_the_summary(captures, staging, data_dir):
    url, _, _ = staging
    verbose = run(data_dir, *to(url, "-v", "--limit", "2")).stdout.splitlines()
    assert [line.split()[0] for line in verbose[:2]] == [c["id"] for c in captures[:2]]
    assert verbose[0].endswith(" 200") and len(verbose) == 3
    rows = [json.loads(line) for line in run(data_dir, *to(url, "--json", "--limit", "2")).stdout.splitlines()]
    assert [(row["outcome"], row["result"]) for row in rows[:2]] == [("ok", "200")] * 2
    assert rows[2]["summary"]["ok"] == 2 and rows[2]["summary"]["results"] == {"200": 2}
    quiet = run(data_dir, *to(url, "-q", "--limit", "2"))
    assert quiet.stdout.splitlines() == [f"sent 2 to POST {url}: ok 2 (200×2), other status 0, connection errors 0"]


def test_failures_are_listed_counted_and_fail_the_exit_status(captures, staging, data_dir):
    url, staging_dir, gate = staging
    gate.open_for = 3
    result = run(data_dir, *to(url, "--max-errors", "0"))
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.endswith(" 503")]
    assert len(failed) == COUNT - 3
    assert result.stdout.splitlines()[-1] == (
        f"sent {COUNT} to POST {url}: ok 3 (200×3), other status {COUNT - 3} (503×{COUNT - 3}), connection errors 0"
    )
    assert len(read_all(staging_dir, "captures")) == 3


def test_max_errors_stops_the_replay(captures, staging, data_dir):
    url, _, gate = staging
    gate.open_for = 0
    result = run(data_dir, *to(url, "--max-errors", "2"))
    assert result.exit_code == 1
    assert gate.count <= 2 + 2  # the two failures plus at most the window already started
    assert "stopped after 2 failures in a row (last: 503)" in result.stderr


def test_connection_errors_and_redirects_are_failures(captures, staging, data_dir):
    url = f"http://127.0.0.1:{free_port()}/webhook/"
    result = run(data_dir, *to(url, "--limit", "2"))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].endswith("error: Connection refused")
    assert result.stdout.splitlines()[-1].endswith("other status 0, connection errors 2")
    target = staging[0]
    for base in serve(lambda environ, start_response: redirect(target, 302)(environ, start_response)):
        result = run(data_dir, *to(base + "/webhook/", "--limit", "1"))
    assert result.exit_code == 1 and "(302×1)" in result.stdout
    assert read_all(staging[1], "captures") == []


def test_credentials_from_the_environment_and_a_wrong_password(captures, staging, data_dir):
    url, staging_dir, _ = staging
    ok = run(data_dir, "--to", url, "--limit", "1", env={USER_ENVVAR: USER, PASSWORD_ENVVAR: PASSWORD})
    assert ok.exit_code == 0 and len(read_all(staging_dir, "captures")) == 1
    wrong = run(data_dir, "--to", url, "--user", USER, "--password", "nope", "--limit", "1")
    assert wrong.exit_code == 1 and "(401×1)" in wrong.stdout


def test_rate_and_concurrency(captures, staging, data_dir):
    url, staging_dir, _ = staging
    started = time.monotonic()
    result = run(data_dir, *to(url, "--rate", "20", "--concurrency", "4", "--limit", "10"))
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 9 / 20
    assert arrived(staging_dir) == expected(captures[:10])


def test_resume_after_the_target_failed_sends_each_capture_exactly_once(captures, staging, data_dir, tmp_path):
    url, staging_dir, gate = staging
    state = str(tmp_path / "replay.state")
    gate.open_for = 5
    first = run(data_dir, *to(url, "--resume", state, "--concurrency", "3", "--max-errors", "3"))
    assert first.exit_code == 1
    assert f"to continue, run the same command again with --resume {state}" in first.stderr
    assert len(read_all(staging_dir, "captures")) == 5
    gate.open_for = None
    second = run(data_dir, *to(url, "--resume", state, "--concurrency", "3"))
    assert second.exit_code == 0, second.output
    assert f"skipped 5 already delivered ({state})" in second.stdout
    assert arrived(staging_dir) == expected(captures)
    third = run(data_dir, *to(url, "--resume", state))
    assert third.exit_code == 0 and f"sent 0 to POST {url}" in third.stdout and f"skipped {COUNT}" in third.stdout
    assert arrived(staging_dir) == expected(captures)
    with open(state, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert lines[0]["replay_state"] == 1 and lines[0]["target"] == f"POST {url}"
    assert sorted(entry["i"] for entry in lines[1:] if entry["ok"]) == list(range(COUNT))


def test_a_replay_never_reaches_past_its_start_even_when_resumed(captures, staging, data_dir, tmp_path):
    url, staging_dir, _ = staging
    state = str(tmp_path / "replay.state")
    assert run(data_dir, *to(url, "--since", "3d", "--resume", state)).exit_code == 0
    fresh = write_captures(data_dir, [make_capture(datetime.now(UTC), smartech_body())])
    resumed = run(data_dir, *to(url, "--since", "3d", "--resume", state))
    assert resumed.exit_code == 0 and f"sent 0 to POST {url}" in resumed.stdout
    assert arrived(staging_dir) == expected(captures)
    again = run(data_dir, *to(url, "--since", "3d"))
    assert again.exit_code == 0 and f"sent {COUNT + 1} to POST {url}" in again.stdout
    assert arrived(staging_dir) == expected(captures * 2 + fresh)


def test_a_state_file_of_another_replay_is_refused(captures, staging, data_dir, tmp_path):
    url, _, _ = staging
    state = str(tmp_path / "replay.state")
    assert run(data_dir, *to(url, "--resume", state, "--limit", "1")).exit_code == 0
    result = run(data_dir, *to(url, "--resume", state, "--limit", "2"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {state} belongs to another replay (selection or target differ): "
        "rerun with the options it was started with, or use a new state file"
    ]
    with open(state, "w", encoding="utf-8") as handle:
        handle.write("not json\n")
    assert "is corrupt" in run(data_dir, *to(url, "--resume", state)).stderr
    missing = run(data_dir, *to(url, "--resume", str(tmp_path / "no" / "such" / "dir" / "state")))
    assert missing.exit_code == 1 and "its directory does not exist" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "choose exactly one target: --to URL or --enqueue"),
        (["--to", "http://x/", "--enqueue"], "choose exactly one target: --to URL or --enqueue"),
        (["--to", "ftp://x/"], "must start with http:// or https://"),
        (["--to", "http://x/", "--user", "u"], "give both --user and --password, or neither"),
        (["--enqueue", "--user", "u"], "--user and --password go with --to, not --enqueue"),
        (["--enqueue", "--keep-path"], "--keep-path goes with --to, not --enqueue"),
        (["--to", "http://x/", "--rate", "0"], "Invalid value for '--rate'"),
        (["--to", "http://x/", "--concurrency", "0"], "Invalid value for '--concurrency'"),
        (["--to", "http://x/", "--timeout", "-1"], "Invalid value for '--timeout'"),
        (["--to", "http://x/", "--since", "soon"], "cannot read 'soon' as a time"),
        (["--to", "http://x/", "--id", "nope"], "'nope' is not a capture id"),
        (
            ["--to", "http://x/", "--id", "01KB3Q6E0M8ZJ7V6Q2W5T9X4YR", "--file", __file__],
            "--file and --id/--ids-from cannot be combined",
        ),
        (["--to", "http://x/", "--file", "/no/such/file.jsonl"], "does not exist"),
    ],
)
def test_bad_input_is_a_usage_error(args, message, data_dir):
    os.makedirs(data_dir)
    result = run(data_dir, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_unknown_ids_are_one_error_before_anything_is_sent(captures, staging, data_dir):
    url, staging_dir, gate = staging
    unknown = make_capture(days_ago(1), "x")["id"]
    result = run(data_dir, *to(url, "--id", captures[0]["id"], "--id", unknown))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: unknown capture id {unknown} (not in {data_dir}/captures)"]
    assert gate.count == 0


@pytest.fixture
def queue_env(env, monkeypatch):
    """Put the test settings in the environment, as the CLI and the job read them."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def work(queue):
    """Drain ``queue`` with a real RQ worker; return the jobs' results."""
    worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
    worker.work(burst=True)
    return worker


def test_enqueue_reprocesses_captures_without_duplicate_events(captures, queue_env, data_dir):
    queue = get_queue(load())
    first = run(data_dir, "--enqueue", "-v")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == (
        f"sent {COUNT} to RQ queue 'smartech': ok {COUNT} (enqueued×{COUNT}), other status 0, connection errors 0"
    )
    assert queue.count == 1  # one job carries them all
    again = run(data_dir, "--enqueue")
    assert f"(already queued×{COUNT})" in again.stdout and queue.count == 1
    work(queue)
    events = [e["event_id"] for e in read_all(data_dir, "events")]
    assert len(events) == COUNT - 1 and len(set(events)) == COUNT - 1  # one capture is rejected
    third = run(data_dir, "--enqueue")
    assert f"(enqueued×{COUNT})" in third.stdout and queue.count == 1  # captures whose job ran are queued again
    work(queue)
    assert queue.finished_job_registry.count == 2  # the first job stays finished until RQ's result TTL
    assert sorted(e["event_id"] for e in read_all(data_dir, "events")) == sorted(events)
    assert len(read_all(data_dir, "rejects")) == 1  # a reject, like an event, is written once


def test_enqueue_with_redis_away_or_bad_settings_is_one_error(captures, queue_env, data_dir, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "unix:///nonexistent/r.sock")
    result = run(data_dir, "--enqueue")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: REDIS_URL: cannot reach Redis at unix:///nonexistent/r.sock")
    monkeypatch.setenv("REDIS_URL", "http://nope")
    result = run(data_dir, "--enqueue")
    assert result.exit_code == 1 and result.stderr.startswith("Error: REDIS_URL:")
    assert "Traceback" not in result.output


def test_replaying_into_our_own_receiver_ends(captures, env, data_dir):
    for base in serve(create_app(env)):  # the receiver writes into the very data dir being replayed
        result = run(data_dir, *to(base + "/webhook/", "--concurrency", "2"))
    assert result.exit_code == 0, result.output
    assert f"sent {COUNT} " in result.stdout
    assert len(read_all(data_dir, "captures")) == 2 * COUNT


def test_enqueue_runs_again_a_job_that_is_queued_in_no_queue(captures, queue_env, data_dir):
    queue = get_queue(load())
    assert run(data_dir, "--enqueue", "--limit", "1").exit_code == 0
    [job_id] = queue.get_job_ids()
    queue.connection.lpop(queue.key)  # a pop whose reply was lost: "queued", in no queue
    again = run(data_dir, "--enqueue", "--limit", "1")
    [new_id] = queue.get_job_ids()  # a new job holds the capture now: the lost one never runs
    assert "(enqueued×1)" in again.stdout and new_id != job_id
    assert "(already queued×1)" in run(data_dir, "--enqueue", "--limit", "1").stdout
