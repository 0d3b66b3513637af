"""Who may call a web app: the client's address against an allowlist, then HTTP Basic credentials. Pure functions.

The webhook and the inspector ask the same two questions in the same order,
each with its own allowlist and credentials. An answer is the client's
address (or user), or a ``Refusal``: the HTTP code, the word the client is
told, and the reason only the log gets. Nothing here raises.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from receiver.core import allowlist, auth
from receiver.core.allowlist import IPNetwork
from receiver.core.settings import Settings


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away: its code, what the client is told, and (for the log) why."""

    code: int
    status: str
    reason: str
    ip: str | None


def admit_address(
    remote_addr: str | None, forwarded_for: str | None, settings: Settings, allowed: tuple[IPNetwork, ...]
) -> str | Refusal:
    """Return the client's address if ``allowed`` admits it (X-Forwarded-For only from trusted proxies)."""
    try:
        ip = allowlist.client_ip(remote_addr, forwarded_for, settings.trusted_proxies, settings.proxy_networks)
    except allowlist.BadForwardedFor as exc:
        return Refusal(400, "bad request", str(exc), remote_addr)
    if not allowlist.is_allowed(ip, allowed):
        return Refusal(403, "forbidden", "address not allowed", ip)
    return ip


def admit_user(authorization: str | None, credentials: Iterable[tuple[str, str]], ip: str) -> str | Refusal:
    """Return the user whose credentials the Authorization header holds, or a 401 ``Refusal``."""
    user = auth.authenticate(authorization, credentials)
    if user is None:
        return Refusal(401, "unauthorized", "missing or wrong credentials", ip)
    return user
