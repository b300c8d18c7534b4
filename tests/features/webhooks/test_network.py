"""No SSRF: which addresses and URLs a webhook may go to, and that the address checked is the one connected to."""

import ipaddress

import pytest

from app.features.webhooks.network import (
    AddressRefusedError,
    IPAddress,
    ResolutionError,
    address_refusal,
    pin,
    url_problem,
)

PUBLIC = "93.184.215.14"  # never connected to: these tests only resolve (with a stub) and check


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.10.20", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not one bound to
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("192.0.0.192", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address))
    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "production", "problem"),
    [
        ("ftp://example.com/hook", False, "http or https"),
        ("http://example.com/hook", True, "https"),
        ("https://user:pw@example.com/hook", False, "credentials"),
        ("https://example.com/hook#part", False, "fragment"),
        ("https:///hook", False, "host"),
        ("not a url", False, "http"),
        ("http://127.0.0.1:8080/hook", False, "loopback"),
        ("http://[::1]/hook", False, "loopback"),
        ("http://localhost:9000/hook", False, "loopback"),
        ("http://api.localhost/hook", False, "loopback"),
        ("http://169.254.169.254/latest/meta-data/", False, "cloud metadata"),
        ("http://10.0.0.7/hook", False, "private"),
    ],
)
def test_urls_are_refused_at_registration(url: str, *, production: bool, problem: str) -> None:
    found = url_problem(url, require_https=production, allow_private=False)
    assert found is not None
    assert problem in found


def test_urls_that_may_receive_webhooks() -> None:
    assert url_problem("https://hooks.example.com/in?x=1", require_https=True, allow_private=False) is None
    assert url_problem("http://hooks.example.com:8080/in", require_https=False, allow_private=False) is None
    # Private networks allowed (tests, local development): addresses pass; scheme and credentials still count.
    assert url_problem("http://127.0.0.1:8080/hook", require_https=False, allow_private=True) is None
    assert url_problem("https://u:p@127.0.0.1/hook", require_https=False, allow_private=True) is not None


class ChangingDns:
    """A resolver whose answer changes after the first question, as a rebinding attacker's DNS server's does."""

    def __init__(self, *answers: str) -> None:
        self.answers = [[ipaddress.ip_address(answer)] for answer in answers]
        self.questions: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.questions.append((host, port))
        return self.answers[min(len(self.questions), len(self.answers)) - 1]


async def test_the_request_goes_to_the_address_that_was_checked_whatever_dns_answers_next() -> None:
    dns = ChangingDns(PUBLIC, "127.0.0.1", "169.254.169.254")
    pinned = await pin("https://hooks.example.com/in?x=1", require_https=True, allow_private=False, resolve=dns)
    assert dns.questions == [("hooks.example.com", 443)]  # asked once: nothing resolves the name again
    assert str(pinned.url) == f"https://{PUBLIC}/in?x=1"
    assert pinned.host_header == "hooks.example.com"
    assert pinned.extensions == {"sni_hostname": "hooks.example.com"}  # TLS verifies the name, not the address


async def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    dns = ChangingDns("10.0.0.5")
    with pytest.raises(AddressRefusedError, match=r"10\.0\.0\.5, a private address"):
        await pin("http://rebind.example.com:8080/", require_https=False, allow_private=False, resolve=dns)
    assert dns.questions == [("rebind.example.com", 8080)]


async def test_every_address_of_a_name_must_be_public() -> None:
    async def mixed(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(PUBLIC), ipaddress.ip_address("fe80::1")]

    with pytest.raises(AddressRefusedError, match="link-local"):
        await pin("https://mixed.example.com/", require_https=True, allow_private=False, resolve=mixed)


async def test_address_literals_are_checked_without_resolving() -> None:
    dns = ChangingDns(PUBLIC)
    with pytest.raises(AddressRefusedError, match="loopback"):
        await pin("http://[::ffff:127.0.0.1]:81/", require_https=False, allow_private=False, resolve=dns)
    pinned = await pin("http://[::1]:81/x", require_https=False, allow_private=True, resolve=dns)
    assert (str(pinned.url), pinned.host_header, pinned.extensions) == ("http://[::1]:81/x", "[::1]:81", {})
    assert dns.questions == []


async def test_http_is_refused_at_delivery_in_production_and_a_name_without_addresses_is_retried() -> None:
    with pytest.raises(AddressRefusedError, match="https"):
        await pin("http://hooks.example.com/", require_https=True, allow_private=False, resolve=ChangingDns(PUBLIC))

    async def nothing(_host: str, _port: int) -> list[IPAddress]:
        return []

    with pytest.raises(ResolutionError):
        await pin("https://gone.example.com/", require_https=True, allow_private=False, resolve=nothing)
