from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.input import InputModel

__all__ = ["AuthorizationRedirect", "CodeExchange", "IdentityRead", "ProviderRead", "ProvidersRead"]


class ProviderRead(BaseModel):
    name: str = Field(description="The provider's name in the sign-in URLs: /api/v1/auth/oidc/{name}/login.")
    display_name: str = Field(description="What a sign-in button says: 'Sign in with {display_name}'.")
    kind: Literal["oidc", "github"]


class ProvidersRead(BaseModel):
    providers: list[ProviderRead]


class CodeExchange(InputModel):
    code: Annotated[str, Field(min_length=1, max_length=128, description="The one-time code of the sign-in.")]


class AuthorizationRedirect(BaseModel):
    authorization_url: str = Field(description="Where to send the browser: the provider's sign-in page.")


class IdentityRead(BaseModel):
    """An account at a provider linked to the user: the user signs in with it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    email: str | None = Field(description="The address the provider gave at the last sign-in.")
    created_at: datetime = Field(description="When it was linked.")
    last_used_at: datetime = Field(description="Its last sign-in (or its link).")
