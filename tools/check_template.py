"""CI's proof that ForgeAPI works as a template: generated projects pass their own checks, before and after changes.

Three projects, each checked once with ruff, mypy, import-linter and its whole test suite on SQLite (a full run is
most of the time this takes, so each one proves something the others do not):

1. The default project: `copier copy` this repository (as committed, plus any uncommitted changes), example
   features included, synced from its own lock file, checked before it is a git repository (as a user who runs
   `uv run pytest` first would), and named only by its own name (`forgeapi` only where it credits its origin).
   (`forge feature new` in a project with the examples is tests/test_scaffold.py's, in ForgeAPI's own suite.)
2. A project without the example features (`example_features=false`), with `forge feature new invoices` run in
   it: the removal leaves a coherent project that a user's first feature joins; `forge serve` starts it without
   the examples' routes, and `copier update` to the same commit leaves it unchanged (the task takes the examples
   out of every copy copier renders, so an update never brings them back).
3. An update: `copier copy` an earlier ForgeAPI commit (`first_release`, from before the `example_features`
   question: its answers lack the key, which `--defaults` reads as true), add a feature there and commit it as a
   user would, `copier update` to this commit, and require a merge without conflicts but those the import
   contracts' wildcards bring to a project whose `forge feature new` had edited their lists (resolved as a user
   would: the new side), and those of two additions at one place in the lists features join (imports, routers,
   `__all__`, the route inventory; resolved as a user would: both); join the migration heads as a user would
   (`alembic merge heads`).

Run: `uv run python tools/check_template.py [fresh|lean|older ...]` (all three unless some are named; needs git, uv
and network access to the package index or uv's cache; about three runs of the SQLite test suite). Exits non-zero on
the first failure, printing that command's output.
"""

# ruff: noqa: T201 - a CI script: what it prints is its report

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from init_project import naming_the_template

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


