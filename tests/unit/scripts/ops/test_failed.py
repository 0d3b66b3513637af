"""``smartech-dumper failed`` against real failed jobs: real captures, an RQ worker in this process, the real Redis."""

import json
import re

import pytest
from click.testing import CliRunner
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from receiver.capture.record import new_delivery, to_record
from receiver.core.ids import new_id
from receiver.core.queues import get_queue
from receiver.core.settings import load
from receiver.forwarder.enqueue import enqueue_capture
from receiver.procs.stack import free_port
from scripts.cli import main
from scripts.ops.failed import failed
from tests.support.batches import job_of
from tests.support.helpers import failing_jobs_environment, read_kind

SOURCE = "panel-a"
ERROR_LINE = re.compile(r"^NotADirectoryError: \[Errno 20\] Not a directory: '.+'$")


@pytest.fixture
def environment(monkeypatch, env, tmp_path):
    """Set the test settings, with no retries and a data dir under a regular file, so jobs fail."""
    return failing_jobs_environment(monkeypatch, env, tmp_path)


@pytest.fixture
def queue(environment):
    """Return our RQ queue as the commands see it."""
    return get_queue(load())


def capture(number):
    """Return a real capture record holding one distinct email event."""
    body = json.dumps([{"TRANSID": number, "EVENT": "sent", "TIMESTAMP": 1700000000 + number}]).encode()
    return to_record(new_delivery(new_id(), SOURCE, "203.0.113.7", "POST", "/", "application/json", "smartech", body))


def work(queue):
    """Run every queued job with a real burst worker."""
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)


def make_failed(queue, count=1):
    """Enqueue ``count`` captures as the receiver does and let them fail; return the captures."""
    captures = [capture(number) for number in range(1, count + 1)]
    for each in captures:
        assert enqueue_capture(queue, each, load())
        each["job"] = job_of(queue.connection, each["id"]).id
    work(queue)
    assert sorted(queue.failed_job_registry.get_job_ids()) == sorted(job_id(c) for c in captures)
    return captures


def job_id(capture):
    """Return the id of the job that holds ``capture`` (a job of one capture here: each is queued alone)."""
    return capture["job"]


def run(*args):
    """Invoke ``failed`` with ``args`` and return the result."""
    return CliRunner().invoke(failed, list(args))


def test_list_shows_each_failed_job_on_one_line(queue):
    [one] = make_failed(queue)

    result = run("list")

    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    listed_id, ended_at, source, error = line.split("  ", 3)
    assert (listed_id, source) == (job_id(one), SOURCE)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ended_at)
    assert ERROR_LINE.match(error), error


def test_list_json_gives_the_same_facts(queue):
    captures = make_failed(queue, count=2)

    result = run("list", "--json")

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert sorted(item["id"] for item in listed) == sorted(job_id(c) for c in captures)
    for item in listed:
        assert item["id"] == job_id(next(c for c in captures if c["id"] == item["capture_id"]))
        assert item["source"] == SOURCE
        assert item["received_at"] == next(c["received_at"] for c in captures if c["id"] == item["capture_id"])
        assert ERROR_LINE.match(item["error"])


