"""`forge mcp`: the app's MCP server over stdio (app.mcp.stdio), run for one API key or token."""

import asyncio

import typer

from app.config import Settings
from app.core import migrations
from app.main import create_app
from app.mcp.stdio import credentials, serve_stdio

__all__ = ["run_mcp"]


def run_mcp(settings: Settings, *, api_key: str | None, token: str | None) -> None:
    if not settings.mcp_enabled:
        typer.secho("MCP is off: set FORGE_MCP_ENABLED=true (docs/mcp.md).", err=True, fg="red")
        raise typer.Exit(code=2)
    headers = credentials(api_key=api_key, token=token)
    if not headers:
        typer.secho("Give an API key (--api-key or FORGE_MCP_API_KEY) or a token.", err=True, fg="red")
        raise typer.Exit(code=2)
    # This process serves one agent's calls: the job queue is for the servers' workers.
    settings = settings.model_copy(update={"jobs_run_in_server": False})
    try:
        asyncio.run(serve_stdio(create_app(settings), settings, headers))
    except migrations.SchemaMismatchError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(code=1) from None
