"""Parse setting values; each parser names the variable in its error.

Failure policy: every parser raises ``SettingsError`` for any bad text, never
another exception, and its message starts with the variable's name.
"""

import ipaddress
import math
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from receiver.core.allowlist import IPNetwork
from receiver.core.logsafe import redacted_url

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"^(\d{1,12}(?:\.\d{1,9})?)\s*([smhdw]?)$")
MAX_DURATION = 10 * 365 * 86400  # ten years: longer is a typo, and RQ and Redis need finite numbers
EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+$")


class SettingsError(ValueError):
    """A setting is missing or malformed."""


def split_list(value: str | None) -> list[str]:
    """Split a comma-separated list, ignoring spaces around items and empty items."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def parse_mask_fields(name: str, value: str | None) -> tuple[str, ...]:
    """Parse a list of field names to mask: comma-separated; ``none`` alone masks nothing."""
    fields = split_list(value)
    if [field.lower() for field in fields] == ["none"]:
        return ()
    if not fields:
        raise SettingsError(f"{name}: expected field names separated by commas, or none, got {value!r}")
    return tuple(fields)


def parse_bool(name: str, value: str | None) -> bool:
    """Parse a yes/no setting."""
    word = (value or "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{name}: expected true or false, got {value!r}")


def parse_int(name: str, value: str, minimum: int = 0, maximum: int | None = None) -> int:
    """Parse a whole number that is at least ``minimum`` and, when given, at most ``maximum``."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise SettingsError(f"{name}: must be at most {maximum}, got {number}")
    return number


def parse_float(name: str, value: str) -> float:
    """Parse a positive, finite number of seconds."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not (math.isfinite(number) and 0 < number <= MAX_DURATION):
        raise SettingsError(f"{name}: must be greater than 0 and at most {MAX_DURATION}, got {value!r}")
    return number


def duration_seconds(text: str) -> float | None:
    """Return the seconds of ``90``, ``30s``, ``15m``, ``2h``, ``7d`` or ``2w``, or None when it is not one."""
    match = DURATION.match(str(text).strip().lower())
    if not match:
        return None
    return float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]


def parse_duration(name: str, value: str) -> float:
    """Parse ``90``, ``30s``, ``15m``, ``2h``, ``7d`` or ``2w`` into seconds (a positive float)."""
    seconds = duration_seconds(value)
    if seconds is None or not 0 < seconds <= MAX_DURATION:
        raise SettingsError(
            f"{name}: expected a duration such as 30s, 15m, 2h, 7d or 2w (at most ten years), got {value!r}"
        )
    return seconds


NONE_WORD = "none"
OFF_WORDS = {"off", NONE_WORD, ""}


def parse_optional_duration(name: str, value: str | None) -> float | None:
    """Parse a duration, or None for an empty value (the feature is off)."""
    return parse_duration(name, value) if value and value.strip() else None


def parse_window(name: str, value: str | None, maximum: float) -> float | None:
    """Parse a duration of at most ``maximum`` seconds, or None for ``off``, ``none`` or an empty value."""
    if (value or "").strip().lower() in OFF_WORDS:
        return None
    seconds = parse_duration(name, value or "")
    if seconds > maximum:
        raise SettingsError(f"{name}: must be at most {maximum:g}s ({maximum / 60:g}m), or off; got {value!r}")
    return seconds


def parse_durations(name: str, value: str | None) -> tuple[float, ...]:
    """Parse a comma-separated list of durations, or ``none`` for an empty list."""
    if (value or "").strip().lower() == NONE_WORD:
        return ()
    return tuple(parse_duration(name, item) for item in split_list(value))


def parse_credentials(name: str, value: str | None) -> tuple[tuple[str, str], ...]:
    """Parse ``user:pass[,user:pass...]`` into a tuple of (user, password) pairs."""
    pairs: list[tuple[str, str]] = []
    for item in split_list(value):
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            # Never echo the item: it may hold a password.
            raise SettingsError(f"{name}: each entry must be 'user:password' (entry {len(pairs) + 1})")
        pairs.append((user, password))
    return tuple(pairs)


def parse_networks(name: str, value: str | None) -> tuple[IPNetwork, ...]:
    """Parse IPs and CIDRs, IPv4 or IPv6, into ``ip_network`` objects."""
    networks: list[IPNetwork] = []
    for item in split_list(value):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: not an IP address or CIDR: {item!r}") from None
    return tuple(networks)


def parse_emails(name: str, value: str | None) -> tuple[str, ...]:
    """Parse a list of e-mail addresses."""
    addresses = split_list(value)
    for address in addresses:
        if not EMAIL.match(address):
            raise SettingsError(f"{name}: not an e-mail address: {address!r}")
    return tuple(addresses)


def parse_email(name: str, value: str | None) -> str:
    """Parse exactly one e-mail address."""
    addresses = parse_emails(name, value)
    if len(addresses) != 1:
        raise SettingsError(f"{name}: expected one e-mail address, got {value!r}")
    return addresses[0]


def parse_url(name: str, value: str | None, schemes: Sequence[str]) -> str:
    """Accept a URL whose scheme is one of ``schemes`` and whose port, if any, is a number."""
    url = (value or "").strip()
    if not url.startswith(tuple(f"{scheme}://" for scheme in schemes)):
        wanted = ", ".join(f"{scheme}://" for scheme in schemes)
        raise SettingsError(f"{name}: expected a {wanted} URL, got {value!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}: {redacted_url(url)!r}") from None
    if parts.scheme == "unix" and not parts.path:
        raise SettingsError(f"{name}: a unix:// URL needs a socket path, got {redacted_url(url)!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise SettingsError(f"{name}: the URL has no host, got {redacted_url(url)!r}")
    return url


QUEUE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
MAX_NAME_CHARS = 64


def parse_name(name: str, value: str | None) -> str:
    """Accept a name for Redis keys and RQ queues: letters, digits, ``_``, ``.``, ``-``, at most 64."""
    text = (value or "").strip()
    if not text:
        raise SettingsError(f"{name}: must not be empty")
    if len(text) > MAX_NAME_CHARS or not set(text) <= QUEUE_NAME_CHARS or not text[0].isalnum():
        raise SettingsError(
            f"{name}: expected letters, digits, '_', '.' or '-' (at most {MAX_NAME_CHARS}, starting with a letter"
            f" or digit), got {value!r}"
        )
    return text


def parse_log_level(name: str, value: str | None) -> str:
    """Accept a standard logging level name."""
    level = (value or "").strip().upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{name}: expected one of {', '.join(sorted(LOG_LEVELS))}, got {value!r}")
    return level


# A host name or an address (IPv6 without its brackets): letters, digits, dots, dashes, colons.
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,253}")


def parse_hostports(name: str, value: str | None) -> tuple[tuple[str, int], ...]:
    """Parse ``host:port[,host:port...]`` (IPv6 as ``[::1]:26379``) into pairs."""
    pairs = []
    for item in split_list(value):
        host, sep, port = item.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"{name}: expected host:port, got {item!r}")
        pairs.append((host, int(port)))
    return tuple(pairs)
