"""Who is asking: the client address behind trusted proxies, grouped so that one client is one key.

Forwarding headers are written by whoever sends them, so they are believed only when the TCP peer is a listed
proxy; then the right-most address that is not itself a trusted proxy is the client (every hop to its left was
reported by that client and may be forged). IPv6 clients are grouped by /64, the block one subscriber usually
gets, so that rotating through it does not reset the limit.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["UNKNOWN_CLIENT", "TrustedProxies", "address_key", "client_ip_key", "forwarded_chain", "privacy_network"]

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN_CLIENT = "ip:unknown"
# What records that outlive the request keep of a client's address (a session's): the network, not the host.
_PRIVACY_PREFIX = {4: 24, 6: 48}


def _parse_address(text: str) -> Address | None:
    value = text.strip().strip('"')
    if value.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; they are the IPv4 address they map.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The proxies whose forwarding header is believed, and which header that is (`x-forwarded-for` by default)."""

    def __init__(self, networks: Iterable[str], *, header: str = "x-forwarded-for") -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks)
        self.header = header.encode()

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def forwarded_chain(headers: Sequence[tuple[bytes, bytes]], header: bytes = b"x-forwarded-for") -> list[str]:
    """The hops named by `header`: `X-Forwarded-For`, or `Forwarded` (RFC 7239, its `for=` values); nearest last."""
    hops: list[str] = []
    for name, value in headers:
        if name != header:
            continue
        for element in value.decode("latin-1").split(","):
            if header == b"x-forwarded-for":
                hops.append(element.strip())
                continue
            for pair in element.split(";"):
                key, _, val = pair.strip().partition("=")
                if key.lower() == "for":
                    hops.append(val)
    return hops


@lru_cache(maxsize=4096)
def address_key(text: str) -> str:
    """The rate-limit key of one address as a peer or a forwarding header gives it (cached: clients repeat)."""
    address = _parse_address(text)
    if address is None:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"


def client_ip_key(peer: str | None, headers: Sequence[tuple[bytes, bytes]], trusted: TrustedProxies) -> str:
    """The rate-limit key of the client's address (`ip:203.0.113.7`, `ip:2001:db8:1:2::/64`, `ip:unknown`)."""
    if peer is None:
        return UNKNOWN_CLIENT
    if not trusted.networks:  # not `not trusted`: its __bool__ is a Python call, on every request
        return address_key(peer)
    peer_address = _parse_address(peer)
    if peer_address is None or not trusted.trusts(peer_address):
        return address_key(peer)
    chain = forwarded_chain(headers, trusted.header)
    for hop in reversed(chain):
        address = _parse_address(hop)
        if address is None:
            return UNKNOWN_CLIENT  # "unknown" or an obfuscated identifier: nothing better to key by
        if not trusted.trusts(address):
            return address_key(hop)
    return address_key(chain[0]) if chain else address_key(peer)


def privacy_network(key: str) -> str | None:
    """The network of an address key (as `address_key` makes them), coarse enough to store with a session: an IPv4
    address by its /24, IPv6 by its /48 (`203.0.113.0/24`, `2001:db8:1::/48`). None for an unknown client."""
    if key == UNKNOWN_CLIENT or not key.startswith("ip:"):
        return None
    try:
        network = ipaddress.ip_network(key[3:], strict=False)
    except ValueError:
        return None
    return str(network.supernet(new_prefix=_PRIVACY_PREFIX[network.version]))
