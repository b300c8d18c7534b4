"""No route sends work to the thread pool: every endpoint and dependency of ours is a coroutine.

FastAPI calls a plain `def` endpoint or dependency through `run_in_threadpool`: a hand-off to a worker thread and
back that cost `GET /api/v1/config` more CPU than the rest of its dependencies together (the app's context was
such a dependency of most routes; docs/performance.md). An accessor of the app's state does no blocking I/O, so it
has no reason to leave the event loop.
"""

import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordRequestForm

# FastAPI's own form class for the OAuth2 password flow, built by FastAPI itself; a login's Argon2 hash (~20 ms) is
# what that route costs, not the hop.
FASTAPIS_OWN = frozenset({OAuth2PasswordRequestForm})


def _runs_in_the_loop(call: Callable[..., Any]) -> bool:
    target = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004 - a callable instance
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependencies(dependency)


def _thread_pool_calls(app: FastAPI) -> set[str]:
    found: set[str] = set()
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for call in (route.endpoint, *_dependencies(route.dependant)):
            if call not in FASTAPIS_OWN and not _runs_in_the_loop(call):
                found.add(f"{route.path}: {getattr(call, '__qualname__', call)}")
    return found


def test_every_endpoint_and_dependency_runs_in_the_event_loop(app: FastAPI) -> None:
    assert len([route for route in app.routes if isinstance(route, APIRoute)]) > 20
    assert _thread_pool_calls(app) == set()


def test_the_check_finds_a_plain_function() -> None:
    app = FastAPI()

    def blocking_accessor() -> int:
        return 1

    @app.get("/probe")
    async def probe(value: Annotated[int, Depends(blocking_accessor)]) -> int:
        return value

    assert _thread_pool_calls(app) == {"/probe: test_the_check_finds_a_plain_function.<locals>.blocking_accessor"}
