"""The `forge` command: run the service and its job workers, manage the database schema, and administer it."""

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from alembic.util import CommandError
from pydantic import SecretStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import ChangeReload, Multiprocess

from app import TITLE
from app.client_generation import client_commands
from app.config import AsgiServer, Settings
from app.core import migrations
from app.core.api_keys import ApiKeyHasher
from app.core.database import Database, utcnow
from app.core.encryption import DecryptionError, configure_encryption, load_keys
from app.core.events import Events
from app.core.exceptions import ForgeError, InvalidInputError
from app.core.jobs import Job, JobState, cancel_job, list_jobs, retry_job
from app.core.jobs.process import EndpointBindError, run_worker
from app.core.key_rotation import RotationReport, rotate_all
from app.core.logging import configure_logging
from app.core.mail import configured_mailer
from app.core.metrics import MetricsDirectoryInUseError, server_metrics_directory
from app.core.pagination import PageParams
from app.core.problems import error_message
from app.core.ratelimit import build_policies
from app.core.security import PasswordHasher
from app.features.api_keys import service as api_keys_service
from app.features.api_keys.models import Scope
from app.features.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.features.dynamic_endpoints import service as endpoints_service
from app.features.dynamic_endpoints.schemas import EndpointSpecWrite
from app.features.dynamic_endpoints.sync import announce
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from app.jobs import event_subscriptions, job_registry
from app.models import metadata
from app.scaffold import ScaffoldError, new_feature

__all__ = ["app", "main"]


def _commands(help_text: str) -> typer.Typer:
    # Help as plain text: in rich markup, "[default: FORGE_HOST, 127.0.0.1]" is a tag and vanished ("Interface to
    # bind ."), and every flag showed a "<bool>" type.
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


app = _commands(f"{TITLE}: run and operate the service.")
db_app = _commands("Database schema migrations (Alembic).")
users_app = _commands("User administration.")
keys_app = _commands("API keys: issue, list and revoke keys for a user.")
encryption_app = _commands("Field-level encryption.")
endpoints_app = _commands("Dynamic endpoint specs: export them for version control, import them back.")
feature_app = _commands("Feature slices: scaffold a new one.")
jobs_app = _commands("Background jobs: list them, retry a dead one, cancel one that has not run (docs/jobs.md).")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(encryption_app, name="encryption")
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(feature_app, name="feature")
app.add_typer(jobs_app, name="jobs")


def _refuse(exc: ValidationError, *, name: Callable[[str], str] = str, prefix: str = "") -> NoReturn:
    """Print each of `exc`'s errors on a line of its own (`name` of the field: the message), then exit 2."""
    for error in exc.errors():
        if error["type"] == "default_factory_not_called":  # a default derived from a field that failed: no news
            continue
        field, message = name(".".join(str(part) for part in error["loc"])), error_message(error)
        where = "" if not field or message.startswith(field) else f"{field}: "  # some messages name it already
        typer.secho(f"{prefix}{where}{message}", err=True, fg="red")
    raise typer.Exit(code=2)


def _variable(field: str) -> str:
    """The environment variable of a setting (`rate_limit_default` -> FORGE_RATE_LIMIT_DEFAULT)."""
    top = field.split(".", 1)[0]
    return f"FORGE_{top.upper()}" if top in Settings.model_fields else top


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        _refuse(exc, name=_variable, prefix="Configuration error: ")


