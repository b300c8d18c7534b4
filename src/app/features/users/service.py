"""Users and authentication: registration, login, token refresh, and the admin's user management."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.encryption import blind_index
from app.core.exceptions import AuthenticationError, ConflictError, found
from app.core.pagination import Page, PageParams
from app.core.security import PasswordHasher, TokenError, TokenService, TokenType
from app.features.users import repository
from app.features.users.models import User, UserID, UserRole
from app.features.users.schemas import TokenPair, UserAdminUpdate, UserCreate, UserRead, UserSelfUpdate

__all__ = [
    "authenticate_user",
    "get_user",
    "get_user_by_email",
    "list_users",
    "login",
    "refresh_tokens",
    "register_user",
    "update_me",
    "update_user",
]

_BAD_CREDENTIALS = "Incorrect e-mail or password."
_BAD_TOKEN = "The token is invalid or has expired."  # noqa: S105 - a message, not a secret


async def register_user(
    session: AsyncSession, *, data: UserCreate, hasher: PasswordHasher, role: UserRole = UserRole.USER
) -> User:
    """Create an account; the role comes from the caller's code (registration or CLI), never from the client.

    The password is hashed before the database is touched: the slow part then holds no lock (on SQLite a
    write request holds the write lock from its first statement), and a taken e-mail costs the same time.
    """
    hashed = await hasher.hash(data.password.get_secret_value())
    if await repository.get_by_email(session, data.email) is not None:
        msg = "An account with this e-mail address already exists."
        raise ConflictError(msg)
    user = User(email=data.email, hashed_password=hashed, full_name=data.full_name, role=role, is_active=True)
    return await repository.add(session, user)


def _issue_pair(user: User, tokens: TokenService) -> TokenPair:
    access = tokens.issue(subject=str(user.id), token_type=TokenType.ACCESS)
    refresh = tokens.issue(subject=str(user.id), token_type=TokenType.REFRESH)
    return TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=access.expires_in)


async def login(
    session: AsyncSession, *, email: str, password: str, hasher: PasswordHasher, tokens: TokenService
) -> TokenPair:
    """Exchange credentials for tokens. Unknown e-mail, wrong password and a disabled account look the same."""
    user = await repository.get_by_email(session, email.strip().lower())
    valid, new_hash = await hasher.verify(password, user.hashed_password if user else None)
    if user is None or not valid or not user.is_active:
        raise AuthenticationError(_BAD_CREDENTIALS)
    if new_hash is not None:  # stored with outdated Argon2 parameters: upgrade it while we hold the password
        await repository.update_password_hash(session, user, new_hash)
    return _issue_pair(user, tokens)


async def authenticate_user(session: AsyncSession, *, user_id: int | None) -> User:
    """The active user a verified access token names (`user_id` None: the token did not verify)."""
    user = None if user_id is None else await repository.get(session, user_id)
    if user is None or not user.is_active:
        raise AuthenticationError(_BAD_TOKEN)
    return user


async def refresh_tokens(session: AsyncSession, *, refresh_token: str, tokens: TokenService) -> TokenPair:
    """A new token pair for a valid refresh token of an active user."""
    try:
        user_id = tokens.user_id(refresh_token, expected_type=TokenType.REFRESH)
    except TokenError as exc:
        raise AuthenticationError(_BAD_TOKEN) from exc
    user = await authenticate_user(session, user_id=user_id)
    return _issue_pair(user, tokens)


async def get_user(session: AsyncSession, *, user_id: UserID) -> User:
    return found(await repository.get(session, user_id), f"User {user_id} does not exist.")


async def get_user_by_email(session: AsyncSession, *, email: str) -> User:
    user = await repository.get_by_email(session, email.strip().lower())
    return found(user, f"No user has the e-mail address {email}.")


async def list_users(session: AsyncSession, *, params: PageParams, phone: str | None = None) -> Page[UserRead]:
    """A page of users; with `phone` (normalised), only those with that number, found by its blind index."""
    index = blind_index(phone) if phone is not None else None
    users = await repository.list_page(session, offset=params.offset, limit=params.size, phone_index=index)
    total = await repository.count(session, phone_index=index)
    return Page[UserRead].build([UserRead.model_validate(u) for u in users], total=total, params=params)


async def update_me(session: AsyncSession, *, user: User, changes: UserSelfUpdate) -> User:
    """Change one's own name or phone (stored encrypted, with its blind index for lookups)."""
    if "full_name" in changes.model_fields_set:
        user.full_name = changes.full_name
    if "phone" in changes.model_fields_set:
        user.phone = changes.phone
        user.phone_index = blind_index(changes.phone) if changes.phone is not None else None
    await session.flush()
    return user


async def update_user(session: AsyncSession, *, actor: User, user_id: UserID, changes: UserAdminUpdate) -> User:
    """Change a user's role or active flag. Admins cannot demote or deactivate themselves (no lock-out)."""
    user = await get_user(session, user_id=user_id)
    if user.id == actor.id and (changes.role not in (None, UserRole.ADMIN) or changes.is_active is False):
        msg = "Admins cannot demote or deactivate their own account."
        raise ConflictError(msg)
    if changes.role is not None:
        user.role = changes.role
    if changes.is_active is not None:
        user.is_active = changes.is_active
    await session.flush()
    return user
