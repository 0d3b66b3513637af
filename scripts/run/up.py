"""Run the whole receiver in one command: a private Redis when needed, a worker, ``serve`` and the inspector.

``up`` supervises (see ``supervisor``): a child that dies (Redis, the worker,
``serve``) is restarted with back-off, and no child's death stops the others,
so the web keeps answering and capturing while Redis or the worker is away.
A private Redis comes back on the same port with its append-only file.
Ctrl-C or SIGTERM stops them in order (inspector, web, worker, Redis), so no
process is left behind. The web inspector (``inspect``) listens on the web's
port + 80 (8080) with its own generated credentials.
"""

import os
import secrets
import socket
import subprocess
import sys
import time

import click
import requests

from receiver.core import jsonl
from receiver.core.settings import DEFAULT_REDIS_URL
from receiver.procs import redis_server
from receiver.procs.supervisor import Child, Supervisor
from scripts.errors import load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_USER = "smartech"
CREDENTIALS_FILE = "up-credentials"
INSPECT_USER = "inspect"
INSPECT_CREDENTIALS_FILE = "inspect-credentials"
INSPECT_PORT_OFFSET = 80  # 8000 -> 8080: next to the web, and clear of another `up` on the next port
REDIS_DIR = "redis"
READY_TIMEOUT = 20.0
POLL_INTERVAL = 0.2


def saved_credentials(data_dir, name=CREDENTIALS_FILE, user=DEFAULT_USER):
    """Return ``user:password`` kept in the data dir file ``name``, making and saving one (0600) on first use."""
    path = os.path.join(jsonl.ensure_dir(data_dir), name)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        pair = f"{user}:{secrets.token_urlsafe(18)}"
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
    if isinstance(url, (list, tuple)):
        for one in url:
            wait_healthy(one, children)
        return
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
    "--inspect-port",
    type=int,
    help=f"Port the web inspector binds to.  [default: --port + {INSPECT_PORT_OFFSET}]",
)
@click.option(
    "--private-redis",
    is_flag=True,
    help="Always start a private redis-server, even if REDIS_URL is set or one answers on localhost.",
)
def up(host, port, inspect_port, private_redis):
    """Run web, worker, inspector and (when needed) a private Redis until Ctrl-C."""
    env = dict(os.environ)
    settings = load_settings(env)
    children = []
    if private_redis or (
        "REDIS_URL" not in env and not settings.redis_sentinels and not redis_server.answers(DEFAULT_REDIS_URL)
    ):
        child, env["REDIS_URL"] = redis_child(settings.data_dir)
        children.append(child)
    if not settings.credentials and not settings.auth_disabled:
        env["DUMPER_BASIC_AUTH"] = saved_credentials(settings.data_dir)
    children.append(Child("worker", [sys.executable, "-m", "scripts", "worker"], env))
    children.append(Child("web", [sys.executable, "-m", "scripts", "serve", "--bind", f"{host}:{port}"], env))
    base = f"http://{host}:{port}"
    inspector = f"http://{host}:{inspect_port or port + INSPECT_PORT_OFFSET}"
    if not settings.inspect_credentials:
        env["DUMPER_INSPECT_AUTH"] = saved_credentials(settings.data_dir, INSPECT_CREDENTIALS_FILE, INSPECT_USER)
    env.setdefault("DUMPER_INSPECT_RECEIVER_URL", base)  # the inspector's replay commands post here
    bind = inspector.removeprefix("http://")
    children.append(Child("inspector", [sys.executable, "-m", "scripts", "inspect", "--bind", bind], env))
    supervisor = Supervisor(children, say=lambda text: click.echo(text, err=True))
    supervisor.handle_signals()
    try:
        supervisor.start()
        if children[0].name == "redis":
            click.echo(
                f"started a private redis-server at {env['REDIS_URL']} (data in {settings.data_dir}/{REDIS_DIR})"
            )
        wait_healthy([base + "/healthz", inspector + "/healthz"], children)
        print_welcome(base, env, settings)
        print_inspector(inspector, env)
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
    click.echo(f"data:       {os.path.abspath(settings.data_dir)}")
    if settings.silence_after is None:
        click.echo("silence:    no alert if Smartech stops calling; set DUMPER_SILENCE_AFTER=2h (say) to get one")


def print_inspector(url, env):
    """Print where the web inspector is and its credentials."""
    user, _, password = env["DUMPER_INSPECT_AUTH"].split(",")[0].partition(":")
    click.echo(f"inspector:  {url}/   user {user!r} password {password!r}")
    click.echo(f"metrics:    {url}/metrics   (Prometheus; the same credentials, or DUMPER_METRICS_AUTH)")
    click.echo("            (Ctrl-C stops everything; a process that dies is restarted)\n")
