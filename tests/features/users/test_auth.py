"""Registration, login, token refresh and bearer authentication, through the HTTP API."""

import base64
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.api_keys import generate_api_key
from app.core.security import PasswordHasher
from app.features.sessions.service import REFRESH_TOKENS
from app.features.users import service as users_service
from app.features.users.models import User
from app.features.users.schemas import UserCreate
from tests import helpers
from tests.helpers import token_claims
from tests.support.auth import (
    ME,
    USER_READ_KEYS,
    assert_problem,
    assert_unauthenticated,
    error_pointers,
)
from tests.support.settings import make_settings

BAD_TOKEN_DETAIL = "The token is invalid or has expired."
BAD_REFRESH_DETAIL = "The refresh token is invalid, expired or revoked."
BAD_CREDENTIALS_DETAIL = "Incorrect e-mail or password."
REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"


# --- JWTs built by hand, to check that the app refuses every kind of bad token ---------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(
    settings: Settings,
    subject: str,
    session_id: str,
    *,
    key: str | None = None,
    algorithm: str = "HS256",
    drop: Iterable[str] = (),
    **overrides: Any,
) -> str:
    """A JWT signed with the app's key (or `key`) naming session `session_id`, without the claims in `drop`."""
    claims = token_claims(settings, subject, **{"sid": session_id, **overrides})
    for name in drop:
        del claims[name]
    return jwt.encode(claims, key if key is not None else settings.secret_key.get_secret_value(), algorithm=algorithm)


def unsigned_token(settings: Settings, subject: str, typ: str, sid: str) -> str:
    """`alg: none`: a token with valid claims and no signature at all."""
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(token_claims(settings, subject, typ=typ, sid=sid)).encode())
    return f"{header}.{payload}."


def none_header_on_a_signed_token(settings: Settings, subject: str, typ: str, sid: str) -> str:
    """A genuine token whose header is swapped for `alg: none`, signature kept."""
    _, payload, signature = make_token(settings, subject, sid, typ=typ).split(".")
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{payload}.{signature}"


def tampered_payload(settings: Settings, subject: str, typ: str, sid: str) -> str:
    """A genuine token for another subject whose payload is rewritten to `subject`, signature kept."""
    header, _, signature = make_token(settings, "2147483000", sid, typ=typ).split(".")
    payload = _b64url(json.dumps(token_claims(settings, subject, typ=typ, sid=sid)).encode())
    return f"{header}.{payload}.{signature}"


def _other_type(typ: str) -> str:
    return "refresh" if typ == "access" else "access"


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


# Each factory takes (settings, subject, expected token type, the subject's live session) and builds a token with
# exactly one defect.
type TokenFactory = Callable[[Settings, str, str, str], str]
_HOUR = 3600
_FORGED_KEY = "another-key-" + "x" * 40
_FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))

