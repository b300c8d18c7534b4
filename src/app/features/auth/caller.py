"""Who is calling one request: its credentials parsed once, each verified at most once, whoever asks first.

The rate-limit gate (its key), the idempotency guard (whose keys these are), dynamic endpoints and the auth
dependencies all ask the same `RequestCaller`, kept with the request (`app.core.caller.caller_of`): a bearer
request that passes the limiter, an idempotent write and `Authorized` checks its token's signature once, and an
API key is hashed once. Nothing here touches the database: whether a key or a token's user is real and active is
for `Authorized`/`CurrentUser` to say (`app.features.auth.dependencies`).
"""

from collections import OrderedDict
from typing import Final

from starlette.requests import HTTPConnection
from starlette.types import Scope

from app.core.api_keys import ApiKeyHasher, is_well_formed
from app.core.caller import caller_of
from app.core.security import AccessClaims, TokenError, TokenService
from app.features.auth.addresses import UNKNOWN_CLIENT, TrustedProxies, address_key, client_ip_key

__all__ = ["MAX_VERIFIED_KEYS", "Identification", "RequestCaller", "VerifiedKeys", "request_caller"]

# API keys this process has seen authenticated, by key id: ~100 B each, so ~1 MB at most.
MAX_VERIFIED_KEYS = 10_000


class VerifiedKeys:
    """The ids of API keys authentication verified in this process, least recently verified first. Anyone can mint
    well-formed keys (the checksum is public), so a key gets a rate-limit budget of its own only once it is in
    here; bounded: an evicted key is keyed by address until its next authentication verifies it again."""

    def __init__(self, maximum: int = MAX_VERIFIED_KEYS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._maximum = maximum

    def __contains__(self, key_id: str) -> bool:
        return key_id in self._ids

    def add(self, key_id: str) -> None:
        self._ids[key_id] = None
        self._ids.move_to_end(key_id)
        if len(self._ids) > self._maximum:
            self._ids.popitem(last=False)

    def discard(self, key_id: str) -> None:
        """Authentication refused the key (revoked, expired, its owner deactivated): back to the address."""
        self._ids.pop(key_id, None)


class Identification:
    """What callers are worked out with, for the app's life: `AppContext.identify` makes each request's caller."""

    def __init__(self, *, tokens: TokenService, hasher: ApiKeyHasher, trusted_proxies: TrustedProxies) -> None:
        self.tokens = tokens
        self.hasher = hasher
        self.trusted_proxies = trusted_proxies
        self.verified_keys = VerifiedKeys()

    def __call__(self, scope: Scope) -> "RequestCaller":
        return RequestCaller(scope, self)


def _bearer_token(authorization: bytes) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for another scheme or an empty token."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class _Unknown:
    """Not worked out yet (None is an answer: no valid token, no well-formed key)."""


_UNKNOWN: Final = _Unknown()


class RequestCaller:
    """The caller of one request (`app.core.caller.Caller`, and what authentication needs besides)."""

    __slots__ = ("_access", "_address", "_client", "_digest", "_headers", "api_key", "bearer", "identification")

    def __init__(self, scope: Scope, identification: Identification) -> None:
        # The scope's parts, not the scope: the caller is kept in the scope's state, and a reference back to the
        # scope would make every request a reference cycle, freed only by the garbage collector (which then ran
        # three times as often, and cost the limited request 1.5 % of its instructions).
        self._client: tuple[str, int] | None = scope.get("client")
        self._headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.identification = identification
        authorization = api_key = None
        for name, value in self._headers:  # the first of a repeated header, as Starlette's Headers.get
            if name == b"authorization":
                authorization = authorization or value
            elif name == b"x-api-key":
                api_key = api_key or value
        self.bearer: str | None = None if authorization is None else _bearer_token(authorization)
        self.api_key: str | None = api_key.decode("latin-1").strip() or None if api_key is not None else None
        self._access: AccessClaims | _Unknown | None = _UNKNOWN
        self._digest: bytes | _Unknown | None = _UNKNOWN
        self._address: str | None = None

    def access(self) -> AccessClaims | None:
        """The user and session of a valid bearer access token (its signature, type, lifetime, subject and session
        id checked), or None. Whether the session is still live is for authentication to say."""
        if isinstance(self._access, _Unknown):
            self._access = self._verify_bearer()
        return self._access

    def user_id(self) -> int | None:
        """The user of a valid bearer access token, or None."""
        access = self.access()
        return None if access is None else access.user_id

    def session_id(self) -> int | None:
        """The session a valid bearer access token names, or None."""
        access = self.access()
        return None if access is None else access.session_id

    def _verify_bearer(self) -> AccessClaims | None:
        if self.bearer is None:
            return None
        try:
            return self.identification.tokens.access(self.bearer)
        except TokenError:
            return None

    def key_digest(self) -> bytes | None:
        """The keyed hash of a well-formed API key (what the database looks keys up by), or None."""
        if isinstance(self._digest, _Unknown):
            key = self.api_key
            self._digest = self.identification.hasher.digest(key) if key and is_well_formed(key) else None
        return self._digest

    def key_id(self) -> str | None:
        """A short, non-reversible id of a well-formed API key: the key's rate-limit and idempotency identity."""
        digest = self.key_digest()
        return None if digest is None else digest[:8].hex()

    def identity(self) -> str | None:
        if (user_id := self.user_id()) is not None:
            return f"user:{user_id}"
        if (key_id := self.key_id()) is not None:
            return f"key:{key_id}"
        return None

    def limit_key(self) -> str:
        # An invalid token or an unverified key is limited as its sender's address; authentication will refuse it.
        if self.bearer is not None and (user_id := self.user_id()) is not None:
            return f"user:{user_id}"
        if (key_id := self.key_id()) is not None and key_id in self.identification.verified_keys:
            return f"key:{key_id}"
        return self.address_key()

    def address_key(self) -> str:
        if self._address is None:
            client = self._client
            proxies = self.identification.trusted_proxies
            if client is None:
                self._address = UNKNOWN_CLIENT
            elif proxies.networks:
                self._address = client_ip_key(client[0], self._headers, proxies)
            else:  # no proxy is trusted: the peer is the client (what client_ip_key decides, a call less)
                self._address = address_key(client[0])
        return self._address


def request_caller(request: HTTPConnection) -> RequestCaller:
    """The request's caller, as the auth feature made it (`AppContext.identify`)."""
    caller = caller_of(request.scope)
    if not isinstance(caller, RequestCaller):  # only an app built with another `identify` gets here
        msg = f"the app identifies callers with {type(caller).__name__}, not RequestCaller"
        raise TypeError(msg)
    return caller
