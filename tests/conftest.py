"""Shared fixtures: a private real redis-server on a unix socket, a private PostgreSQL, data dirs, settings."""

import os
import shutil
import tempfile
import uuid

import pytest
import redis as redis_lib

from receiver.procs import redis_server as redis_proc
from tests.support import pg


@pytest.fixture(scope="session")
def redis_server():
    """Start one private redis-server per session and yield its ``unix://`` URL."""
    # /tmp keeps the socket path far below the 107-character limit.
    workdir = tempfile.mkdtemp(prefix="sdr-", dir="/tmp")
    sock = os.path.join(workdir, "r.sock")
    url = f"unix://{sock}"
    try:
        proc = redis_proc.start(workdir, unixsocket=sock)
    except redis_proc.RedisNotFound as exc:
        pytest.exit(f"{exc}; `make test` installs it", returncode=3)
    try:
        redis_proc.wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """Start one private PostgreSQL per session (never the machine's own) and yield it."""
    try:
        server = pg.PrivatePostgres()
    except pg.PostgresNotFound as exc:
        pytest.exit(f"{exc}; `make install` installs it", returncode=3)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """Yield the plain ``postgresql://`` URL of a fresh database of the private server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(autouse=True)
def no_leftover_servers():
    """Stop any gunicorn a test started and did not stop (say, because an assertion failed)."""
    from tests.support import procs

    shared = set(procs.RUNNING)  # servers of wider-scoped fixtures, stopped by their own fixture
    yield
    procs.stop_all(keep=shared)


@pytest.fixture
def redis_url(redis_server):
    """Yield the session Redis URL after emptying it, so each test starts clean."""
    client = redis_lib.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def redis_conn(redis_url):
    """Yield a client of the private Redis."""
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def data_dir(tmp_path):
    """Return a fresh data directory path (not yet created)."""
    return str(tmp_path / "var")


@pytest.fixture
def env(redis_url, data_dir):
    """Return the environment-style settings every component shares in a test."""
    return {
        "REDIS_URL": redis_url,
        "DUMPER_DATA_DIR": data_dir,
        "DUMPER_QUEUE": "smartech",
        "DUMPER_BASIC_AUTH": "smartech:s3cret",
        "DUMPER_FSYNC": "false",
        # In-process apps forward on demand (Forwarder.drain); real servers run the thread.
        "DUMPER_FORWARDER": "false",
    }
