"""Accounts made directly through the users service, for tests that drive a server in another process; and an
account's verified address set by editing its row, for tests of what a verified address allows."""

import httpx
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import User, UserRole
from app.features.users.schemas import UserCreate
from tests import helpers
from tests.support.settings import make_settings

__all__ = ["create_admin", "set_email_verified"]


async def create_admin(database_url: str) -> str:
    """A new administrator in the database at `database_url` (password `helpers.PASSWORD`); its e-mail address."""
    settings = make_settings(database_url)
    database = Database(settings)
    email = helpers.unique_email("admin")
    try:
        async with database.session(writes=True) as session, session.begin():
            data = UserCreate(email=email, password=SecretStr(helpers.PASSWORD))
            await users_service.register_user(
                session, data=data, hasher=PasswordHasher(settings), role=UserRole.ADMIN, verified=True
            )
    finally:
        await database.dispose()
    return email


async def set_email_verified(
    client: httpx.AsyncClient, db_session: AsyncSession, headers: helpers.Headers, *, verified: bool
) -> None:
    """Mark the address of the account signed in with `headers` verified (or not), as following its link would."""
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200, me.text
    await db_session.execute(update(User).where(User.id == me.json()["id"]).values(email_verified=verified))
    await db_session.commit()
