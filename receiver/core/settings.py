"""Read and validate every setting from the environment, in one place.

A bad value raises ``SettingsError`` whose message starts with the name of
the variable, so a start-up failure always says which setting to fix.
"""

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receiver.core import layout
from receiver.core.allowlist import IPNetwork
from receiver.core.parsers import (
    SettingsError,
    parse_bool,
    parse_credentials,
    parse_duration,
    parse_durations,
    parse_email,
    parse_emails,
    parse_float,
    parse_hostports,
    parse_int,
    parse_log_level,
    parse_mask_fields,
    parse_name,
    parse_networks,
    parse_optional_duration,
    parse_url,
    parse_window,
    split_list,
)

__all__ = ["Settings", "SettingsError", "load"]

DEFAULT_DATA_DIR = "./var"
DEFAULT_QUEUE = "smartech"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Upper bounds: a body is read whole into memory, and each process and connection costs memory and a descriptor.
MAX_MAX_BYTES = 256 * 1024 * 1024
MAX_WEB_PROCESSES = 256
MAX_WEB_CONNECTIONS = 100_000
DEFAULT_TRUSTED_PROXIES = 0
# Where a proxy of ours can be: loopback and the private ranges. A peer elsewhere is the client itself.
DEFAULT_PROXY_IPS = "127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7"
DEFAULT_REDIS_TIMEOUT = 0.5
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_FORWARD_INTERVAL = 0.05
DEFAULT_DEDUP_WINDOW = "7d"
# An event with the content of one another capture sent this shortly before carries repeat_of (ledger/repeats.py).
DEFAULT_REPEAT_WINDOW = "10m"
DEFAULT_RETRY_INTERVALS = "10s,1m,5m,15m,1h"
DEFAULT_JOB_TIMEOUT = "20s"
DEFAULT_RETRY_AFTER_MAX = "1h"  # the longest Retry-After a sink's answer may impose on its next try
DEFAULT_MAINTENANCE_INTERVAL = "20s"
DEFAULT_SMTP_URL = "smtp://localhost:25"
DEFAULT_ALERT_EVERY = "15m"
DEFAULT_ALERT_PENDING_AFTER = "5m"
DEFAULT_ALERT_REDIS_AFTER = "1m"
DEFAULT_MIN_FREE_BYTES = 100 * 1024 * 1024
DEFAULT_ALERT_FROM = "smartech-dumper@localhost"
DEFAULT_BODY_TIMEOUT = "60s"
# One gevent process per CPU: `make bench` on 2 cores found 2 processes ahead of 4 and 6 (docs/performance.md).
DEFAULT_WEB_PROCESSES = os.cpu_count() or 2
DEFAULT_WEB_CONNECTIONS = 1000
# Far above a real Smartech batch; a capture with more events is rejected (3 MB of `{}` would be 1,000,000).
DEFAULT_MAX_EVENTS = 10000
# Where the inspector's replay commands send a capture: the receiver `up` and `serve` run by default.
DEFAULT_INSPECT_RECEIVER_URL = "http://127.0.0.1:8000"
# How long one inspector page may read captures before it answers with what it found (paging.SCAN_SECONDS).
DEFAULT_INSPECT_SCAN_SECONDS = 2.0
# Where gunicorn's workers keep their Prometheus counters (PROMETHEUS_MULTIPROC_DIR), under the data dir.
# Refused posts kept in quarantine/ (receiver/ops/quarantine.py): the oldest go first past this many bytes.
DEFAULT_QUARANTINE_BYTES = 64 * 1024 * 1024
MAX_QUARANTINE_BYTES = 16 * 1024 * 1024 * 1024
# The continuous audit (receiver/ops/watch.py): the window it reads back, how often, when a capture is stuck.
DEFAULT_AUDIT_WINDOW = "50m"
# Below RQ's RESULT_TTL (3600 s, receiver/core/queues.py): a finished job must still be visible in Redis, or
# a capture processed into nothing of its own could not be told from a missing one.
MAX_AUDIT_WINDOW = 55 * 60
DEFAULT_AUDIT_EVERY = "5m"
DEFAULT_AUDIT_STUCK_AFTER = "10m"
# Fields the inspector and the CLI views show masked (receiver/store/masking.py, docs/privacy.md); "none": no field.
DEFAULT_MASK_FIELDS = (
    "email, e-mail, email_id, mobile, mobile_no, mobile_number, phone, phone_no, phone_number, whatsapp, name, "
    "first_name, last_name, full_name, fname, lname, dob, date_of_birth, birth_date, birthday, identity, foreignkey"
)


