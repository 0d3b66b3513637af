"""The environment variables our commands read: every setting, and every option's ``envvar``.

Failure policy: pure; never raises.
"""

import click

from receiver.core import typos


def option_envvars(command: click.Command) -> set[str]:
    """Return every environment variable the options of ``command`` and its subcommands take."""
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        names.update([envvar] if isinstance(envvar, str) else envvar or ())
    for sub in getattr(command, "commands", {}).values():
        names |= option_envvars(sub)
    return names


def known_variables(root: click.Command) -> frozenset[str]:
    """Return every variable a setting or an option of the command tree ``root`` reads."""
    return typos.known_names(option_envvars(root))