BAD_TOKENS: list[Any] = [
    pytest.param(
        lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, exp=_now() - _HOUR, iat=_now() - 2 * _HOUR), id="expired"
    ),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, key=_FORGED_KEY), id="forged-other-key"),
    pytest.param(
        lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, algorithm="HS512"),
        id="other-algorithm-same-key",
        # The development key is shorter than HS512's recommended 64 bytes; PyJWT warns when signing with it.
        marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
    ),
    pytest.param(unsigned_token, id="alg-none"),
    pytest.param(none_header_on_a_signed_token, id="alg-none-header-swap"),
    pytest.param(tampered_payload, id="tampered-payload"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["exp"]), id="missing-exp"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["iat"]), id="missing-iat"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["sub"]), id="missing-sub"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["typ"]), id="missing-typ"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["iss"]), id="missing-iss"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["aud"]), id="missing-aud"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, aud="another-service"), id="wrong-audience"),
    pytest.param(
        lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, aud=["another-service"]), id="wrong-audience-list"
    ),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, iss="someone-else"), id="wrong-issuer"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, iss=s.jwt_issuer[:-1]), id="issuer-prefix"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, nbf=_now() + _HOUR), id="not-yet-valid"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=_other_type(t)), id="wrong-type"),
    pytest.param(lambda s, sub, _t, sid: make_token(s, sub, sid, typ="api-key"), id="unknown-type"),
    pytest.param(lambda s, _sub, t, sid: make_token(s, "not-a-number", sid, typ=t), id="non-numeric-subject"),
    pytest.param(lambda s, _sub, t, sid: make_token(s, "2147483000", sid, typ=t), id="subject-without-account"),
    pytest.param(lambda s, _sub, t, sid: make_token(s, "0", sid, typ=t), id="subject-zero"),
    pytest.param(lambda s, sub, t, sid: make_token(s, " " + sub, sid, typ=t), id="subject-leading-space"),
    pytest.param(lambda s, sub, t, sid: make_token(s, "0" + sub, sid, typ=t), id="subject-leading-zero"),
    pytest.param(
        lambda s, sub, t, sid: make_token(s, sub.translate(_FULL_WIDTH), sid, typ=t), id="subject-full-width-digits"
    ),
    pytest.param(
        lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, exp=_now() + 30 * 365 * 24 * _HOUR), id="lives-30-years"
    ),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t, drop=["sid"]), id="missing-session"),
    pytest.param(lambda s, sub, t, _sid: make_token(s, sub, "2147483000", typ=t), id="session-that-does-not-exist"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, " " + sid, typ=t), id="session-leading-space"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, "0" + sid, typ=t), id="session-leading-zero"),
    pytest.param(lambda s, sub, t, _sid: make_token(s, sub, "9" * 30, typ=t), id="session-out-of-range"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, "", typ=t, sid=int(sid)), id="session-as-a-number"),
    pytest.param(lambda _s, _sub, _t, _sid: "garbage", id="garbage"),
    pytest.param(lambda _s, _sub, _t, _sid: "a.b.c", id="garbage-three-parts"),
    pytest.param(lambda s, sub, t, sid: make_token(s, sub, sid, typ=t) + "x", id="trailing-junk"),
]


