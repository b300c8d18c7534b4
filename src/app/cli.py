"""The `forge` command: run the service, manage the database schema, and create administrators."""

import asyncio
import sys
from typing import Annotated

import typer
import uvicorn
from pydantic import SecretStr, ValidationError

from app.config import Settings
from app.core import migrations
from app.core.database import Database
from app.core.exceptions import ConflictError
from app.core.security import PasswordHasher
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate

__all__ = ["app", "main"]

app = typer.Typer(help="ForgeAPI: run and operate the service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
users_app = typer.Typer(help="User administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            typer.secho(f"Configuration error: {field + ': ' if field else ''}{error['msg']}", err=True, fg="red")
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (use PostgreSQL when > 1 host).")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Run the service with uvicorn. In development, pending migrations are applied first."""
    settings = _settings()
    if settings.effective_migrate_on_start:
        typer.echo(f"Applying migrations to {settings.database_url_masked} ...")
        migrations.upgrade(settings.database_url)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only for the printed URL
    if settings.docs_enabled:
        typer.secho(f"ForgeAPI docs: http://{shown_host}:{port}/docs", fg="green")
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrations.upgrade(_settings().database_url, revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    migrations.downgrade(_settings().database_url, revision)


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


async def _create_admin(settings: Settings, data: UserCreate) -> int:
    database = Database(settings)
    try:
        await migrations.ensure_schema_current(database.engine)
        async with database.session(writes=True) as session, session.begin():
            user = await users_service.register_user(
                session, data=data, hasher=PasswordHasher(settings), role=UserRole.ADMIN
            )
            return user.id
    finally:
        await database.dispose()


@users_app.command("create-admin")
def create_admin(email: Annotated[str, typer.Option(help="The administrator's e-mail address.")]) -> None:
    """Create an administrator. The password is prompted for, or read from stdin when it is not a terminal."""
    settings = _settings()
    try:
        data = UserCreate(email=email, password=SecretStr(_read_password()))
    except ValidationError as exc:
        for error in exc.errors():
            typer.secho(f"{error['loc'][0]}: {error['msg']}", err=True, fg="red")
        raise typer.Exit(code=2) from None
    try:
        user_id = asyncio.run(_create_admin(settings, data))
    except (ConflictError, migrations.SchemaMismatchError) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=1) from None
    typer.secho(f"Created administrator {data.email} (id {user_id}).", fg="green")


def main() -> None:
    app()
