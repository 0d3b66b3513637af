"""The shared options of the reading commands, and the stream of captures they select.

Captures come from the data dir (day files chosen by name, so a time window
skips whole files), from explicit capture files, or from capture ids (each id
is a ULID, so its own time says which day file holds it). Every source yields
``(record, Analysis)`` pairs one at a time, in file order.
"""
import contextlib
import functools
import os
import re
import sys
from datetime import datetime, timezone

import click

from receiver.ids import id_time_ms
from receiver.jsonl import day_name
from receiver.settings import DEFAULT_DATA_DIR

from .files import DataFileError, Reader, day_files
from scripts.view.captureview import capture_name
from .filters import Analysis, Filters, Matcher, is_capture
from scripts.view.output import describe_error, warn
from scripts.view.safetext import escape
from .timeexpr import TIME

CAPTURES = "captures"
DATA_DIR_ENVVAR = "DUMPER_DATA_DIR"
CAPTURE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
FILTER_NAMES = ("since", "until", "source", "webhook_name", "channel", "activity", "foreignkey",
                "rejects_only", "limit")


class UnknownCaptureError(Exception):
    """A capture id is not in the data dir."""


data_dir_option = click.option(
    "--data-dir", type=click.Path(exists=True, file_okay=False), default=DEFAULT_DATA_DIR,
    envvar=DATA_DIR_ENVVAR, show_envvar=True, show_default=True,
    help="The receiver's data directory (holds captures/, events/, rejects/).")


def capture_reader(warn=True):
    """Return a ``Reader`` that accepts only capture records."""
    return Reader(require=is_capture, what="capture record", warn=warn)


def filter_options(window=True, limit=True):
    """Add the filter options to a command and pass them to it as one ``filters`` argument."""
    options = [
        click.option("--since", type=TIME, help="Only captures received at or after TIME (UTC): "
                     "2026-11-28, 2026-11-28T08:30, 2h, 7d, today, yesterday."),
        click.option("--until", type=TIME, help="Only captures received before TIME (exclusive): "
                     "--since yesterday --until today is all of yesterday."),
    ] if window else []
    options += [
        click.option("--source", multiple=True, metavar="NAME", help="Only this webhook source (the <source> of "
                     "/webhook/<source>; plain /webhook is 'default'). Repeatable."),
        click.option("--webhook-name", multiple=True, metavar="NAME", help="Only captures with an event of this "
                     "webhook_name, e.g. SMS_CLICK (any case). Repeatable."),
        click.option("--channel", multiple=True, metavar="NAME", help="Only captures with an event on this channel: "
                     "sms, email, apn, bpn, custom_activity. Repeatable."),
        click.option("--activity", multiple=True, metavar="NAME", help="Only captures with an event of this activity: "
                     "click, open, bounce, delivered, view, sent... Repeatable."),
        click.option("--foreignkey", multiple=True, metavar="CUSTOMER", help="Only captures with an "
                     "event for this customer: matches the event's foreignkey or identity "
                     "(e.g. 9999999997 or an e-mail address). Repeatable."),
        click.option("--rejects-only", is_flag=True, help="Only captures the worker rejects "
                     "(undecodable or wrongly shaped payloads)."),
    ]
    if limit:
        options.append(click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Stop after N matching captures."))

    def decorate(command):
        @functools.wraps(command)
        def wrapper(**kwargs):
            values = {name: kwargs.pop(name, None) for name in FILTER_NAMES}
            filters = Filters(since=values["since"], until=values["until"], sources=values["source"] or (),
                              webhook_names=values["webhook_name"] or (), channels=values["channel"] or (),
                              activities=values["activity"] or (), foreignkeys=values["foreignkey"] or (),
                              rejects_only=bool(values["rejects_only"]), limit=values["limit"])
            check_window(filters)
            return command(filters=filters, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


def check_window(filters):
    """Refuse a window that ends before it starts."""
    since, until = filters.window()
    if since and until and since >= until:
        raise click.BadParameter(f"--since ({filters.since}) must be before --until ({filters.until})",
                                 param_hint="--since/--until")


def matches(matcher, record, analysis):
    """Say whether a capture passes the filters; one that cannot be matched is skipped with a warning."""
    try:
        return matcher.matches(record, analysis)
    except Exception as exc:  # noqa: BLE001 - a hostile record or payload must not stop a listing or a replay
        warn(f"{capture_name(record)}: cannot match it against the filters ({describe_error(exc)}); skipped")
        return False


def matching(records, filters, limit=True):
    """Yield the ``(record, Analysis)`` pairs of ``records`` that pass ``filters``."""
    matcher, count = Matcher(filters), 0
    for record in records:
        analysis = Analysis(record)
        if matches(matcher, record, analysis):
            yield record, analysis
            count += 1
            if limit and filters.limit and count >= filters.limit:
                return


def select(data_dir, filters, reader, files=None):
    """Yield the matching captures of the data dir, or of ``files`` when given."""
    if files:
        yield from matching(reader.stream(files), filters)
        return
    first, last = filters.day_range()
    yield from matching(reader.stream(day_files(data_dir, CAPTURES, first, last)), filters)


def normal_id(text):
    """Return a capture id upper-cased, or raise ``click.BadParameter`` when it is not a ULID."""
    value = text.strip().upper()
    if not CAPTURE_ID.match(value):
        raise click.BadParameter(f"{text!r} is not a capture id (26 characters, like 01KB3Q6E0M8ZJ7V6Q2W5T9X4YR)",
                                 param_hint="ID")
    return value


def id_day(capture_id):
    """Return the day file name that holds the capture ``capture_id``."""
    return day_name(datetime.fromtimestamp(id_time_ms(capture_id) / 1000, tz=timezone.utc))


def by_ids(data_dir, ids, reader):
    """Yield the captures whose id is in ``ids``, reading only their days' files."""
    wanted = set(ids)
    for day in sorted({id_day(capture_id) for capture_id in wanted}):
        for record in reader.stream(day_files(data_dir, CAPTURES, day, day)):
            if record["id"] in wanted:
                yield record


def check_ids_exist(data_dir, ids, reader):
    """Raise ``UnknownCaptureError`` naming the ids of ``ids`` that are in no capture file."""
    missing = set(ids) - {record["id"] for record in by_ids(data_dir, ids, reader)}
    if missing:
        shown = ", ".join(sorted(missing)[:5]) + (" …" if len(missing) > 5 else "")
        where = os.path.join(data_dir, CAPTURES)
        raise UnknownCaptureError(f"unknown capture id{'s' if len(missing) > 1 else ''} {shown} (not in {where})")


def find_capture(data_dir, capture_id, reader):
    """Return the capture record with ``capture_id``, or raise ``UnknownCaptureError``."""
    for record in by_ids(data_dir, [capture_id], reader):
        return record
    raise UnknownCaptureError(f"unknown capture id {capture_id} (not in {os.path.join(data_dir, CAPTURES)})")


@contextlib.contextmanager
def clear_errors():
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