async def register_and_login(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    user = await helpers.register(client)
    return user, await helpers.login(client, user["email"])


async def signed_in_session(client: httpx.AsyncClient) -> tuple[str, str]:
    """A new user's id and the id of the live session of its login, as strings (as tokens carry them)."""
    user, tokens = await register_and_login(client)
    return str(user["id"]), helpers.session_id_of(tokens["access_token"])


# --- Registration --------------------------------------------------------------------------------------------


async def test_register_returns_201_with_the_new_user(client: httpx.AsyncClient) -> None:
    email = helpers.unique_email()
    response = await client.post(
        REGISTER, json={"email": email, "password": helpers.PASSWORD, "full_name": "Ada Lovelace"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == USER_READ_KEYS
    assert body["email"] == email
    assert body["full_name"] == "Ada Lovelace"
    assert body["role"] == "user"
    assert body["is_active"] is True
    assert isinstance(body["id"], int)
    assert body["id"] >= 1
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert "hashed_password" not in response.text
    assert "argon2" not in response.text
    assert helpers.PASSWORD not in response.text


async def test_register_full_name_is_optional(client: httpx.AsyncClient) -> None:
    body = await helpers.register(client)
    assert body["full_name"] is None


async def test_register_stores_an_argon2id_hash_not_the_password(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    body = await helpers.register(client)
    stored = (await db_session.execute(select(User).where(User.id == body["id"]))).scalar_one()
    assert stored.hashed_password is not None
    assert stored.hashed_password.startswith("$argon2id$")
    assert helpers.PASSWORD not in stored.hashed_password


async def test_register_lower_cases_the_email(client: httpx.AsyncClient) -> None:
    body = await helpers.register(client, email="Mixed.Case@Example.COM")
    assert body["email"] == "mixed.case@example.com"


@pytest.mark.parametrize("field", ["role", "is_admin", "is_active", "id", "hashed_password"])
async def test_register_refuses_any_other_field(client: httpx.AsyncClient, field: str) -> None:
    email = helpers.unique_email()
    value: Any = {"role": "admin", "is_admin": True, "is_active": True, "id": 1, "hashed_password": "x"}[field]
    response = await client.post(REGISTER, json={"email": email, "password": helpers.PASSWORD, field: value})
    body = assert_problem(response, 422, slug="validation-error")
    assert error_pointers(body) == {f"#/{field}"}
    # Nothing was created: the same e-mail can still register.
    await helpers.register(client, email=email)


async def test_register_cannot_choose_the_admin_role(client: httpx.AsyncClient) -> None:
    email = helpers.unique_email()
    response = await client.post(REGISTER, json={"email": email, "password": helpers.PASSWORD, "role": "admin"})
    assert_problem(response, 422)
    login = await client.post(TOKEN, data={"username": email, "password": helpers.PASSWORD})
    assert_unauthenticated(login)


async def test_register_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    email = helpers.unique_email()
    await helpers.register(client, email=email)
    response = await client.post(REGISTER, json={"email": email, "password": "another password 123"})
    body = assert_problem(response, 409, slug="conflict")
    assert "already exists" in body["detail"]


@pytest.mark.parametrize(("first", "second"), [("A@x.io", "a@x.io"), ("a@x.io", "A@x.io"), ("a@x.io", "a@X.IO")])
async def test_register_taken_email_is_case_insensitive(client: httpx.AsyncClient, first: str, second: str) -> None:
    await helpers.register(client, email=first)
    response = await client.post(REGISTER, json={"email": second, "password": helpers.PASSWORD})
    assert_problem(response, 409, slug="conflict")


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        pytest.param({"password": 123456789012345}, "#/password", id="password-number"),
        pytest.param({"password": ["correct horse battery"]}, "#/password", id="password-list"),
        pytest.param({"password": True}, "#/password", id="password-bool"),
        pytest.param({"password": None}, "#/password", id="password-null"),
        pytest.param({"email": ["someone@example.com"]}, "#/email", id="email-list"),
        pytest.param({"email": 42}, "#/email", id="email-number"),
        pytest.param({"email": None}, "#/email", id="email-null"),
        pytest.param({"email": "not-an-email"}, "#/email", id="email-invalid"),
        pytest.param({"email": "two@@example.com"}, "#/email", id="email-two-ats"),
        pytest.param({"full_name": 7}, "#/full_name", id="full-name-number"),
        pytest.param({"full_name": "x" * 201}, "#/full_name", id="full-name-too-long"),
        pytest.param({"password": "x" * 11}, "#/password", id="password-11-chars"),
        pytest.param({"password": "x" * 257}, "#/password", id="password-257-chars"),
    ],
)
async def test_register_invalid_values_are_422(
    client: httpx.AsyncClient, changes: dict[str, Any], pointer: str
) -> None:
    payload: dict[str, Any] = {"email": helpers.unique_email(), "password": helpers.PASSWORD, **changes}
    body = assert_problem(await client.post(REGISTER, json=payload), 422, slug="validation-error")
    assert error_pointers(body) == {pointer}
    assert all(e["location"] == "body" for e in body["errors"])


@pytest.mark.parametrize(
    ("password", "detail"),
    [("short", "String should have at least 12 characters"), ("p" * 257, "String should have at most 256 characters")],
)
async def test_a_password_of_the_wrong_length_is_said_in_characters(
    client: httpx.AsyncClient, password: str, detail: str
) -> None:
    response = await client.post(REGISTER, json={"email": helpers.unique_email(), "password": password})
    assert [(e["pointer"], e["detail"]) for e in response.json()["errors"]] == [("#/password", detail)]


async def test_a_validators_own_sentence_is_the_detail_without_pydantics_prefix(
    client: httpx.AsyncClient, user: helpers.Headers
) -> None:
    response = await client.patch("/api/v1/users/me", json={"phone": "12"}, headers=user)
    [error] = response.json()["errors"]
    assert error["detail"] == "a phone number in international form, e.g. +44 20 7946 0958"


@pytest.mark.parametrize("length", [12, 256])
async def test_register_accepts_passwords_at_the_length_limits(client: httpx.AsyncClient, length: int) -> None:
    password = "p" * length
    user = await helpers.register(client, password=password)
    tokens = await helpers.login(client, user["email"], password)
    assert tokens["token_type"] == "bearer"


@pytest.mark.parametrize(
    ("payload", "pointers"),
    [
        pytest.param({}, {"#/email", "#/password"}, id="empty-object"),
        pytest.param({"email": "someone@example.com"}, {"#/password"}, id="no-password"),
        pytest.param({"password": "correct horse battery staple"}, {"#/email"}, id="no-email"),
    ],
)
async def test_register_missing_fields_are_422(
    client: httpx.AsyncClient, payload: dict[str, Any], pointers: set[str]
) -> None:
    body = assert_problem(await client.post(REGISTER, json=payload), 422, slug="validation-error")
    assert error_pointers(body) == pointers
    assert all(e["code"] == "missing" for e in body["errors"])


async def test_register_without_a_body_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(REGISTER), 422, slug="validation-error")


@pytest.mark.parametrize("payload", [[], ["a@example.com", "correct horse battery"], "text", 12])
async def test_register_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, payload: Any) -> None:
    assert_problem(await client.post(REGISTER, json=payload), 422, slug="validation-error")


