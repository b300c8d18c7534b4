"""`forge encryption rotate` on real databases: batches, resumption, and every value readable afterwards."""

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.encryption import EncryptionKeys, configure_encryption, current_keys
from app.core.key_rotation import encrypted_columns, rotate_all
from app.features.users.models import User
from app.models import metadata
from tests.support import databases
from tests.support.settings import TEST_ENCRYPTION_KEY, TEST_OTHER_ENCRYPTION_KEY

BLIND = b"b" * 32
OLD = EncryptionKeys([TEST_ENCRYPTION_KEY.encode()], blind_key=BLIND)
BOTH = EncryptionKeys([TEST_OTHER_ENCRYPTION_KEY.encode(), TEST_ENCRYPTION_KEY.encode()], blind_key=BLIND)
NEW_ONLY = EncryptionKeys([TEST_OTHER_ENCRYPTION_KEY.encode()], blind_key=BLIND)
PHONES = [f"+4420794609{i:02d}" for i in range(7)]


async def _phones(engine: AsyncEngine) -> list[str | None]:
    async with AsyncSession(engine) as session:
        return list((await session.execute(select(User.phone).order_by(User.id))).scalars())


async def test_rotation_is_batched_resumable_and_loses_nothing(scratch_engine: AsyncEngine) -> None:
    previous = current_keys()
    await databases.upgrade(scratch_engine)
    try:
        configure_encryption(OLD)
        async with AsyncSession(scratch_engine) as session, session.begin():
            session.add_all(
                User(email=f"u{i}@example.com", hashed_password="x", phone=phone) for i, phone in enumerate(PHONES)
            )
            session.add(User(email="nophone@example.com", hashed_password="x"))

        async with scratch_engine.begin() as connection:  # one value no key can read (tampering, a lost key)
            await connection.execute(
                text("UPDATE user_account SET phone = 'gAAAAAB-garbage' WHERE email = 'u5@example.com'")
            )

        configure_encryption(BOTH)  # the new key deployed first, the old one kept for reading
        partial = await rotate_all(scratch_engine, BOTH, metadata, batch_size=3, max_batches=1)  # "interrupted"
        phone_report = next(r for r in partial if r.column == "user_account.phone")
        assert (phone_report.rotated, phone_report.finished) == (3, False)
        resumed = await rotate_all(scratch_engine, BOTH, metadata, batch_size=3)
        phone_report = next(r for r in resumed if r.column == "user_account.phone")
        # The unreadable value is reported and left alone; every other row is rotated past it.
        assert (phone_report.rotated, phone_report.already_current, phone_report.finished) == (3, 3, True)
        assert len(phone_report.undecryptable) == 1
        # Every encrypted column of every model is rotated, whichever features the project has.
        assert {r.column for r in resumed} == {
            f"{table.name}.{column.name}" for table, column in encrypted_columns(metadata)
        }
        assert "user_account.phone" in {r.column for r in resumed}

        async with scratch_engine.begin() as connection:
            await connection.execute(text("UPDATE user_account SET phone = NULL WHERE email = 'u5@example.com'"))
        configure_encryption(NEW_ONLY)  # the old key removed: every rotated value must still read
        assert await _phones(scratch_engine) == [*PHONES[:5], None, PHONES[6], None]
        async with scratch_engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(User).where(User.phone.is_not(None)))
            raw = (await connection.execute(text("SELECT phone FROM user_account WHERE phone IS NOT NULL"))).all()
        assert count == len(PHONES) - 1
        assert all(NEW_ONLY.is_current(token) for (token,) in raw)
    finally:
        configure_encryption(previous)
