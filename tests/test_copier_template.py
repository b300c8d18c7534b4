"""The repository as a copier template: `copier copy` makes a renamed project with secrets of its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRETS = ["FORGE_SECRET_KEY", "FORGE_API_KEY_PEPPER", "FORGE_ENCRYPTION_KEYS", "FORGE_BLIND_INDEX_KEY"]


def copy(destination: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    data = [part for answer in answers for part in ("--data", answer)]
    return subprocess.run(  # noqa: S603 - copier from this environment, fixed arguments
        [str(BIN / "copier"), "copy", "--trust", "--defaults", "--quiet", *data, str(REPO), str(destination)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("FORGE_")},
    )


def dotenv(project: Path) -> dict[str, str]:
    lines = (project / ".env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("copier")
    first = copy(base / "billing", "project_name=billing-api", "description=Invoices and payments.")
    assert first.returncode == 0, first.stderr
    second = copy(base / "other", "project_name=other-api", "database=postgresql")
    assert second.returncode == 0, second.stderr
    return base / "billing", base / "other"


def test_the_project_is_renamed(projects: tuple[Path, Path]) -> None:
    billing, _ = projects
    pyproject = (billing / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "billing-api"\n' in pyproject
    assert 'description = "Invoices and payments."\n' in pyproject
    assert (billing / "README.md").read_text(encoding="utf-8").startswith("# Billing Api\n\nInvoices and payments.")
    assert 'title="Billing Api",' in (billing / "src" / "app" / "main.py").read_text(encoding="utf-8")
    # app.__version__ is read from the renamed distribution's metadata (it was 0.0.0 under the old name).
    assert 'DISTRIBUTION = "billing-api"\n' in (billing / "src" / "app" / "__init__.py").read_text(encoding="utf-8")
    assert 'name = "billing-api"' in (billing / "uv.lock").read_text(encoding="utf-8")  # relocked under its name
    assert 'name = "forgeapi"' not in (billing / "uv.lock").read_text(encoding="utf-8")


def test_the_answers_are_recorded_and_the_template_machinery_is_left_behind(projects: tuple[Path, Path]) -> None:
    billing, _ = projects
    answers = (billing / ".copier-answers.yml").read_text(encoding="utf-8")
    assert "project_name: billing-api" in answers
    assert "database: sqlite" in answers
    for left_out in ["copier.yml", "tests/test_copier_template.py", ".venv", ".git"]:
        assert not (billing / left_out).exists(), left_out
    assert not list(billing.rglob("*.jinja"))
    assert (billing / "src" / "app" / "features" / "products" / "router.py").is_file()


def test_each_project_gets_its_own_secrets_that_production_accepts(projects: tuple[Path, Path]) -> None:
    billing, other = projects
    first, second = dotenv(billing), dotenv(other)

    for name in SECRETS:
        assert first[name] != second[name], name
    assert len({first[name] for name in SECRETS}) == len(SECRETS)
    assert first["FORGE_DATABASE_URL"] == "sqlite+aiosqlite:///./var/billing_api.db"
    assert second["FORGE_DATABASE_URL"] == "postgresql+asyncpg://postgres@127.0.0.1:5432/other_api"
    assert (billing / ".env").stat().st_mode & 0o077 == 0  # readable by its owner alone
    # The project's own code reads its .env and accepts the secrets under production's checks.
    checked = subprocess.run(
        [sys.executable, "-c", "from app.config import Settings; print(Settings().database_url)"],
        cwd=billing,
        env={k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
        | {"PYTHONPATH": str(billing / "src"), "FORGE_ENVIRONMENT": "production"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == first["FORGE_DATABASE_URL"]
