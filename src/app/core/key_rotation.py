"""Re-encrypt every `EncryptedText` column under the newest key: in batches, resumable, never losing a row.

Each batch is its own transaction, and each row is updated only if its ciphertext is still the one that was read
(a concurrent write wins; the row is picked up by the next run). Values already under the newest key are
skipped, so an interrupted run is simply started again.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, MetaData, Table, Text, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.encryption import DecryptionError, EncryptedText, EncryptionKeys

__all__ = ["RotationReport", "encrypted_columns", "rotate_all"]


@dataclass
class RotationReport:
    column: str
    rotated: int = 0
    already_current: int = 0
    undecryptable: list[object] = field(default_factory=list)  # primary keys of values no key can decrypt
    finished: bool = False


def encrypted_columns(metadata: MetaData) -> Iterator[tuple[Table, Column[str]]]:
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


async def _rotate_column(
    engine: AsyncEngine, keys: EncryptionKeys, table: Table, column: Column[str], *, batch_size: int, max_batches: int
) -> RotationReport:
    (primary_key,) = table.primary_key.columns
    raw = type_coerce(column, Text)  # the stored ciphertext, not decrypted by the column type
    report = RotationReport(f"{table.name}.{column.name}")
    last_id = None
    for _ in range(max_batches):
        statement = select(primary_key, raw).where(column.is_not(None)).order_by(primary_key).limit(batch_size)
        if last_id is not None:
            statement = statement.where(primary_key > last_id)
        async with engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
            for row_id, token in rows:
                if keys.is_current(token):
                    report.already_current += 1
                    continue
                try:
                    rotated = keys.rotate(token)
                except DecryptionError:
                    report.undecryptable.append(row_id)  # left as it is, reported: a missing key or tampering
                    continue
                await connection.execute(
                    update(table)
                    .where(primary_key == row_id, raw == token)
                    .values({column.name: type_coerce(rotated, Text)})
                )
                report.rotated += 1
        if len(rows) < batch_size:
            report.finished = True
            break
        last_id = rows[-1][0]
    return report


async def rotate_all(
    engine: AsyncEngine, keys: EncryptionKeys, metadata: MetaData, *, batch_size: int = 500, max_batches: int = 10**9
) -> list[RotationReport]:
    """Rotate every encrypted column; `max_batches` per column bounds one run (the rest waits for the next)."""
    return [
        await _rotate_column(engine, keys, table, column, batch_size=batch_size, max_batches=max_batches)
        for table, column in encrypted_columns(metadata)
    ]
