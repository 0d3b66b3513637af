"""``failed list/show`` and command errors escape what a dead letter or a setting quotes."""

import json

import pytest
from click.testing import CliRunner
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from receiver.capture.record import new_delivery, to_record
from receiver.core.ids import new_id
from receiver.core.queues import get_queue
from receiver.core.settings import load
from receiver.forwarder.enqueue import enqueue_capture
from scripts.cli import main
from scripts.ops.failed import failed
from tests.support.batches import job_of
from tests.support.helpers import failing_jobs_environment
from tests.support.hostile import CITY, ESCAPED, PLACE, VALUE, assert_safe, assert_visible

# codecs.lookup quotes its argument as is (most exceptions quote a repr): the traceback holds it raw.
QUOTING_FUNCTION = "codecs.lookup"
# A NUL would make lookup fail before it quotes anything; a newline would split the error's last line.
QUOTED = VALUE.replace("\x00", "").replace("\n", " ")
NO_NUL = tuple(form for form in ESCAPED if form != "\\x00")


@pytest.fixture
def queue(monkeypatch, env, tmp_path):
    """Return our queue, with settings that make every capture's job fail (the data dir is under a file)."""
    failing_jobs_environment(monkeypatch, env, tmp_path)
    return get_queue(load())


@pytest.fixture
def dead(queue):
    """Fail a hostile capture's job and a job whose error message quotes hostile text; return their ids."""
    record = to_record(new_delivery(new_id(), VALUE, VALUE, "POST", "/", VALUE, VALUE, VALUE.encode()))
    record["received_at"] += VALUE
    assert enqueue_capture(queue, record, load())
    job = job_of(queue.connection, record["id"]).id
    quoting = queue.enqueue(QUOTING_FUNCTION, args=(QUOTED,))
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    assert sorted(queue.failed_job_registry.get_job_ids()) == sorted([job, quoting.id])
    return {"capture": record, "job": job, "quoting": quoting.id}


def run(*args):
    """Invoke ``failed`` and check it succeeded with safe output on both streams."""
    result = CliRunner().invoke(failed, list(args))
    assert result.exit_code == 0, result.output
    assert_safe(result.stdout, one_per_line=args[0] == "list")
    assert_safe(result.stderr, one_per_line=True)
    return result


def test_list_escapes_each_field_and_keeps_one_line_per_job(dead):
    out = run("list").stdout
    assert len(out.splitlines()) == 2
    assert_visible(out, NO_NUL, natives=(CITY, PLACE))
    line = next(line for line in out.splitlines() if line.startswith(dead["job"]))
    assert line.split("  ")[2].startswith(f"{CITY}\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e\\x00\\x7f\\rtwo\\n")
    quoted = next(line for line in out.splitlines() if line.startswith(dead["quoting"]))
    assert "LookupError: unknown encoding: मुंबई\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e\\x7f\\r" in quoted


def test_list_json_is_escaped_and_round_trips(dead):
    out = run("list", "--json").stdout
    assert "\\u001b]0;pwned\\u0007" in out and "\\u009b31m" in out and "\\u202e" in out
    jobs = {job["id"]: job for job in json.loads(out)}
    assert jobs[dead["job"]]["source"] == VALUE
    assert jobs[dead["job"]]["received_at"] == dead["capture"]["received_at"]
    assert jobs[dead["quoting"]]["error"].startswith(f"LookupError: unknown encoding: {CITY}\x1b]0;pwned\x07")


def test_show_escapes_the_fields_and_the_traceback(dead):
    out = run("show", dead["job"]).stdout
    assert_visible(out, natives=(CITY, PLACE))
    assert f"source:       {CITY}\\x1b]0;pwned\\x07" in out
    trace = run("show", dead["quoting"]).stdout.split("traceback:\n", 1)[1]
    assert trace.startswith("Traceback (most recent call last):")
    assert_visible(trace, NO_NUL[:4], natives=(CITY,))
    assert "\\rtwo lines\tand a tab" in trace  # a traceback keeps its tabs (and lines), nothing else


def test_an_error_message_quoting_a_setting_is_escaped_by_the_main_group(queue, monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/{QUOTED}.sock")
    result = CliRunner().invoke(main, ["worker", "--burst"])  # a command whose own errors quote values raw
    assert result.exit_code == 1 and result.stderr.startswith("Error: REDIS_URL: cannot reach Redis at ")
    assert_safe(result.stderr, one_per_line=True)
    assert_visible(result.stderr, NO_NUL[:4], natives=(CITY, PLACE))