def generate(destination: Path, *, ref: str | None = None, answers: tuple[str, ...] = (), git: bool = True) -> None:
    version = ["--vcs-ref", ref] if ref else []
    data = [
        part
        for answer in ("project_name=acme-orders", "description=Orders for Acme.", *answers)
        for part in ("--data", answer)
    ]
    run(COPIER, "copy", "--trust", "--defaults", "--quiet", *version, *data, REPO, destination, cwd=REPO)
    if git:
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
    run("uv", "run", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", cwd=project)


def add_feature(project: Path) -> None:
    run("uv", "run", "forge", "feature", "new", FEATURE, cwd=project)
    if not (project / "src" / "app" / "features" / FEATURE / "router.py").is_file():
        raise SystemExit(f"forge feature new {FEATURE} wrote no router")


def update(project: Path, *, resolve: Callable[[Path], None] | None = None) -> None:
    run(COPIER, "update", "--trust", "--defaults", "--quiet", "--conflict", "inline", "--vcs-ref", "HEAD", cwd=project)
    if resolve is not None:
        resolve(project)
    if conflicts := unresolved(project):
        raise SystemExit("copier update left conflicts:\n" + "\n".join(conflicts))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own server on 127.0.0.1
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def serves(project: Path, *, expected: dict[str, int]) -> None:
    """`forge serve` starts the project (migrating its SQLite database from .env) and answers `expected`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    print(f"$ .venv/bin/forge serve --port {port}   (in {project.name})", flush=True)
    server = subprocess.Popen(  # noqa: S603 - our own tool and arguments
        [str(project / ".venv" / "bin" / "forge"), "serve", "--port", str(port)],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _status(f"{base}/readyz") == 200:  # noqa: PLR2004 - HTTP OK
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                print(server.communicate()[0][-10_000:])
                raise SystemExit("forge serve did not become ready")
            time.sleep(0.5)
        answered = {path: _status(base + path) for path in expected}
        if answered != expected:
            raise SystemExit(f"forge serve answered {answered}, not {expected}")
        print(f"  ok  {answered}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


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


_CONFLICT = re.compile(r"^<<<<<<< before updating\n(.*?)^=======\n(.*?)^>>>>>>> after updating\n", re.M | re.S)
_OTHER_TABLE = re.compile(r"^\[\[?tool\.(?!importlinter)", re.M)


def take_the_new_contracts(project: Path) -> None:
    """The user's step after an update from before the import contracts named features by wildcard
    (docs/getting-started.md): `forge feature new` had edited the very lines the wildcards replaced, so each such
    conflict keeps the new side. Only conflicts inside `[tool.importlinter]` are resolved; any other stays for
    `unresolved` to report."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    start = text.find("[tool.importlinter]\n")
    if start < 0:
        return
    after = _OTHER_TABLE.search(text, start)
    end = after.start() if after else len(text)
    section = _CONFLICT.sub(lambda conflict: conflict.group(2), text[start:end])
    pyproject.write_text(text[:start] + section + text[end:], encoding="utf-8")


# Where `forge feature new` adds an entry to a list (imports and routers in main.py, models.py's imports and
# `__all__`, the OWASP route inventory): ForgeAPI adding one of its own next to the user's leaves both sides added.
_LISTS_FEATURES_JOIN = ("src/app/main.py", "src/app/models.py", "tests/test_owasp_api_top10.py")


def keep_both_added_entries(project: Path) -> None:
    """The user's step when an update adds entries to the lists `forge feature new` added the user's features to
    (docs/getting-started.md): each side added lines at the same place, and both stay, the user's first (sorted
    lists stay sorted when ForgeAPI's entry sorts after the user's, and `ruff check --fix` sorts imports either way).
    A conflict where a side is empty or the sides share a line is not a pair of additions, and stays for `unresolved`
    to report."""
    for relative in _LISTS_FEATURES_JOIN:
        path = project / relative
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")

        def both(conflict: re.Match[str]) -> str:
            ours, theirs = conflict.group(1), conflict.group(2)
            if not ours or not theirs or set(ours.splitlines()) & set(theirs.splitlines()):
                return conflict.group(0)
            return ours + theirs

        path.write_text(_CONFLICT.sub(both, text), encoding="utf-8")


def resolve_as_a_user_would(project: Path) -> None:
    take_the_new_contracts(project)
    keep_both_added_entries(project)


def merge_migration_heads(project: Path) -> None:
    """The user's step after an update that brought migrations written after the user's own (docs/getting-started.md):
    both descend from the same revision, so Alembic has two heads until a merge revision joins them."""
    heads = [line for line in run("uv", "run", "alembic", "heads", cwd=project).splitlines() if "(head)" in line]
    if len(heads) > 1:
        run("uv", "run", "alembic", "merge", "heads", "--message", "after copier update", cwd=project)


def check_fresh(work: Path) -> None:
    fresh = work / "fresh"  # 1. the default project, as generated
    generate(fresh, git=False)
    if named := naming_the_template(fresh):
        raise SystemExit(f"the generated project still names the template in: {', '.join(named)}")
    run("uv", "sync", "--frozen", cwd=fresh)
    check(fresh)


def check_lean(work: Path) -> None:
    lean = work / "lean"  # 2. without the example features, plus a feature of the user's own
    generate(lean, answers=("example_features=false",))
    run("uv", "sync", "--frozen", cwd=lean)
    add_feature(lean)
    check(lean)
    serves(lean, expected={"/api/v1/config": 200, f"/api/v1/{FEATURE}": 200, "/api/v1/products": 404})
    commit(lean, f"Add the {FEATURE} feature")
    if run("git", "status", "--porcelain", cwd=REPO).strip():
        # Copier made the project from a commit of its own, with those changes, which an update cannot find.
        print("  copier update of the project without the examples skipped: this repository has uncommitted changes")
    else:
        update(lean)
        if changed := run("git", "status", "--porcelain", cwd=lean).strip():
            raise SystemExit(f"copier update to the same commit changed the project without the examples:\n{changed}")


def check_older(work: Path) -> None:
    older = work / "older"  # 3. an update from before the example_features question
    generate(older, ref=first_release())
    run("uv", "sync", "--frozen", cwd=older)
    add_feature(older)
    commit(older, f"Add the {FEATURE} feature")
    update(older, resolve=resolve_as_a_user_would)
    if "example_features: true" not in (older / ".copier-answers.yml").read_text(encoding="utf-8"):
        raise SystemExit("copier update did not record example_features: true for a project that has them")
    run("uv", "sync", "--locked", cwd=older)
    merge_migration_heads(older)
    check(older)


CHECKS = {"fresh": check_fresh, "lean": check_lean, "older": check_older}


def main() -> None:
    """All three checks, or those named on the command line (`... check_template.py older` while fixing that one)."""
    names = sys.argv[1:] or list(CHECKS)
    if unknown := [name for name in names if name not in CHECKS]:
        raise SystemExit(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    work = Path(tempfile.mkdtemp(prefix="forgeapi-template-"))
    try:
        for name in names:
            CHECKS[name](work)
        print("Template checks passed.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
