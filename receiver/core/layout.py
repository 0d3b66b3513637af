"""The data dir's layout: every directory and file we keep there, named in one place, and the day names.

``<data dir>/``
- ``captures/``, ``events/``, ``rejects/``: the daily files, ``YYYY-MM-DD.jsonl``
  (``.jsonl.gz`` once compressed); the day is UTC.
- ``spool/``: the state the processes keep: the forwarder's cursor, lock and
  heartbeat; torn capture lines; the ledger's index; the event-id rule's
  start; the alerts' state and lock; the continuous audit's last result;
  ``up``'s generated credentials.
- ``quarantine/``: the bodies of posts refused for their credentials, one file
  each, with the lock of their release (``receiver/ops/quarantine.py``).
- ``metrics/``: the web workers' counter files (``DUMPER_METRICS_DIR``'s default).
- ``redis/``: ``up``'s private Redis.

Directories are made 0700 and files 0600 (``jsonl``). Pure names and paths;
``spool_dir`` is the one function that makes a directory.
"""

import functools
import os
from datetime import UTC, datetime, timedelta

from receiver.core.jsonl import ensure_dir

# The kinds of daily file, each a directory of the data dir.
CAPTURES, EVENTS, REJECTS = "captures", "events", "rejects"
KINDS = (CAPTURES, EVENTS, REJECTS)
SUFFIX = ".jsonl"
GZ_SUFFIX = SUFFIX + ".gz"
DAY_FORMAT = "%Y-%m-%d"
WRITE_GRACE = 120.0  # seconds after its midnight a day's captures file still takes captures (web/write.py)

SPOOL = "spool"
CURSOR_FILE = "cursor.json"  # how far the forwarder has handed the captures to RQ
FORWARDER_LOCK = "forwarder.lock"  # held by the forwarder that leads
HEARTBEAT_FILE = "forwarder.heartbeat"  # the leading forwarder's last beat, and since when Redis is away
TORN_FILE = "torn-captures.jsonl"  # capture lines that could not be read, kept aside
LEDGER_FILE = "ledger.sqlite3"  # the ledger's index of what the events and rejects files hold
EVENT_IDS_FILE = "event-ids.json"  # since when this data dir runs today's event-id rule
ALERTS_STATE = "alerts.json"  # when the last alert e-mail went out
ALERTS_LOCK = "alerts.lock"  # one sender at a time
AUDIT_FILE = "audit.json"  # the continuous audit's last result (receiver/ops/watch.py)
UP_CREDENTIALS = "up-credentials"  # the webhook's user and password `up` generated
UP_INSPECT_CREDENTIALS = "inspect-credentials"  # the inspector's, likewise
METRICS_DIR = "metrics"
QUARANTINE_DIR = "quarantine"  # refused posts, one file each: ``<id>.post``, ``<id>.released`` once released
QUARANTINE_LOCK = ".release.lock"  # in QUARANTINE_DIR: one writer or releaser at a time
TIMELINE_FILE = "timeline.sqlite3"  # each customer's events, by a keyed hash of the id (receiver/ledger/timeline.py)
PRIVACY_KEY = "privacy.key"  # the secret of those keyed hashes and of the erasure records (core/customerkey.py)
ERASURES_FILE = "erasures.jsonl"  # one line per `forget` run, without the customer's id
REDIS_DIR = "redis"


def day_name(when: datetime | float | None = None) -> str:
    """Return the UTC day of ``when`` (a datetime or a Unix time; default now) as ``YYYY-MM-DD``."""
    if when is None:
        when = datetime.now(UTC)
    elif not isinstance(when, datetime):
        when = datetime.fromtimestamp(when, tz=UTC)
    return when.astimezone(UTC).strftime(DAY_FORMAT)


def day_start(day: str) -> datetime:
    """Return the UTC midnight that starts ``day``; raise ValueError for what is no day name."""
    return datetime.strptime(day, DAY_FORMAT).replace(tzinfo=UTC)


@functools.lru_cache(maxsize=8)  # a few days at most are live; strptime on every request cost 30 µs
def day_deadline(day: str) -> float:
    """Return the Unix time after which ``day``'s captures file takes no more writes."""
    return (day_start(day) + timedelta(days=1)).timestamp() + WRITE_GRACE


def day_path(data_dir: str, kind: str, day: str) -> str:
    """Return the path of the ``kind`` file (captures, events, rejects) for ``day``."""
    return os.path.join(data_dir, kind, day + SUFFIX)


def plain_days(data_dir: str, kind: str) -> list[str]:
    """Return the days that have an uncompressed ``kind`` file, oldest first."""
    try:
        names = os.listdir(os.path.join(data_dir, kind))
    except FileNotFoundError:
        return []
    return sorted(name[: -len(SUFFIX)] for name in names if name.endswith(SUFFIX))


def spool_path(data_dir: str, name: str) -> str:
    """Return the path of the spool file ``name`` (one of the ``*_FILE`` names above)."""
    return os.path.join(data_dir, SPOOL, name)


def spool_dir(data_dir: str) -> str:
    """Return the spool directory, made (0700, and the data dir with it) if it is not there."""
    return ensure_dir(os.path.join(ensure_dir(data_dir), SPOOL))
