"""The ``smartech-dumper`` command line: run, test and inspect the receiver."""

import os
from importlib import metadata
from typing import Any

import click

from receiver.core import jsonl, typos
from receiver.store.safetext import escape
from scripts.ops import audit, check, failed, forget, quarantine, routes, send, sinkcmds, tidy
from scripts.ops import undelivered as undelivered_cmd
from scripts.replay import command as replay
from scripts.run import forward, serve, up, worker
from scripts.variables import known_variables
from scripts.view import customer, inspect, listing, show, stats, tail


def version() -> str:
    """Return the installed package version."""
    try:
        return metadata.version("smartech-dumper")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class SafeGroup(click.Group):
    """Escape the message of every error a command raises, whatever it quotes (a path, a value, an error text)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; escape its error message on the way out."""
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            # idempotent: messages already escaped stay as they are. click types `message` as Final, yet it is
            # the attribute its own subclasses (UsageError, BadParameter) format from: rebinding it keeps their kind.
            exc.message = escape(exc.message)  # type: ignore[misc]
            raise


@click.group(cls=SafeGroup)
@click.version_option(version(), prog_name="smartech-dumper")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Receive Netcore Smartech webhooks: capture, queue and process every payload."""
    os.umask(jsonl.PRIVATE_UMASK)  # inherited by gunicorn, workers, redis-server: every file they make is 0600
    if ctx.invoked_subcommand != "check":  # check lists them among its own lines
        known = known_variables(ctx.find_root().command)
        for name in typos.unknown(os.environ, known):
            click.echo(f"smartech-dumper: warning: {escape(typos.warning(name, known))}", err=True)


COMMANDS = (
    up.up,
    serve.serve,
    worker.worker,
    forward.forward,
    send.send,
    check.check,
    audit.audit_command,
    failed.failed,
    quarantine.quarantine_group,
    tail.tail,
    show.show,
    listing.list_captures,
    stats.stats,
    customer.customer,
    inspect.inspect,
    replay.replay,
    tidy.compress,
    tidy.prune,
    forget.forget_command,
    routes.routes,
    routes.db,
    sinkcmds.sinks_group,
    undelivered_cmd.undelivered,
)
for command in COMMANDS:
    main.add_command(command)
