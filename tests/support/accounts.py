"""Accounts made directly through the users service, for tests that drive a server in another process."""

from pydantic import SecretStr

from app.core.database import Database
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from tests import helpers
from tests.support.settings import make_settings

__all__ = ["create_admin"]


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
