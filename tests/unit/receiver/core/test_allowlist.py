"""Client IP and allowlist are pure functions; a forged X-Forwarded-For never helps."""

import ipaddress

import pytest

from receiver.core.allowlist import BadForwardedFor, client_ip, is_allowed
from receiver.core.settings import load

PROXIES = load(environ={}).proxy_networks  # the default: loopback and the private ranges

NETS = (
    ipaddress.ip_network("10.1.0.0/16"),
    ipaddress.ip_network("2001:db8::/32"),
    ipaddress.ip_network("127.0.0.1/32"),
)


def test_empty_list_allows_all():
    assert is_allowed("203.0.113.9", ())


def test_ipv4_and_ipv6_membership():
    assert is_allowed("10.1.2.3", NETS)
    assert not is_allowed("10.2.0.1", NETS)
    assert is_allowed("2001:db8::1", NETS)
    assert not is_allowed("2001:db9::1", NETS)
    assert is_allowed("::ffff:10.1.0.5", NETS)
    assert not is_allowed("garbage", NETS)
    assert not is_allowed(None, NETS)


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip("198.51.100.7", "10.1.2.3", 0) == "198.51.100.7"


def test_with_one_proxy_the_last_hop_is_the_client():
    # The client forged "10.1.2.3"; our proxy appended the address it really saw.
    assert client_ip("127.0.0.1", "10.1.2.3, 198.51.100.7", 1, PROXIES) == "198.51.100.7"
    assert client_ip("10.0.0.5", "10.1.2.3, 198.51.100.7, 10.9.9.9", 2, PROXIES) == "198.51.100.7"


def test_fewer_hops_than_proxies_falls_back_to_the_peer():
    assert client_ip("127.0.0.1", "10.1.2.3", 2, PROXIES) == "127.0.0.1"


def test_a_peer_that_is_not_one_of_our_proxies_is_the_client_whatever_it_says():
    assert client_ip("203.0.113.9", "10.1.2.3", 1, PROXIES) == "203.0.113.9"


@pytest.mark.parametrize(
    "forged",
    [
        "10.9.9.9%junk client=6.6.6.6 reason=ok",
        "fe80::1%eth0 client=6.6.6.6",
        "1.2.3.4\x85",
        "\u009b31m",
        "not an address",
        "",
    ],
)
def test_a_trusted_hop_that_is_not_an_ip_address_is_refused(forged):
    with pytest.raises(BadForwardedFor):
        client_ip("127.0.0.1", f"198.51.100.7, {forged}", 1, PROXIES)


def test_the_client_is_a_normalised_address():
    assert client_ip("::ffff:127.0.0.1", "  2001:DB8::1 ", 1, PROXIES) == "2001:db8::1"
    assert client_ip("::ffff:198.51.100.7", None, 0, PROXIES) == "198.51.100.7"
