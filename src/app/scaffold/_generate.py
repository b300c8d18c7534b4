"""`forge feature new`: write a slice, its tests and its migration, and register it where the project lists features.

The import-linter contracts in pyproject.toml are not among those places: they name features by wildcard
(`app.features.*`), so the new slice is held to them as it is written.
"""

import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from alembic.config import Config
from alembic.script import ScriptDirectory

from app.scaffold._names import FeatureNames, ScaffoldError, feature_names
from app.scaffold._templates import FILES, MIGRATION, TESTS

__all__ = ["INVENTORY_MARKER", "ROUTERS_MARKER", "new_feature"]

# The line in src/app/main.py before which a new feature's router goes (inside the tuple of routers).
ROUTERS_MARKER = "# forge feature new: routers go above this line"
# The line in the OWASP tests' reviewed operation inventory before which a new feature's operations go, with the
# access the generated router gives them (public reads, admin writes), which those tests then hold it to.
INVENTORY_MARKER = "# forge feature new: operations go above this line"
INVENTORY_TESTS = Path("tests") / "test_owasp_api_top10.py"
_TABLE = re.compile(r"""__tablename__\s*=\s*["']([^"']+)["']""")


def _existing_tables(src: Path) -> set[str]:
    return {match for path in src.rglob("*.py") for match in _TABLE.findall(path.read_text(encoding="utf-8"))}


def _refuse_existing(feature: str) -> NoReturn:
    msg = f"A feature named {feature!r} already exists in src/app/features; choose another name."
    raise ScaffoldError(msg)


def _check_free(root: Path, names: FeatureNames) -> None:
    features = root / "src" / "app" / "features"
    if not features.is_dir() or not (root / "alembic.ini").is_file():
        msg = f"{root.resolve()} is not a ForgeAPI project (no src/app/features or alembic.ini); run this at its root."
        raise ScaffoldError(msg)
    taken = {path.name for path in features.iterdir() if path.is_dir() and not path.name.startswith("_")}
    if names.feature in taken or names.singular in taken:
        _refuse_existing(names.feature)
    if names.singular in _existing_tables(root / "src" / "app"):
        msg = f"A table named {names.singular!r} already exists; pass another singular with --singular."
        raise ScaffoldError(msg)
    models = (root / "src" / "app" / "models.py").read_text(encoding="utf-8")
    if re.search(rf"\b{names.model}\b", models):
        msg = f"A model class named {names.model!r} already exists; pass another singular with --singular."
        raise ScaffoldError(msg)
    if (root / "tests" / "features" / names.feature).exists():
        msg = f"tests/features/{names.feature} already exists; remove it or choose another name."
        raise ScaffoldError(msg)


def _insert_import(text: str, line: str, *, prefix: str = "from app.features.") -> str:
    """Insert `line` among the `prefix` imports in sorted place (as ruff's isort orders them)."""
    lines = text.splitlines(keepends=True)
    indices = [i for i, existing in enumerate(lines) if existing.startswith(prefix)]
    if not indices:
        msg = f"found no '{prefix}...' imports to add {line!r} beside"
        raise ScaffoldError(msg)
    module = line.partition(" import ")[0]
    at = next((i for i in indices if lines[i].partition(" import ")[0] > module), indices[-1] + 1)
    lines.insert(at, line + "\n")
    return "".join(lines)


def _routers_marker(text: str) -> re.Match[str] | None:
    return re.search(rf"^([ \t]*){re.escape(ROUTERS_MARKER)}$", text, re.MULTILINE)


def _register_router(main: Path, names: FeatureNames) -> None:
    text = main.read_text(encoding="utf-8")
    marker = _routers_marker(text)
    if marker is None:
        msg = f"{main}: the line {ROUTERS_MARKER!r} is missing; add the router to the tuple in _api_routers() by hand."
        raise ScaffoldError(msg)
    text = text[: marker.start()] + f"{marker.group(1)}{names.feature}_router,\n" + text[marker.start() :]
    text = _insert_import(text, f"from app.features.{names.feature}.router import router as {names.feature}_router")
    main.write_text(text, encoding="utf-8")


def _inventory_marker(text: str) -> re.Match[str] | None:
    return re.search(rf"^([ \t]*){re.escape(INVENTORY_MARKER)}$", text, re.MULTILINE)


def _register_operations(inventory: Path, names: FeatureNames) -> None:
    """The new operations join the reviewed inventory; a project without that test file has nothing to update."""
    if not inventory.is_file():
        return
    text = inventory.read_text(encoding="utf-8")
    marker = _inventory_marker(text)
    if marker is None:  # checked before anything was written
        msg = f"{inventory}: the line {INVENTORY_MARKER!r} is missing"
        raise ScaffoldError(msg)
    collection, item = f"/api/v1/{names.path}", f"/api/v1/{names.path}/{{{names.singular}_id}}"
    access = [("GET", collection, "public"), ("POST", collection, "admin"), ("GET", item, "public")]
    access += [("PATCH", item, "admin"), ("DELETE", item, "admin")]
    lines = "".join(f'{marker.group(1)}("{method}", "{path}"): "{who}",\n' for method, path, who in access)
    inventory.write_text(text[: marker.start()] + lines + text[marker.start() :], encoding="utf-8")


