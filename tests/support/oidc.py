"""Provider sign-in in tests: a browser that follows redirects between the app and real providers on loopback and
keeps cookies, a real OpenID Connect provider (oidc-provider-mock) in a thread, and a port that never answers.

The browser is an httpx client whose `http://testserver` requests go to the app in-process and every other one
over the network (to the providers on 127.0.0.1). It keeps cookies as a browser does, per host and path, and, as
browsers do for a local development host, sends `Secure` cookies to `http://testserver` too (httpx's own jar would
not). It stops at the frontend (FORGE_FRONTEND_URL, where nothing listens in tests) and reports where it landed.
"""

import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from oidc_provider_mock import User, run_server_in_thread
from werkzeug.serving import BaseWSGIServer

from tests.support.settings import BASE_URL

__all__ = ["MOCK_CLIENT_ID", "Browser", "Landing", "MockProvider", "mock_provider", "silent_port"]

MOCK_CLIENT_ID = "forge-test-client"
MOCK_CLIENT_SECRET = "mock-client-secret-7e2a"
LOGIN = "/api/v1/auth/oidc/{provider}/login"
LINK = "/api/v1/auth/oidc/{provider}/link"
EXCHANGE = "/api/v1/auth/oidc/exchange"
_MAX_REDIRECTS = 10


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a sign-in sent the browser on the frontend: the path and the query's parameters."""

    url: str
    path: str
    params: dict[str, str]


@dataclass(eq=False)
class Browser:
    http: httpx.AsyncClient
    frontend_url: str
    cookies: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (host, name) -> (value, path)
    visited: list[str] = field(default_factory=list)

    def _cookie_header(self, url: httpx.URL) -> str | None:
        pairs = [
            f"{name}={value}"
            for (host, name), (value, path) in self.cookies.items()
            if host == url.host and url.path.startswith(path)
        ]
        return "; ".join(pairs) or None

    def _keep_cookies(self, response: httpx.Response) -> None:
        host = response.request.url.host
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value.strip('"'):
                    self.cookies.pop((host, name), None)
                else:
                    self.cookies[host, name] = (morsel.value, morsel["path"] or "/")
        self.http.cookies.clear()  # the client's own jar plays no part

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, with the browser's cookies; no redirect followed."""
        full = httpx.URL(urljoin(BASE_URL, url))
        headers = dict(kwargs.pop("headers", None) or {})
        if cookie := self._cookie_header(full):
            headers["cookie"] = cookie
        response = await self.http.request(method, full, headers=headers, **kwargs)
        self.visited.append(f"{method} {full}")
        self._keep_cookies(response)
        return response

    async def go(self, url: str, **kwargs: Any) -> httpx.Response | Landing:
        """Navigate: follow redirects (each a GET) until a page answers, or the frontend is reached."""
        response = await self.request(kwargs.pop("method", "GET"), url, **kwargs)
        for _ in range(_MAX_REDIRECTS):
            if not response.is_redirect:
                return response
            location = urljoin(str(response.request.url), response.headers["location"])
            if location.startswith(self.frontend_url):
                parts = urlsplit(location)
                params = {name: values[0] for name, values in parse_qs(parts.query).items()}
                return Landing(url=location, path=parts.path, params=params)
            response = await self.request("GET", location)  # the first request's headers stay with it
        msg = f"more than {_MAX_REDIRECTS} redirects: {self.visited[-3:]}"
        raise AssertionError(msg)

    async def sign_in(
        self,
        provider: str = "mock",
        *,
        subject: str = "alice",
        redirect_to: str | None = None,
        path: str = LOGIN,
        headers: dict[str, str] | None = None,
    ) -> Landing:
        """Sign in through `provider` as `subject`: at oidc-provider-mock the user submits the authorization form
        with that subject; other providers send the browser straight back."""
        params = {"redirect_to": redirect_to} if redirect_to is not None else {}
        outcome = await self.go(path.format(provider=provider), params=params, headers=headers)
        if isinstance(outcome, httpx.Response):  # the mock's authorization form
            assert outcome.status_code == 200, outcome.text
            outcome = await self.go(str(outcome.request.url), method="POST", data={"sub": subject})
        assert isinstance(outcome, Landing), outcome
        return outcome

    async def exchange(self, code: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", EXCHANGE, json={"code": code}, **kwargs)


@dataclass(eq=False)
class MockProvider:
    """oidc-provider-mock, a real OpenID Connect provider (Authlib's server), on a loopback port."""

    port: int
    issuer: str
    token_lifetime: timedelta
    _running: ExitStack

    def stop(self) -> None:
        self._running.close()

    def restart(self) -> None:
        """Stop the server and start it again on its port: the same issuer, signing with a new key (and knowing no
        users: they live in its memory)."""
        self.stop()
        self._running = ExitStack()
        self._running.enter_context(_serve(self.port, self.token_lifetime))

    def set_user(self, subject: str, **claims: Any) -> None:
        response = httpx.put(f"{self.issuer}/users/{subject}", json=claims)
        assert response.status_code == 204, response.text

    def settings(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "client_id": MOCK_CLIENT_ID, "client_secret": MOCK_CLIENT_SECRET}


def _serve(port: int, token_lifetime: timedelta) -> AbstractContextManager[BaseWSGIServer]:
    served: AbstractContextManager[BaseWSGIServer] = run_server_in_thread(
        port, access_token_max_age=token_lifetime, user_claims=[User(sub="nobody")]
    )
    return served


@contextmanager
def mock_provider(*, token_lifetime: timedelta = timedelta(hours=1)) -> Iterator[MockProvider]:
    """The provider, until the block ends. Its ID tokens (and access tokens) live `token_lifetime`."""
    with ExitStack() as running:
        server = running.enter_context(_serve(0, token_lifetime))
        port = server.server_port
        provider = MockProvider(port, f"http://localhost:{port}", token_lifetime, running.pop_all())
        try:
            yield provider
        finally:
            provider.stop()


@contextmanager
def silent_port() -> Iterator[str]:
    """An address that accepts connections (the kernel's backlog) and never answers: a provider hanging."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
