"""The `forge` command run in-process (typer's CliRunner), on a SQLite file that the environment names."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from tests.support.settings import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEY

__all__ = ["configured_sqlite", "migrated_sqlite", "runner"]

runner = CliRunner()


def configured_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file in `tmp_path`, not yet migrated, and the settings every command needs, in the environment."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FORGE_DATABASE_URL", url)
    monkeypatch.setenv("FORGE_PASSWORD_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("FORGE_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEY)
    monkeypatch.setenv("FORGE_BLIND_INDEX_KEY", TEST_BLIND_INDEX_KEY)
    return url


def migrated_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`configured_sqlite`, migrated by `forge db upgrade`."""
    url = configured_sqlite(tmp_path, monkeypatch)
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return url
