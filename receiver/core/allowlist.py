"""Decide the client IP and whether it may call us: pure functions.

The client IP is the socket peer. Only when ``trusted_proxies`` is N > 0 and
the peer is one of ``proxy_networks`` do we believe X-Forwarded-For, and then
only the address the Nth proxy from us saw, so a forged header prepended by a
client never gets past the list. Whatever is used must parse as an IP
address; the client is always returned as a normalised address text, never
as what a header said (werkzeug's ProxyFix trusts the hops without checking
the peer or the text, which is why this is ours).
"""

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BadForwardedFor(ValueError):
    """The X-Forwarded-For hop we would trust is not an IP address."""


HEADER_SPACE = " \t"  # str.strip() would also eat U+0085 and other Unicode spaces


def parse_ip(text: str | None) -> IPAddress:
    """Return ``text`` as an ``ip_address`` (IPv4-mapped IPv6 as IPv4), or raise ValueError."""
    text = (text or "").strip(HEADER_SPACE)
    if "%" in text:  # an IPv6 scope id may hold any text at all: no client of ours has one
        raise ValueError(f"an address with a scope id: {text!r}")
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int, proxy_networks: Iterable[IPNetwork] = ()
) -> str:
    """Return the client IP as text; raise ``BadForwardedFor`` when the trusted hop is not an address.

    A peer without an address is a unix socket: only a process on this host, a proxy of ours, can be there.
    """
    # The socket's own text is an address already; only an IPv6 one may need normalising (IPv4-mapped).
    peer = (str(parse_ip(remote_addr)) if ":" in remote_addr else remote_addr) if remote_addr else ""
    local = not remote_addr
    if trusted_proxies <= 0 or not forwarded_for or not (local or in_networks(peer, proxy_networks)):
        return peer
    hops = [hop.strip(HEADER_SPACE) for hop in forwarded_for.split(",")]
    if len(hops) < trusted_proxies:
        # Fewer hops than proxies: the chain is not what we were told; trust the peer only.
        return peer
    try:
        return str(parse_ip(hops[-trusted_proxies]))
    except ValueError:
        raise BadForwardedFor(f"X-Forwarded-For hop {len(hops) - trusted_proxies + 1} is not an IP address") from None


def in_networks(ip: str, networks: Iterable[IPNetwork]) -> bool:
    """Return True if ``ip`` parses and lies in one of ``networks``."""
    try:
        address = parse_ip(ip)
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)


def is_allowed(ip: str, networks: tuple[IPNetwork, ...]) -> bool:
    """Return True if ``ip`` is in one of ``networks``, or if the list is empty."""
    return not networks or in_networks(ip, networks)
