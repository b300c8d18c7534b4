"""`forge feature new`: refused names, and a generated slice that passes every check of the project as written.

The end-to-end test copies the repository (its tracked and unignored files) to a temporary directory, runs the real
`forge` there with the copy's `src` first on the path, then ruff, mypy, import-linter and pytest over the copy.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from pathspec import GitIgnoreSpec
from typer.testing import CliRunner

from app.cli import app as cli
from app.scaffold import ScaffoldError, feature_names, new_feature
from tests.support import processes

pytestmark = processes.HEAVY

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
runner = CliRunner()


def _unused(name: str) -> str:
    """`name`, or a variant when the project already has that feature (a project made from ForgeAPI may well)."""
    return f"{name}_again" if (REPO / "src" / "app" / "features" / name).exists() else name


LINE_ITEMS = feature_names(_unused("line_items"))
INVOICES = feature_names(_unused("invoices"))


def copy_of_the_repository(copy: Path, source: Path = REPO) -> Path:
    """A copy of the repository as it is in the work tree: every file its .gitignore does not exclude, as
    `git ls-files --cached --others --exclude-standard` lists them, but read without git, so that the tests also run
    in a project generated from the template that is not yet a git repository."""
    ignored = GitIgnoreSpec.from_lines([".git/", *(source / ".gitignore").read_text(encoding="utf-8").splitlines()])
    for directory, subdirectories, files in source.walk():
        relative = directory.relative_to(source)
        # Pruned here, so that .venv and the caches are never walked.
        subdirectories[:] = [d for d in subdirectories if not ignored.match_file(f"{(relative / d).as_posix()}/")]
        for name in files:
            if not ignored.match_file((relative / name).as_posix()):
                (copy / relative).mkdir(parents=True, exist_ok=True)
                shutil.copy2(directory / name, copy / relative / name)
    return copy


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of_the_repository(tmp_path_factory.mktemp("project"))


def run(project: Path, *command: str | Path, extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """A tool of this virtual environment, in the copy, importing the copy's `app`; SQLite only (see below)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")} | {"PYTHONPATH": str(project / "src")}
    return subprocess.run(  # noqa: S603 - our own tools and arguments
        [str(part) for part in (*command, *extra)], cwd=project, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("class", "keyword"),
        ("match", "keyword"),
        ("health", "reserved"),
        ("auth", "reserved"),
        ("admin", "reserved"),
        ("x", "reserved"),
        ("config", "reserved"),
        ("json", "reserved"),
        ("Invoices", "not a valid"),
        ("line-items", "not a valid"),
        ("2fa", "not a valid"),
        ("bad__name", "not a valid"),
        ("trailing_", "not a valid"),
        ("", "not a valid"),
        ("sessions", "shadow"),
        ("lists", "shadow"),
        ("bases", "clash"),
    ],
)
def test_bad_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(ScaffoldError, match=reason):
        feature_names(name)


@pytest.mark.parametrize(
    ("name", "singular", "model", "path"),
    [
        ("invoices", "invoice", "Invoice", "invoices"),
        ("line_items", "line_item", "LineItem", "line-items"),
        ("categories", "category", "Category", "categories"),
        ("boxes", "box", "Box", "boxes"),
        ("inventory", "inventory", "Inventory", "inventory"),
    ],
)
def test_names_are_derived(name: str, singular: str, model: str, path: str) -> None:
    names = feature_names(name)
    assert (names.singular, names.model, names.path) == (singular, model, path)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("api_keys", "already exists"),
        ("dynamic_endpoints", "already exists"),
        ("api_key", "already exists"),
        ("users", "A feature named 'users' already exists"),  # its singular is reserved too: existing is said first
    ],
)
def test_existing_features_and_tables_are_refused_and_nothing_is_written(project: Path, name: str, reason: str) -> None:
    before = (project / "src" / "app" / "main.py").read_text(encoding="utf-8")
    with pytest.raises(ScaffoldError, match=reason):
        new_feature(project, name)
    assert (project / "src" / "app" / "main.py").read_text(encoding="utf-8") == before


def test_the_command_refuses_with_a_message_and_exit_code_2(project: Path) -> None:
    result = runner.invoke(cli, ["feature", "new", "class", "--project", str(project)])
    assert result.exit_code == 2
    assert "keyword" in result.output


