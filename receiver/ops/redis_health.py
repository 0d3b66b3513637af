"""Say whether Redis is configured to keep RQ's jobs: no eviction, something on disk.

Failure policy: a server that refuses CONFIG (managed Redis often disables or
renames it) yields one warning that the policy could not be verified, never an
error. Connection errors propagate: the caller reports Redis as unreachable.
"""

import redis

from receiver.core.logsafe import one_line

SAFE_POLICY = "noeviction"
POLICY = "maxmemory-policy"
SAVE = "save"
APPENDONLY = "appendonly"
CONFIG_KEYS = (POLICY, SAVE, APPENDONLY)

EVICTION_WARNING = (
    "Redis may evict keys (maxmemory-policy={policy}): RQ loses queued jobs silently; set maxmemory-policy noeviction"
)
NO_DISK_WARNING = (
    "Redis keeps nothing on disk (no RDB snapshots, no AOF): a restart loses every queued job; enable appendonly yes"
)
UNVERIFIED_WARNING = (
    "Redis refused CONFIG GET ({reason}): could not verify that it keeps jobs "
    "(maxmemory-policy noeviction, appendonly yes); check both with your Redis provider"
)
MISSING_WARNING = "Redis did not report {keys}: could not verify that it keeps jobs"


def text(value: object) -> str:
    """Return a CONFIG value as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_config(connection: redis.Redis) -> dict[str, str]:
    """Return ``{key: value}`` for the keys we check, as text; raise ``redis.ResponseError`` if refused."""
    found: dict[str, str] = {}
    for key in CONFIG_KEYS:
        for name, value in connection.config_get(key).items():
            found[text(name)] = text(value)
    return found


def redis_config_warnings(connection: redis.Redis) -> list[str]:
    """Return one sentence per Redis setting that can lose RQ jobs (empty when all is well)."""
    try:
        config = read_config(connection)
    except redis.ResponseError as exc:
        return [UNVERIFIED_WARNING.format(reason=one_line(exc))]
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        return [MISSING_WARNING.format(keys=", ".join(missing))]
    warnings = []
    if config[POLICY] != SAFE_POLICY:
        warnings.append(EVICTION_WARNING.format(policy=config[POLICY]))
    if not config[SAVE].strip() and config[APPENDONLY] == "no":
        warnings.append(NO_DISK_WARNING)
    return warnings