app.add_typer(client_commands(_settings), name="client")


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM itself while it serves (a graceful shutdown that runs the lifespan's shutdown), then
    # raises the signal again with the handler it found at start: this one. Exit 0 (a clean, requested stop) rather
    # than die of the signal (143 in a container). Before uvicorn starts, SIGTERM lands here directly.
    raise SystemExit(0)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [default: FORGE_HOST, 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: FORGE_PORT, 8000].")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (use PostgreSQL when > 1) [default: FORGE_WORKERS, 1].")
    ] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    server: Annotated[
        AsgiServer | None,
        typer.Option(help="The ASGI server [default: FORGE_SERVER, granian] (docs/performance.md compares them)."),
    ] = None,
) -> None:
    """Run the service. In development, pending migrations are applied first."""
    settings = _settings()
    # This process logs too (generated keys, migrations, the server's own lines): in the service's one format.
    configure_logging(settings)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    server = server or settings.server
    try:
        # Everything the app derives from the settings, checked here once: a bad value is one line naming its
        # variable, not a traceback in every worker until the server's crash-loop guard gives up.
        load_keys(settings)  # in development, this also generates missing keys once, before any worker starts
        build_policies(settings)
    except ValueError as exc:
        typer.secho(f"Configuration error: {exc}", err=True, fg="red")
        raise typer.Exit(code=2) from None
    metrics_port = settings.metrics_port if settings.metrics_enabled else None
    _check_metrics_port(metrics_port, port=port, server=server)
    if settings.effective_migrate_on_start:
        typer.echo(f"Applying migrations to {settings.database_url_masked} ...")
        migrations.upgrade(settings.database_url)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only for the printed URL
    if settings.docs_enabled:
        typer.secho(f"{TITLE} docs: http://{shown_host}:{port}/docs", fg="green")
    if metrics_port is not None:
        typer.secho(f"{TITLE} metrics: http://{shown_host}:{metrics_port}/metrics", fg="green")
    signal.signal(signal.SIGTERM, _exit_cleanly)

    with ExitStack() as stack:
        _share_metrics(settings, stack)
        if server is AsgiServer.GRANIAN:
            _serve_with_granian(host=host, port=port, workers=workers, reload=reload, settings=settings)
            return
        _serve_with_uvicorn(
            host=host, port=port, metrics_port=metrics_port, workers=workers, reload=reload, settings=settings
        )


