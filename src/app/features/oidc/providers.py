"""The providers' side of a sign-in: the authorization request, the code's exchange, and what the provider says
about the account, on Authlib's protocol functions and joserfc (Authlib's JOSE library) for the ID token.

An OpenID Connect provider is found through its discovery document; its signing keys (JWKS) are cached and fetched
again, once, when an ID token names a key id the cache lacks (the provider rotated its keys); such refetches are at
least `_KEYS_REFETCH_PAUSE` apart, so that made-up key ids cannot make us hammer the provider. Requests go through
the app's one outbound client (its pool, tracing, no environment proxies), each bounded by FORGE_OIDC_TIMEOUT_SECONDS.

GitHub is OAuth 2 without ID tokens: its access token reads the user (`id`, never the renameable `login`, is the
subject) and the user's e-mail addresses (the primary one, and whether GitHub verified it).
"""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from app.config import Settings
from app.features.oidc.errors import SignInError, SignInFailedError
from app.oidc_settings import GithubProvider, OidcProvider

__all__ = ["AccountClaims", "Provider", "ProviderDirectory"]

# Clock skew allowed on exp and iat.
_LEEWAY_SECONDS = 60
_KEYS_REFETCH_PAUSE = 30.0
# Asymmetric signatures only: an HMAC ID token would be signed with the client secret, which we also send.
_SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


