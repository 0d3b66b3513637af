"""What ``smartech-dumper check`` finds: whether this host's settings, Redis, data dir and routes are ready.

Each check yields ``Finding``s, ``OK``, ``WARN``, ``FAIL`` or ``SKIP`` (a check
that cannot run because the settings are invalid), as it makes them, so the
caller can print each at once. Missing web credentials only warn: a worker
host does not need them. A Redis that may drop jobs (eviction, nothing on
disk) only warns too: it works, but a restart or memory pressure can lose
queued jobs.

Failure policy: what a check meets (Redis away, a directory that is not
writable, a bad routes file, invalid settings) is a finding, never an
exception; nothing is printed here. Invalid settings end the checks: the rest
are skipped.
"""

import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import redis

from receiver.core import jsonl, typos
from receiver.core import queues as queueing
from receiver.core import settings as settings_mod
from receiver.core.logsafe import one_line, redacted_url
from receiver.core.settings import Settings
from receiver.ops import redis_health

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
PROBE_PREFIX = ".check-"
PRIVATE_MODE_MASK = 0o077
SKIPPED_WITHOUT_SETTINGS = ("redis", "data dir", "web auth")


@dataclass(frozen=True)
class Finding:
    """One result of a check: its status, what was checked and what was found."""

    status: str
    name: str
    detail: str


def check_redis(settings: Settings) -> Iterator[Finding]:
    """PING Redis with the settings' short timeout, then warn about settings that can lose jobs."""
    where = redacted_url(settings.redis_url)
    if settings.redis_sentinels:
        sentinels = ",".join(f"{host}:{port}" for host, port in settings.redis_sentinels)
        where = f"master {settings.redis_sentinel_master!r} of sentinels {sentinels}"
    client = None
    try:
        client = queueing.connect(settings)
        client.ping()
        warnings = redis_health.redis_config_warnings(client)
    except (redis.RedisError, OSError, ValueError) as exc:
        yield Finding(FAIL, "redis", f"cannot reach {where}: {one_line(exc)}")
        return
    finally:
        if client is not None:
            client.close()
    yield Finding(OK, "redis", f"{where} answered PING")
    for warning in warnings:
        yield Finding(WARN, "redis", warning)


def probe_dir(path: str) -> int:
    """Create ``path`` (0700) if missing, prove a file can be created in it, and return its mode."""
    jsonl.ensure_dir(path)
    fd, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=path)
    os.close(fd)
    os.unlink(probe)
    return stat.S_IMODE(os.stat(path).st_mode)


def check_data_dir(settings: Settings) -> Iterator[Finding]:
    """Create the data dir (0700) if missing and prove a file can be created in it."""
    path = os.path.abspath(settings.data_dir)
    try:
        mode = probe_dir(path)
    except OSError as exc:
        yield Finding(FAIL, "data dir", f"{path} is not writable: {one_line(exc)}")
        return
    yield Finding(OK, "data dir", f"{path} is writable")
    if mode & PRIVATE_MODE_MASK:
        yield Finding(WARN, "data dir", f"{path} has mode {mode:04o}; captures hold PII, run: chmod 700 {path}")


def check_metrics_dir(settings: Settings) -> Iterator[Finding]:
    """Warn when the web workers could not keep their counters: the receiver still answers, /metrics counts no acks."""
    path = os.path.abspath(settings.metrics_dir)
    try:
        probe_dir(path)
    except (OSError, ValueError) as exc:
        detail = f"DUMPER_METRICS_DIR {path} is not usable ({one_line(exc)}): no acks counted"
        yield Finding(WARN, "metrics dir", detail)
        return
    yield Finding(OK, "metrics dir", f"{path} is writable")


def check_variables(environ: Mapping[str, str], known: frozenset[str]) -> Iterator[Finding]:
    """Warn about each DUMPER_* variable that nothing reads, naming the closest setting."""
    for name in typos.unknown(environ, known):
        yield Finding(WARN, "settings", typos.warning(name, known))


def check_web(settings: Settings) -> Iterator[Finding]:
    """Warn when the receiver could not start for lack of credentials."""
    try:
        settings.require_web()
    except settings_mod.SettingsError as exc:
        yield Finding(WARN, "web auth", f"{exc}. Needed only where the receiver runs.")
        return
    if settings.auth_disabled:
        yield Finding(WARN, "web auth", "DUMPER_AUTH_DISABLED is set: webhooks are accepted without a password")
    else:
        yield Finding(OK, "web auth", f"{len(settings.credentials)} basic-auth user(s) configured")


def check_routes(settings: Settings) -> Iterator[Finding]:
    """Validate the routes file, when there is one."""
    if not settings.routes_path:
        return
    from receiver.routes.config import RoutesError, load  # only where routes are used

    try:
        routes = load(settings.routes_path)
    except RoutesError as exc:
        yield Finding(FAIL, "routes", str(exc))
        return
    yield Finding(OK, "routes", f"{settings.routes_path}: {len(routes.routes)} route(s), {len(routes.sinks)} sink(s)")


def run_checks(known: frozenset[str], environ: Mapping[str, str] | None = None) -> Iterator[Finding]:
    """Yield every check's findings in order; ``known`` names the variables something reads (``environ``'s typos)."""
    environ = os.environ if environ is None else environ
    try:
        settings = settings_mod.load(environ)
    except settings_mod.SettingsError as exc:
        yield Finding(FAIL, "settings", str(exc))
        for name in SKIPPED_WITHOUT_SETTINGS:
            yield Finding(SKIP, name, "settings are invalid")
        return
    yield Finding(OK, "settings", f"queue {settings.queue!r}, data dir {settings.data_dir}")
    yield from check_redis(settings)
    yield from check_data_dir(settings)
    yield from check_metrics_dir(settings)
    yield from check_variables(environ, known)
    yield from check_web(settings)
    yield from check_routes(settings)