def test_an_empty_list_says_so_on_stderr_only(queue):
    result = run("list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "no failed jobs in queue 'smartech' or its routing queues\n"
    assert json.loads(run("list", "--json").stdout) == []


def test_show_prints_the_details_and_the_full_traceback(queue):
    [one] = make_failed(queue)

    result = run("show", job_id(one))

    assert result.exit_code == 0, result.output
    fields = dict(line.split(":", 1) for line in result.output.splitlines()[:7])
    assert {key: value.strip() for key, value in fields.items()} == {
        "job id": job_id(one),
        "capture id": one["id"],
        "source": SOURCE,
        "received_at": one["received_at"],
        "enqueued_at": fields["enqueued_at"].strip(),
        "ended_at": fields["ended_at"].strip(),
        "retries left": "none (no retry policy)",
    }
    assert fields["enqueued_at"].strip() <= fields["ended_at"].strip()
    trace = result.output.split("traceback:\n", 1)[1]
    assert trace.startswith("Traceback (most recent call last):")
    assert "jobs/process.py" in trace
    assert ERROR_LINE.match(trace.strip().splitlines()[-1])


def test_requeue_moves_the_job_back_and_a_worker_completes_it_once_fixed(queue, environment, tmp_path):
    [one, other] = make_failed(queue, count=2)

    result = run("requeue", job_id(one))

    assert result.exit_code == 0, result.output
    assert result.output == f"requeued {job_id(one)} to queue 'smartech'\n"
    assert queue.failed_job_registry.get_job_ids() == [job_id(other)]
    assert queue.job_ids == [job_id(one)]
    fixed = tmp_path / "fixed"
    environment.setenv("DUMPER_DATA_DIR", str(fixed))
    work(queue)
    job = Job.fetch(job_id(one), connection=queue.connection, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED
    assert [event["capture_id"] for event in read_kind(str(fixed), "events")] == [one["id"]]


def test_requeue_all_requeues_every_job_and_counts_them(queue, environment, tmp_path):
    captures = make_failed(queue, count=3)

    result = run("requeue", "--all")

    assert result.exit_code == 0, result.output
    assert result.output == "requeued 3 failed job(s) to queue 'smartech'\n"
    assert queue.failed_job_registry.count == 0
    assert sorted(queue.job_ids) == sorted(job_id(c) for c in captures)
    environment.setenv("DUMPER_DATA_DIR", str(tmp_path / "fixed"))
    work(queue)
    events = read_kind(str(tmp_path / "fixed"), "events")
    assert sorted(e["capture_id"] for e in events) == sorted(c["id"] for c in captures)
    assert run("requeue", "--all").output == "requeued 0 failed job(s) to queue 'smartech'\n"


def test_the_command_is_registered_on_the_main_group(queue):
    [one] = make_failed(queue)
    result = CliRunner().invoke(main, ["failed", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(job_id(one) + "  ")


@pytest.mark.parametrize("args", [["show", "no-such-job"], ["requeue", "no-such-job"]], ids=["show", "requeue"])
def test_an_unknown_id_fails_in_one_line(queue, args):
    make_failed(queue)

    result = run(*args)

    assert result.exit_code == 1
    assert result.output == (
        "Error: no failed job 'no-such-job' in queue 'smartech' or its routing queues;"
        " see: smartech-dumper failed list\n"
    )
    assert queue.failed_job_registry.count == 1


def test_a_finished_job_is_not_a_failed_one(queue, environment, tmp_path):
    environment.setenv("DUMPER_DATA_DIR", str(tmp_path / "fine"))
    done = capture(7)
    assert enqueue_capture(queue, done, load())
    done["job"] = job_of(queue.connection, done["id"]).id
    work(queue)

    result = run("requeue", job_id(done))

    assert result.exit_code == 1
    assert f"no failed job {job_id(done)!r}" in result.output
    assert queue.count == 0


@pytest.mark.parametrize("args", [["requeue"], ["requeue", "some-id", "--all"]], ids=["neither", "both"])
def test_requeue_needs_exactly_one_of_id_or_all(queue, args):
    make_failed(queue)

    result = run(*args)

    assert result.exit_code == 2
    assert "Error: give exactly one of ID or --all" in result.output
    assert queue.failed_job_registry.count == 1


def test_a_job_whose_data_is_gone_is_listed_and_reported(queue, redis_conn):
    [gone, kept] = make_failed(queue, count=2)
    redis_conn.delete(Job.key_for(job_id(gone)))

    listing = run("list")
    single = run("requeue", job_id(gone))
    every = run("requeue", "--all")

    assert listing.exit_code == 0
    assert f"{job_id(gone)}  -  -  job data is gone from Redis" in listing.output
    assert single.exit_code == 1
    assert f"failed job {job_id(gone)!r} has no data left in Redis" in single.output
    assert every.exit_code == 1
    assert every.output.splitlines() == [
        "requeued 1 failed job(s) to queue 'smartech'",
        f"Error: 1 failed job(s) have no data left in Redis and were not requeued: {job_id(gone)}",
    ]
    assert queue.job_ids == [job_id(kept)]


@pytest.mark.parametrize(
    "args",
    [["list"], ["show", "x"], ["requeue", "x"], ["requeue", "--all"]],
    ids=["list", "show", "requeue", "requeue-all"],
)
def test_unreachable_redis_fails_in_one_line_naming_redis_url(environment, tmp_path, args):
    url = f"unix://{tmp_path}/absent.sock"
    environment.setenv("REDIS_URL", url)

    result = run(*args)

    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith(f"Error: cannot reach Redis at {url} (REDIS_URL): ")
    assert "Traceback" not in result.output


def test_a_redis_password_is_never_printed(environment, tmp_path):
    environment.setenv("REDIS_URL", f"redis://ops:hunter2@127.0.0.1:{free_port()}/0")

    result = run("list")

    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert "Error: cannot reach Redis at redis://ops:***@127.0.0.1:" in result.output


def test_a_bad_setting_names_the_variable(environment):
    environment.setenv("DUMPER_REDIS_TIMEOUT", "soon")

    result = run("list")

    assert result.exit_code == 1
    assert result.output == "Error: DUMPER_REDIS_TIMEOUT: expected a number of seconds, got 'soon'\n"


def test_a_redis_url_redis_cannot_parse_is_one_line(environment):
    environment.setenv("REDIS_URL", "redis://127.0.0.1:notaport/0")

    result = run("list")

    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("Error: REDIS_URL: ")


def test_requeue_all_puts_each_dead_letter_back_on_its_own_queue(queue):
    [one] = make_failed(queue)
    high = Queue("smartech-high", connection=queue.connection, serializer=JSONSerializer)
    gone = high.enqueue("jobs.routing.deliver.deliver_events", "gone", [])  # no routes file: a dead letter at once
    SimpleWorker([high], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    assert high.failed_job_registry.get_job_ids() == [gone.id]
    assert {item["id"]: item["queue"] for item in json.loads(run("list", "--json").stdout)} == {
        job_id(one): "smartech",
        gone.id: "smartech-high",
    }

    result = run("requeue", "--all")

    assert result.output == "requeued 2 failed job(s): 1 to queue 'smartech', 1 to queue 'smartech-high'\n"
    assert queue.job_ids == [job_id(one)] and high.job_ids == [gone.id]
