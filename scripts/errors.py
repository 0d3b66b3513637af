"""Turn the library's errors into the CLI's: one escaped line and a non-zero exit, never a traceback.

Failure policy: a settings error ends a command with exit 1 and its message
(which names the variable); a data file or capture that cannot be read does
too; a reader that went away (``| head``) ends it quietly. A replay error
(``replay``, ``send``) is a usage error (exit 2) when it is about options,
else exit 1.
"""

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import click

from receiver.core.settings import Settings, SettingsError, load
from receiver.replay.errors import BadOption, OptionConflict, ReplayError
from receiver.store.files import DataFileError
from receiver.store.safetext import escape
from receiver.store.select import UnknownCaptureError

if TYPE_CHECKING:
    from receiver.routes.config import Routes


def load_settings(environ: Mapping[str, str] | None = None, web: bool = False) -> Settings:
    """Return the settings (checked for the web when ``web``), or raise a ``ClickException`` naming the variable."""
    try:
        settings = load(environ)
        return settings.require_web() if web else settings
    except SettingsError as exc:
        raise click.ClickException(escape(str(exc))) from None


def load_routes(settings: Settings, path: str | None = None) -> "Routes | None":
    """Return the routes of ``path`` (default ``DUMPER_ROUTES``), None without one; a bad file is a ClickException."""
    path = path or settings.routes_path
    if not path:
        return None
    from receiver.routes.config import RoutesError, load  # only where routes are used

    try:
        return load(path)
    except RoutesError as exc:
        raise click.ClickException(escape(f"DUMPER_ROUTES: {exc}")) from None


@contextlib.contextmanager
def replay_errors() -> Iterator[None]:
    """Turn replay errors into click's: a bad option value or a conflict exits 2, the rest exit 1; one line each."""
    try:
        yield
    except BadOption as exc:
        raise click.BadParameter(escape(str(exc)), param_hint=exc.option) from None
    except OptionConflict as exc:
        raise click.UsageError(escape(str(exc))) from None
    except ReplayError as exc:
        raise click.ClickException(escape(str(exc))) from None


@contextlib.contextmanager
def reading_errors() -> Iterator[None]:
    """Turn reading errors into one-line click errors, and a closed pipe into a quiet exit."""
    try:
        yield
    except (DataFileError, UnknownCaptureError) as exc:
        raise click.ClickException(escape(str(exc))) from None
    except BrokenPipeError:
        # The reader (head, less) went away: stop quietly, without a traceback at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


@contextlib.contextmanager
def library_errors(
    *kinds: type[Exception], prefix: str = "", error: type[click.ClickException] = click.ClickException
) -> Iterator[None]:
    """Turn the library's errors of ``kinds`` (their messages name what is wrong) into one escaped ``error``.

    ``prefix`` says what could not be done, when the message does not.
    """
    try:
        yield
    except kinds as exc:
        raise error(escape(f"{prefix}{exc}")) from None
