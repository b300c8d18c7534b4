"""After `copier copy`: name the new project, give it its own secrets, relock, and say what to run next; without
the example features (`--example-features remove`), take products and orders out first (tools/example_features.py).

Run by copier's `_tasks` (copier.yml) in the new project's directory, with the standard library only (the project
has no virtual environment yet). Safe to run again (`copier update`): an existing .env is never overwritten, so the
project keeps its keys and the data encrypted with them, and a project without the examples is left without them.
"""

import argparse
import base64
import json
import re
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from example_features import remove_example_features

TEMPLATE_NAME = "forgeapi"


def _replace_once(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text(encoding="utf-8")
    changed, count = re.subn(pattern, lambda _: replacement, text, count=1, flags=re.MULTILINE)
    if count != 1:
        msg = f"{path}: found no line matching {pattern!r} to rename"
        raise SystemExit(msg)
    path.write_text(changed, encoding="utf-8")


# What a project keeps of the template's files, where ForgeAPI names itself in lower case (a database, a compose
# project, an image, a problem type's URN...).
_RENAMED = (
    *("README.md", "pyproject.toml", "alembic.ini"),
    *(".ci", "alembic", "benchmarks", "docker", "docs", "src", "tests"),
)
# Where a project still names ForgeAPI in lower case, as its origin: the template's path or URL, this tool, and how
# a project is made from ForgeAPI.
ORIGIN = (".copier-answers.yml", "tools/init_project.py", "docs/getting-started.md")
# A database's name, or its start (forgeapi_test, ./var/forgeapi.db, .../5432/forgeapi, POSTGRES_DB, pg_isready -d,
# benchmarks/faults.py's DATABASE): the project's name with underscores, which SQL and `createdb` take unquoted.
_DATABASE = re.compile(
    "|".join(
        [
            rf"{TEMPLATE_NAME}(?=_\w|\.db\b)",
            rf"(?<=:5432/){TEMPLATE_NAME}\b",
            rf"(?<=POSTGRES_DB: ){TEMPLATE_NAME}\b",
            rf"(?<=-d ){TEMPLATE_NAME}\b",
            rf'(?<=DATABASE = "){TEMPLATE_NAME}\b',
        ]
    )
)


def _rename_everywhere(root: Path, *, name: str) -> None:
    """Every other lower-case `forgeapi` becomes the project's name: two services from the template never share a
    compose project, an image, a database, a JWT audience or an OpenTelemetry service name."""
    database = name.replace("-", "_")
    for top in _RENAMED:
        for path in [root / top] if (root / top).is_file() else sorted((root / top).rglob("*")):
            if not path.is_file() or path.relative_to(root).as_posix() in ORIGIN:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:  # an image or a font
                continue
            renamed = _DATABASE.sub(database, text).replace(TEMPLATE_NAME, name)
            if renamed != text:
                path.write_text(renamed, encoding="utf-8")


def naming_the_template(root: Path) -> list[str]:
    """The project's files, its origin aside, that still name the template in lower case (what tools/check_template.py
    and tests/test_copier_template.py require to be none)."""
    skipped = {".git", ".venv", "var", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return [
        path.relative_to(root).as_posix()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and skipped.isdisjoint(path.relative_to(root).parts)
        and path.relative_to(root).as_posix() not in ORIGIN
        and TEMPLATE_NAME.encode() in path.read_bytes()
    ]


def rename(root: Path, *, name: str, title: str, description: str) -> None:
    """Project metadata: the distribution name and description, the README's heading, the service's title (src/app's
    __init__.py, which the code takes its names from), then every other place the template names itself."""
    # json.dumps gives a string that is valid both as a TOML basic string and as a Python literal.
    _replace_once(root / "pyproject.toml", r'^name = "forgeapi"$', f"name = {json.dumps(name)}")
    _replace_once(root / "pyproject.toml", r"^description = .*$", f"description = {json.dumps(description)}")
    heading = f"# {title}\n\n{description}\n\nBuilt from the ForgeAPI template."
    _replace_once(root / "README.md", r"^# ForgeAPI$", heading)
    package = root / "src" / "app" / "__init__.py"
    # The package reads its version and description from the distribution's metadata, by the distribution's name.
    _replace_once(package, r'^DISTRIBUTION = "forgeapi"$', f"DISTRIBUTION = {json.dumps(name)}")
    _replace_once(package, r'^TITLE = "ForgeAPI"$', f"TITLE = {json.dumps(title)}")
    _rename_everywhere(root, name=name)


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def env_file(*, name: str, database: str) -> str:
    """A .env with secrets of this project alone; every run draws new ones."""
    database_name = name.replace("-", "_")
    url = (
        f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database_name}"
        if database == "postgresql"
        else f"sqlite+aiosqlite:///./var/{database_name}.db"
    )
    return "\n".join(
        [
            f"# Written for {name} on {datetime.now(UTC):%Y-%m-%d}: this project's own secrets. Never commit it.",
            f"FORGE_DATABASE_URL={url}",
            f"FORGE_SECRET_KEY={secrets.token_urlsafe(48)}",
            f"FORGE_API_KEY_PEPPER={secrets.token_urlsafe(48)}",
            f"FORGE_ENCRYPTION_KEYS={_key()}",
            f"FORGE_BLIND_INDEX_KEY={_key()}",
            # Production serves /metrics only to a scraper that sends it (or on FORGE_METRICS_PORT instead).
            f"FORGE_METRICS_TOKEN={secrets.token_urlsafe(32)}",
            "",
        ]
    )


def relock(root: Path) -> bool:
    """The lock file names the project: lock again under the new name (from uv's cache when it can).

    With the project's own .python-version as `--python`: uv otherwise takes its interpreter from the environment
    copier runs in (UV_PYTHON, an active virtual environment, the Python uv was installed into), which may not
    satisfy `requires-python`. A failure prints uv's own message, not a guess at its cause."""
    uv = shutil.which("uv")
    if uv is None:
        print("uv is not on PATH: run `uv lock` in the new project before `uv sync --frozen`.")  # noqa: T201
        return False
    pinned = root / ".python-version"
    python = ["--python", pinned.read_text(encoding="utf-8").strip()] if pinned.is_file() else []
    for command in ([uv, "lock", "--offline", *python], [uv, "lock", *python]):
        # uv with fixed arguments
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode == 0:
            return True
    print(  # noqa: T201
        f"`uv lock` failed (exit status {done.returncode}); once the cause below is fixed, run `uv lock` in the new "
        f"project:\n{done.stderr.strip()}"
    )
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--title", required=True)
    parser.add_argument("--description", required=True)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--example-features", choices=["keep", "remove"], default="keep")
    args = parser.parse_args()
    root = Path.cwd()

    if args.example_features == "remove" and remove_example_features(root):
        print("The example features (products, orders) are left out: README.md says what that leaves.")  # noqa: T201
    if args.name != TEMPLATE_NAME and 'name = "forgeapi"' in (root / "pyproject.toml").read_text(encoding="utf-8"):
        rename(root, name=args.name, title=args.title, description=args.description)
        relock(root)
    env = root / ".env"
    if env.exists():
        print(".env exists: kept as it is (its keys protect data already written).")  # noqa: T201
    else:
        env.write_text(env_file(name=args.name, database=args.database), encoding="utf-8")
        env.chmod(0o600)
    createdb = f"  createdb -h 127.0.0.1 -U postgres {args.name.replace('-', '_')}\n"
    print(  # noqa: T201
        f"\n{args.title} is ready. Next:\n"
        "  uv sync\n"
        + (createdb if args.database == "postgresql" else "")
        + "  uv run forge serve                   # http://127.0.0.1:8000/docs\n"
        "  uv run forge feature new invoices    # your first feature: a slice, its tests, its migration\n"
        "  uv run pytest\n"
    )


if __name__ == "__main__":
    main()
