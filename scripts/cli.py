"""The ``smartech-dumper`` command line: run, test and inspect the receiver."""
from importlib import metadata

import click

from . import check, failed, forward, inspect_cmds, replay, send, stats, tidy, up, worker


def version():
    """Return the installed package version."""
    try:
        return metadata.version("smartech-dumper")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@click.group()
@click.version_option(version(), prog_name="smartech-dumper")
def main():
    """Receive Netcore Smartech webhooks: capture, queue and process every payload."""


main.add_command(worker.worker)
main.add_command(up.up)
main.add_command(send.send)
main.add_command(check.check)
main.add_command(forward.forward)
main.add_command(failed.failed)

main.add_command(inspect_cmds.tail)
main.add_command(inspect_cmds.show)
main.add_command(inspect_cmds.list_captures)
main.add_command(stats.stats)
main.add_command(replay.replay)
main.add_command(tidy.prune)
main.add_command(tidy.compress)