@dataclass(frozen=True)
class Settings:
    """Hold the validated settings of the receiver, the worker and the CLI; build it with ``load``."""

    data_dir: str
    queue: str
    redis_url: str
    redis_sentinels: tuple[tuple[str, int], ...]
    redis_sentinel_master: str
    redis_sentinel_password: str
    redis_timeout: float
    credentials: tuple[tuple[str, str], ...]  # (user, password) pairs
    auth_disabled: bool
    allowed_networks: tuple[IPNetwork, ...]
    trusted_proxies: int
    proxy_networks: tuple[IPNetwork, ...]
    max_bytes: int
    body_timeout: float
    web_processes: int
    web_connections: int
    fsync: bool
    log_level: str
    forwarder: bool
    forward_interval: float
    dedup_window: float
    repeat_window: float
    silence_after: float | None  # None: no silence alerts
    retry_intervals: tuple[float, ...]  # seconds
    retry_after_max: float
    job_timeout: float
    maintenance_interval: float
    alert_emails: tuple[str, ...]
    smtp_url: str
    alert_from: str
    alert_every: float
    alert_pending_after: float
    alert_redis_after: float
    min_free_bytes: int
    max_events: int
    routes_path: str
    inspect_credentials: tuple[tuple[str, str], ...] = ()  # the web inspector's (user, password) pairs
    inspect_allowed_networks: tuple[IPNetwork, ...] = ()
    inspect_receiver_url: str = DEFAULT_INSPECT_RECEIVER_URL
    inspect_scan_seconds: float = DEFAULT_INSPECT_SCAN_SECONDS
    metrics_dir: str = ""  # load() fills it in: DUMPER_METRICS_DIR, or <data_dir>/metrics
    metrics_credentials: tuple[tuple[str, str], ...] = ()  # Prometheus's own (user, password) pairs for /metrics
    quarantine: bool = False  # keep the bodies of posts refused for credentials (DUMPER_QUARANTINE)
    quarantine_bytes: int = DEFAULT_QUARANTINE_BYTES
    audit_window: float | None = None  # None: no continuous audit
    audit_every: float = parse_duration("DUMPER_AUDIT_EVERY", DEFAULT_AUDIT_EVERY)
    audit_stuck_after: float = parse_duration("DUMPER_AUDIT_STUCK_AFTER", DEFAULT_AUDIT_STUCK_AFTER)
    mask_fields: tuple[str, ...] = tuple(split_list(DEFAULT_MASK_FIELDS))  # shown masked (DUMPER_MASK_FIELDS)
    inspect_unmask: bool = False  # the inspector shows the masked fields as they are (DUMPER_INSPECT_UNMASK)

    def __post_init__(self) -> None:
        """Refuse sentinels without the name of the master they watch."""
        if self.redis_sentinels and not self.redis_sentinel_master:
            raise SettingsError(
                "REDIS_SENTINEL_MASTER: set it to the master name the sentinels watch (REDIS_SENTINELS is set)"
            )

    def require_web(self) -> "Settings":
        """Raise unless the settings are safe to serve webhooks with."""
        if not self.credentials and not self.auth_disabled:
            raise SettingsError(
                "DUMPER_BASIC_AUTH: no credentials configured; set it to 'user:password' "
                "(or set DUMPER_AUTH_DISABLED=true on a trusted network)"
            )
        return self

    def require_inspect(self) -> "Settings":
        """Raise unless the settings are safe to serve the web inspector with: it always needs credentials."""
        if not self.inspect_credentials:
            raise SettingsError(
                "DUMPER_INSPECT_AUTH: no credentials configured for the inspector; set it to 'user:password' "
                "(captures hold customer data: the inspector never runs without authentication)"
            )
        return self