def test_a_path_that_is_no_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="not a ForgeAPI project"):
        new_feature(tmp_path, "invoices")


def test_the_copy_needs_no_git_and_leaves_out_what_gitignore_ignores(tmp_path: Path) -> None:
    """As in a project just generated from the template, before `git init`."""
    source = tmp_path / "fresh"
    for name in ["README.md", "src/app/x.py", ".ci/run", ".venv/bin/python", "var/app.db", ".env", "src/app/x.pyc"]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name, encoding="utf-8")
    (source / ".gitignore").write_text(".venv/\nvar/\n.env\n*.py[cod]\n", encoding="utf-8")
    copy = copy_of_the_repository(tmp_path / "copy", source)
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == [
        ".ci/run",
        ".gitignore",
        "README.md",
        "src/app/x.py",
    ]


def test_generation_registers_the_router_the_model_and_the_operations_but_not_contracts(project: Path) -> None:
    """In-process (for coverage); the copy then holds two new features, which the end-to-end test checks together."""
    feature, model = LINE_ITEMS.feature, LINE_ITEMS.model
    contracts = (project / "pyproject.toml").read_text(encoding="utf-8")
    written = new_feature(project, feature)

    assert project / "src" / "app" / "features" / feature / "router.py" in written
    main = (project / "src" / "app" / "main.py").read_text(encoding="utf-8")
    assert f"from app.features.{feature}.router import router as {feature}_router\n" in main
    assert f"        {feature}_router,\n        # forge feature new: routers go above this line" in main
    models = (project / "src" / "app" / "models.py").read_text(encoding="utf-8")
    assert f"from app.features.{feature}.models import {model}\n" in models
    assert f'    "{model}",\n' in models
    # The import contracts name features by wildcard: the new one is held to them with no edit.
    assert project / "pyproject.toml" not in written
    assert (project / "pyproject.toml").read_text(encoding="utf-8") == contracts
    router = (project / "src" / "app" / "features" / feature / "router.py").read_text("utf-8")
    assert f'prefix="/{LINE_ITEMS.path}"' in router
    # The reviewed inventory of the OWASP tests lists the new operations with the access the router gives them.
    inventory = (project / "tests" / "test_owasp_api_top10.py").read_text(encoding="utf-8")
    item = f"/api/v1/{LINE_ITEMS.path}/{{{LINE_ITEMS.singular}_id}}"
    assert (
        f'    ("GET", "/api/v1/{LINE_ITEMS.path}"): "public",\n'
        f'    ("POST", "/api/v1/{LINE_ITEMS.path}"): "admin",\n'
        f'    ("GET", "{item}"): "public",\n'
        f'    ("PATCH", "{item}"): "admin",\n'
        f'    ("DELETE", "{item}"): "admin",\n'
        "    # forge feature new: operations go above this line\n"
    ) in inventory


def test_the_longest_name_still_gives_code_that_ruff_accepts(tmp_path: Path) -> None:
    longest = "purchase_order_line_item_adjustment_note"  # 40 characters, the most a name may have
    assert feature_names(longest).feature == longest
    copy = copy_of_the_repository(tmp_path)
    written = [str(path) for path in new_feature(copy, longest) if path.suffix == ".py"]
    checks = [run(copy, BIN / "ruff", "check", *written), run(copy, BIN / "ruff", "format", "--check", *written)]
    assert [f"{r.stdout}{r.stderr}" for r in checks if r.returncode != 0] == []


