"""Every file we create is 0600 (every directory 0700), whatever the caller's umask; two serves share counters.

Real processes started from a shell whose umask is 022, as a user's often is: `serve`, a worker, the ledger's
SQLite files (with their -wal and -shm), prometheus_client's counter files before any answer.
"""

import os
import stat

import pytest
import requests

from receiver.ledger import index as ledger_index
from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER, backlog, wait_until
from tests.support.procs import output_of, run_burst_worker, start_serve, stop, wait_http

pytestmark = pytest.mark.slow
PERMISSIVE = 0o022


@pytest.fixture
def permissive_umask():
    """Run the test, and the processes it starts, under umask 022."""
    old = os.umask(PERMISSIVE)
    yield
    os.umask(old)


def modes_under(folder):
    """Return ``{path: mode}`` of every file and directory under ``folder``."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def not_private(folder):
    """Return the entries under ``folder`` that others could read: files not 0600, directories not 0700."""
    return {
        path: oct(mode)
        for path, mode in modes_under(folder).items()
        if mode != (0o700 if os.path.isdir(os.path.join(folder, path)) else 0o600)
    }


def test_serve_and_a_worker_make_only_private_files(permissive_umask, env, data_dir):
    proc_env = {**os.environ, **env, "DUMPER_FORWARDER": "true"}
    port = free_port()
    proc = start_serve(proc_env, port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        metrics = os.path.join(data_dir, "metrics")
        wait_until(lambda: any(name.endswith(".db") for name in os.listdir(metrics)))
        assert not_private(metrics) == {}  # before any answer: counter files are born 0600
        answer = requests.post(
            f"http://127.0.0.1:{port}/webhook",
            data={"data": '{"p": [{"webhook_name": "SMS_CLICK"}]}'},
            auth=(USER, PASSWORD),
            timeout=10,
        )
        assert answer.status_code == 200
        wait_until(lambda: backlog(data_dir) == 0)
        run_burst_worker(proc_env)
    finally:
        stop(proc)
    assert os.path.exists(os.path.join(data_dir, "spool", "ledger.sqlite3"))
    assert os.listdir(os.path.join(data_dir, "events"))
    assert not_private(data_dir) == {}


def test_the_ledgers_sqlite_files_are_private_in_any_process(permissive_umask, data_dir):
    os.makedirs(data_dir, mode=0o700)
    connection = ledger_index.connect(data_dir)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO files VALUES ('x', 1, 0, '2026-12-04')")
    connection.execute("COMMIT")
    spool = os.path.join(data_dir, "spool")
    assert {"ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"} <= set(os.listdir(spool))
    assert not_private(spool) == {}
    connection.close()
    ledger_index._open.clear()


def test_a_second_serve_on_the_same_metrics_dir_warns_and_keeps_the_first_ones_counters(env, data_dir):
    proc_env = {**os.environ, **env, "DUMPER_FORWARDER": "false"}
    first_port, second_port = free_port(), free_port()
    first = start_serve(proc_env, first_port, workers=1)
    second = None
    try:
        wait_http(f"http://127.0.0.1:{first_port}/healthz", first)
        metrics = os.path.join(data_dir, "metrics")
        wait_until(lambda: any(name.endswith(".db") for name in os.listdir(metrics)))
        before = {name for name in os.listdir(metrics) if name.endswith(".db")}
        second = start_serve(proc_env, second_port, workers=1)
        wait_http(f"http://127.0.0.1:{second_port}/healthz", second)
        assert before <= set(os.listdir(metrics))  # the first one's counter files are still there
        assert f"another serve uses DUMPER_METRICS_DIR {metrics}" in output_of(second)
    finally:
        stop(first)
        if second is not None:
            stop(second)
