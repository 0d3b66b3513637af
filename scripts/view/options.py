"""The click options the commands share: ``--data-dir``, the filters, ``--json``, TIME, DURATION and capture ids.

Each option parses its text with the library (``receiver.store``).

Failure policy: the library's error becomes a usage error (exit 2) naming
the option; nothing else is raised.
"""

import functools
from collections.abc import Callable
from typing import Any

import click

from receiver.core.parsers import duration_seconds
from receiver.core.settings import DEFAULT_DATA_DIR
from receiver.store.filters import Filters, WindowError
from receiver.store.masking import environment_mask
from receiver.store.reading import STATUSES
from receiver.store.select import BadCaptureId
from receiver.store.select import normal_id as library_normal_id
from receiver.store.timeexpr import TimeExprError, parse_time

DATA_DIR_ENVVAR = "DUMPER_DATA_DIR"
Command = Callable[..., Any]
FILTER_NAMES = (
    "since",
    "until",
    "source",
    "webhook_name",
    "channel",
    "activity",
    "foreignkey",
    "rejects_only",
    "status",
    "limit",
)


class TimeExpr(click.ParamType):
    """A click parameter that keeps the text and checks that it parses."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return ``value`` unchanged once it is known to parse; fail with a usage error otherwise."""
        try:
            parse_time(value)
        except TimeExprError as exc:
            self.fail(str(exc), param, ctx)
        return value


TIME = TimeExpr()


class Duration(click.ParamType):
    """A duration such as ``90``, ``30s``, ``10m``, ``2h``, ``7d``: seconds."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Return the seconds of ``value``, or fail naming what is accepted."""
        seconds = duration_seconds(value) if isinstance(value, str) else value
        if seconds is None or seconds <= 0:
            self.fail(f"expected a duration such as 30s, 10m, 2h or 7d, got {value!r}", param, ctx)
        return seconds


DURATION = Duration()

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False),
    default=DEFAULT_DATA_DIR,
    envvar=DATA_DIR_ENVVAR,
    show_envvar=True,
    show_default=True,
    help="The receiver's data directory (holds captures/, events/, rejects/).",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines (for jq) instead of a table.")


def mask_option(command: Command) -> Command:
    """Add ``--unmask`` to a command, which gets the ``mask`` of DUMPER_MASK_FIELDS (None with ``--unmask``)."""

    @functools.wraps(command)
    def wrapper(unmask: bool, **kwargs: Any) -> Any:
        return command(mask=environment_mask(unmask), **kwargs)

    return click.option(
        "--unmask",
        is_flag=True,
        help="Show the fields of DUMPER_MASK_FIELDS (e-mail, mobile, name...) as they are, not masked.",
    )(wrapper)


def normal_id(text: str) -> str:
    """Return a capture id upper-cased, or raise ``click.BadParameter`` when it is not a ULID."""
    try:
        return library_normal_id(text)
    except BadCaptureId as exc:
        raise click.BadParameter(str(exc), param_hint="ID") from None


WINDOW_OPTIONS = (
    click.option(
        "--since",
        type=TIME,
        help="Only captures received at or after TIME (UTC): 2026-11-28, 2026-11-28T08:30, 2h, 7d, today, yesterday.",
    ),
    click.option(
        "--until",
        type=TIME,
        help="Only captures received before TIME (exclusive): --since yesterday --until today is all of yesterday.",
    ),
)


def repeatable(name: str, metavar: str, help: str) -> Callable[[Command], Command]:
    """Return a filter option that may be given several times, each value another that matches."""
    return click.option(name, multiple=True, metavar=metavar, help=help)


MATCH_OPTIONS = (
    repeatable(
        "--source",
        "NAME",
        "Only this webhook source (the <source> of /webhook/<source>; plain /webhook is 'default'). Repeatable.",
    ),
    repeatable(
        "--webhook-name",
        "NAME",
        "Only captures with an event of this webhook_name, e.g. SMS_CLICK (any case). Repeatable.",
    ),
    repeatable(
        "--channel",
        "NAME",
        "Only captures with an event on this channel: sms, email, apn, bpn, custom_activity. Repeatable.",
    ),
    repeatable(
        "--activity",
        "NAME",
        "Only captures with an event of this activity: click, open, bounce, delivered, view, sent... Repeatable.",
    ),
    repeatable(
        "--foreignkey",
        "CUSTOMER",
        "Only captures with an event for this customer: matches the event's foreignkey or identity "
        "(e.g. 9999999997 or an e-mail address). Repeatable.",
    ),
    click.option(
        "--rejects-only",
        is_flag=True,
        help="Only captures the worker rejects (undecodable or wrongly shaped payloads).",
    ),
    click.option(
        "--status",
        multiple=True,
        type=click.Choice(STATUSES, case_sensitive=False),
        help="Only captures of this parse status: ok, warnings (decoded with warnings) or rejected. Repeatable.",
    ),
)

LIMIT_OPTION = click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Stop after N matching captures.")


def filters_of(values: dict[str, Any]) -> Filters:
    """Return the ``Filters`` the options' ``values`` say (an option the command does not take: None)."""
    return Filters(
        since=values["since"],
        until=values["until"],
        sources=values["source"] or (),
        webhook_names=values["webhook_name"] or (),
        channels=values["channel"] or (),
        activities=values["activity"] or (),
        foreignkeys=values["foreignkey"] or (),
        rejects_only=bool(values["rejects_only"]),
        statuses=tuple(status.lower() for status in values["status"] or ()),
        limit=values["limit"],
    )


def checked_window(filters: Filters) -> Filters:
    """Return ``filters`` once its time window is known to hold something; a usage error naming both options if not."""
    try:
        filters.check_window()
    except WindowError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from None
    return filters


def pass_filters(command: Command) -> Command:
    """Wrap ``command`` so that the filter options' values reach it as one ``filters`` argument."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name, None) for name in FILTER_NAMES}
        return command(filters=checked_window(filters_of(values)), **kwargs)

    return wrapper


def filter_options(window: bool = True, limit: bool = True) -> Callable[[Command], Command]:
    """Add the filter options to a command (``--since``/``--until`` with ``window``, ``--limit`` with ``limit``).

    The command gets them as one ``filters`` argument.
    """
    options = [*(WINDOW_OPTIONS if window else ()), *MATCH_OPTIONS, *((LIMIT_OPTION,) if limit else ())]

    def decorate(command: Command) -> Command:
        wrapper = pass_filters(command)
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate
