"""Webhooks over https through the pinned address, against a real TLS receiver on 127.0.0.1 whose certificate, for
a made-up host name, is signed by a CA made for the test: the name resolves to 127.0.0.1 through the delivery's
resolver, the connection goes to that address, and TLS presents (SNI) and verifies the name, not the address. A
certificate for another name, or from a CA the delivery does not trust, is refused before anything is sent."""

import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from app.core.database import utcnow
from app.features.webhooks.network import IPAddress, Resolver
from app.features.webhooks.sending import Attempt, Verdict, send
from app.features.webhooks.signing import message_body, new_message_id, new_secret, signed_headers
from tests.support.certificates import CertificateAuthority
from tests.support.webhooks import Receiver, receiver

HOST = "hooks.example.test"


class Resolutions:
    """A resolver that answers every name with 127.0.0.1, and keeps the questions."""

    def __init__(self) -> None:
        self.questions: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.questions.append((host, port))
        return [ipaddress.ip_address("127.0.0.1")]


@pytest.fixture
def authority(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path)


@pytest.fixture
def tls_hooks(authority: CertificateAuthority, tmp_path: Path) -> Iterator[Receiver]:
    with receiver(tls=authority.issue(tmp_path, HOST)) as started:
        yield started


async def _deliver(
    hooks: Receiver, secret: str, *, resolve: Resolver, tls_context: ssl.SSLContext | None = None
) -> Attempt:
    body = message_body("test.happened", utcnow(), {"n": 1}).encode()
    headers = signed_headers([secret], message_id=new_message_id(), sent_at=utcnow(), body=body)
    return await send(
        f"https://{HOST}:{hooks.port}/in",
        body=body,
        headers=headers,
        deadline_seconds=5.0,
        require_https=True,
        allow_private=True,
        resolve=resolve,
        tls_context=tls_context,
    )


async def test_https_goes_to_the_checked_address_and_verifies_the_host_name(
    authority: CertificateAuthority, tls_hooks: Receiver
) -> None:
    dns, secret = Resolutions(), new_secret()
    attempt = await _deliver(tls_hooks, secret, resolve=dns, tls_context=authority.client_context())

    assert (attempt.verdict, attempt.status_code, attempt.error) == (Verdict.DELIVERED, 204, None)
    assert dns.questions == [(HOST, tls_hooks.port)]  # resolved once, through the delivery's resolver
    assert tls_hooks.server_names == [HOST]  # SNI: the name, though the connection went to 127.0.0.1
    [request] = tls_hooks.received("/in")
    assert request.headers["host"] == f"{HOST}:{tls_hooks.port}"
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["data"] == {"n": 1}


async def test_a_certificate_for_another_name_is_refused_and_retried_never_sent_in_clear(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    with receiver(tls=authority.issue(tmp_path, "other.example.test")) as other:
        attempt = await _deliver(other, new_secret(), resolve=Resolutions(), tls_context=authority.client_context())

    assert attempt.verdict is Verdict.RETRY  # a network error: the receiver may fix its certificate
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert "hooks.example.test" in attempt.error  # the name it was checked against
    assert other.server_names == [HOST]  # the handshake was tried, for the name ...
    assert other.requests == []  # ... and nothing was sent, encrypted or not


async def test_a_certificate_from_a_ca_the_delivery_does_not_trust_is_refused(tls_hooks: Receiver) -> None:
    attempt = await _deliver(tls_hooks, new_secret(), resolve=Resolutions())  # the default trust: not the test CA

    assert attempt.verdict is Verdict.RETRY
    assert attempt.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert tls_hooks.requests == []