READ_NAMES: set[str] = set()  # every variable load() has read: the settings, for receiver.core.typos


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from ``environ`` (default ``os.environ``) updated with ``overrides``."""
    env = dict(os.environ if environ is None else environ)
    env.update(overrides or {})

    def get(name: str, default: object) -> str:
        READ_NAMES.add(name)
        value = env.get(name)
        # An empty variable is an unset one: `DUMPER_FSYNC=` must not quietly mean "false".
        return str(default) if value is None or not value.strip() else value

    data_dir = get("DUMPER_DATA_DIR", DEFAULT_DATA_DIR).strip() or DEFAULT_DATA_DIR
    allowed_networks = parse_networks("DUMPER_ALLOWED_IPS", get("DUMPER_ALLOWED_IPS", ""))
    return Settings(
        data_dir=data_dir,
        queue=parse_name("DUMPER_QUEUE", get("DUMPER_QUEUE", DEFAULT_QUEUE)),
        redis_url=parse_url("REDIS_URL", get("REDIS_URL", DEFAULT_REDIS_URL), ("redis", "rediss", "unix")),
        redis_sentinels=parse_hostports("REDIS_SENTINELS", get("REDIS_SENTINELS", "")),
        redis_sentinel_master=get("REDIS_SENTINEL_MASTER", "").strip(),
        redis_sentinel_password=get("REDIS_SENTINEL_PASSWORD", ""),
        redis_timeout=parse_float("DUMPER_REDIS_TIMEOUT", get("DUMPER_REDIS_TIMEOUT", DEFAULT_REDIS_TIMEOUT)),
        credentials=parse_credentials("DUMPER_BASIC_AUTH", get("DUMPER_BASIC_AUTH", "")),
        auth_disabled=parse_bool("DUMPER_AUTH_DISABLED", get("DUMPER_AUTH_DISABLED", "false")),
        allowed_networks=allowed_networks,
        trusted_proxies=parse_int("DUMPER_TRUSTED_PROXIES", get("DUMPER_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)),
        proxy_networks=parse_networks("DUMPER_PROXY_IPS", get("DUMPER_PROXY_IPS", DEFAULT_PROXY_IPS)),
        max_bytes=parse_int(
            "DUMPER_MAX_BYTES", get("DUMPER_MAX_BYTES", DEFAULT_MAX_BYTES), minimum=1, maximum=MAX_MAX_BYTES
        ),
        body_timeout=parse_duration("DUMPER_BODY_TIMEOUT", get("DUMPER_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)),
        web_processes=parse_int(
            "WEB_CONCURRENCY", get("WEB_CONCURRENCY", DEFAULT_WEB_PROCESSES), minimum=1, maximum=MAX_WEB_PROCESSES
        ),
        web_connections=parse_int(
            "DUMPER_WEB_CONNECTIONS",
            get("DUMPER_WEB_CONNECTIONS", DEFAULT_WEB_CONNECTIONS),
            minimum=1,
            maximum=MAX_WEB_CONNECTIONS,
        ),
        fsync=parse_bool("DUMPER_FSYNC", get("DUMPER_FSYNC", "true")),
        log_level=parse_log_level("DUMPER_LOG_LEVEL", get("DUMPER_LOG_LEVEL", DEFAULT_LOG_LEVEL)),
        forwarder=parse_bool("DUMPER_FORWARDER", get("DUMPER_FORWARDER", "true")),
        forward_interval=parse_float(
            "DUMPER_FORWARD_INTERVAL", get("DUMPER_FORWARD_INTERVAL", DEFAULT_FORWARD_INTERVAL)
        ),
        dedup_window=parse_duration("DUMPER_DEDUP_WINDOW", get("DUMPER_DEDUP_WINDOW", DEFAULT_DEDUP_WINDOW)),
        repeat_window=parse_duration("DUMPER_REPEAT_WINDOW", get("DUMPER_REPEAT_WINDOW", DEFAULT_REPEAT_WINDOW)),
        silence_after=parse_optional_duration("DUMPER_SILENCE_AFTER", get("DUMPER_SILENCE_AFTER", "")),
        retry_intervals=parse_durations(
            "DUMPER_RETRY_INTERVALS", get("DUMPER_RETRY_INTERVALS", DEFAULT_RETRY_INTERVALS)
        ),
        retry_after_max=parse_duration(
            "DUMPER_RETRY_AFTER_MAX", get("DUMPER_RETRY_AFTER_MAX", DEFAULT_RETRY_AFTER_MAX)
        ),
        job_timeout=parse_duration("DUMPER_JOB_TIMEOUT", get("DUMPER_JOB_TIMEOUT", DEFAULT_JOB_TIMEOUT)),
        maintenance_interval=parse_duration(
            "DUMPER_MAINTENANCE_INTERVAL", get("DUMPER_MAINTENANCE_INTERVAL", DEFAULT_MAINTENANCE_INTERVAL)
        ),
        alert_emails=parse_emails("DUMPER_ALERT_EMAILS", get("DUMPER_ALERT_EMAILS", "")),
        smtp_url=parse_url("DUMPER_SMTP_URL", get("DUMPER_SMTP_URL", DEFAULT_SMTP_URL), ("smtp", "smtps")),
        alert_from=parse_email("DUMPER_ALERT_FROM", get("DUMPER_ALERT_FROM", DEFAULT_ALERT_FROM)),
        alert_every=parse_duration("DUMPER_ALERT_EVERY", get("DUMPER_ALERT_EVERY", DEFAULT_ALERT_EVERY)),
        alert_pending_after=parse_duration(
            "DUMPER_ALERT_PENDING_AFTER", get("DUMPER_ALERT_PENDING_AFTER", DEFAULT_ALERT_PENDING_AFTER)
        ),
        alert_redis_after=parse_duration(
            "DUMPER_ALERT_REDIS_AFTER", get("DUMPER_ALERT_REDIS_AFTER", DEFAULT_ALERT_REDIS_AFTER)
        ),
        min_free_bytes=parse_int("DUMPER_MIN_FREE_BYTES", get("DUMPER_MIN_FREE_BYTES", DEFAULT_MIN_FREE_BYTES)),
        max_events=parse_int("DUMPER_MAX_EVENTS", get("DUMPER_MAX_EVENTS", DEFAULT_MAX_EVENTS), minimum=1),
        # Only the path: the worker, `check` and `serve` read and validate the file (receiver.routes.config).
        routes_path=get("DUMPER_ROUTES", "").strip(),
        inspect_credentials=parse_credentials("DUMPER_INSPECT_AUTH", get("DUMPER_INSPECT_AUTH", "")),
        inspect_allowed_networks=parse_networks("DUMPER_INSPECT_ALLOWED_IPS", get("DUMPER_INSPECT_ALLOWED_IPS", "")),
        inspect_receiver_url=parse_url(
            "DUMPER_INSPECT_RECEIVER_URL",
            get("DUMPER_INSPECT_RECEIVER_URL", DEFAULT_INSPECT_RECEIVER_URL),
            ("http", "https"),
        ).rstrip("/"),
        inspect_scan_seconds=parse_float(
            "DUMPER_INSPECT_SCAN_SECONDS", get("DUMPER_INSPECT_SCAN_SECONDS", DEFAULT_INSPECT_SCAN_SECONDS)
        ),
        metrics_dir=get("DUMPER_METRICS_DIR", "").strip() or os.path.join(data_dir, layout.METRICS_DIR),
        metrics_credentials=parse_credentials("DUMPER_METRICS_AUTH", get("DUMPER_METRICS_AUTH", "")),
        # On by default only behind an allowlist: without one, anyone could fill the quarantine.
        quarantine=parse_bool("DUMPER_QUARANTINE", get("DUMPER_QUARANTINE", "true" if allowed_networks else "false")),
        quarantine_bytes=parse_int(
            "DUMPER_QUARANTINE_BYTES",
            get("DUMPER_QUARANTINE_BYTES", DEFAULT_QUARANTINE_BYTES),
            maximum=MAX_QUARANTINE_BYTES,
        ),
        audit_window=parse_window(
            "DUMPER_AUDIT_WINDOW", get("DUMPER_AUDIT_WINDOW", DEFAULT_AUDIT_WINDOW), MAX_AUDIT_WINDOW
        ),
        audit_every=parse_duration("DUMPER_AUDIT_EVERY", get("DUMPER_AUDIT_EVERY", DEFAULT_AUDIT_EVERY)),
        audit_stuck_after=parse_duration(
            "DUMPER_AUDIT_STUCK_AFTER", get("DUMPER_AUDIT_STUCK_AFTER", DEFAULT_AUDIT_STUCK_AFTER)
        ),
        mask_fields=parse_mask_fields("DUMPER_MASK_FIELDS", get("DUMPER_MASK_FIELDS", DEFAULT_MASK_FIELDS)),
        inspect_unmask=parse_bool("DUMPER_INSPECT_UNMASK", get("DUMPER_INSPECT_UNMASK", "false")),
    )


# CPython's raw mapping behind os.environ: comparing it with a copy costs about 1 µs, where decoding
# every variable to pick ours cost about 40 µs of a 300 µs job. Any other Python compares os.environ.
_ENVIRON: Mapping[Any, Any] = getattr(os.environ, "_data", os.environ)
_current: tuple[dict[Any, Any], Settings] | None = None


def current() -> Settings:
    """Return the settings of the environment as it is now, parsed again only when the environment changed.

    A worker's job calls this for every capture: parsing some forty variables (addresses, URLs,
    durations) each time cost more than the rest of a one-event job.
    """
    global _current
    if _current is None or _current[0] != _ENVIRON:
        _current = (dict(_ENVIRON), load())
    return _current[1]


def load_or_exit(require: Callable[[Settings], Settings], program: str) -> Settings:
    """Return the settings ``require`` accepts (``Settings.require_web``…), or stop the process (exit 2).

    For a gunicorn master, which reads its config before any of our commands could report the error:
    the line it prints names the bad setting.
    """
    try:
        return require(load())
    except SettingsError as exc:
        print(f"{program}: bad setting: {exc}", file=sys.stderr)
        sys.exit(2)
