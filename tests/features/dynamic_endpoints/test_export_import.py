"""`forge endpoints export` / `import`: specs under version control, validated like the API, all or nothing."""

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.cli import app as cli
from tests.support.cli import migrated_sqlite, runner
from tests.support.dynamic_endpoints import collection, static
from tests.support.settings import (
    TEST_ENDPOINTS_CHANNEL,
    service_url_or_skip,
)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return migrated_sqlite(tmp_path, monkeypatch)


def write(tmp_path: Path, specs: list[dict[str, Any]]) -> Path:
    path = tmp_path / "specs.json"
    path.write_text(json.dumps(specs), encoding="utf-8")
    return path


def export() -> list[dict[str, Any]]:
    result = runner.invoke(cli, ["endpoints", "export"])
    assert result.exit_code == 0, result.output
    specs: list[dict[str, Any]] = json.loads(result.stdout)
    return specs


@pytest.mark.usefixtures("database")
def test_import_then_export_round_trips_in_name_order(tmp_path: Path) -> None:
    specs = [static(summary="Up?"), collection()]

    result = runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, specs))])

    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated" in result.output
    exported = export()
    assert [spec["name"] for spec in exported] == ["books", "status"]
    assert exported[0] == collection() | {"summary": "", "cacheable": False, "enabled": True}
    assert exported[1] == static(summary="Up?") | {"cacheable": False, "enabled": True}
    assert not {"id", "version", "created_at"} & exported[0].keys()


@pytest.mark.usefixtures("database")
def test_importing_again_updates_by_name(tmp_path: Path) -> None:
    runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [collection()]))])

    result = runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [collection(summary="v2")]))])

    assert "0 created, 1 updated" in result.output
    assert export()[0]["summary"] == "v2"


def stored_versions(database: str) -> tuple[int, list[int]]:
    """The registry's version and each spec's, read straight from the SQLite file."""
    with contextlib.closing(sqlite3.connect(database.removeprefix("sqlite+aiosqlite:///"))) as connection:
        registry = connection.execute("SELECT version FROM endpoint_registry").fetchone()[0]
        specs = [row[0] for row in connection.execute("SELECT version FROM endpoint_spec ORDER BY name")]
    return registry, specs


def test_reimporting_an_unchanged_export_changes_nothing(tmp_path: Path, database: str) -> None:
    """Issue 17, item 17: it bumped every spec's version and reported "2 updated"."""
    runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [static(summary="Up?"), collection()]))])
    before = stored_versions(database)

    result = runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, export()))])

    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 2 unchanged" in result.output
    assert stored_versions(database) == before == (1, [1, 1])


def test_only_the_changed_spec_of_an_import_is_updated(tmp_path: Path, database: str) -> None:
    runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [static(), collection()]))])
    # `true` is not `1`: JSON is compared exactly, not with Python's equality.
    changed = static(response_schema={"const": {"ok": 1}}, example={"ok": 1})
    runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [changed]))])
    again = static(response_schema={"const": {"ok": True}}, example={"ok": True})

    result = runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [again, collection()]))])

    assert "0 created, 1 updated, 1 unchanged" in result.output
    assert stored_versions(database) == (3, [1, 3])


@pytest.mark.usefixtures("database")
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (static(name="late", path="/api/v1/x/status"), "would match requests"),  # conflicts with the first
        (static(name="late", path="/api/v1/x/late", example={"ok": 1}), "#/1/example/ok"),
    ],
)
def test_an_invalid_spec_imports_nothing(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    result = runner.invoke(cli, ["endpoints", "import", str(write(tmp_path, [static(), bad]))])

    assert result.exit_code == 1
    assert message in result.output
    assert export() == []


@pytest.mark.usefixtures("database")
def test_a_file_that_is_not_a_list_of_specs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "specs.json"
    path.write_text('{"name": "x"}', encoding="utf-8")
    assert runner.invoke(cli, ["endpoints", "import", str(path)]).exit_code == 2
    path.write_text("not json", encoding="utf-8")
    assert runner.invoke(cli, ["endpoints", "import", str(path)]).exit_code == 2


async def test_an_import_is_announced_to_running_instances_over_redis(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_url = service_url_or_skip("FORGE_TEST_REDIS_URL", "Redis")
    monkeypatch.setenv("FORGE_REDIS_URL", redis_url)
    monkeypatch.setenv("FORGE_DYNAMIC_ENDPOINTS_CHANNEL", TEST_ENDPOINTS_CHANNEL)
    client = Redis.from_url(redis_url)
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(TEST_ENDPOINTS_CHANNEL)
        await pubsub.get_message(timeout=1)  # the subscription's confirmation

        result = await asyncio.to_thread(runner.invoke, cli, ["endpoints", "import", str(write(tmp_path, [static()]))])

        assert result.exit_code == 0, result.output
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    await client.aclose()
    assert message is not None
    assert message["data"] == b"1"  # the registry's new version (the database was empty)
