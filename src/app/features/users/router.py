from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from app.core.database import DBSession, ReadMostlyDBSession
from app.core.exceptions import FieldError, InvalidInputError
from app.core.identifiers import ResourceID
from app.core.input import NUL_MESSAGE
from app.core.pagination import Page, Pagination
from app.core.security import Hasher, Tokens
from app.features.users import service
from app.features.users.dependencies import AdminUser, CurrentUser
from app.features.users.models import User
from app.features.users.schemas import (
    PhoneNumber,
    RefreshRequest,
    TokenPair,
    UserAdminUpdate,
    UserCreate,
    UserRead,
    UserSelfUpdate,
)
from app.shared.ratelimit import RateLimit, account_key, client_key, enforce
from app.shared.routing import ForgeRoute

__all__ = ["auth_router", "router"]

auth_router = APIRouter(prefix="/auth", tags=["auth"], route_class=ForgeRoute)
router = APIRouter(prefix="/users", tags=["users"], route_class=ForgeRoute)


async def login_form(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> OAuth2PasswordRequestForm:
    """The OAuth2 password form (FastAPI's own, so that /docs can sign in), its fields held to the rule of every
    other text input: no NUL character (core/input.py)."""
    errors = [
        FieldError(f"#/{name}", NUL_MESSAGE, "string_nul")
        for name, value in (("username", form.username), ("password", form.password))
        if "\x00" in value
    ]
    if errors:
        raise InvalidInputError(f"The request has {len(errors)} invalid field(s); see `errors`.", errors=errors)
    return form


LoginForm = Annotated[OAuth2PasswordRequestForm, Depends(login_form)]


async def limit_login(request: Request, form: LoginForm) -> None:
    """Per client and per target account, before any password is hashed: Argon2 must not become a DoS lever."""
    await enforce(request, "login", client_key(request))
    await enforce(request, "login_account", account_key(form.username))


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    dependencies=[Depends(RateLimit("register"))],
    responses={409: {"description": "The e-mail address is taken (compared case-insensitively)."}},
)
async def register(data: UserCreate, session: DBSession, hasher: Hasher) -> User:
    return await service.register_user(session, data=data, hasher=hasher)


@auth_router.post(
    "/token",
    dependencies=[Depends(limit_login)],
    responses={401: {"description": "Wrong e-mail address or password, or a deactivated account."}},
)
async def issue_token(form: LoginForm, session: ReadMostlyDBSession, hasher: Hasher, tokens: Tokens) -> TokenPair:
    """OAuth2 password flow: `username` is the e-mail address."""
    return await service.login(session, email=form.username, password=form.password, hasher=hasher, tokens=tokens)


@auth_router.post(
    "/refresh", responses={401: {"description": "Invalid, expired or revoked refresh token, or an access token."}}
)
async def refresh(data: RefreshRequest, session: DBSession, tokens: Tokens) -> TokenPair:
    return await service.refresh_tokens(session, refresh_token=data.refresh_token, tokens=tokens)


@router.get("/me", response_model=UserRead)
async def get_me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserRead)
async def update_me(changes: UserSelfUpdate, session: DBSession, user: CurrentUser) -> User:
    return await service.update_me(session, user=user, changes=changes)


@router.get("")
async def list_users(
    session: DBSession,
    pagination: Pagination,
    _admin: AdminUser,
    phone: Annotated[PhoneNumber | None, Query(description="Only the user with this phone number.")] = None,
) -> Page[UserRead]:
    return await service.list_users(session, params=pagination, phone=phone)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={409: {"description": "Admins cannot demote or deactivate their own account."}},
)
async def update_user(user_id: ResourceID, changes: UserAdminUpdate, session: DBSession, admin: AdminUser) -> User:
    return await service.update_user(session, actor=admin, user_id=user_id, changes=changes)