def _share_metrics(settings: Settings, stack: ExitStack) -> None:
    """A directory where every worker of this run keeps its metrics, so that one scrape reports them all (even with
    one worker: granian replaces a worker that dies, and its counts must stay), fresh for this run (an earlier
    run's counts would be counted again), kept until `stack` closes."""
    if not settings.metrics_enabled:
        return
    try:
        directory = stack.enter_context(server_metrics_directory(settings.metrics_dir))
    except (MetricsDirectoryInUseError, OSError) as exc:
        typer.secho(f"Configuration error: FORGE_METRICS_DIR: {exc}", err=True, fg="red")
        raise typer.Exit(code=2) from None
    # The workers read their settings from the environment they inherit: this is how they learn where it is.
    stack.enter_context(_environment("FORGE_METRICS_DIR", str(directory)))


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """`name` set to `value`, then as it was (the tests run `serve` in-process, and go on)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _check_metrics_port(metrics_port: int | None, *, port: int, server: AsgiServer) -> None:
    if metrics_port is None:
        return
    if metrics_port == port:
        msg = f"FORGE_METRICS_PORT ({metrics_port}) must differ from the app's port ({port})"
    elif server is AsgiServer.GRANIAN:
        # granian's workers share the one socket its supervisor binds: there is no second listener to give them.
        msg = (
            "FORGE_METRICS_PORT needs FORGE_SERVER=uvicorn (granian listens on one address only); with granian, "
            "protect /metrics with FORGE_METRICS_TOKEN instead"
        )
    else:
        return
    typer.secho(f"Configuration error: {msg}", err=True, fg="red")
    raise typer.Exit(code=2)


def _serve_with_uvicorn(
    *, host: str, port: int, metrics_port: int | None, workers: int, reload: bool, settings: Settings
) -> None:
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": None if reload else workers,
        "reload": reload,
        "access_log": False,
        "log_config": None,
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
        "timeout_worker_healthcheck": settings.worker_healthcheck_timeout_seconds,
        # uvicorn has no timeout on reading a request's headers; this bounds only an idle keep-alive connection.
        "timeout_keep_alive": settings.http_header_timeout_seconds,
    }
    if metrics_port is None:
        uvicorn.run("app.main:app", **options)
    else:
        _serve_with_metrics_socket(uvicorn.Config("app.main:app", **options), metrics_port=metrics_port)


def _serve_with_metrics_socket(config: uvicorn.Config, *, metrics_port: int) -> None:
    """What uvicorn.run does, with the metrics port as a second socket of the same server.

    Every worker serves both sockets, so a scrape on the metrics port reaches the app itself, and whatever it
    serves there (one worker's counters today, the workers' aggregate once they share them) needs no other
    process. (uvicorn.run takes one address; its Server and supervisors take a list of sockets.)
    """
    metrics = uvicorn.Config(config.app, host=config.host, port=metrics_port)
    sockets = [config.bind_socket(), metrics.bind_socket()]
    server = uvicorn.Server(config)
    if config.should_reload:
        ChangeReload(config, target=server.run, sockets=sockets).run()
    elif config.workers > 1:
        Multiprocess(config, sockets=sockets).run()
    else:
        server.run(sockets=sockets)
        if not server.started:  # as uvicorn.run: a lifespan that failed is a failed start
            raise typer.Exit(code=STARTUP_FAILURE)


def _serve_with_granian(*, host: str, port: int, workers: int, reload: bool, settings: Settings) -> None:
    from granian.constants import Interfaces, Loops  # noqa: PLC0415 - only this server needs it
    from granian.http import HTTP1Settings  # noqa: PLC0415
    from granian.server import Server as Granian  # noqa: PLC0415
    from watchfiles import PythonFilter  # noqa: PLC0415

    Granian(
        "app.main:app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        reload=reload,
        # As uvicorn's --reload: Python files of the app only. granian's default watches every file under the
        # working directory, so each write to the SQLite database under ./var/ restarted the worker.
        reload_paths=[Path(__file__).resolve().parent],
        reload_filter=PythonFilter,
        log_access=False,
        # granian's own lines go to the root logger, which configure_logging set up, instead of granian's handler
        # (its own format, no time): one format for every line, the app's.
        log_dictconfig={
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {},
            "handlers": {},
            "loggers": {"_granian": {"handlers": [], "propagate": True}},
        },
        # As uvicorn's graceful-shutdown timeout: in-flight requests get this long after SIGTERM, then the worker
        # is killed (without it granian waits for a stuck worker forever).
        workers_kill_timeout=settings.shutdown_timeout_seconds,
        # As uvicorn's supervisor: a worker that dies (killed for memory, say) is replaced; one that dies again
        # within seconds (a crash loop, such as a schema that does not match the code) stops the server, exit 1.
        respawn_failed_workers=True,
        # Headers not complete within this long (a slow sender, or a keep-alive connection with no next request):
        # the connection is closed. Set here rather than left to granian's default (30 s), which may change.
        http1_settings=HTTP1Settings(header_read_timeout=settings.http_header_timeout_seconds * 1000),
    ).serve()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = _settings()
    _report(settings, _migrate(migrations.upgrade, settings.database_url, revision), "Upgraded")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    settings = _settings()
    _report(settings, _migrate(migrations.downgrade, settings.database_url, revision), "Downgraded")


def _migrate(
    action: Callable[[str, str], migrations.Migrated], database_url: str, revision: str
) -> migrations.Migrated:
    """Alembic's refusals (an unknown revision, an ambiguous step) as one line and exit 1, not a traceback."""
    try:
        return action(database_url, revision)
    except CommandError as exc:
        typer.secho(f"Migration refused: {exc}", err=True, fg="red")
        raise typer.Exit(code=1) from None


