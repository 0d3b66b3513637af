"""Run the whole receiver in one command: a private Redis when needed, a worker, and ``serve``.

``up`` supervises (see ``supervisor``): a child that dies (Redis, the worker,
``serve``) is restarted with back-off, and no child's death stops the others,
so the web keeps answering and capturing while Redis or the worker is away.
A private Redis comes back on the same port with its append-only file.
Ctrl-C or SIGTERM stops them in order (web, worker, Redis), so no process is
left behind.
"""

import os
import secrets
import socket
import subprocess
import sys
import time

import click
import requests

from receiver import jsonl
from receiver.settings import DEFAULT_REDIS_URL

from ..errors import load_settings
from . import redis_server
from .supervisor import Child, Supervisor

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_USER = "smartech"
CREDENTIALS_FILE = "up-credentials"
REDIS_DIR = "redis"
READY_TIMEOUT = 20.0
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


def redis_child(data_dir):
    """Return the child that runs a redis-server keeping its data under the data dir, and its URL."""
    workdir = os.path.abspath(jsonl.ensure_dir(os.path.join(data_dir, REDIS_DIR)))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    child = Child(
        "redis",
        redis_server.command(workdir, port=port, persist=True),
        on_start=lambda child: redis_server.wait_ready(url, child.proc),
        output=subprocess.DEVNULL,
    )
    return child, url


def wait_healthy(url, children):
    """Wait until ``url`` answers 200, failing early if a child exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        dead = [child.name for child in children if not child.alive()]
        if dead:
            raise click.ClickException(f"{', '.join(dead)} exited during start-up (see its log above)")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(POLL_INTERVAL)
    raise click.ClickException(f"the receiver did not answer {url} within {READY_TIMEOUT:.0f}s")


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address the web server binds to.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port the web server binds to.")
@click.option(
    "--private-redis",
    is_flag=True,
    help="Always start a private redis-server, even if REDIS_URL is set or one answers on localhost.",
)
def up(host, port, private_redis):
    """Run web, worker and (when needed) a private Redis until Ctrl-C."""
    env = dict(os.environ)
    settings = load_settings(env)
    children = []
    if private_redis or ("REDIS_URL" not in env and not redis_server.answers(DEFAULT_REDIS_URL)):
        child, env["REDIS_URL"] = redis_child(settings.data_dir)
        children.append(child)
    if not settings.credentials and not settings.auth_disabled:
        env["DUMPER_BASIC_AUTH"] = saved_credentials(settings.data_dir)
    children.append(Child("worker", [sys.executable, "-m", "scripts", "worker"], env))
    children.append(Child("web", [sys.executable, "-m", "scripts", "serve", "--bind", f"{host}:{port}"], env))
    supervisor = Supervisor(children, say=lambda text: click.echo(text, err=True))
    supervisor.handle_signals()
    try:
        supervisor.start()
        if children[0].name == "redis":
            click.echo(
                f"started a private redis-server at {env['REDIS_URL']} (data in {settings.data_dir}/{REDIS_DIR})"
            )
        base = f"http://{host}:{port}"
        wait_healthy(base + "/healthz", children)
        print_welcome(base, env, settings)
    except BaseException:
        supervisor.stop()
        raise
    sys.exit(supervisor.run())


def print_welcome(base, env, settings):
    """Print where to post, the credentials and a command to try."""
    user, _, password = env.get("DUMPER_BASIC_AUTH", "").split(",")[0].partition(":")
    click.echo(f"\nsmartech-dumper is up: POST {base}/webhook/")
    if settings.auth_disabled:
        click.echo("basic auth: DISABLED (DUMPER_AUTH_DISABLED=true)")
    else:
        click.echo(f"basic auth: user {user!r} password {password!r}")
        click.echo(f"try it:     smartech-dumper send {base}/webhook/ --user {user} --password '{password}'")
    click.echo(
        f"data:       {os.path.abspath(settings.data_dir)}   (Ctrl-C stops everything; "
        "a process that dies is restarted)\n"
    )
