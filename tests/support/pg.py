"""A private, real PostgreSQL for tests and benches: initdb and pg_ctl in a temporary dir, never the machine's own.

The server listens on a unix socket in its own directory under /tmp (a short
path: the socket name must stay under 107 characters) and on a free port of
127.0.0.1, with trust authentication for the ``postgres`` role. initdb and
postgres refuse to run as root, so under root every command runs as the
``postgres`` system user (``runuser``), which owns the directory.
"""

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile

import psycopg

from receiver.procs.stack import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin"  # Debian's postgresql package, one directory per major version
SYSTEM_USER = "postgres"
ROLE = "postgres"
COMMAND_TIMEOUT = 60
# Tests need neither durability nor crash safety: skip the disk flushes.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


def bindir():
    """Return the directory of the newest installed initdb and pg_ctl."""
    found = [path for path in glob.glob(BIN_GLOB) if os.access(os.path.join(path, "pg_ctl"), os.X_OK)]
    if found:
        return max(found, key=lambda path: int(re.sub(r"\D", "", path.split("/")[-2]) or 0))
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return os.path.dirname(os.path.realpath(on_path))
    raise PostgresNotFound(f"no initdb/pg_ctl in {BIN_GLOB} or on PATH; `apt-get install postgresql`")


class PrivatePostgres:
    """A PostgreSQL server of our own in a temporary directory, stopped and removed by ``stop``."""

    def __init__(self, durable=False, prefix="sdp-"):
        self.bin = bindir()
        self.workdir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        self.data = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.port = free_port()
        self.started = False
        try:
            if os.geteuid() == 0:
                account = pwd.getpwnam(SYSTEM_USER)
                os.chown(self.workdir, account.pw_uid, account.pw_gid)
            self.run("initdb", "-D", self.data, "-A", "trust", "-U", ROLE, "-E", "UTF8", "--locale=C", "--no-sync")
            settings = [f"-k {self.workdir}", f"-p {self.port}", "-c listen_addresses=127.0.0.1"]
            settings += [] if durable else [f"-c {setting}" for setting in FAST]
            self.run("pg_ctl", "-D", self.data, "-l", self.log_path, "-w", "-o", " ".join(settings), "start")
            self.started = True
        except BaseException:
            self.stop()
            raise

    def run(self, program, *args):
        """Run one PostgreSQL program as the server's owner; raise with its output if it fails."""
        argv = [os.path.join(self.bin, program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        # cwd: the postgres user may not be allowed into the caller's directory.
        done = subprocess.run(argv, cwd=self.workdir, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}{self.server_log()}")
        return done.stdout

    def server_log(self):
        """Return the server's log so far ('' before it starts)."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def url(self, database=ROLE, scheme="postgresql"):
        """Return a SQLAlchemy URL of ``database`` through the unix socket."""
        return f"{scheme}://{ROLE}@/{database}?host={self.workdir}&port={self.port}"

    def tcp_url(self, database=ROLE, scheme="postgresql"):
        """Return a SQLAlchemy URL of ``database`` through 127.0.0.1."""
        return f"{scheme}://{ROLE}@127.0.0.1:{self.port}/{database}"

    def connect(self, database=ROLE):
        """Return a psycopg connection to ``database`` in autocommit mode (for checks and DDL)."""
        return psycopg.connect(host=self.workdir, port=self.port, user=ROLE, dbname=database, autocommit=True)

    def create_database(self, name):
        """Create the empty database ``name`` and return its URL."""
        if not DATABASE_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self.connect() as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name):
        """Drop ``name``, closing whatever connections still use it."""
        if not DATABASE_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self.connect() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self):
        """Stop the server (fast shutdown: open connections are closed) and remove its directory."""
        try:
            if self.started:
                self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
