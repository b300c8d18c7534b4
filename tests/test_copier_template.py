"""The repository as a copier template: `copier copy` makes a renamed project with secrets of its own, with or
without the example features. (tools/check_template.py syncs such projects and runs their checks: CI's, slower.)"""

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.support import processes

pytestmark = processes.HEAVY

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRETS = [
    "FORGE_SECRET_KEY",
    "FORGE_API_KEY_PEPPER",
    "FORGE_ENCRYPTION_KEYS",
    "FORGE_BLIND_INDEX_KEY",
    "FORGE_METRICS_TOKEN",
]
EXAMPLE_TABLES = ("product", "customer_order", "order_item")
MIGRATION_MARKER = "# forge: example features"
LONGEST_NAME = "other-service-with-a-long-name"  # 30 characters, the most copier.yml allows
# Where a generated project may name ForgeAPI in lower case: as its origin (the template's path or URL, the tool that
# renamed the project from it, how a project is made from ForgeAPI).
CREDITS = {".copier-answers.yml", "tools/init_project.py", "docs/getting-started.md"}  # tools/example_features.py's
# What code that names the example features looks like (prose in docstrings aside).
NAMES_AN_EXAMPLE = re.compile(
    r"app\.features\.(products|orders)|/api/v1/(products|orders)|\b(Product|Order|OrderItem)\b|insufficient.stock"
    r"|products:write|orders:(read|write)|create_product|test_load_with_faults|benchmarks\.(harness|faults)"
)


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
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made without the example features."""
    project = tmp_path_factory.mktemp("lean") / "solo"
    made = copy(project, "project_name=solo-api", "example_features=false")
    assert made.returncode == 0, made.stderr
    return project


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("copier")
    first = copy(base / "billing", "project_name=billing-api", "description=Invoices and payments.")
    assert first.returncode == 0, first.stderr
    second = copy(base / "other", f"project_name={LONGEST_NAME}", "database=postgresql")
    assert second.returncode == 0, second.stderr
    return base / "billing", base / "other"


def test_the_project_is_renamed(projects: tuple[Path, Path]) -> None:
    billing, _ = projects
    pyproject = (billing / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "billing-api"\n' in pyproject
    assert 'description = "Invoices and payments."\n' in pyproject
    assert (billing / "README.md").read_text(encoding="utf-8").startswith("# Billing Api\n\nInvoices and payments.")
    # app.__version__ and the description are read from the renamed distribution's metadata.
    package = (billing / "src" / "app" / "__init__.py").read_text(encoding="utf-8")
    assert 'DISTRIBUTION = "billing-api"\n' in package
    assert 'TITLE = "Billing Api"\n' in package
    assert 'name = "billing-api"' in (billing / "uv.lock").read_text(encoding="utf-8")  # relocked under its name
    assert 'name = "forgeapi"' not in (billing / "uv.lock").read_text(encoding="utf-8")


def test_only_its_origin_names_forgeapi(projects: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two services from the template share no database, compose project, image, JWT audience, problem type or
    OpenTelemetry service name."""
    billing, _ = projects
    assert _init_project(monkeypatch).naming_the_template(billing) == []
    assert _init_project(monkeypatch).naming_the_template(REPO)  # what it finds in the template itself
    compose = yaml.safe_load((billing / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    assert compose["name"] == "billing-api"
    assert compose["services"]["app"]["image"] == "billing-api:latest"
    assert compose["services"]["postgres"]["environment"]["POSTGRES_DB"] == "billing_api"
    assert compose["x-forge-environment"]["FORGE_DATABASE_URL"].endswith("@postgres:5432/billing_api")
    assert compose["x-forge-environment"]["OTEL_SERVICE_NAME"] == "billing-api"


def test_the_longest_name_leaves_code_that_ruff_accepts(projects: tuple[Path, Path]) -> None:
    """The renamed lines stay within the line length."""
    _, other = projects
    checks = [[str(BIN / "ruff"), "check", "."], [str(BIN / "ruff"), "format", "--check", "."]]
    done = [subprocess.run(c, cwd=other, capture_output=True, text=True, check=False) for c in checks]  # noqa: S603
    assert [f"{d.stdout}{d.stderr}" for d in done if d.returncode != 0] == []


def test_a_longer_name_is_refused(tmp_path: Path) -> None:
    refused = copy(tmp_path / "long", f"project_name={LONGEST_NAME}x")
    assert refused.returncode != 0
    assert "at most 30 characters" in refused.stderr


def test_the_code_names_the_project(projects: tuple[Path, Path]) -> None:
    """What the client config, the API docs, `forge --help` and the tokens say (the description, from the installed
    distribution's metadata, is tools/check_template.py's: the project is not installed here)."""
    billing, _ = projects
    code = (
        "from app.cli import app as cli; from app.config import Settings; from app.main import create_app;"
        "from app.features.client_config.service import client_config; s = Settings();"
        "print(client_config(settings=s, docs_url=None).name, create_app(s).title, cli.info.help, sep='|');"
        "print(s.jwt_issuer, s.jwt_audience, sep='|')"
    )
    shown = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code],
        cwd=billing,
        env={k: v for k, v in os.environ.items() if not k.startswith("FORGE_")} | {"PYTHONPATH": str(billing / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "Billing Api|Billing Api|Billing Api: run and operate the service.",
        "billing-api|billing-api",
    ]


def test_the_answers_are_recorded_and_the_template_machinery_is_left_behind(projects: tuple[Path, Path]) -> None:
    billing, _ = projects
    answers = (billing / ".copier-answers.yml").read_text(encoding="utf-8")
    assert "project_name: billing-api" in answers
    assert "database: sqlite" in answers
    assert "example_features: true" in answers
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
    assert second["FORGE_DATABASE_URL"] == "postgresql+asyncpg://postgres@127.0.0.1:5432/" + LONGEST_NAME.replace(
        "-", "_"
    )
    assert (billing / ".env").stat().st_mode & 0o077 == 0  # readable by its owner alone
    # The project's own code reads its .env and accepts the secrets under production's checks.
    checked = subprocess.run(
        [sys.executable, "-c", "from app.config import Settings; print(Settings().database_url)"],
        cwd=billing,
        env={k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
        | {"PYTHONPATH": str(billing / "src"), "FORGE_ENVIRONMENT": "production"}
        # Not secrets, so not in .env: production's mail server and the web app its links open, which it refuses to
        # start without.
        | {
            "FORGE_MAIL_BACKEND": "smtp",
            "FORGE_MAIL_FROM": "noreply@billing.test",
            "FORGE_FRONTEND_URL": "https://app.billing.test",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == first["FORGE_DATABASE_URL"]


def _migrations(root: Path) -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8") for path in sorted((root / "alembic" / "versions").glob("*.py"))
    }


def test_the_example_features_migrations_alone_touch_their_tables_and_are_marked() -> None:
    """What lets tools/example_features.py leave the examples' tables out: marked revisions hold every change."""
    touching = {
        name
        for name, text in _migrations(REPO).items()
        if re.search(rf"""\(\s*["']({"|".join(EXAMPLE_TABLES)})["']""", text)
    }
    marked = {name for name, text in _migrations(REPO).items() if MIGRATION_MARKER in text}
    assert (
        touching
        == marked
        == {
            "2026-11-25_example_products_and_orders.py",
            "2026-12-07_order_status_check.py",
            "2026-12-09_order_keyset_indexes.py",
        }
    )


def test_without_the_example_features_nothing_names_them(lean: Path) -> None:
    assert "example_features: false" in (lean / ".copier-answers.yml").read_text(encoding="utf-8")
    for gone in [
        "src/app/features/products",
        "src/app/features/orders",
        "tests/features/orders",
        "benchmarks/faults.py",
    ]:
        assert not (lean / gone).exists(), gone
    assert (lean / "benchmarks" / "ratelimit.py").is_file()
    sources = [*lean.glob("src/**/*.py"), *lean.glob("tests/**/*.py"), *lean.glob("benchmarks/*.py")]
    sources += [*lean.glob("alembic/**/*.py"), lean / "pyproject.toml", lean / "docs" / "api.md"]
    leftovers = {str(p.relative_to(lean)): m.group(0) for p in sources if (m := NAMES_AN_EXAMPLE.search(p.read_text()))}
    assert leftovers == {}
    readme = (lean / "README.md").read_text(encoding="utf-8")
    assert "## Without the example features" in readme
    assert "benchmarks.faults" not in readme


def test_without_the_example_features_the_import_contracts_hold(lean: Path) -> None:
    """Their allowed edges between features went with them: one left behind would match no import, which
    import-linter refuses; the contracts' wildcards need no other edit."""
    checked = subprocess.run(  # noqa: S603 - lint-imports from this environment, over the project's own source
        [str(BIN / "lint-imports")],
        cwd=lean,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("FORGE_")} | {"PYTHONPATH": str(lean / "src")},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "BROKEN" not in checked.stdout


def test_without_the_example_features_the_migrations_skip_theirs(lean: Path) -> None:
    migrations = _migrations(lean)
    assert "2026-11-25_example_products_and_orders.py" not in migrations
    [api_keys] = [text for name, text in migrations.items() if name.endswith("_api_keys.py")]
    assert 'down_revision: str | None = "773b499982c0"' in api_keys  # the initial schema's child again
    assert "Revises: 773b499982c0" in api_keys
    revisions = [re.search(r'^revision: str = "(\w+)"$', text, re.MULTILINE) for text in migrations.values()]
    parents = [
        re.search(r'^down_revision: str \| None = (?:"(\w+)"|None)$', text, re.MULTILINE)
        for text in migrations.values()
    ]
    assert all(revisions)
    assert all(parents)
    known = {m.group(1) for m in revisions if m}
    assert {m.group(1) for m in parents if m} - {None} <= known  # every parent exists: one unbroken history


def test_the_task_run_again_changes_nothing(lean: Path) -> None:
    """As `copier update` runs it on a project that has no examples any more."""
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in lean.rglob("*") if p.is_file()}
    again = subprocess.run(
        [
            sys.executable,
            "tools/init_project.py",
            "--name",
            "solo-api",
            "--title",
            "Solo Api",
            "--description",
            "x",
            "--example-features",
            "remove",
        ],
        cwd=lean,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("FORGE_")} | {"PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert again.returncode == 0, again.stderr
    assert "left out" not in again.stdout
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in lean.rglob("*") if p.is_file()} == before


def _example_features() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_features", REPO / "tools" / "example_features.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _init_project(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(REPO / "tools")  # as copier runs it: beside tools/example_features.py
    spec = importlib.util.spec_from_file_location("init_project", REPO / "tools" / "init_project.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_project(root: Path, *, pyproject: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (root / ".python-version").write_text((REPO / ".python-version").read_text(encoding="utf-8"), encoding="utf-8")
    return root


def test_the_lock_takes_the_projects_python_not_the_environments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """uv asked by copier's environment for another interpreter (here one that does not exist) than the project's
    own .python-version still locks the project."""
    project = _small_project(
        tmp_path / "x", pyproject='[project]\nname = "x-api"\nversion = "0.1.0"\nrequires-python = ">=3.12"\n'
    )
    monkeypatch.setenv("UV_PYTHON", str(tmp_path / "no-such-python"))
    assert _init_project(monkeypatch).relock(project) is True
    assert 'name = "x-api"' in (project / "uv.lock").read_text(encoding="utf-8")


def test_a_lock_that_fails_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _small_project(tmp_path / "x", pyproject='[project]\nname = "x-api\n')
    assert _init_project(monkeypatch).relock(project) is False
    said = capsys.readouterr().out
    assert "pyproject.toml" in said  # uv's own diagnosis, not a guess about the package index
    assert "package index" not in said


def _migration(versions: Path, name: str, revision: str, parent: str | None, *, marked: bool = False) -> None:
    down = f'"{parent}"' if parent else "None"
    marker = f"{MIGRATION_MARKER} (test)\n" if marked else ""
    header = f'"""{name}\n\nRevises: {parent or ""}\n"""\n\n'
    text = f'{header}{marker}revision: str = "{revision}"\ndown_revision: str | None = {down}\n'
    (versions / f"{name}.py").write_text(text, encoding="utf-8")


def test_consecutive_example_migrations_are_all_skipped(tmp_path: Path) -> None:
    """A later ForgeAPI release may add a second example migration right after the first."""
    _migration(tmp_path, "a_initial", "aaa", None)
    _migration(tmp_path, "b_example", "bbb", "aaa", marked=True)
    _migration(tmp_path, "c_example_more", "ccc", "bbb", marked=True)
    _migration(tmp_path, "d_api_keys", "ddd", "ccc")
    _example_features()._drop_example_migrations(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_initial.py", "d_api_keys.py"]
    relinked = (tmp_path / "d_api_keys.py").read_text(encoding="utf-8")
    assert 'down_revision: str | None = "aaa"' in relinked
    assert "Revises: aaa" in relinked


def test_a_migration_that_depends_on_the_examples_otherwise_is_refused(tmp_path: Path) -> None:
    _migration(tmp_path, "a_initial", "aaa", None)
    _migration(tmp_path, "b_example", "bbb", "aaa", marked=True)
    (tmp_path / "c_merge.py").write_text('revision: str = "ccc"\ndown_revision = ("aaa", "bbb")\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"c_merge\.py depends on the example revision bbb"):
        _example_features()._drop_example_migrations(tmp_path)
