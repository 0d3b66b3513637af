"""Run the whole receiver in one command: a private Redis when needed, web and worker.

Children run in sessions of their own, so a terminal's Ctrl-C reaches only
this supervisor; it then stops them in order (web, worker, Redis) and waits
for each, so no process is left behind. If any child dies, all are stopped.
"""
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

import click
import requests

from receiver import jsonl
from receiver.settings import DEFAULT_REDIS_URL, SettingsError, load
from scripts import redis_server
from scripts.serve import gunicorn_command

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_USER = "smartech"
CREDENTIALS_FILE = "up-credentials"
REDIS_DIR = "redis"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 35.0
POLL_INTERVAL = 0.2


def saved_credentials(data_dir):
    """Return ``user:password`` kept in the data dir, making and saving one on first use."""
    path = os.path.join(jsonl.ensure_dir(data_dir), CREDENTIALS_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        pair = f"{DEFAULT_USER}:{secrets.token_urlsafe(18)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonl.FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(pair + "\n")
        return pair


def free_port():
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_private_redis(data_dir):
    """Start a redis-server that keeps its data under the data dir; return (proc, url)."""
    workdir = jsonl.ensure_dir(os.path.join(data_dir, REDIS_DIR))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = redis_server.start(os.path.abspath(workdir), port=port, persist=True)
    redis_server.wait_ready(url, proc)
    return proc, url


def spawn(args, env):
    """Start a child in its own session with our stdout and stderr."""
    return subprocess.Popen(args, env=env, start_new_session=True)


def stop(children):
    """Stop children in reverse start order: SIGTERM, then SIGKILL after a grace period."""
    for name, proc in reversed(children):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop in {STOP_TIMEOUT:.0f}s; killing it", err=True)
                proc.kill()
                proc.wait()


def wait_healthy(url, children):
    """Wait until ``url`` answers 200, failing early if a child exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        dead = [name for name, proc in children if proc.poll() is not None]
        if dead:
            raise click.ClickException(f"{', '.join(dead)} exited during start-up (see its log above)")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(POLL_INTERVAL)
    raise click.ClickException(f"the receiver did not answer {url} within {READY_TIMEOUT:.0f}s")


def supervise(children, stopping):
    """Block until asked to stop or a child exits; return the exit status for ``up``."""
    while not stopping.wait(POLL_INTERVAL):
        for name, proc in children:
            if proc.poll() is not None:
                click.echo(f"{name} exited with status {proc.returncode}; stopping everything", err=True)
                return 1
    return 0


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address the web server binds to.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port the web server binds to.")
@click.option("--private-redis", is_flag=True,
              help="Always start a private redis-server, even if REDIS_URL is set or one answers on localhost.")
def up(host, port, private_redis):
    """Run web, worker and (when needed) a private Redis until Ctrl-C."""
    env = dict(os.environ)
    try:
        settings = load(env)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    children = []
    try:
        if private_redis or ("REDIS_URL" not in env and not redis_server.answers(DEFAULT_REDIS_URL)):
            proc, env["REDIS_URL"] = start_private_redis(settings.data_dir)
            children.append(("redis", proc))
            click.echo(f"started a private redis-server at {env['REDIS_URL']} (data in {settings.data_dir}/{REDIS_DIR})")
        if not settings.credentials and not settings.auth_disabled:
            env["DUMPER_BASIC_AUTH"] = saved_credentials(settings.data_dir)
        children.append(("worker", spawn([sys.executable, "-m", "scripts", "worker"], env)))
        children.append(("web", spawn(gunicorn_command(f"{host}:{port}"), env)))
        base = f"http://{host}:{port}"
        wait_healthy(base + "/healthz", children)
        user, _, password = env.get("DUMPER_BASIC_AUTH", "").split(",")[0].partition(":")
        click.echo(f"\nsmartech-dumper is up: POST {base}/webhook/")
        if settings.auth_disabled:
            click.echo("basic auth: DISABLED (DUMPER_AUTH_DISABLED=true)")
        else:
            click.echo(f"basic auth: user {user!r} password {password!r}")
            click.echo(f"try it:     smartech-dumper send {base}/webhook/ --user {user} --password '{password}'")
        click.echo(f"data:       {os.path.abspath(settings.data_dir)}   (Ctrl-C stops everything)\n")
        status = supervise(children, stopping)
    finally:
        stop(children)
    sys.exit(status)
