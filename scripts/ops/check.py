"""``smartech-dumper check``: say whether this host's settings, Redis and data dir are ready.

Prints one line per check, ``OK``, ``WARN``, ``FAIL`` or ``SKIP`` (a check that
cannot run because the settings are invalid), and exits 1 if any check failed.
Missing web credentials only warn: a worker host does not need them. A Redis
that may drop jobs (eviction, nothing on disk) only warns too: it works, but
a restart or memory pressure can lose queued jobs.
"""

import os
import stat
import tempfile

import click
import redis

from receiver.core import jsonl, typos
from receiver.core import queues as queueing
from receiver.core import settings as settings_mod
from receiver.core.logsafe import one_line, redacted_url
from receiver.ops import redis_health
from receiver.store.safetext import escape
from scripts.variables import known_variables

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
PROBE_PREFIX = ".check-"
PRIVATE_MODE_MASK = 0o077


class Report:
    """Print check results as they come and remember whether any failed."""

    def __init__(self):
        self.failed = False

    def line(self, status, name, detail):
        """Print one result line and note a failure."""
        if status == FAIL:
            self.failed = True
        click.echo(f"{status:<4} {name}: {escape(detail)}")  # details quote settings values and error texts


def check_redis(report, settings):
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
        report.line(FAIL, "redis", f"cannot reach {where}: {one_line(exc)}")
        return
    finally:
        if client is not None:
            client.close()
    report.line(OK, "redis", f"{where} answered PING")
    for warning in warnings:
        report.line(WARN, "redis", warning)


def probe_dir(path):
    """Create ``path`` (0700) if missing, prove a file can be created in it, and return its mode."""
    jsonl.ensure_dir(path)
    fd, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=path)
    os.close(fd)
    os.unlink(probe)
    return stat.S_IMODE(os.stat(path).st_mode)


def check_data_dir(report, settings):
    """Create the data dir (0700) if missing and prove a file can be created in it."""
    path = os.path.abspath(settings.data_dir)
    try:
        mode = probe_dir(path)
    except OSError as exc:
        report.line(FAIL, "data dir", f"{path} is not writable: {one_line(exc)}")
        return
    report.line(OK, "data dir", f"{path} is writable")
    if mode & PRIVATE_MODE_MASK:
        report.line(WARN, "data dir", f"{path} has mode {mode:04o}; captures hold PII, run: chmod 700 {path}")


def check_metrics_dir(report, settings):
    """Warn when the web workers could not keep their counters: the receiver still answers, /metrics counts no acks."""
    path = os.path.abspath(settings.metrics_dir)
    try:
        probe_dir(path)
    except (OSError, ValueError) as exc:
        report.line(WARN, "metrics dir", f"DUMPER_METRICS_DIR {path} is not usable ({one_line(exc)}): no acks counted")
        return
    report.line(OK, "metrics dir", f"{path} is writable")


def check_variables(report, known):
    """Warn about each DUMPER_* variable that nothing reads, naming the closest setting."""
    for name in typos.unknown(os.environ, known):
        report.line(WARN, "settings", typos.warning(name, known))


def check_web(report, settings):
    """Warn when the receiver could not start for lack of credentials."""
    try:
        settings.require_web()
    except settings_mod.SettingsError as exc:
        report.line(WARN, "web auth", f"{exc}. Needed only where the receiver runs.")
        return
    if settings.auth_disabled:
        report.line(WARN, "web auth", "DUMPER_AUTH_DISABLED is set: webhooks are accepted without a password")
    else:
        report.line(OK, "web auth", f"{len(settings.credentials)} basic-auth user(s) configured")


def check_routes(report, settings):
    """Validate the routes file, when there is one."""
    if not settings.routes_path:
        return
    from receiver.routes.config import RoutesError, load  # only where routes are used

    try:
        routes = load(settings.routes_path)
    except RoutesError as exc:
        report.line(FAIL, "routes", str(exc))
        return
    report.line(OK, "routes", f"{settings.routes_path}: {len(routes.routes)} route(s), {len(routes.sinks)} sink(s)")


@click.command()
@click.pass_context
def check(ctx):
    """Check settings, Redis and the data dir; exit 1 on any failure."""
    report = Report()
    try:
        settings = settings_mod.load()
    except settings_mod.SettingsError as exc:
        report.line(FAIL, "settings", str(exc))
        for name in ("redis", "data dir", "web auth"):
            report.line(SKIP, name, "settings are invalid")
        ctx.exit(1)
    report.line(OK, "settings", f"queue {settings.queue!r}, data dir {settings.data_dir}")
    check_redis(report, settings)
    check_data_dir(report, settings)
    check_metrics_dir(report, settings)
    check_variables(report, known_variables(ctx.find_root().command))
    check_web(report, settings)
    check_routes(report, settings)
    ctx.exit(1 if report.failed else 0)