def _report(settings: Settings, migrated: migrations.Migrated, verb: str) -> None:
    database = settings.database_url_masked
    if not migrated.steps:
        typer.echo(f"{database} is already at {migrated.before or 'an empty schema (base)'}: nothing to do.")
        return
    shown = [revision or "an empty schema (base)" for revision in (migrated.before, migrated.after)]
    typer.secho(f"{verb} {database} from {shown[0]} to {shown[1]}:", fg="green")
    for step in migrated.steps:
        typer.echo(f"  {step}")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does.")],
    autogenerate: Annotated[bool, typer.Option(help="Diff the models against the database.")] = True,
) -> None:
    """Write a new migration file under alembic/versions/."""
    migrations.make_revision(_settings().database_url, message=message, autogenerate=autogenerate)


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("create-admin")
def create_admin(email: Annotated[str, typer.Option(help="The administrator's e-mail address.")]) -> None:
    """Create an administrator. The password is prompted for, or read from stdin when it is not a terminal. Its
    e-mail address counts as verified: an operator vouches for it (no verification mail is sent)."""
    settings = _settings()
    try:
        data = UserCreate(email=email, password=SecretStr(_read_password()))
    except ValidationError as exc:
        _refuse(exc)

    async def create(session: AsyncSession) -> int:
        hasher = PasswordHasher(settings)
        user = await users_service.register_user(session, data=data, hasher=hasher, role=UserRole.ADMIN, verified=True)
        return user.id

    user_id = _run(settings, create)
    typer.secho(f"Created administrator {data.email} (id {user_id}).", fg="green")


async def _in_transaction[T](settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    configure_encryption(load_keys(settings))
    database = Database(settings)
    try:
        await migrations.ensure_schema_current(database.engine)
        async with database.session(writes=True) as session, session.begin():
            return await work(session)
    finally:
        await database.dispose()


def _run[T](settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_in_transaction(settings, work))
    except (ForgeError, migrations.SchemaMismatchError) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=1) from None


@keys_app.command("issue")
def keys_issue(
    email: Annotated[str, typer.Option(help="The owner's e-mail address.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[
        list[Scope],
        typer.Option(metavar="SCOPE", help=f"One of {', '.join(Scope)}; repeat for several."),
    ],
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Expire after this many days.")] = None,
) -> None:
    """Issue a key and print its secret (this once)."""
    settings = _settings()
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        data = ApiKeyCreate(name=name, scopes=scope, expires_at=expires_at)
    except ValidationError as exc:
        _refuse(exc)

    async def issue(session: AsyncSession) -> ApiKeyCreated:
        owner = await users_service.get_user_by_email(session, email=email)
        hasher = ApiKeyHasher(settings.api_key_pepper.get_secret_value())
        return await api_keys_service.issue(
            session, user_id=owner.id, is_admin=owner.is_admin, data=data, hasher=hasher
        )

    created = _run(settings, issue)
    typer.echo(
        f"Issued key {created.id} ({' '.join(created.scopes)}) for {email}. Store it now; it is not shown again:"
    )
    typer.echo(created.key)


@keys_app.command("list")
def keys_list(email: Annotated[str, typer.Option(help="The owner's e-mail address.")]) -> None:
    """List a user's keys (never their secrets)."""
    settings = _settings()

    async def listing(session: AsyncSession) -> Sequence[ApiKeyRead]:
        owner = await users_service.get_user_by_email(session, email=email)
        return await api_keys_service.list_keys(session, user_id=owner.id)

    for key in _run(settings, listing):
        if key.revoked_at:
            state = "revoked"
        elif key.expires_at and key.expires_at <= utcnow():
            state = f"expired {key.expires_at:%Y-%m-%d}"
        else:
            state = f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "active"
        typer.echo(f"{key.id}\t{key.hint}\t{key.name}\t{' '.join(key.scopes)}\t{state}")


@keys_app.command("revoke")
def keys_revoke(
    email: Annotated[str, typer.Option(help="The owner's e-mail address.")],
    key_id: Annotated[int, typer.Argument(help="The key's id (see `forge keys list`).")],
) -> None:
    """Revoke a key at once."""
    settings = _settings()

    async def revoke(session: AsyncSession) -> None:
        owner = await users_service.get_user_by_email(session, email=email)
        await api_keys_service.revoke(session, user_id=owner.id, key_id=key_id)

    _run(settings, revoke)
    typer.echo(f"Revoked key {key_id}.")


async def _rotate(settings: Settings, *, batch_size: int, max_batches: int) -> list[RotationReport]:
    keys = load_keys(settings)
    configure_encryption(keys)
    database = Database(settings)
    try:
        await migrations.ensure_schema_current(database.engine)
        return await rotate_all(database.engine, keys, metadata, batch_size=batch_size, max_batches=max_batches)
    finally:
        await database.dispose()


@encryption_app.command("rotate")
def encryption_rotate(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 500,
    max_batches: Annotated[int | None, typer.Option(min=1, help="Stop after this many batches per column.")] = None,
) -> None:
    """Re-encrypt every encrypted column with the newest key in FORGE_ENCRYPTION_KEYS. Safe to interrupt and rerun.

    Rotation: put the new key first in FORGE_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this until it
    reports every column finished, then drop the old keys.
    """
    settings = _settings()
    try:
        reports = asyncio.run(_rotate(settings, batch_size=batch_size, max_batches=max_batches or 10**9))
    except (DecryptionError, migrations.SchemaMismatchError) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=1) from None
    for report in reports:
        state = "finished" if report.finished else "more to do: run again"
        typer.echo(f"{report.column}: {report.rotated} re-encrypted, {report.already_current} already current, {state}")
        if report.undecryptable:
            shown = ", ".join(str(row_id) for row_id in report.undecryptable[:20])
            typer.secho(
                f"  {len(report.undecryptable)} value(s) no key can decrypt, left as they are: ids {shown}", fg="red"
            )
    if any(report.undecryptable for report in reports):
        raise typer.Exit(code=1)