def test_a_generated_feature_passes_lint_types_contracts_and_its_own_tests(project: Path) -> None:
    feature = INVOICES.feature
    created = run(project, BIN / "forge", "feature", "new", feature)
    assert created.returncode == 0, created.stderr
    package = project / "src" / "app" / "features" / feature
    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "models.py",
        "repository.py",
        "router.py",
        "schemas.py",
        "service.py",
    ]
    migration = next((project / "alembic" / "versions").glob(f"*_{feature}.py"))
    line_items = project / "src" / "app" / "features" / LINE_ITEMS.feature
    new_files = [package, project / "tests" / "features" / feature, migration]
    new_files += [line_items] if line_items.exists() else []  # written by the test before, when it ran

    again = run(project, BIN / "forge", "feature", "new", feature)
    assert again.returncode == 2
    assert "already exists" in again.stderr

    checks = {
        "ruff": run(project, BIN / "ruff", "check", "."),
        "ruff format": run(project, BIN / "ruff", "format", "--check", "."),
        "mypy": run(
            project,
            BIN / "mypy",
            extra=[*map(str, new_files), "src/app/main.py", "src/app/models.py", "tests/test_owasp_api_top10.py"],
        ),
        "lint-imports": run(project, BIN / "lint-imports"),
        # SQLite only: the PostgreSQL test database belongs to the suite running this test.
        "pytest": run(
            project,
            BIN / "python",
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            f"tests/features/{feature}",
            "tests/test_migrations.py",  # the new migration builds exactly the new model, and walks down and up
            "tests/test_owasp_api_top10.py",  # the new operations answer anonymous callers and users as listed
        ),
    }
    failures = {name: f"{r.stdout}\n{r.stderr}" for name, r in checks.items() if r.returncode != 0}
    assert failures == {}
    ran = checks["pytest"].stdout.splitlines()
    assert len([line for line in ran if f"test_{feature}.py::" in line and "PASSED" in line]) == 7
    assert any("test_upgrade_from_empty_to_head_matches_the_models[sqlite] PASSED" in line for line in ran)
    # Each admin operation of the inventory, the new ones included, was tried by an ordinary user and refused.
    admin_operations = (project / "tests" / "test_owasp_api_top10.py").read_text(encoding="utf-8").count('"): "admin",')
    refused = [line for line in ran if "api5_every_admin_operation_refuses_an_ordinary_user[sqlite-" in line]
    assert len(refused) == admin_operations
    assert all("PASSED" in line for line in refused)


# A wrong import written into a freshly scaffolded feature, and the contract it breaks. The contracts name features by
# wildcard (app.features.*): none of them mentions the new feature, yet each holds it.
WRONG_IMPORTS = {
    "its models import its service": (
        "{feature}/models.py",
        "from app.features.{feature} import service",
        "Inside every feature: router -> dependencies -> service -> repository -> models",
    ),
    "its repository imports its service": (
        "{feature}/repository.py",
        "from app.features.{feature} import service",
        "Inside every feature: router -> dependencies -> service -> repository -> models",
    ),
    "its service imports another feature's repository": (
        "{feature}/service.py",
        "from app.features.users import repository",
        "A feature's repository and models are its own (but for the listed edges)",
    ),
    "another feature imports its models": (
        "users/service.py",
        "from app.features.{feature}.models import {model}",
        "A feature's repository and models are its own (but for the listed edges)",
    ),
    "its service imports another feature's service by an edge not listed": (
        "{feature}/service.py",
        "from app.features.users import service as users_service",
        "Features are independent but for the listed edges",
    ),
    "its router imports SQLAlchemy": (
        "{feature}/router.py",
        "from sqlalchemy import select",
        "Routers hold no SQL",
    ),
    "its repository imports FastAPI": (
        "{feature}/repository.py",
        "from fastapi import HTTPException",
        "Services, repositories and models know nothing of HTTP",
    ),
}
SHIPMENTS = feature_names(_unused("shipments"))


def _contracts(check: subprocess.CompletedProcess[str]) -> str:
    """lint-imports' report on one line: it wraps long contract names at the terminal's width."""
    return " ".join(check.stdout.split())


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with one new feature, which lint-imports passes as generated."""
    copy = copy_of_the_repository(tmp_path_factory.mktemp("scaffolded"))
    new_feature(copy, SHIPMENTS.feature)
    clean = run(copy, BIN / "lint-imports")
    assert clean.returncode == 0, clean.stdout
    assert "BROKEN" not in clean.stdout
    return copy


@pytest.mark.parametrize("case", WRONG_IMPORTS)
def test_a_wrong_import_in_a_scaffolded_feature_breaks_the_contracts(scaffolded: Path, case: str) -> None:
    module, line, contract = WRONG_IMPORTS[case]
    path = scaffolded / "src" / "app" / "features" / module.format(feature=SHIPMENTS.feature)
    original = path.read_text(encoding="utf-8")
    path.write_text(f"{original}\n{line.format(feature=SHIPMENTS.feature, model=SHIPMENTS.model)}\n", "utf-8")
    try:
        check = run(scaffolded, BIN / "lint-imports")
    finally:
        path.write_text(original, encoding="utf-8")
    assert check.returncode != 0
    assert f"{contract} BROKEN" in _contracts(check)