def _register_model(models: Path, names: FeatureNames) -> None:
    text = _insert_import(
        models.read_text(encoding="utf-8"), f"from app.features.{names.feature}.models import {names.model}"
    )
    block = re.search(r"^__all__ = \[\n(.*?)^\]\n", text, re.MULTILINE | re.DOTALL)
    if block is None:
        msg = f"{models}: no multi-line __all__ list to add {names.model!r} to"
        raise ScaffoldError(msg)
    entries = [*re.findall(r'"([^"]+)"', block.group(1)), names.model]
    # ruff's RUF022 order: CONSTANTS, then Classes, then the rest, each alphabetical.
    entries.sort(key=lambda e: (0 if e.isupper() else 1 if e[0].isupper() else 2, e))
    listed = "".join(f'    "{entry}",\n' for entry in entries)
    models.write_text(text[: block.start(1)] + listed + text[block.end(1) :], encoding="utf-8")


def _single_head(root: Path) -> str:
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        msg = f"The migrations have {len(heads)} heads ({', '.join(heads)}); merge them first (alembic merge)."
        raise ScaffoldError(msg)
    return heads[0]


def _check_registration_points(root: Path, names: FeatureNames) -> None:
    main = root / "src" / "app" / "main.py"
    if _routers_marker(main.read_text(encoding="utf-8")) is None:
        msg = f"{main}: the line {ROUTERS_MARKER!r} is missing; add it at the end of the tuple in _api_routers()."
        raise ScaffoldError(msg)
    inventory = root / INVENTORY_TESTS
    if inventory.is_file() and _inventory_marker(inventory.read_text(encoding="utf-8")) is None:
        msg = f"{inventory}: the line {INVENTORY_MARKER!r} is missing; add it at the end of INVENTORY."
        raise ScaffoldError(msg)
    if _migration_path(root, names, datetime.now(UTC)).exists():
        msg = f"{_migration_path(root, names, datetime.now(UTC))} already exists"
        raise ScaffoldError(msg)


def _migration_path(root: Path, names: FeatureNames, now: datetime) -> Path:
    return root / "alembic" / "versions" / f"{now:%Y-%m-%d}_{names.feature}.py"


def _write_migration(root: Path, names: FeatureNames, *, head: str, now: datetime) -> Path:
    path = _migration_path(root, names, now)
    path.write_text(
        MIGRATION.substitute(
            feature=names.feature,
            table=names.singular,
            revision=uuid.uuid4().hex[:12],
            down_revision=head,
            create_date=now.isoformat(sep=" "),
        ),
        encoding="utf-8",
    )
    return path


def _tidy(root: Path, paths: list[Path]) -> None:
    """Wrap the lines a long name made too long and re-sort the imports it joined, as ruff does.

    The templates are laid out for names like `invoices`; a 40-character one overflows 120 columns. Ruff is a
    development dependency of every ForgeAPI project, and this is a development command; without it, say so.
    """
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        print("ruff is not installed: run `uv run ruff check --fix . && uv run ruff format .`")  # noqa: T201
        return
    files = [str(path) for path in paths if path.suffix == ".py"]
    for command in (["check", "--fix", "--select", "I"], ["format"]):
        subprocess.run([ruff, *command, "--quiet", *files], cwd=root, check=False)  # noqa: S603 - fixed arguments


def new_feature(root: Path, name: str, *, singular: str | None = None) -> list[Path]:
    """Write the feature `name` into the project at `root`; return the files written or changed.

    Everything is checked before the first file is written, so a refusal leaves the project untouched.
    """
    # Said first: the name's other checks ('users' -> 'user' is reserved, say) would give a lesser reason.
    if (root / "src" / "app" / "features" / name / "__init__.py").is_file():
        _refuse_existing(name)
    names = feature_names(name, singular=singular)
    _check_free(root, names)
    _check_registration_points(root, names)
    head = _single_head(root)
    values = asdict(names) | {"Model": names.model, "Title": names.title, "table": names.singular}
    package = root / "src" / "app" / "features" / names.feature
    tests = root / "tests" / "features" / names.feature
    package.mkdir()
    written = []
    for filename, template in FILES.items():
        (package / filename).write_text(template.substitute(values), encoding="utf-8")
        written.append(package / filename)
    tests.mkdir(parents=True)
    (tests / "__init__.py").write_text("", encoding="utf-8")
    (tests / f"test_{names.feature}.py").write_text(TESTS.substitute(values), encoding="utf-8")
    written += [tests / "__init__.py", tests / f"test_{names.feature}.py"]
    written.append(_write_migration(root, names, head=head, now=datetime.now(UTC)))
    _register_router(root / "src" / "app" / "main.py", names)
    _register_model(root / "src" / "app" / "models.py", names)
    _register_operations(root / INVENTORY_TESTS, names)
    changed = [root / "src" / "app" / "main.py", root / "src" / "app" / "models.py"]
    if (root / INVENTORY_TESTS).is_file():
        changed.append(root / INVENTORY_TESTS)
    _tidy(root, [*written, *changed])
    return [*written, *changed]
