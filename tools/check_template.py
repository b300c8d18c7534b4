"""CI's proof that ForgeAPI works as a template: generated projects pass their own checks, before and after changes.

1. `copier copy` this repository (as committed, plus any uncommitted changes) into a temporary folder, sync the
   new project from its own lock file, run its tests on SQLite; `forge feature new invoices` in it, then ruff,
   mypy, import-linter and the tests again.
2. `copier copy` an earlier ForgeAPI commit (`first_release`), add a feature there and commit it as a user would,
   `copier update` to this commit, and require a merge without conflicts; join the migration heads as a user would
   (`alembic merge heads`), then the same checks.

Run: `uv run python tools/check_template.py` (needs git, uv and network access to the package index or uv's cache;
about three runs of the SQLite test suite). Exits non-zero on the first failure, printing that command's output.
"""

# ruff: noqa: T201 - a CI script: what it prints is its report

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPIER = Path(sys.executable).with_name("copier")
GIT_USER = ["-c", "user.name=ForgeAPI CI", "-c", "user.email=ci@forgeapi.invalid"]
FEATURE = "invoices"


def _env() -> dict[str, str]:
    """The generated project's own environment: none of this one's settings, virtual environment or services."""
    dropped = ("FORGE_", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def run(*command: str | Path, cwd: Path) -> str:
    started = time.monotonic()
    print(f"$ {' '.join(map(str, command))}   (in {cwd.name})", flush=True)
    done = subprocess.run(  # noqa: S603 - our own tools and arguments
        [str(part) for part in command], cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        failures = done.stdout.find("= FAILURES =")  # pytest's: the skip summary after it can be long
        shown = done.stdout[failures:][:20_000] + "\n[...]\n" + done.stdout[-1_000:] if failures >= 0 else done.stdout
        print(shown[-40_000:], done.stderr[-10_000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, command))}")
    last = (done.stdout.strip().splitlines() or [""])[-1]
    print(f"  ok in {time.monotonic() - started:.0f} s  {last[:150]}", flush=True)
    return done.stdout


def generate(destination: Path, *, ref: str | None = None) -> None:
    version = ["--vcs-ref", ref] if ref else []
    answers = ["--data", "project_name=acme-orders", "--data", "description=Orders for Acme."]
    run(COPIER, "copy", "--trust", "--defaults", "--quiet", *version, *answers, REPO, destination, cwd=REPO)
    run("git", "init", "--quiet", cwd=destination)
    commit(destination, f"Generated from ForgeAPI {ref or 'HEAD'}")


def commit(project: Path, message: str) -> None:
    run("git", "add", "--all", cwd=project)
    run("git", *GIT_USER, "commit", "--quiet", "--message", message, cwd=project)


def check(project: Path) -> None:
    """What `.ci/run` checks, on SQLite: the generated project has no PostgreSQL or Redis of its own here."""
    run("uv", "run", "ruff", "check", ".", cwd=project)
    run("uv", "run", "ruff", "format", "--check", ".", cwd=project)
    run("uv", "run", "mypy", cwd=project)
    run("uv", "run", "lint-imports", cwd=project)
    run("uv", "run", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)


def add_feature(project: Path) -> None:
    run("uv", "run", "forge", "feature", "new", FEATURE, cwd=project)
    if not (project / "src" / "app" / "features" / FEATURE / "router.py").is_file():
        raise SystemExit(f"forge feature new {FEATURE} wrote no router")


def first_release() -> str:
    """The first commit whose `forge feature new` leaves a project's whole suite passing (it registers the new
    operations in the reviewed inventory): a user's project generated from it passes its tests, as a base for
    `copier update` should."""
    found = run("git", "log", "--format=%H", "-S", "INVENTORY_MARKER", "--", "src/app/scaffold/_generate.py", cwd=REPO)
    if not found.split():
        raise SystemExit("no such commit in the history here (a shallow clone?): fetch the full history first")
    return found.split()[-1]


def unresolved(project: Path) -> list[str]:
    """Files copier could not merge: conflict markers (`--conflict inline`) or leftover .rej files."""
    markers = subprocess.run(
        ["git", "grep", "--line-number", "-E", "^(<<<<<<<|>>>>>>>) "],  # noqa: S607 - git from PATH
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    return markers + [str(path.relative_to(project)) for path in project.rglob("*.rej")]


def merge_migration_heads(project: Path) -> None:
    """The user's step after an update that brought migrations written after the user's own (docs/getting-started.md):
    both descend from the same revision, so Alembic has two heads until a merge revision joins them."""
    heads = [line for line in run("uv", "run", "alembic", "heads", cwd=project).splitlines() if "(head)" in line]
    if len(heads) > 1:
        run("uv", "run", "alembic", "merge", "heads", "--message", "after copier update", cwd=project)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="forgeapi-template-"))
    try:
        fresh = work / "fresh"
        generate(fresh)
        run("uv", "sync", "--frozen", cwd=fresh)
        run("uv", "run", "pytest", "-q", "-p", "no:cacheprovider", cwd=fresh)
        add_feature(fresh)
        check(fresh)

        older = work / "older"
        generate(older, ref=first_release())
        run("uv", "sync", "--frozen", cwd=older)
        add_feature(older)
        commit(older, f"Add the {FEATURE} feature")
        run(
            COPIER, "update", "--trust", "--defaults", "--quiet", "--conflict", "inline", "--vcs-ref", "HEAD", cwd=older
        )
        if conflicts := unresolved(older):
            raise SystemExit("copier update left conflicts:\n" + "\n".join(conflicts))
        run("uv", "sync", "--locked", cwd=older)
        merge_migration_heads(older)
        check(older)
        print("Template checks passed.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
