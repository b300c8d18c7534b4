"""A small OpenID Connect provider and GitHub stand-in for the cases a real provider will not produce on request.

It is a real HTTP server on loopback (a ThreadingHTTPServer in a thread) that speaks the protocol for real: discovery,
a JWKS, an authorization endpoint that sends the browser back with a code, and a token endpoint that checks the
client's credentials, the redirect URI and the PKCE verifier (S256) before it signs an ID token with joserfc. What
the ID token says is the test's to choose (`id_token_claims`: a wrong `aud`, a stale `exp`...), which is why it
exists: oidc-provider-mock signs only what a correct provider signs.

The same server plays GitHub (which is OAuth 2 without ID tokens): /login/oauth/authorize, /login/oauth/access_token,
and the REST API's /api/v3/user and /api/v3/user/emails (a GitHub Enterprise Server's paths), answering with
`github_user` and `github_emails`.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "StandIn", "stand_in"]

CLIENT_ID = "forge-standin"
CLIENT_SECRET = "standin-client-secret-4b1d"


@dataclass(eq=False)
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None


@dataclass(eq=False)
class StandIn:
    base: str
    subject: str = "standin-subject-1"
    email: str = "standin@example.org"
    email_verified: bool = True
    # Claims that replace (or, with None, remove) what a correct ID token would say.
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    github_user: dict[str, Any] = field(default_factory=lambda: {"id": 4242, "login": "octo", "name": "Octo Cat"})
    github_emails: list[dict[str, Any]] = field(
        default_factory=lambda: [{"email": "octo@example.org", "primary": True, "verified": True}]
    )
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    # When set, ID tokens are signed with this key, which the JWKS does not publish (a forger's).
    forger_key: RSAKey | None = None
    grants: dict[str, _Grant] = field(default_factory=dict)
    pkce_checked: int = 0  # token requests whose S256 verifier matched
    # Called (in the server's thread) before a token request is answered: what happens while the provider works.
    on_token: Callable[[], None] | None = None
    requests: list[str] = field(default_factory=list)

    def rotate_keys(self) -> None:
        """Sign with a new key from now on; the JWKS publishes only the new one."""
        self.key = RSAKey.generate_key(2048, auto_kid=True)

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.base,
            "sub": self.subject,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": self.email,
            "email_verified": self.email_verified,
        }
        claims.update(self.id_token_claims)
        claims = {name: value for name, value in claims.items() if value is not None}
        key = self.forger_key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect_with_code(self, query: dict[str, str]) -> None:
        code = secrets.token_urlsafe(16)
        self.server.standin.grants[code] = _Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
        )
        self.send_response(302)
        self.send_header("Location", f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        standin = self.server.standin
        url = urlsplit(self.path)
        standin.requests.append(f"GET {url.path}")
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._json(
                {
                    "issuer": standin.base,
                    "authorization_endpoint": f"{standin.base}/authorize",
                    "token_endpoint": f"{standin.base}/token",
                    "jwks_uri": f"{standin.base}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )
        elif url.path == "/jwks":
            self._json(KeySet([standin.key]).as_dict(private=False))
        elif url.path in {"/authorize", "/login/oauth/authorize"}:
            self._redirect_with_code(query)
        elif url.path == "/api/v3/user" and self.headers.get("Authorization") == "Bearer gho_standin":
            self._json(standin.github_user)
        elif url.path == "/api/v3/user/emails" and self.headers.get("Authorization") == "Bearer gho_standin":
            self._json(standin.github_emails)
        else:
            self._json({"message": "Not Found"}, 404)

    def _grant_for(self, form: dict[str, str]) -> _Grant | None:
        grant = self.server.standin.grants.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return None
        verifier = form.get("code_verifier")
        if grant.code_challenge is None or verifier is None or _s256(verifier) != grant.code_challenge:
            return None
        self.server.standin.pkce_checked += 1
        return grant

    def do_POST(self) -> None:
        standin = self.server.standin
        url = urlsplit(self.path)
        standin.requests.append(f"POST {url.path}")
        length = int(self.headers.get("Content-Length", "0"))
        form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
        if standin.on_token is not None:
            standin.on_token()
        if url.path == "/token":
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {basic}":
                self._json({"error": "invalid_client"}, 401)
            elif (grant := self._grant_for(form)) is None:
                self._json({"error": "invalid_grant"}, 400)
            else:
                self._json({"access_token": "at_standin", "token_type": "Bearer", "id_token": standin.id_token(grant)})
        elif url.path == "/login/oauth/access_token":
            # GitHub answers a bad code with 200 and an error; its client secret travels in the body.
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                self._json({"error": "incorrect_client_credentials"})
            elif self._grant_for(form) is None:
                self._json({"error": "bad_verification_code"})
            else:
                self._json({"access_token": "gho_standin", "token_type": "bearer", "scope": "read:user,user:email"})
        else:
            self._json({"message": "Not Found"}, 404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: StandIn


@contextmanager
def stand_in() -> Iterator[StandIn]:
    """The stand-in, listening on 127.0.0.1 until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.standin = StandIn(base=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
