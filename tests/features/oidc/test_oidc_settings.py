"""FORGE_OIDC_PROVIDERS and FORGE_FRONTEND_URL: a wrong value stops start-up naming the variable, and no client
secret is ever shown."""

import json

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.oidc_settings import GithubProvider, OidcProvider
from tests.support.settings import PRODUCTION_SECRETS

SECRET = "the-client-secret-0a9f"
GOOGLE = {"issuer": "https://accounts.google.com", "client_id": "id", "client_secret": SECRET}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def refusal(monkeypatch: pytest.MonkeyPatch, value: str, **values: object) -> str:
    monkeypatch.setenv("FORGE_OIDC_PROVIDERS", value)
    with pytest.raises(ValidationError) as refused:
        settings(**values)
    return str(refused.value)


def test_providers_are_read_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    github = {"kind": "github", "client_id": "gh", "client_secret": SECRET}
    monkeypatch.setenv("FORGE_OIDC_PROVIDERS", json.dumps({"google": GOOGLE, "github": github}))

    providers = settings().oidc_providers

    assert isinstance(providers["google"], OidcProvider)
    assert providers["google"].scopes == "openid email profile"
    assert isinstance(providers["github"], GithubProvider)
    assert providers["github"].base_url == "https://github.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"google": {', "FORGE_OIDC_PROVIDERS is not valid JSON"),
        ('["google"]', "FORGE_OIDC_PROVIDERS must be a JSON object"),
        (json.dumps({"google": {**GOOGLE, "tenant": "x"}}), "FORGE_OIDC_PROVIDERS: google.oidc.tenant: Extra inputs"),
        (json.dumps({"google": {**GOOGLE, "kind": "saml"}}), "FORGE_OIDC_PROVIDERS: google"),
        (json.dumps({"google": {"client_id": "id", "client_secret": SECRET}}), "google.oidc.issuer: Field required"),
        (json.dumps({"google": {**GOOGLE, "issuer": "accounts.google.com"}}), "is not an issuer URL"),
        (json.dumps({"google": {**GOOGLE, "scopes": "email"}}), "must include 'openid'"),
        (json.dumps({"Google Login": GOOGLE}), "FORGE_OIDC_PROVIDERS: Google Login"),
        (json.dumps({"gh": {"kind": "github", "client_id": "x"}}), "gh.github.client_secret: Field required"),
    ],
)
def test_a_wrong_value_names_the_variable_and_never_shows_a_secret(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    message = refusal(monkeypatch, value)

    assert expected in message
    assert SECRET not in message


def test_production_refuses_an_issuer_without_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_OIDC_PROVIDERS", json.dumps({"corp": {**GOOGLE, "issuer": "http://sso.corp.example"}}))
    with pytest.raises(ValidationError, match="FORGE_OIDC_PROVIDERS: corp's issuer must be https"):
        settings(**PRODUCTION_SECRETS)
    settings()  # development allows it (a provider on the developer's machine)


def test_production_refuses_a_github_server_without_https(monkeypatch: pytest.MonkeyPatch) -> None:
    github = {"kind": "github", "client_id": "x", "client_secret": SECRET, "base_url": "http://git.corp.example"}
    monkeypatch.setenv("FORGE_OIDC_PROVIDERS", json.dumps({"ghe": github}))
    with pytest.raises(ValidationError, match="FORGE_OIDC_PROVIDERS: ghe's base_url must be https"):
        settings(**PRODUCTION_SECRETS)


def test_client_secrets_are_not_in_reprs_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_OIDC_PROVIDERS", json.dumps({"google": GOOGLE}))
    loaded = settings()

    assert SECRET not in repr(loaded)
    assert SECRET not in str(loaded.oidc_providers)
    assert SECRET not in loaded.model_dump_json()


@pytest.mark.parametrize("url", ["app.example.com", "ftp://app.example.com", "https://app.example.com?x=1"])
def test_the_frontend_url_is_an_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="frontend_url"):
        settings(frontend_url=url)


def test_the_frontend_url_loses_its_trailing_slash() -> None:
    """Paths are put after it (`{frontend_url}{redirect_to}`): a trailing slash would double theirs."""
    assert settings(frontend_url="https://app.example.com/").frontend_url == "https://app.example.com"


def test_the_frontend_url_defaults_to_a_local_development_server() -> None:
    assert settings().frontend_url == "http://localhost:3000"
