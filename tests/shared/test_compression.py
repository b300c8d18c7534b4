"""Compression: gzip for the clients that accept it, and `Vary: Accept-Encoding` on every answer."""

import httpx
from fastapi import FastAPI


async def test_large_bodies_are_gzipped_small_ones_are_not(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/test-only/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 5000}

    big_response = await client.get("/test-only/big", headers={"accept-encoding": "gzip"})
    assert big_response.headers["content-encoding"] == "gzip"
    assert big_response.json() == {"data": "x" * 5000}  # httpx decodes it
    assert int(big_response.headers["content-length"]) < 5000
    small = await client.get("/healthz", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_every_response_varies_by_accept_encoding_once_whoever_compressed_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Requests that do not accept gzip bypass the compressor, but a cache must still key every answer by encoding."""

    @app.get("/test-only/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 5000}

    for accept in ("gzip", "identity"):
        for path in ("/test-only/big", "/healthz", "/api/v1/no-such-route"):
            response = await client.get(path, headers={"accept-encoding": accept})
            assert response.headers.get_list("vary") == ["Accept-Encoding"], (accept, path)
    identity = await client.get("/test-only/big", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert int(identity.headers["content-length"]) > 5000