@endpoints_app.command("export")
def endpoints_export() -> None:
    """Print every spec as a JSON array, ordered by name, without ids, versions or timestamps."""
    specs = _run(_settings(), endpoints_service.export_specs)
    typer.echo(json.dumps([spec.model_dump(mode="json", exclude_none=True) for spec in specs], indent=2))


_SPEC_LIST = TypeAdapter(list[EndpointSpecWrite])


@endpoints_app.command("import")
def endpoints_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A JSON array of specs (as exported).")],
) -> None:
    """Create or replace specs by name, validated as the admin API does; all of them or none."""
    settings = _settings()
    try:
        specs = _SPEC_LIST.validate_python(json.loads(file.read_text(encoding="utf-8")))
    except ValidationError as exc:
        for error in exc.errors():
            where = "/".join(str(part) for part in error["loc"])
            typer.secho(f"{file}: #/{where}: {error_message(error)}", err=True, fg="red")
        raise typer.Exit(code=2) from None
    except ValueError as exc:  # not JSON at all
        typer.secho(f"{file}: {exc}", err=True, fg="red")
        raise typer.Exit(code=2) from None

    async def upsert(session: AsyncSession) -> endpoints_service.ImportReport:
        return await endpoints_service.import_specs(
            session, specs=specs, runtime=None, max_specs=settings.dynamic_endpoints_max_specs
        )

    try:
        report = asyncio.run(_in_transaction(settings, upsert))
    except InvalidInputError as exc:
        typer.secho(exc.detail, err=True, fg="red")
        for field_error in exc.errors:
            typer.secho(f"  {field_error.pointer}: {field_error.message}", err=True, fg="red")
        raise typer.Exit(code=1) from None
    except (ForgeError, migrations.SchemaMismatchError) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=1) from None
    if report.created or report.updated:  # nothing written: no new version for running instances to load
        asyncio.run(announce(settings, report.version))
    typer.echo(
        f"Imported {len(specs)} spec(s): {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="Jobs run at once [default: FORGE_JOBS_CONCURRENCY, 10]."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve /metrics, /healthz and /readyz on this port, on FORGE_HOST "
            "[default: FORGE_JOBS_METRICS_PORT, none].",
        ),
    ] = None,
) -> None:
    """Run the app's jobs until SIGTERM or SIGINT. Any number of workers may run, on any hosts (PostgreSQL); set
    FORGE_JOBS_RUN_IN_SERVER=false when they replace the server's embedded one."""
    settings = _settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"jobs_concurrency": concurrency})
    configure_logging(settings)
    port = metrics_port or settings.jobs_metrics_port
    try:
        keys = load_keys(settings)
        configure_encryption(keys)
        events = Events(event_subscriptions())  # a job's events feed the same subscribers as the server's
        mailer = configured_mailer(settings, keys)
        asyncio.run(run_worker(settings, job_registry(settings), events=events, mailer=mailer, metrics_port=port))
    except migrations.SchemaMismatchError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=1) from None
    except EndpointBindError as exc:
        typer.secho(f"Configuration error: FORGE_JOBS_METRICS_PORT: {exc}", err=True, fg="red")
        raise typer.Exit(code=2) from None


