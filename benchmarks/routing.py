"""What FastAPI's router tree costs per request: the same endpoint on the app itself, behind one included router,
and behind two levels of them (an `/api/v1` router holding nine feature routers, as ForgeAPI's routes were
included before `include_flat`), and behind `include_flat`, with FastAPI's route class and with ForgeRoute (which
rejects a path by its literal part before trying its regular expression). Each feature router has five routes, so
the target comes after 40 others, as the product listing does in ForgeAPI. In process (ASGI calls, no server), CPU
time.

Run: `uv run python -m benchmarks.routing [--requests 3000] [--rounds 7]`
"""

import argparse
import asyncio
import statistics
import time

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Message

from app.shared.routing import ForgeRoute, include_flat

FEATURES = 9
TARGET = "/api/v1/things/x"


class Hello(BaseModel):
    message: str


async def hello() -> Hello:
    return Hello(message="ok")


def _feature_routers(route_class: type[APIRoute] = APIRoute) -> list[APIRouter]:
    """Eight others first, the target's router last: as a request for a late feature finds them."""
    routers = []
    for name in [f"other{i}" for i in range(FEATURES - 1)] + ["things"]:
        router = APIRouter(prefix=f"/{name}", route_class=route_class)
        router.add_api_route("/x", hello, methods=["GET"])  # the target; then a read by id, a create, two writes
        router.add_api_route("/{thing_id}", hello, methods=["GET"])
        router.add_api_route("", hello, methods=["POST"])
        router.add_api_route("/{thing_id}", hello, methods=["PATCH"])
        router.add_api_route("/{thing_id}", hello, methods=["DELETE"])
        routers.append(router)
    return routers


def on_the_app() -> FastAPI:
    app = FastAPI()
    for router in _feature_routers():
        for route in router.routes:
            app.add_api_route("/api/v1" + route.path, hello, methods=route.methods)  # type: ignore[attr-defined]
    return app


def two_levels() -> FastAPI:
    app = FastAPI()
    api = APIRouter(prefix="/api/v1")
    for router in _feature_routers():
        api.include_router(router)
    app.include_router(api)
    return app


def flat(route_class: type[APIRoute] = APIRoute) -> FastAPI:
    app = FastAPI()
    for router in _feature_routers(route_class):
        include_flat(app, router, prefix="/api/v1")
    return app


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _per_request_us(app: FastAPI, requests: int) -> float:
    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": TARGET,
        "raw_path": TARGET.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    started = time.process_time()
    for _ in range(requests):
        await app(dict(scope), _receive, send)
    elapsed = time.process_time() - started
    if set(statuses) != {200}:
        raise SystemExit(f"the benchmark's endpoint answered {sorted(set(statuses))}")
    return elapsed / requests * 1e6


async def _run(requests: int, rounds: int) -> None:
    apps = {
        "routes on the app": on_the_app(),
        "include_flat": flat(),
        "include_flat, ForgeRoute": flat(ForgeRoute),
        "include_router, two levels": two_levels(),
    }
    for app in apps.values():
        await _per_request_us(app, requests // 5)  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            timings[name].append(await _per_request_us(app, requests))
    baseline = statistics.median(timings["routes on the app"])
    print(f"GET {TARGET}, {FEATURES} feature routers, {rounds} x {requests} requests, medians of CPU time")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:<28} {median:>7.1f} us/request   x{median / baseline:.2f} of the routes on the app")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(_run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
