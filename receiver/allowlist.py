"""Decide the client IP and whether it may call us: pure functions.

The client IP is the socket peer. Only when ``trusted_proxies`` is N > 0 do
we believe X-Forwarded-For, and then only the address the Nth proxy from us
saw, so a forged header prepended by a client never gets past the list.
"""
import ipaddress


def client_ip(remote_addr, forwarded_for, trusted_proxies):
    """Return the client IP as a string, honouring only ``trusted_proxies`` X-Forwarded-For hops."""
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        # Fewer hops than proxies: the chain is not what we were told; trust the peer only.
        return remote_addr
    return hops[-trusted_proxies]


def is_allowed(ip, networks):
    """Return True if ``ip`` is in one of ``networks``, or if the list is empty."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address((ip or "").split("%")[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)
