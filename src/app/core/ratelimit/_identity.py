"""Who is asking: the client address behind trusted proxies, grouped so that one client is one key.

Forwarding headers are written by whoever sends them, so they are believed only when the TCP peer is a listed
proxy; then the right-most address that is not itself a trusted proxy is the client (every hop to its left was
reported by that client and may be forged). IPv6 clients are grouped by /64, the block one subscriber usually
gets, so that rotating through it does not reset the limit.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["UNKNOWN_CLIENT", "TrustedProxies", "client_ip_key", "forwarded_chain"]

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN_CLIENT = "ip:unknown"


def _parse_address(text: str) -> Address | None:
    value = text.strip().strip('"')
    if value.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def forwarded_chain(headers: Sequence[tuple[bytes, bytes]]) -> list[str]:
    """The hops named by `Forwarded` (RFC 7239) or, without it, `X-Forwarded-For`; nearest hop last."""
    forwarded: list[str] = []
    x_forwarded_for: list[str] = []
    for name, value in headers:
        if name == b"forwarded":
            for element in value.decode("latin-1").split(","):
                for pair in element.split(";"):
                    key, _, val = pair.strip().partition("=")
                    if key.lower() == "for":
                        forwarded.append(val)
        elif name == b"x-forwarded-for":
            x_forwarded_for.extend(part.strip() for part in value.decode("latin-1").split(","))
    return forwarded or x_forwarded_for


@lru_cache(maxsize=4096)
def _address_key(text: str) -> str:
    address = _parse_address(text)
    if address is None:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"


def client_ip_key(peer: str | None, headers: Sequence[tuple[bytes, bytes]], trusted: TrustedProxies) -> str:
    """The rate-limit key of the client's address (`ip:203.0.113.7`, `ip:2001:db8:1:2::/64`, `ip:unknown`)."""
    if peer is None:
        return UNKNOWN_CLIENT
    if not trusted:
        return _address_key(peer)
    peer_address = _parse_address(peer)
    if peer_address is None or not trusted.trusts(peer_address):
        return _address_key(peer)
    chain = forwarded_chain(headers)
    for hop in reversed(chain):
        address = _parse_address(hop)
        if address is None:
            return UNKNOWN_CLIENT  # "unknown" or an obfuscated identifier: nothing better to key by
        if not trusted.trusts(address):
            return _address_key(hop)
    return _address_key(chain[0]) if chain else _address_key(peer)
