"""`forge client`: the document the clients are generated from, and the errors before any generator runs.

The generators themselves run in tests/features/orders/test_generated_clients.py, against a live server."""

import json
from pathlib import Path

import pytest

from app.cli import app as cli
from tests.support.cli import migrated_sqlite, runner
from tests.support.dynamic_endpoints import collection
from tests.support.processes import free_port


def test_the_document_is_the_one_the_configuration_serves_with_the_stored_dynamic_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated_sqlite(tmp_path, monkeypatch)
    specs = tmp_path / "specs.json"
    specs.write_text(json.dumps([collection(name="notes", path="/api/v1/x/notes")]))
    assert runner.invoke(cli, ["endpoints", "import", str(specs)]).exit_code == 0

    result = runner.invoke(cli, ["client", "openapi"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["paths"]["/api/v1/x/notes"]["post"]["operationId"] == "dynamic_notes_collection_post"
    assert "DynamicNotesRequest" in document["components"]["schemas"]
    assert "/api/v1/users/me" in document["paths"]  # the built-in operations too
    assert "ProblemType" in document["components"]["schemas"]


def test_a_schema_behind_the_code_is_refused_with_the_command_that_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")

    result = runner.invoke(cli, ["client", "openapi"])

    assert result.exit_code == 1
    assert "forge db upgrade" in result.stderr


def test_a_url_without_a_server_is_refused_by_name() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = runner.invoke(cli, ["client", "openapi", "--url", url])

    assert result.exit_code == 1
    assert f"No OpenAPI document at {url}" in result.stderr


@pytest.mark.parametrize(("language", "program"), [("typescript", "npx"), ("python", "uv")])
def test_a_missing_toolchain_is_named_before_any_work(
    language: str, program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    monkeypatch.delenv("UV", raising=False)

    result = runner.invoke(cli, ["client", language, str(tmp_path / "out")])

    assert result.exit_code == 1
    assert f"`{program}` is not on PATH" in result.stderr
    assert not (tmp_path / "out").exists()
