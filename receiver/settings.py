"""Read and validate every setting from the environment, in one place.

A bad value raises ``SettingsError`` whose message starts with the name of
the variable, so a start-up failure always says which setting to fix.
"""
import ipaddress
import os
from dataclasses import dataclass

DEFAULT_DATA_DIR = "./var"
DEFAULT_QUEUE = "smartech"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_TRUSTED_PROXIES = 0
DEFAULT_REDIS_TIMEOUT = 0.5
DEFAULT_LOG_LEVEL = "INFO"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class SettingsError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Hold the validated settings of the receiver, the worker and the CLI."""

    data_dir: str = DEFAULT_DATA_DIR
    queue: str = DEFAULT_QUEUE
    redis_url: str = DEFAULT_REDIS_URL
    redis_timeout: float = DEFAULT_REDIS_TIMEOUT
    credentials: tuple = ()
    auth_disabled: bool = False
    allowed_networks: tuple = ()
    trusted_proxies: int = DEFAULT_TRUSTED_PROXIES
    max_bytes: int = DEFAULT_MAX_BYTES
    fsync: bool = True
    log_level: str = DEFAULT_LOG_LEVEL

    def require_web(self):
        """Raise unless the settings are safe to serve webhooks with."""
        if not self.credentials and not self.auth_disabled:
            raise SettingsError(
                "DUMPER_BASIC_AUTH: no credentials configured; set it to 'user:password' "
                "(or set DUMPER_AUTH_DISABLED=true on a trusted network)"
            )
        return self


def split_list(value):
    """Split a comma-separated list, ignoring spaces around items and empty items."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def parse_bool(name, value):
    """Parse a yes/no setting."""
    word = (value or "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{name}: expected true or false, got {value!r}")


def parse_int(name, value, minimum=0):
    """Parse a whole number that is at least ``minimum``."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {number}")
    return number


def parse_float(name, value):
    """Parse a positive number of seconds."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise SettingsError(f"{name}: must be greater than 0, got {value!r}")
    return number


def parse_credentials(name, value):
    """Parse ``user:pass[,user:pass...]`` into a tuple of (user, password) pairs."""
    pairs = []
    for item in split_list(value):
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            # Never echo the item: it may hold a password.
            raise SettingsError(f"{name}: each entry must be 'user:password' (entry {len(pairs) + 1})")
        pairs.append((user, password))
    return tuple(pairs)


def parse_networks(name, value):
    """Parse IPs and CIDRs, IPv4 or IPv6, into ``ip_network`` objects."""
    networks = []
    for item in split_list(value):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: not an IP address or CIDR: {item!r}") from None
    return tuple(networks)


def parse_redis_url(name, value):
    """Accept redis://, rediss:// and unix:// URLs."""
    url = (value or "").strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"{name}: expected a redis://, rediss:// or unix:// URL, got {value!r}")
    return url


def parse_queue(name, value):
    """Accept a non-empty queue name."""
    queue = (value or "").strip()
    if not queue:
        raise SettingsError(f"{name}: must not be empty")
    return queue


def parse_log_level(name, value):
    """Accept a standard logging level name."""
    level = (value or "").strip().upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{name}: expected one of {', '.join(sorted(LOG_LEVELS))}, got {value!r}")
    return level


def load(environ=None, overrides=None):
    """Build ``Settings`` from ``environ`` (default ``os.environ``) updated with ``overrides``."""
    env = dict(os.environ if environ is None else environ)
    env.update(overrides or {})

    def get(name, default):
        value = env.get(name)
        return default if value is None else value

    return Settings(
        data_dir=get("DUMPER_DATA_DIR", DEFAULT_DATA_DIR).strip() or DEFAULT_DATA_DIR,
        queue=parse_queue("DUMPER_QUEUE", get("DUMPER_QUEUE", DEFAULT_QUEUE)),
        redis_url=parse_redis_url("REDIS_URL", get("REDIS_URL", DEFAULT_REDIS_URL)),
        redis_timeout=parse_float("DUMPER_REDIS_TIMEOUT", get("DUMPER_REDIS_TIMEOUT", DEFAULT_REDIS_TIMEOUT)),
        credentials=parse_credentials("DUMPER_BASIC_AUTH", get("DUMPER_BASIC_AUTH", "")),
        auth_disabled=parse_bool("DUMPER_AUTH_DISABLED", get("DUMPER_AUTH_DISABLED", "false")),
        allowed_networks=parse_networks("DUMPER_ALLOWED_IPS", get("DUMPER_ALLOWED_IPS", "")),
        trusted_proxies=parse_int("DUMPER_TRUSTED_PROXIES", get("DUMPER_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)),
        max_bytes=parse_int("DUMPER_MAX_BYTES", get("DUMPER_MAX_BYTES", DEFAULT_MAX_BYTES), minimum=1),
        fsync=parse_bool("DUMPER_FSYNC", get("DUMPER_FSYNC", "true")),
        log_level=parse_log_level("DUMPER_LOG_LEVEL", get("DUMPER_LOG_LEVEL", DEFAULT_LOG_LEVEL)),
    )