async def test_register_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, content=b'{"email": "a@example.com", "password": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, slug="malformed-json")


async def test_register_text_plain_is_415(client: httpx.AsyncClient) -> None:
    payload = json.dumps({"email": helpers.unique_email(), "password": helpers.PASSWORD})
    response = await client.post(REGISTER, content=payload, headers={"content-type": "text/plain"})
    body = assert_problem(response, 415, slug="unsupported-media-type")
    assert "text/plain" in body["detail"]


SECRET = "Tr0ub4dor&3-hunter2"  # 19 characters, distinctive enough to find anywhere in a body


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        pytest.param({"email": "not-an-email", "password": SECRET}, 422, id="bad-email"),
        pytest.param({"email": "a@example.com", "password": SECRET[:11]}, 422, id="too-short"),
        pytest.param({"email": "a@example.com", "password": SECRET * 14}, 422, id="too-long"),
        pytest.param({"email": "a@example.com", "password": [SECRET]}, 422, id="in-a-list"),
        pytest.param({"email": "a@example.com", "password": {"value": SECRET}}, 422, id="in-an-object"),
        pytest.param({"email": SECRET, "password": SECRET}, 422, id="as-the-email"),
        pytest.param({"email": "a@example.com", "password": SECRET, "role": "admin"}, 422, id="extra-field"),
        pytest.param({"password": SECRET}, 422, id="missing-email"),
    ],
)
async def test_register_never_echoes_the_rejected_password(
    client: httpx.AsyncClient, payload: dict[str, Any], status: int
) -> None:
    response = await client.post(REGISTER, json=payload)
    assert_problem(response, status)
    assert SECRET[:11] not in response.text


async def test_malformed_json_never_echoes_the_password(client: httpx.AsyncClient) -> None:
    content = ('{"email": "a@example.com", "password": "' + SECRET + '" ').encode()
    response = await client.post(REGISTER, content=content, headers={"content-type": "application/json"})
    assert_problem(response, 400)
    assert SECRET[:11] not in response.text


# --- Login (OAuth2 password flow) ----------------------------------------------------------------------------


