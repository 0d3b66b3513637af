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
import sys

import click

from receiver.core import layout
from receiver.core.settings import DEFAULT_REDIS_URL, Settings
from receiver.procs import commands, redis_server, stack
from receiver.procs.supervisor import Child, Supervisor
from scripts.errors import load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
INSPECT_PORT_OFFSET = 80  # 8000 -> 8080: next to the web, and clear of another `up` on the next port


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
def up(host: str, port: int, inspect_port: int | None, private_redis: bool) -> None:
    """Run web, worker, inspector and (when needed) a private Redis until Ctrl-C."""
    env = dict(os.environ)
    settings = load_settings(env)
    children: list[Child] = []
    if private_redis or (
        "REDIS_URL" not in env and not settings.redis_sentinels and not redis_server.answers(DEFAULT_REDIS_URL)
    ):
        child, env["REDIS_URL"] = stack.redis_child(settings.data_dir)
        children.append(child)
    if not settings.credentials and not settings.auth_disabled:
        env["DUMPER_BASIC_AUTH"] = stack.saved_credentials(settings.data_dir)
    children.append(Child("worker", commands.ours("worker"), env))
    children.append(Child("web", commands.ours("serve", "--bind", f"{host}:{port}"), env))
    base = f"http://{host}:{port}"
    inspector = f"http://{host}:{inspect_port or port + INSPECT_PORT_OFFSET}"
    if not settings.inspect_credentials:
        env["DUMPER_INSPECT_AUTH"] = stack.saved_credentials(
            settings.data_dir, layout.UP_INSPECT_CREDENTIALS, stack.INSPECT_USER
        )
    env.setdefault("DUMPER_INSPECT_RECEIVER_URL", base)  # the inspector's replay commands post here
    bind = inspector.removeprefix("http://")
    children.append(Child("inspector", commands.ours("inspect", "--bind", bind), env))
    supervisor = Supervisor(children, say=lambda text: click.echo(text, err=True))
    supervisor.handle_signals()
    try:
        supervisor.start()
        if children[0].name == "redis":
            click.echo(
                f"started a private redis-server at {env['REDIS_URL']} (data in {settings.data_dir}/{layout.REDIS_DIR})"
            )
        for url in (base + "/healthz", inspector + "/healthz"):
            stack.wait_healthy(url, children)
        print_welcome(base, env, settings)
        print_inspector(inspector, env)
    except stack.StartError as exc:
        supervisor.stop()
        raise click.ClickException(str(exc)) from None
    except BaseException:
        supervisor.stop()
        raise
    sys.exit(supervisor.run())


def print_welcome(base: str, env: dict[str, str], settings: Settings) -> None:
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


def print_inspector(url: str, env: dict[str, str]) -> None:
    """Print where the web inspector is and its credentials."""
    user, _, password = env["DUMPER_INSPECT_AUTH"].split(",")[0].partition(":")
    click.echo(f"inspector:  {url}/   user {user!r} password {password!r}")
    click.echo(f"metrics:    {url}/metrics   (Prometheus; the same credentials, or DUMPER_METRICS_AUTH)")
    click.echo("            (Ctrl-C stops everything; a process that dies is restarted)\n")