@dataclass(frozen=True, slots=True)
class AccountClaims:
    """What a provider says about the account that signed in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class Provider(Protocol):
    name: str
    display_name: str
    kind: Literal["oidc", "github"]

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str: ...

    async def account(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> AccountClaims: ...


def _unavailable(provider: str, exc: Exception) -> SignInFailedError:
    return SignInFailedError(SignInError.PROVIDER_UNAVAILABLE, f"{provider}: {type(exc).__name__}")


class _Http:
    """The app's outbound client, each request bounded by the timeout; any transport failure or 5xx is the
    provider being unavailable, never an exception of ours."""

    def __init__(self, client: httpx.AsyncClient, *, provider: str, timeout: float) -> None:
        self._client = client
        self._provider = provider
        self._timeout = httpx.Timeout(timeout)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, url, timeout=self._timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise _unavailable(self._provider, exc) from exc
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise SignInFailedError(SignInError.PROVIDER_UNAVAILABLE, f"{self._provider}: {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error or body is None:
            error = body.get("error") if isinstance(body, dict) else None
            detail = f"{self._provider}: {response.status_code} {error or 'unreadable answer'}"
            raise SignInFailedError(SignInError.PROVIDER_ERROR, detail)
        return body


def _email_verified(value: object) -> bool:
    # Some providers send the claim as a string.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class OidcClient:
    """One OpenID Connect provider: discovery, the signing keys' cache, the flow's two requests."""

    kind: Literal["oidc", "github"] = "oidc"

    def __init__(self, name: str, config: OidcProvider, client: httpx.AsyncClient, timeout: float) -> None:
        self.name = name
        self.display_name = config.display_name or name.capitalize()
        self._config = config
        self._http = _Http(client, provider=name, timeout=timeout)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._refetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _discovered(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            metadata = await self._http.json("GET", url)
            # OpenID Connect Discovery 1.0, 4.3: the document is the issuer's own.
            if not isinstance(metadata, dict) or metadata.get("issuer") != self._config.issuer:
                raise SignInFailedError(SignInError.PROVIDER_ERROR, f"{self.name}: discovery names another issuer")
            self._metadata = metadata
        return self._metadata

    async def _key_set(self, *, refetch: bool = False) -> KeySet:
        async with self._lock:
            if refetch and time.monotonic() - self._refetched_at > _KEYS_REFETCH_PAUSE:
                self._refetched_at = time.monotonic()
                self._keys = None
            if self._keys is None:
                jwks = await self._http.json("GET", (await self._discovered())["jwks_uri"])
                try:
                    self._keys = KeySet.import_key_set(jwks)
                except (JoseError, ValueError, TypeError) as exc:
                    raise SignInFailedError(SignInError.PROVIDER_ERROR, f"{self.name}: unreadable JWKS") from exc
            return self._keys

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        metadata = await self._discovered()
        return str(
            prepare_grant_uri(
                metadata["authorization_endpoint"],
                client_id=self._config.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=self._config.scopes,
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(code_verifier),
                code_challenge_method="S256",
            )
        )

    async def account(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> AccountClaims:
        metadata = await self._discovered()
        token_url = metadata["token_endpoint"]
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        secret = self._config.client_secret
        auth = ClientAuth(
            self._config.client_id,
            secret.get_secret_value() if secret else None,
            "client_secret_basic" if secret else "none",
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        _, headers, body = auth.prepare("POST", token_url, headers, body)
        tokens = await self._http.json("POST", token_url, content=body, headers=headers)
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str):
            raise SignInFailedError(SignInError.INVALID_ID_TOKEN, f"{self.name}: no ID token")
        claims = await self._validated(id_token, nonce=nonce)
        email, verified = _text(claims.get("email")), _email_verified(claims.get("email_verified"))
        if email is None and isinstance(userinfo_url := metadata.get("userinfo_endpoint"), str):
            info = await self._http.json(
                "GET", userinfo_url, headers={"Authorization": f"Bearer {tokens.get('access_token')}"}
            )
            if isinstance(info, dict) and info.get("sub") == claims["sub"]:  # Core 1.0, 5.3.2: the same subject
                email, verified = _text(info.get("email")), _email_verified(info.get("email_verified"))
        return AccountClaims(
            subject=claims["sub"], email=email, email_verified=verified, name=_text(claims.get("name"))
        )

    async def _validated(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature (the provider's keys), iss, aud, exp, iat and nonce hold."""
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=_SIGNING_ALGORITHMS)
            except InvalidKeyIdError:  # a key the cache lacks: the provider may have rotated its keys
                token = jwt.decode(id_token, await self._key_set(refetch=True), algorithms=_SIGNING_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=_LEEWAY_SECONDS,
                iss={"essential": True, "value": self._config.issuer},
                aud={"essential": True, "value": self._config.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SignInFailedError(SignInError.INVALID_ID_TOKEN, f"{self.name}: {exc}") from exc
        claims = token.claims
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        # Core 1.0, 3.1.3.7: a token for several audiences names the one it was issued to.
        if len(audiences) > 1 and claims.get("azp") != self._config.client_id:
            raise SignInFailedError(SignInError.INVALID_ID_TOKEN, f"{self.name}: azp is not this client")
        return claims


class GithubClient:
    """GitHub (or a GitHub Enterprise Server): OAuth 2 with PKCE, then its REST API for the account."""

    kind: Literal["oidc", "github"] = "github"

    def __init__(self, name: str, config: GithubProvider, client: httpx.AsyncClient, timeout: float) -> None:
        self.name = name
        self.display_name = config.display_name or "GitHub"
        self._config = config
        self._http = _Http(client, provider=name, timeout=timeout)
        public = config.base_url == "https://github.com"
        self._api = "https://api.github.com" if public else f"{config.base_url}/api/v3"

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:  # noqa: ARG002 - no ID token, no nonce
        return str(
            prepare_grant_uri(
                f"{self._config.base_url}/login/oauth/authorize",
                client_id=self._config.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=self._config.scopes,
                state=state,
                code_challenge=create_s256_code_challenge(code_verifier),
                code_challenge_method="S256",
            )
        )

    async def account(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> AccountClaims:  # noqa: ARG002
        token_url = f"{self._config.base_url}/login/oauth/access_token"
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            client_id=self._config.client_id,
            client_secret=self._config.client_secret.get_secret_value(),
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        tokens = await self._http.json("POST", token_url, content=body, headers=headers)
        # GitHub answers a refused code with 200 and an `error`.
        access_token = tokens.get("access_token") if isinstance(tokens, dict) else None
        if not isinstance(access_token, str):
            error = tokens.get("error") if isinstance(tokens, dict) else None
            raise SignInFailedError(SignInError.PROVIDER_ERROR, f"{self.name}: {error or 'no access token'}")
        api = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
        user = await self._http.json("GET", f"{self._api}/user", headers=api)
        emails = await self._http.json("GET", f"{self._api}/user/emails", headers=api)
        if not isinstance(user, dict) or not isinstance(user.get("id"), int) or not isinstance(emails, list):
            raise SignInFailedError(SignInError.PROVIDER_ERROR, f"{self.name}: unexpected user answer")
        primary = next((e for e in emails if isinstance(e, dict) and e.get("primary") is True), None)
        return AccountClaims(
            subject=str(user["id"]),
            email=_text(primary.get("email")) if primary else None,
            email_verified=primary is not None and primary.get("verified") is True,
            name=_text(user.get("name")) or _text(user.get("login")),
        )


class ProviderDirectory:
    """The configured providers, by name: built once per app (their caches live as long as it does)."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        timeout = settings.oidc_timeout_seconds
        self.timeout = timeout
        self._providers: dict[str, Provider] = {
            name: (
                OidcClient(name, config, client, timeout)
                if isinstance(config, OidcProvider)
                else GithubClient(name, config, client, timeout)
            )
            for name, config in settings.oidc_providers.items()
        }

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def get(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise SignInFailedError(SignInError.UNKNOWN_PROVIDER, f"no provider named {name[:40]!r}")
        return provider
