"""`forge client`: typed clients of the service, generated from its OpenAPI document (docs/clients.md).

The document is the one the configuration serves: the built-in operations plus the dynamic endpoints stored in
the database (read as a starting instance reads them), or, with `--url`, whatever a running server serves at
`/openapi.json`. The generators are pinned here, so that every developer and CI generate the same code:

- TypeScript: @hey-api/openapi-ts, run by the machine's npm (`npx`). npx takes the pinned version from the current
  directory's `node_modules` when it is installed there (a front end that pins it in its package.json), and
  otherwise fetches exactly that version into npm's cache.
- Python: openapi-python-client, run by `uv tool run` in an environment of its own, cached by uv after the first
  run. Not a dependency group of this project: it pins typer below the version the `forge` command needs, and a
  group shares the project's one resolution, so adding it would downgrade the service's own dependencies.
"""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from app import DISTRIBUTION
from app.config import Settings
from app.core import migrations
from app.core.database import Database
from app.features.dynamic_endpoints import service as endpoints_service
from app.features.dynamic_endpoints.openapi import merged_document
from app.features.dynamic_endpoints.registry import Snapshot
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.main import OPENAPI_URL, create_app

__all__ = ["PYTHON_GENERATOR", "TYPESCRIPT_GENERATOR", "client_commands", "fetched_document", "service_document"]

TYPESCRIPT_GENERATOR = "@hey-api/openapi-ts@0.95.0"  # the newest release that runs on Node.js 20 (>= 20.19)
PYTHON_GENERATOR = "openapi-python-client==0.29.1"

# Plugins: the fetch client (no runtime dependency: its code is generated into OUT_DIR), one function per
# operation, and the types, with enums (ProblemType) as JavaScript objects too, so that code compares a problem's
# type with `ProblemType.INSUFFICIENT_STOCK` rather than a string.
_TYPESCRIPT_PLUGINS = [
    "@hey-api/client-fetch",
    "@hey-api/sdk",
    {"name": "@hey-api/typescript", "enums": "javascript"},
]

_URL_HELP = "Generate from the server at this base URL (or the URL of its OpenAPI document), not the configuration."
_OUT_HELP = "The directory to write the client to; replaced if it exists."


async def _stored_snapshot(settings: Settings) -> Snapshot:
    runtime = EndpointRuntime(max_specs=settings.dynamic_endpoints_max_specs)
    database = Database(settings)
    try:
        await migrations.ensure_schema_current(database.engine)
        async with database.session(writes=False) as session:
            await endpoints_service.load_registry(session, runtime, known_version=None)
    finally:
        await database.dispose()
    return runtime.snapshot


def service_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document that a server started with `settings` serves now: the dynamic endpoints included."""
    snapshot = asyncio.run(_stored_snapshot(settings))
    return merged_document(create_app(settings).openapi(), snapshot)


def fetched_document(url: str) -> dict[str, Any]:
    """The OpenAPI document at `url`, or at `url` + /openapi.json when `url` is a server's base URL."""
    if not url.rstrip("/").endswith(".json"):
        url = url.rstrip("/") + OPENAPI_URL
    response = httpx.get(url, timeout=30, follow_redirects=True)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg="red")
    return typer.Exit(code=1)


def _program(name: str, purpose: str) -> str:
    if (found := shutil.which(name)) is None:
        raise _fail(f"`{name}` is not on PATH: {purpose}")
    return found


def _generate(command: Sequence[str], *, what: str) -> None:
    # The generators' own output goes straight to the terminal: their warnings name the operation at fault.
    done = subprocess.run(command, check=False)  # noqa: S603 - fixed programs, our own arguments
    if done.returncode != 0:
        raise _fail(f"{what} failed (exit {done.returncode}).")


def _typescript(npx: str, document: Path, out_dir: Path, work: Path) -> None:
    config = {"input": str(document), "output": {"path": str(out_dir)}, "plugins": _TYPESCRIPT_PLUGINS}
    config_file = work / "openapi-ts.config.mjs"
    config_file.write_text(f"export default {json.dumps(config, indent=2)};\n", encoding="utf-8")
    _generate([npx, "--yes", TYPESCRIPT_GENERATOR, "--file", str(config_file)], what=TYPESCRIPT_GENERATOR)


def _python(uv: str, document: Path, out_dir: Path, work: Path, *, package: str) -> None:
    config_file = work / "openapi-python-client.json"  # its config is YAML, of which JSON is a part
    project = package.replace("_", "-")
    config_file.write_text(json.dumps({"project_name_override": project, "package_name_override": package}))
    _generate(
        [
            uv,
            "tool",
            "run",
            "--from",
            PYTHON_GENERATOR,
            "openapi-python-client",
            "generate",
            *("--path", str(document), "--output-path", str(out_dir), "--meta", "uv", "--config", str(config_file)),
            "--overwrite",
        ],
        what=PYTHON_GENERATOR,
    )


def client_commands(settings: Callable[[], Settings]) -> typer.Typer:
    """The `forge client` commands; `settings` reads the configuration (exiting with its errors when invalid)."""
    commands = typer.Typer(
        help="Typed clients of this API, generated from its OpenAPI document (docs/clients.md).",
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    def document(url: str | None) -> dict[str, Any]:
        try:
            return fetched_document(url) if url else service_document(settings())
        except migrations.SchemaMismatchError as exc:
            raise _fail(str(exc)) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise _fail(f"No OpenAPI document at {url}: {exc}") from None

    def generate(url: str | None, run: Callable[[Path, Path], None]) -> None:
        spec = document(url)
        with tempfile.TemporaryDirectory(prefix="forge-client-") as work:
            path = Path(work) / "openapi.json"
            path.write_text(json.dumps(spec), encoding="utf-8")
            run(path, Path(work))

    @commands.command("openapi")
    def openapi(
        url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
    ) -> None:
        """Print the OpenAPI document the clients are generated from (to commit it, or for other generators)."""
        typer.echo(json.dumps(document(url), indent=2, sort_keys=True))

    @commands.command("typescript")
    def typescript(
        out_dir: Annotated[Path, typer.Argument(help=_OUT_HELP, file_okay=False)],
        url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
    ) -> None:
        """A typed TypeScript client (fetch, no runtime dependency), by @hey-api/openapi-ts through npx."""
        npx = _program("npx", "install Node.js (20.19 or later) and npm to generate the TypeScript client")
        generate(url, lambda spec, work: _typescript(npx, spec, out_dir.resolve(), work))
        typer.secho(f"TypeScript client written to {out_dir}.", fg="green")

    @commands.command("python")
    def python(
        out_dir: Annotated[Path, typer.Argument(help=_OUT_HELP, file_okay=False)],
        url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
        package: Annotated[str, typer.Option(help="The package's import name.")] = f"{DISTRIBUTION}_client".replace(
            "-", "_"
        ),
    ) -> None:
        """A typed Python package (httpx and attrs), by openapi-python-client through `uv tool run`."""
        uv = os.environ.get("UV") or _program("uv", "install uv (docs.astral.sh/uv) to generate the Python client")
        generate(url, lambda spec, work: _python(uv, spec, out_dir.resolve(), work, package=package))
        typer.secho(f"Python client written to {out_dir} (package {package}).", fg="green")

    return commands