async def test_login_returns_a_token_pair(client: httpx.AsyncClient, settings: Settings) -> None:
    user = await helpers.register(client)
    response = await client.post(TOKEN, data={"username": user["email"], "password": helpers.PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_ttl_seconds
    assert body["access_token"] != body["refresh_token"]
    me = await client.get(ME, headers=helpers.bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]


async def test_login_tokens_carry_the_documented_claims(client: httpx.AsyncClient, settings: Settings) -> None:
    user, tokens = await register_and_login(client)
    key = settings.secret_key.get_secret_value()
    claims = jwt.decode(
        tokens["access_token"], key, algorithms=["HS256"], audience=settings.jwt_audience, issuer=settings.jwt_issuer
    )
    assert claims["sub"] == str(user["id"])
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds
    assert claims["sid"].isdigit()
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"
    # The refresh token is no JWT: an opaque, checksummed secret, recognisable by its prefix.
    assert REFRESH_TOKENS.is_well_formed(tokens["refresh_token"])
    assert tokens["refresh_token"].startswith("fgr_")


@pytest.mark.parametrize("transform", [str.upper, lambda e: f"  {e}  ", str.title])
async def test_login_email_is_case_and_space_insensitive(
    client: httpx.AsyncClient, transform: Callable[[str], str]
) -> None:
    user = await helpers.register(client)
    tokens = await helpers.login(client, transform(user["email"]))
    me = await client.get(ME, headers=helpers.bearer(tokens["access_token"]))
    assert me.json()["id"] == user["id"]


async def test_login_wrong_password_and_unknown_email_are_indistinguishable(client: httpx.AsyncClient) -> None:
    user = await helpers.register(client)
    wrong_password = await client.post(TOKEN, data={"username": user["email"], "password": "wrong password 123"})
    unknown_email = await client.post(TOKEN, data={"username": helpers.unique_email(), "password": helpers.PASSWORD})
    first = assert_unauthenticated(wrong_password)
    second = assert_unauthenticated(unknown_email)
    assert first["detail"] == second["detail"] == BAD_CREDENTIALS_DETAIL
    assert first["title"] == second["title"]
    assert first["type"] == second["type"]
    assert "access_token" not in wrong_password.text


async def test_login_with_a_json_body_is_415(client: httpx.AsyncClient) -> None:
    user = await helpers.register(client)
    response = await client.post(TOKEN, json={"username": user["email"], "password": helpers.PASSWORD})
    body = assert_problem(response, 415, slug="unsupported-media-type")
    assert "application/json" in body["detail"]


async def test_login_accepts_multipart_form_data(client: httpx.AsyncClient) -> None:
    user = await helpers.register(client)
    response = await client.post(TOKEN, files={"username": (None, user["email"]), "password": (None, helpers.PASSWORD)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("form", "pointers"),
    [
        pytest.param({"username": "a@example.com"}, {"#/password"}, id="no-password"),
        pytest.param({"password": "correct horse battery"}, {"#/username"}, id="no-username"),
        pytest.param(
            {"username": "a@example.com", "password": "x" * 12, "grant_type": "client_credentials"},
            {"#/grant_type"},
            id="wrong-grant-type",
        ),
    ],
)
async def test_login_invalid_form_is_422(client: httpx.AsyncClient, form: dict[str, str], pointers: set[str]) -> None:
    body = assert_problem(await client.post(TOKEN, data=form), 422, slug="validation-error")
    assert error_pointers(body) == pointers


async def test_login_upgrades_a_hash_with_outdated_parameters(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    old_hasher = PasswordHasher(make_settings(settings.database_url, password_hash_memory_kib=2048))
    email = helpers.unique_email()
    user = await users_service.register_user(
        db_session, data=UserCreate(email=email, password=SecretStr(helpers.PASSWORD)), hasher=old_hasher
    )
    await db_session.commit()
    assert user.hashed_password is not None
    assert "m=2048," in user.hashed_password

    await helpers.login(client, email)

    await db_session.refresh(user)
    assert user.hashed_password is not None
    assert user.hashed_password.startswith("$argon2id$")
    assert f"m={settings.password_hash_memory_kib}," in user.hashed_password
    await helpers.login(client, email)  # the upgraded hash still verifies


# --- Refresh -------------------------------------------------------------------------------------------------


async def test_refresh_returns_a_new_working_pair(client: httpx.AsyncClient, settings: Settings) -> None:
    user, tokens = await register_and_login(client)
    response = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == settings.access_token_ttl_seconds
    assert pair["refresh_token"] != tokens["refresh_token"]
    assert pair["access_token"] != tokens["access_token"]
    me = await client.get(ME, headers=helpers.bearer(pair["access_token"]))
    assert me.json()["id"] == user["id"]
    again = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 200, again.text


async def test_refresh_refuses_an_access_token(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    response = await client.post(REFRESH, json={"refresh_token": tokens["access_token"]})
    body = assert_unauthenticated(response)
    assert body["detail"] == BAD_REFRESH_DETAIL


async def test_a_refresh_token_is_not_a_bearer_access_token(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    assert_unauthenticated(await client.get(ME, headers=helpers.bearer(tokens["refresh_token"])))


def _one_character_changed(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("a" if token[middle] != "a" else "b") + token[middle + 1 :]


# Each factory takes (settings, the user's id, the user's tokens) and builds a refresh token that must not work.
type RefreshFactory = Callable[[Settings, str, dict[str, Any]], str]
BAD_REFRESH_TOKENS: list[Any] = [
    pytest.param(lambda s, sub, _t: make_token(s, sub, "1", typ="refresh", drop=["sid"]), id="stateless-jwt-of-old"),
    pytest.param(lambda _s, _sub, t: t["access_token"], id="access-token"),
    pytest.param(lambda _s, _sub, t: _one_character_changed(t["refresh_token"]), id="typo"),
    pytest.param(lambda _s, _sub, _t: REFRESH_TOKENS.generate(), id="well-formed-never-issued"),
    pytest.param(lambda _s, _sub, _t: generate_api_key(), id="api-key"),
    pytest.param(lambda _s, _sub, _t: "fgr_" + "ä" * 38, id="non-ascii"),
    pytest.param(lambda _s, _sub, _t: "garbage", id="garbage"),
]


@pytest.mark.parametrize("factory", BAD_REFRESH_TOKENS)
async def test_refresh_refuses_bad_tokens(
    client: httpx.AsyncClient, settings: Settings, factory: RefreshFactory
) -> None:
    user, tokens = await register_and_login(client)
    token = factory(settings, str(user["id"]), tokens)
    body = assert_unauthenticated(await client.post(REFRESH, json={"refresh_token": token}))
    assert body["detail"] == BAD_REFRESH_DETAIL
    # None of them was taken for a spent token of the session: its refresh token still works.
    assert (await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})).status_code == 200


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        pytest.param({"refresh_token": ""}, "#/refresh_token", id="empty"),
        pytest.param({"refresh_token": 12345}, "#/refresh_token", id="number"),
        pytest.param({"refresh_token": None}, "#/refresh_token", id="null"),
        pytest.param({"refresh_token": "x" * 4097}, "#/refresh_token", id="too-long"),
        pytest.param({}, "#/refresh_token", id="missing"),
        pytest.param({"refresh_token": "abc", "access_token": "abc"}, "#/access_token", id="extra-field"),
    ],
)
async def test_refresh_invalid_body_is_422(client: httpx.AsyncClient, payload: dict[str, Any], pointer: str) -> None:
    body = assert_problem(await client.post(REFRESH, json=payload), 422, slug="validation-error")
    assert error_pointers(body) == {pointer}


async def test_refresh_with_a_form_body_is_415(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    response = await client.post(REFRESH, data={"refresh_token": tokens["refresh_token"]})
    assert_problem(response, 415, slug="unsupported-media-type")


async def test_refresh_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(REFRESH, content=b'{"refresh_token"', headers={"content-type": "application/json"})
    assert_problem(response, 400, slug="malformed-json")


# --- The current user and bearer authentication --------------------------------------------------------------


async def test_me_returns_the_token_owner(client: httpx.AsyncClient) -> None:
    user, tokens = await register_and_login(client)
    response = await client.get(ME, headers=helpers.bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json() == user
    assert "hashed_password" not in response.text


async def test_me_without_a_token_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get(ME))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer-only", ""],
)
async def test_me_with_a_malformed_authorization_header_is_401(client: httpx.AsyncClient, authorization: str) -> None:
    assert_unauthenticated(await client.get(ME, headers={"Authorization": authorization}))


async def test_me_accepts_a_hand_built_access_token(client: httpx.AsyncClient, settings: Settings) -> None:
    """The control for the bad-token cases below: the same builder, with nothing wrong, is accepted."""
    user_id, session_id = await signed_in_session(client)
    response = await client.get(ME, headers=helpers.bearer(make_token(settings, user_id, session_id)))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == int(user_id)


@pytest.mark.parametrize("factory", BAD_TOKENS)
async def test_me_refuses_bad_tokens(client: httpx.AsyncClient, settings: Settings, factory: TokenFactory) -> None:
    user_id, session_id = await signed_in_session(client)
    token = factory(settings, user_id, "access", session_id)
    body = assert_unauthenticated(await client.get(ME, headers=helpers.bearer(token)))
    assert body["detail"] == BAD_TOKEN_DETAIL


async def test_me_refuses_a_token_naming_another_users_session(client: httpx.AsyncClient, settings: Settings) -> None:
    """A session is its user's: a token signed for user A with user B's live session is refused."""
    user_id, _ = await signed_in_session(client)
    _, others_session = await signed_in_session(client)
    assert_unauthenticated(await client.get(ME, headers=helpers.bearer(make_token(settings, user_id, others_session))))


@pytest.mark.parametrize("subject", ["-1", str(2**31), str(2**63), "9" * 40])
async def test_me_refuses_a_signed_token_whose_subject_is_out_of_id_range(
    client: httpx.AsyncClient, settings: Settings, subject: str
) -> None:
    """PostgreSQL ids are int4 and SQLite's int8: such a subject must be a 401, never a database error (500)."""
    _, session_id = await signed_in_session(client)
    response = await client.get(ME, headers=helpers.bearer(make_token(settings, subject, session_id)))
    assert assert_unauthenticated(response)["detail"] == BAD_TOKEN_DETAIL


# --- Deactivated accounts ------------------------------------------------------------------------------------


async def test_a_deactivated_users_tokens_and_login_stop_working(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    user, tokens = await register_and_login(client)
    access = helpers.bearer(tokens["access_token"])
    assert (await client.get(ME, headers=access)).status_code == 200

    patched = await client.patch(f"/api/v1/users/{user['id']}", json={"is_active": False}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False

    me = assert_unauthenticated(await client.get(ME, headers=access))
    assert me["detail"] == BAD_TOKEN_DETAIL
    login = await client.post(TOKEN, data={"username": user["email"], "password": helpers.PASSWORD})
    # Same answer as a wrong password: a disabled account is not revealed.
    assert assert_unauthenticated(login)["detail"] == BAD_CREDENTIALS_DETAIL
    assert_unauthenticated(await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}))


async def test_a_reactivated_user_can_log_in_again(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    user = await helpers.register(client)
    url = f"/api/v1/users/{user['id']}"
    assert (await client.patch(url, json={"is_active": False}, headers=admin)).status_code == 200
    assert (await client.post(TOKEN, data={"username": user["email"], "password": helpers.PASSWORD})).status_code == 401
    assert (await client.patch(url, json={"is_active": True}, headers=admin)).status_code == 200
    tokens = await helpers.login(client, user["email"])
    assert (await client.get(ME, headers=helpers.bearer(tokens["access_token"]))).status_code == 200


@pytest.mark.parametrize("field", ["username", "password"])
async def test_a_nul_in_the_login_form_is_422_at_its_pointer_on_every_database(
    client: httpx.AsyncClient, field: str
) -> None:
    """PostgreSQL refused a NUL in the e-mail lookup with no pointer, SQLite answered 401: validation decides."""
    form = {"username": "someone@example.com", "password": "a long enough password"}
    form[field] = "nul\x00" + form[field]
    response = await client.post("/api/v1/auth/token", data=form)
    assert helpers.error_pointers(response) == [f"#/{field}"]