@app.command()
def mcp(
    api_key: Annotated[
        str | None, typer.Option(envvar="FORGE_MCP_API_KEY", help="The API key (fgk_...) the session acts with.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="FORGE_MCP_TOKEN", help="Or a bearer access token, instead of a key.")
    ] = None,
) -> None:
    """Serve the API's operations as MCP tools over stdin/stdout, for a desktop agent (docs/mcp.md)."""
    from app.mcp_command import run_mcp  # noqa: PLC0415 - the MCP SDK loads only for this command

    run_mcp(_settings(), api_key=api_key, token=token)


def _job_line(job: Job) -> str:
    error = (job.last_error or "").splitlines()[0][:120] if job.last_error else ""
    return (
        f"{job.id}\t{job.type}\t{job.state}\tattempt {job.attempts}/{job.max_attempts}"
        f"\t{job.run_at:%Y-%m-%dT%H:%M:%SZ}\t{error}"
    )


@jobs_app.command("list")
def jobs_list(
    state: Annotated[JobState | None, typer.Option(help="Only the jobs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 50,
) -> None:
    """List jobs, newest first: id, type, state, attempts, when due, and the last error's first line."""

    async def listing(session: AsyncSession) -> Sequence[Job]:
        return (await list_jobs(session, state=state, params=PageParams(size=limit)))[:limit]  # it reads one more

    for job in _run(_settings(), listing):
        typer.echo(_job_line(job))


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[int, typer.Argument(help="The job's id (see `forge jobs list`).")]) -> None:
    """Queue a dead or cancelled job again, due now, with all its attempts."""

    # Not audited: the audit trail records administrators' actions through the API and the console
    # (docs/security.md#audit-trail); whoever runs the CLI has the database itself.
    async def retry(session: AsyncSession) -> Job:
        return await retry_job(session, job_id=job_id)

    typer.echo(_job_line(_run(_settings(), retry)))


@jobs_app.command("cancel")
def jobs_cancel(job_id: Annotated[int, typer.Argument(help="The job's id (see `forge jobs list`).")]) -> None:
    """Cancel a queued (or scheduled, or awaiting a retry) or dead job."""

    async def cancel(session: AsyncSession) -> Job:
        return await cancel_job(session, job_id=job_id)

    typer.echo(_job_line(_run(_settings(), cancel)))


@feature_app.command("new")
def feature_new(
    name: Annotated[str, typer.Argument(help="The feature's package and plural name, e.g. invoices or line_items.")],
    singular: Annotated[
        str | None, typer.Option(help="The singular (variables, the table); derived from NAME when left out.")
    ] = None,
    project: Annotated[
        Path, typer.Option(file_okay=False, help="The project's root directory.", show_default="the current one")
    ] = Path(),
) -> None:
    """Write a complete feature slice (CRUD, pagination, audited admin-only writes), its tests and its migration."""
    try:
        written = new_feature(project, name, singular=singular)
    except ScaffoldError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=2) from None
    for path in written:
        typer.echo(f"  {path}")
    typer.secho(f"Feature {name!r} written. Next:", fg="green")
    typer.echo(f"  uv run forge db upgrade\n  uv run pytest tests/features/{name}")


def main() -> None:
    app()


if __name__ == "__main__":  # python -m app.cli, where the `forge` script is not installed
    main()
