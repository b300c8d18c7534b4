"""The baseline: a bare FastAPI app answering each scenario's request with the payload ForgeAPI gave, from memory.

`FORGE_BENCH_PAYLOADS` names a JSON file written by the harness: {"METHOD path": {"status": ..., "body": ...}}.
"""

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

__all__ = ["create"]


def create() -> FastAPI:
    payloads: dict[str, dict[str, Any]] = json.loads(Path(os.environ["FORGE_BENCH_PAYLOADS"]).read_text())
    answers = {key: (value["status"], value["body"].encode()) for key, value in payloads.items()}
    app = FastAPI()

    def route(key: str) -> None:
        status, body = answers[key]
        method, target = key.split(" ", 1)
        path = target.split("?", 1)[0]  # the query is part of the captured request, not of the route

        async def answer(_request: Request) -> Response:
            return Response(body, status_code=status, media_type="application/json")

        app.add_api_route(path, answer, methods=[method])

    for key in answers:
        route(key)
    return app
