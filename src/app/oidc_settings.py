"""The entries of FORGE_OIDC_PROVIDERS (app.config.Settings.oidc_providers): an OpenID Connect provider, found by
its issuer's discovery document, or GitHub. Their own module, beside config.py, because their fields are not settings
of their own (no FORGE_ variable each): they are keys of the one JSON setting."""

import json
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

__all__ = [
    "GithubProvider",
    "OidcProvider",
    "OidcProviderSettings",
    "ProviderName",
    "WebBaseUrl",
    "parse_oidc_providers",
]


def _web_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        msg = f"{value!r} is not an http(s) URL without query or fragment (https://app.example.com)"
        raise ValueError(msg)
    if value.endswith("/"):
        msg = f"{value!r} ends with '/': give the URL without a trailing slash (https://app.example.com)"
        raise ValueError(msg)
    return value


def _issuer(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        msg = f"{value!r} is not an issuer URL: https://host[/path], no query or fragment"
        raise ValueError(msg)
    return value


WebBaseUrl = Annotated[str, AfterValidator(_web_base_url)]
# A provider's name is part of its URLs (/api/v1/auth/oidc/{name}/login) and of every identity linked through it.
type ProviderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class OidcProvider(BaseModel):
    """An OpenID Connect provider of FORGE_OIDC_PROVIDERS: its endpoints and keys come from the issuer's discovery
    document (`{issuer}/.well-known/openid-configuration`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["oidc"] = "oidc"
    issuer: Annotated[str, AfterValidator(_issuer)]  # exactly as the provider's ID tokens say it (`iss`)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None  # None: a public client (PKCE alone)
    scopes: str = "openid email profile"
    display_name: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("scopes")
    @classmethod
    def _asks_for_openid(cls, scopes: str) -> str:
        if "openid" not in scopes.split():
            msg = f"scopes {scopes!r} must include 'openid'"
            raise ValueError(msg)
        return scopes


class GithubProvider(BaseModel):
    """GitHub, which is OAuth 2 and not OpenID Connect: the account comes from its user and e-mails API.
    `base_url` is a GitHub Enterprise Server's address (its API is `{base_url}/api/v3`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["github"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    base_url: WebBaseUrl = "https://github.com"
    scopes: str = "read:user user:email"
    display_name: str | None = Field(default=None, min_length=1, max_length=64)


type OidcProviderSettings = Annotated[OidcProvider | GithubProvider, Field(discriminator="kind")]
_OIDC_PROVIDERS = TypeAdapter(dict[ProviderName, OidcProviderSettings])
_OIDC_PROVIDERS_EXAMPLE = (
    '{"google": {"issuer": "https://accounts.google.com", "client_id": "...", "client_secret": "..."}, '
    '"github": {"kind": "github", "client_id": "...", "client_secret": "..."}}'
)


def parse_oidc_providers(value: object) -> object:
    """FORGE_OIDC_PROVIDERS, parsed and checked here so that every error names the variable (and never echoes a
    value: a secret may be among them)."""
    variable = "FORGE_OIDC_PROVIDERS"
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            msg = f"{variable} is not valid JSON ({exc.msg}); expected a JSON object such as {_OIDC_PROVIDERS_EXAMPLE}"
            raise ValueError(msg) from None
    if not isinstance(value, dict):
        msg = f"{variable} must be a JSON object such as {_OIDC_PROVIDERS_EXAMPLE}"
        raise ValueError(msg)
    # A provider without "kind" is an OpenID Connect provider.
    value = {
        name: {"kind": "oidc", **entry} if isinstance(entry, dict) and "kind" not in entry else entry
        for name, entry in value.items()
    }
    try:
        return _OIDC_PROVIDERS.validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        msg = f"{variable}: {problems}"
        raise ValueError(msg) from None
