"""Client identity: forwarding headers believed only from trusted proxies, IPv6 by /64, no client no crash."""

import pytest

from app.features.auth.addresses import UNKNOWN_CLIENT, TrustedProxies, address_key, client_ip_key, privacy_network

PROXIES = TrustedProxies(["10.0.0.0/8", "2001:db8:ffff::/48"])
NONE = TrustedProxies([])

type RawHeaders = list[tuple[bytes, bytes]]


def xff(value: str) -> RawHeaders:
    return [(b"x-forwarded-for", value.encode())]


def test_the_peer_is_the_client_without_trusted_proxies() -> None:
    assert client_ip_key("203.0.113.7", xff("198.51.100.1"), NONE) == "ip:203.0.113.7"


def test_spoofed_forwarding_headers_from_an_untrusted_peer_are_ignored() -> None:
    spoofed = [*xff("1.2.3.4"), (b"forwarded", b"for=5.6.7.8")]
    assert client_ip_key("203.0.113.7", spoofed, PROXIES) == "ip:203.0.113.7"


def test_the_right_most_untrusted_hop_is_the_client() -> None:
    # The client forged "1.2.3.4"; our proxies (10.x) appended the real client address and themselves.
    headers = xff("1.2.3.4, 198.51.100.9, 10.1.1.1")
    assert client_ip_key("10.2.2.2", headers, PROXIES) == "ip:198.51.100.9"


def test_the_forwarded_header_is_parsed_when_configured_and_xff_is_then_ignored() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"], header="forwarded")
    headers = [(b"forwarded", b'for=192.0.2.60;proto=http, for="[2001:db8:1:2::7]:4711"'), *xff("9.9.9.9")]
    assert client_ip_key("10.0.0.1", headers, proxies) == "ip:2001:db8:1:2::/64"


def test_a_client_sent_forwarded_header_is_ignored_when_the_proxies_write_xff() -> None:
    headers = [(b"forwarded", b"for=192.0.2.77"), *xff("198.51.100.9")]
    assert client_ip_key("10.0.0.1", headers, PROXIES) == "ip:198.51.100.9"


def test_a_trusted_proxy_seen_through_a_dual_stack_socket_is_still_trusted() -> None:
    assert client_ip_key("::ffff:10.0.0.1", xff("198.51.100.9"), PROXIES) == "ip:198.51.100.9"


def test_ipv6_clients_are_grouped_by_slash_64() -> None:
    a = client_ip_key("2001:db8:1:2::1", [], NONE)
    b = client_ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff", [], NONE)
    c = client_ip_key("2001:db8:1:3::1", [], NONE)
    assert a == b == "ip:2001:db8:1:2::/64"
    assert c != a


def test_ipv4_mapped_ipv6_is_the_ipv4_client() -> None:
    assert client_ip_key("::ffff:203.0.113.7", [], NONE) == "ip:203.0.113.7"


@pytest.mark.parametrize("peer", [None, "not-an-address", ""])
def test_a_missing_or_odd_client_is_a_key_of_its_own(peer: str | None) -> None:
    assert client_ip_key(peer, [], NONE) == UNKNOWN_CLIENT


def test_an_unknown_hop_behind_a_trusted_proxy_is_the_unknown_key() -> None:
    assert client_ip_key("10.0.0.1", xff("unknown, 10.0.0.2"), PROXIES) == UNKNOWN_CLIENT


def test_all_hops_trusted_means_the_left_most_is_the_client() -> None:
    assert client_ip_key("10.0.0.1", xff("10.9.9.9, 10.0.0.2"), PROXIES) == "ip:10.9.9.9"


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("::ffff:203.0.113.77", "203.0.113.0/24"),  # an IPv4 peer of a dual-stack listener
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"),
        ("[2001:db8:1:2::9]:4711", "2001:db8:1::/48"),
        ("unknown", None),
    ],
)
def test_a_stored_address_is_its_network_only(address: str, network: str | None) -> None:
    """What a session keeps of its client: the /24 or /48, never the host (the rate limiter's key is finer)."""
    assert privacy_network(address_key(address)) == network
    assert privacy_network(UNKNOWN_CLIENT) is None
