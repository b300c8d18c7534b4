import asyncio
import gc
from pathlib import Path

import pytest
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from app.core import migrations
from app.core.migrations import SchemaMismatchError
from app.main import create_app
from tests.support import databases
from tests.support.app import running
from tests.support.settings import PRODUCTION_SECRETS, make_settings


async def test_the_service_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    await databases.recreate(url)
    app = create_app(make_settings(url, **PRODUCTION_SECRETS))
    with pytest.raises(SchemaMismatchError, match="forge db upgrade"):
        async with running(app):
            pass


async def test_start_up_objects_are_frozen_while_the_app_runs_and_released_at_shutdown(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/frozen.db"
    await databases.recreate(url)
    await asyncio.to_thread(migrations.upgrade, url)  # alembic runs its own event loop
    app = create_app(make_settings(url))
    async with running(app):
        assert gc.get_freeze_count() > 0  # out of the collector's reach while serving
    assert gc.get_freeze_count() == 0  # collectable again: a process that builds many apps does not keep them


def test_docs_can_be_switched_off() -> None:
    app = create_app(make_settings("sqlite+aiosqlite:///unused.db", docs_enabled=False))
    assert app.openapi_url is None
    paths = {getattr(route, "path", None) for route in app.routes}
    assert paths.isdisjoint({"/docs", "/redoc", "/docs/oauth2-redirect", "/docs/static"})


def test_every_api_operation_declares_a_response_model_or_no_content() -> None:
    """Undeclared responses fall back to jsonable_encoder, several times slower (docs/performance.md). A redirect
    (the provider sign-in's navigations) returns its response itself: nothing is encoded."""
    app = create_app(make_settings("sqlite+aiosqlite:///unused.db"))
    for route in app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            redirect = route.response_class is RedirectResponse and route.status_code == 302
            assert route.response_model is not None or route.status_code == 204 or redirect, route.path
