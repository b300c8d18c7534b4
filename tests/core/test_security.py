"""Unit tests of `core.security`: Argon2id password hashing and the JWT token service."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from app.config import Settings
from app.core.security import AccessClaims, MfaClaims, PasswordHasher, TokenError, TokenService, TokenType
from tests.helpers import token_claims
from tests.support.settings import make_settings

PASSWORD = "correct horse battery staple"
# No database is touched here: these tests run once, not per backend.
_URL = "sqlite+aiosqlite:///:memory:"


@pytest.fixture
def unit_settings() -> Settings:
    return make_settings(_URL)


@pytest.fixture
def hasher(unit_settings: Settings) -> PasswordHasher:
    return PasswordHasher(unit_settings)


@pytest.fixture
def tokens(unit_settings: Settings) -> TokenService:
    return TokenService(unit_settings)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _sign(settings: Settings, claims: dict[str, Any], *, key: str | None = None) -> str:
    return jwt.encode(claims, key or settings.secret_key.get_secret_value(), algorithm=settings.jwt_algorithm)


# --- PasswordHasher ------------------------------------------------------------------------------------------


async def test_hash_is_argon2id_with_the_configured_parameters(hasher: PasswordHasher, unit_settings: Settings) -> None:
    hashed = await hasher.hash(PASSWORD)
    assert hashed.startswith("$argon2id$")
    memory, iterations, parallelism = (
        unit_settings.password_hash_memory_kib,
        unit_settings.password_hash_iterations,
        unit_settings.password_hash_parallelism,
    )
    assert f"$m={memory},t={iterations},p={parallelism}$" in hashed
    assert PASSWORD not in hashed


async def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    first, second = await hasher.hash(PASSWORD), await hasher.hash(PASSWORD)
    assert first != second
    assert (await hasher.verify(PASSWORD, first))[0] is True
    assert (await hasher.verify(PASSWORD, second))[0] is True


async def test_verify_accepts_the_right_password(hasher: PasswordHasher) -> None:
    assert await hasher.verify(PASSWORD, await hasher.hash(PASSWORD)) == (True, None)


@pytest.mark.parametrize("attempt", ["wrong password entirely", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1], ""])
async def test_verify_refuses_a_wrong_password(hasher: PasswordHasher, attempt: str) -> None:
    assert await hasher.verify(attempt, await hasher.hash(PASSWORD)) == (False, None)


async def test_verify_handles_non_ascii_passwords(hasher: PasswordHasher) -> None:
    password = "pässwörd-日本語-🔑-long-enough"
    hashed = await hasher.hash(password)
    assert (await hasher.verify(password, hashed))[0] is True
    assert (await hasher.verify(password.replace("ä", "a"), hashed))[0] is False


@pytest.mark.parametrize("attempt", [PASSWORD, "", "anything at all"])
async def test_verify_against_no_account_is_false(hasher: PasswordHasher, attempt: str) -> None:
    assert await hasher.verify(attempt, None) == (False, None)


async def test_verify_against_an_outdated_hash_returns_an_upgraded_one(
    hasher: PasswordHasher, unit_settings: Settings
) -> None:
    old = PasswordHasher(make_settings(_URL, password_hash_memory_kib=2048, password_hash_iterations=2))
    outdated = await old.hash(PASSWORD)
    assert "$m=2048,t=2," in outdated

    valid, upgraded = await hasher.verify(PASSWORD, outdated)
    assert valid is True
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")
    assert f"$m={unit_settings.password_hash_memory_kib},t={unit_settings.password_hash_iterations}," in upgraded
    assert await hasher.verify(PASSWORD, upgraded) == (True, None)


async def test_verify_never_upgrades_on_a_wrong_password(hasher: PasswordHasher) -> None:
    old = PasswordHasher(make_settings(_URL, password_hash_memory_kib=2048))
    assert await hasher.verify("wrong password entirely", await old.hash(PASSWORD)) == (False, None)


# --- TokenService --------------------------------------------------------------------------------------------


def test_issue_and_decode_round_trip(tokens: TokenService, unit_settings: Settings) -> None:
    issued = tokens.issue(subject="42", token_type=TokenType.ACCESS)
    ttl = unit_settings.access_token_ttl_seconds
    assert issued.expires_in == ttl
    claims = tokens.decode(issued.token, expected_type=TokenType.ACCESS)
    assert claims["sub"] == "42"
    assert claims["typ"] == "access"
    assert claims["iss"] == unit_settings.jwt_issuer
    assert claims["aud"] == unit_settings.jwt_audience
    assert claims["exp"] - claims["iat"] == ttl
    assert isinstance(claims["jti"], str)
    assert claims["jti"]
    assert jwt.get_unverified_header(issued.token)["alg"] == unit_settings.jwt_algorithm


def test_an_access_token_names_its_user_and_session(tokens: TokenService) -> None:
    issued = tokens.issue_access(user_id=42, session_id=7)
    assert tokens.decode(issued.token, expected_type=TokenType.ACCESS)["sid"] == "7"
    assert tokens.access(issued.token) == AccessClaims(user_id=42, session_id=7)


@pytest.mark.parametrize(
    "sid", [None, 7, " 7", "07", "+7", "7.0", "\uff17", "0", "-7", "", "1" * 20, str(2**31)], ids=repr
)
def test_an_access_token_without_a_canonical_session_is_refused(
    tokens: TokenService, unit_settings: Settings, sid: object
) -> None:
    """None: a token from before sessions, or minted elsewhere; the others are spellings no session id has here."""
    claims = token_claims(unit_settings, "42")
    if sid is not None:
        claims["sid"] = sid
    token = _sign(unit_settings, claims)
    assert tokens.decode(token, expected_type=TokenType.ACCESS)["sub"] == "42"  # a good token but for its `sid`
    with pytest.raises(TokenError):
        tokens.access(token)


def test_an_mfa_token_names_its_user_and_lives_the_mfa_ttl(tokens: TokenService, unit_settings: Settings) -> None:
    issued = tokens.issue_mfa(user_id=42)
    assert issued.expires_in == unit_settings.mfa_token_ttl_seconds
    claims = tokens.decode(issued.token, expected_type=TokenType.MFA)
    assert (claims["typ"], "sid" in claims) == ("mfa", False)
    assert tokens.mfa(issued.token) == MfaClaims(user_id=42, token_id=claims["jti"])


def test_an_mfa_token_and_an_access_token_never_pass_for_each_other(tokens: TokenService) -> None:
    with pytest.raises(TokenError, match="expected a access token"):
        tokens.access(tokens.issue_mfa(user_id=42).token)
    with pytest.raises(TokenError, match="expected a mfa token"):
        tokens.mfa(tokens.issue_access(user_id=42, session_id=7).token)


@pytest.mark.parametrize("jti", [None, 7, "", "not-hex-" * 4, "A" * 32, "0" * 31], ids=repr)
def test_an_mfa_token_without_an_id_this_service_issues_is_refused(
    tokens: TokenService, unit_settings: Settings, jti: object
) -> None:
    """Its id keys the token's budget of attempts: every MFA token this service issues has one (a uuid4's hex)."""
    claims = token_claims(unit_settings, "42", typ="mfa", exp=int(datetime.now(UTC).timestamp()) + 60)
    if jti is not None:
        claims["jti"] = jti
    with pytest.raises(TokenError):
        tokens.mfa(_sign(unit_settings, claims))


def test_each_token_is_unique(tokens: TokenService) -> None:
    first = tokens.issue(subject="42", token_type=TokenType.ACCESS)
    second = tokens.issue(subject="42", token_type=TokenType.ACCESS)
    assert first.token != second.token
    first_jti = tokens.decode(first.token, expected_type=TokenType.ACCESS)["jti"]
    assert first_jti != tokens.decode(second.token, expected_type=TokenType.ACCESS)["jti"]


@pytest.mark.parametrize("typ", ["refresh", "mfa", "api-key"])
def test_decode_refuses_the_wrong_token_type(tokens: TokenService, unit_settings: Settings, typ: str) -> None:
    """`refresh`: the stateless refresh tokens issued before sessions (refresh tokens are opaque now)."""
    token = _sign(unit_settings, token_claims(unit_settings, "42", typ=typ))
    with pytest.raises(TokenError, match="expected a access token"):
        tokens.decode(token, expected_type=TokenType.ACCESS)


def test_decode_refuses_a_tampered_payload(tokens: TokenService) -> None:
    header, payload, signature = tokens.issue(subject="42", token_type=TokenType.ACCESS).token.split(".")
    claims = json.loads(_b64url_decode(payload))
    claims["sub"] = "1"
    forged = f"{header}.{_b64url(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(TokenError):
        tokens.decode(forged, expected_type=TokenType.ACCESS)


def test_decode_refuses_a_tampered_signature(tokens: TokenService) -> None:
    header, payload, signature = tokens.issue(subject="42", token_type=TokenType.ACCESS).token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]  # the first character carries 6 real bits
    with pytest.raises(TokenError):
        tokens.decode(f"{header}.{payload}.{flipped}", expected_type=TokenType.ACCESS)


def test_decode_refuses_a_retyped_token(tokens: TokenService, unit_settings: Settings) -> None:
    """Rewriting `typ` to access breaks the signature: a token of another type cannot be turned around."""
    header, payload, signature = _sign(unit_settings, token_claims(unit_settings, "42", typ="refresh")).split(".")
    claims = json.loads(_b64url_decode(payload))
    claims["typ"] = "access"
    retyped = f"{header}.{_b64url(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(TokenError):
        tokens.decode(retyped, expected_type=TokenType.ACCESS)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"secret_key": "another-secret-key-" + "y" * 32}, id="other-key"),
        pytest.param({"jwt_issuer": "someone-else"}, id="other-issuer"),
        pytest.param({"jwt_audience": "another-service"}, id="other-audience"),
        pytest.param(
            {"jwt_algorithm": "HS512"},
            id="other-algorithm",
            # Same (development) key, shorter than HS512's recommended 64 bytes: PyJWT warns on signing.
            marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
        ),
    ],
)
def test_decode_refuses_tokens_of_another_configuration(tokens: TokenService, overrides: dict[str, Any]) -> None:
    foreign = TokenService(make_settings(_URL, **overrides))
    token = foreign.issue(subject="42", token_type=TokenType.ACCESS).token
    assert foreign.decode(token, expected_type=TokenType.ACCESS)["sub"] == "42"  # valid where it was made
    with pytest.raises(TokenError):
        tokens.decode(token, expected_type=TokenType.ACCESS)


def test_decode_accepts_a_hand_built_token(tokens: TokenService, unit_settings: Settings) -> None:
    """The control for the cases below: the hand-built claims are what the service expects."""
    claims = tokens.decode(_sign(unit_settings, token_claims(unit_settings, "42")), expected_type=TokenType.ACCESS)
    assert claims["sub"] == "42"


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud", "typ"])
def test_decode_requires_every_claim_it_relies_on(tokens: TokenService, unit_settings: Settings, claim: str) -> None:
    claims = token_claims(unit_settings, "42")
    del claims[claim]
    with pytest.raises(TokenError):
        tokens.decode(_sign(unit_settings, claims), expected_type=TokenType.ACCESS)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": int(datetime.now(UTC).timestamp()) - 3600}, id="expired"),
        pytest.param({"nbf": int(datetime.now(UTC).timestamp()) + 3600}, id="not-yet-valid"),
        pytest.param({"iss": "forgeap"}, id="issuer-prefix"),
        pytest.param({"aud": "forgeapi-admin"}, id="audience-superstring"),
        pytest.param({"sub": 42}, id="numeric-subject"),
    ],
)
def test_decode_refuses_invalid_claims(
    tokens: TokenService, unit_settings: Settings, overrides: dict[str, Any]
) -> None:
    with pytest.raises(TokenError):
        tokens.decode(
            _sign(unit_settings, token_claims(unit_settings, "42", **overrides)), expected_type=TokenType.ACCESS
        )


def _lifetime_claims(settings: Settings, lifetime: int, **overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return token_claims(settings, "42", iat=now, exp=now + lifetime, **overrides)


@pytest.mark.parametrize("token_type", list(TokenType))
def test_decode_refuses_a_token_that_lives_longer_than_its_types_ttl(
    tokens: TokenService, unit_settings: Settings, token_type: TokenType
) -> None:
    """Signed with the right key (a leaked one), valid in every other way, but minted to live 30 years."""
    ttl = {
        TokenType.ACCESS: unit_settings.access_token_ttl_seconds,
        TokenType.MFA: unit_settings.mfa_token_ttl_seconds,
    }[token_type]
    at_ttl = _sign(unit_settings, _lifetime_claims(unit_settings, ttl, typ=token_type.value))
    assert tokens.decode(at_ttl, expected_type=token_type)["sub"] == "42"
    for lifetime in (ttl + 60, 30 * 365 * 24 * 3600):
        token = _sign(unit_settings, _lifetime_claims(unit_settings, lifetime, typ=token_type.value))
        with pytest.raises(TokenError, match="lives longer"):
            tokens.decode(token, expected_type=token_type)


@pytest.mark.parametrize(
    ("claim", "spelling"),
    [
        pytest.param("iat", str, id="iat-string"),
        pytest.param("exp", float, id="exp-float"),
        pytest.param("iat", lambda _: True, id="iat-boolean"),
    ],
)
def test_decode_refuses_times_that_are_not_integers(
    tokens: TokenService, unit_settings: Settings, claim: str, spelling: Callable[[int], Any]
) -> None:
    claims = token_claims(unit_settings, "42")
    claims[claim] = spelling(claims[claim])
    with pytest.raises(TokenError):
        tokens.decode(_sign(unit_settings, claims), expected_type=TokenType.ACCESS)


@pytest.mark.parametrize("subject", [" 1", "1 ", "+1", "01", "1_0", "1.0", "\uff11", "0", "-1", "", "1" * 20])
def test_decode_refuses_a_subject_that_is_not_a_canonical_id(
    tokens: TokenService, unit_settings: Settings, subject: str
) -> None:
    with pytest.raises(TokenError):
        tokens.decode(_sign(unit_settings, token_claims(unit_settings, subject)), expected_type=TokenType.ACCESS)


def test_decode_refuses_alg_none(tokens: TokenService, unit_settings: Settings) -> None:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(token_claims(unit_settings, "42")).encode())
    with pytest.raises(TokenError):
        tokens.decode(f"{header}.{payload}.", expected_type=TokenType.ACCESS)


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30."])
def test_decode_refuses_garbage(tokens: TokenService, garbage: str) -> None:
    with pytest.raises(TokenError):
        tokens.decode(garbage, expected_type=TokenType.ACCESS)
