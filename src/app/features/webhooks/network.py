"""Where a webhook may go (no SSRF): the URL rules checked at registration, and the address policy checked at
delivery, on the address that is then connected to.

Registration checks what the URL says (scheme, no credentials, no fragment, an address literal's class). Delivery
resolves the host name once, refuses it if any of its addresses is loopback, private, link-local, multicast,
reserved, unspecified, shared (CGNAT), or a cloud's metadata service (unless private networks are allowed), and
returns the request pinned to the address it checked: the URL's host replaced by that address, the original host
name kept for the Host header and for TLS (SNI and certificate verification). Nothing resolves the name again, so
a DNS answer that changes between the check and the connection (DNS rebinding) cannot take the request elsewhere.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

__all__ = [
    "AddressRefusedError",
    "IPAddress",
    "Pinned",
    "ResolutionError",
    "Resolver",
    "address_refusal",
    "pin",
    "system_resolver",
    "url_problem",
]

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

# Cloud instance metadata services. Most are link-local or private already; these are named so that they stay
# refused whatever the address classes say (Azure's and Oracle's are not even private).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure's host agent (WireServer)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefusedError(Exception):
    """The URL or the address it resolves to may not be sent to: final, no retry will change it."""


class ResolutionError(Exception):
    """The host name did not resolve (now): worth another attempt later."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, NAT64's well-known prefix, 6to4), which is where it goes."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: IPAddress) -> str | None:
    """Why a webhook may not be sent to `address` (without FORGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS), or None."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_refusal(embedded)
    checks = (
        (address in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),  # e.g. 100.64.0.0/10, shared by carriers' NAT
    )
    return next((reason for refused, reason in checks if refused), None)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_problem(url: str, *, require_https: bool, allow_private: bool) -> str | None:
    """What is wrong with `url` as a webhook endpoint, or None. Host names are resolved only at delivery."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "must be an absolute http(s) URL"
    schemes = ("https",) if require_https else ("http", "https")
    checks = (
        (parsed.scheme not in schemes, "must be an https URL" if require_https else "must be an http or https URL"),
        (not parsed.host, "must name a host"),
        (bool(parsed.userinfo), "must not carry credentials (user:password@): the signature authenticates the sender"),
        (bool(parsed.fragment), "must not have a fragment (#...): it is never sent"),
    )
    problem = next((message for failed, message in checks if failed), None)
    if problem is not None or allow_private:
        return problem
    literal = _literal(parsed.host)
    refusal = address_refusal(literal) if literal is not None else None
    if refusal is None and (parsed.host == "localhost" or parsed.host.endswith(".localhost")):
        refusal = "a loopback address"
    return f"must not point at {refusal}" if refusal else None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, from the system's resolver (getaddrinfo, in a thread)."""
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror
        msg = f"{host} did not resolve: {exc.strerror or exc}"
        raise ResolutionError(msg) from None
    # An IPv6 answer may carry a scope ("fe80::1%eth0"): the address is what the policy judges.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in answers))


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request's target after the check: `url` has the checked address as its host."""

    url: httpx.URL
    host_header: str  # the original host (and port): what the receiver's virtual hosting expects
    sni_hostname: str | None  # https to a name: TLS presents and verifies this name, not the address

    @property
    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.sni_hostname} if self.sni_hostname else {}


async def pin(url: str, *, require_https: bool, allow_private: bool, resolve: Resolver) -> Pinned:
    """`url` resolved once and checked: AddressRefusedError if it may not be sent to, ResolutionError if its host
    does not resolve now."""
    problem = url_problem(url, require_https=require_https, allow_private=True)  # the addresses are checked below
    if problem is not None:
        raise AddressRefusedError(f"the URL {problem}")
    parsed = httpx.URL(url)
    literal = _literal(parsed.host)
    addresses = [literal] if literal is not None else await resolve(parsed.host, parsed.port or _port(parsed))
    if not addresses:
        msg = f"{parsed.host} resolved to no address"
        raise ResolutionError(msg)
    if not allow_private:
        for address in addresses:  # every one: a name with one public and one private address is refused
            refusal = address_refusal(address)
            if refusal is not None:
                msg = f"{parsed.host} resolves to {address}, {refusal}"
                raise AddressRefusedError(msg)
    sni = parsed.host if parsed.scheme == "https" and literal is None else None
    return Pinned(
        url=parsed.copy_with(host=str(addresses[0])), host_header=parsed.netloc.decode("ascii"), sni_hostname=sni
    )


def _port(url: httpx.URL) -> int:
    return _DEFAULT_PORTS[url.scheme]
