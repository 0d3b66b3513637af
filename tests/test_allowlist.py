"""Client IP and allowlist are pure functions; a forged X-Forwarded-For never helps."""
import ipaddress

from receiver.allowlist import client_ip, is_allowed

NETS = (ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("127.0.0.1/32"))


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
    assert client_ip("127.0.0.1", "10.1.2.3, 198.51.100.7", 1) == "198.51.100.7"
    assert client_ip("127.0.0.1", "10.1.2.3, 198.51.100.7, 10.9.9.9", 2) == "198.51.100.7"


def test_fewer_hops_than_proxies_falls_back_to_the_peer():
    assert client_ip("127.0.0.1", "10.1.2.3", 2) == "127.0.0.1"
